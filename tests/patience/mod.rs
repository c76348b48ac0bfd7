//! Settings that keep every test's outcome independent of how fast the
//! machine is: a wait in a test either cannot be reached while the test runs,
//! or ends on the event the test waits for.

use calsync::Config;
use std::time::Duration;

/// Longer than any test runs: a timeout this long is never what decides a
/// test.
pub const NEVER: Duration = Duration::from_secs(3600);

/// How long a test waits for something that must come (a server listening
/// again, a store back) before it fails: reached only when it never comes.
pub const GIVE_UP: Duration = Duration::from_secs(300);

/// The quick settings (short retries), with answers that wait for every
/// provider and calls that are never cut off by their timeout: an answer
/// says `pending` only for a provider the test holds, hangs or takes down,
/// never because the machine was slow.
pub fn patient() -> Config {
    Config {
        answer_within: NEVER,
        call_timeout: NEVER,
        ..Config::quick()
    }
}
