//! API keys and per-key rate limits.
//!
//! Keys are kept as SHA-256 digests and compared in constant time, so neither
//! the comparison's timing nor a memory dump of the key list gives a key
//! away; a key is never logged.

use super::AppState;
use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The environment variable holding API keys, comma-separated.
pub const API_KEYS_ENV: &str = "CALSYNC_API_KEYS";

/// Who may call the service.
#[derive(Clone)]
pub enum Auth {
    /// Callers present one of these keys (kept as digests).
    Keys(Arc<Vec<[u8; 32]>>),
    /// Anyone may call (loopback only, announced at start).
    Open,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Keys(keys) => write!(f, "Auth::Keys(<{} keys>)", keys.len()),
            Auth::Open => f.write_str("Auth::Open"),
        }
    }
}

/// Which configured key a request presented (its position), for rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyIndex(pub usize);

/// Who called, for the scope of idempotency keys: the digest of the API key
/// presented (the same for every caller of a service without keys). Unlike
/// [`KeyIndex`], it stays the same when the configured keys change.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Caller(pub(crate) [u8; 32]);

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caller(<digest>)")
    }
}

impl Auth {
    /// Requires one of `keys`; empty keys are ignored.
    pub fn keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let digests = keys
            .into_iter()
            .map(|key| key.as_ref().trim().to_owned())
            .filter(|key| !key.is_empty())
            .map(|key| digest(&key))
            .collect();
        Auth::Keys(Arc::new(digests))
    }

    /// Keys from `CALSYNC_API_KEYS` and, when given, a file with one key per
    /// line (`#` starts a comment). Answers `None` when no key is configured.
    ///
    /// # Errors
    /// The file cannot be read (names the file).
    pub fn from_env_and_file(file: Option<&Path>) -> Result<Option<Self>, String> {
        let mut keys: Vec<String> = std::env::var(API_KEYS_ENV)
            .map(|text| text.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("--api-keys-file {}: {error}", path.display()))?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        match Auth::keys(keys) {
            Auth::Keys(digests) if digests.is_empty() => Ok(None),
            auth => Ok(Some(auth)),
        }
    }

    /// The key `presented` matches, if any; every configured key is compared,
    /// so the time taken does not depend on which one matched.
    fn check(&self, presented: Option<&str>) -> Result<KeyIndex, ApiError> {
        let keys = match self {
            Auth::Open => return Ok(KeyIndex(0)),
            Auth::Keys(keys) => keys,
        };
        let Some(presented) = presented else {
            return Err(ApiError::Unauthorized(
                "an API key is required: send `Authorization: Bearer <key>`",
            ));
        };
        let presented = digest(presented);
        let mut found = None;
        for (index, key) in keys.iter().enumerate() {
            if bool::from(key.ct_eq(&presented)) {
                found = Some(index);
            }
        }
        found
            .map(KeyIndex)
            .ok_or(ApiError::Unauthorized("the API key is not valid"))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The token presented in `Authorization: Bearer <token>`.
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// A token bucket per API key.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<KeyIndex>>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimit")
    }
}

impl RateLimit {
    /// `per_second` requests a second per key, in bursts of up to `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self::of(Quota::per_second(per_second).allow_burst(burst))
    }

    /// One request every `period` per key, in bursts of up to `burst`;
    /// `None` when `period` is zero.
    pub fn one_every(period: Duration, burst: NonZeroU32) -> Option<Self> {
        Quota::with_period(period).map(|quota| Self::of(quota.allow_burst(burst)))
    }

    fn of(quota: Quota) -> Self {
        RateLimit {
            limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }

    fn check(&self, key: KeyIndex) -> Result<(), ApiError> {
        self.limiter.check_key(&key).map_err(|not_until| {
            ApiError::RateLimited(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }
}

/// Lets a request through when it presents a configured key and its key is
/// within its rate.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = state.auth.check(bearer(&request))?;
    if let Some(limit) = &state.rate_limit {
        limit.check(key)?;
    }
    let caller = match &state.auth {
        Auth::Keys(_) => Caller(bearer(&request).map(digest).unwrap_or_default()),
        Auth::Open => Caller([0; 32]),
    };
    request.extensions_mut().insert(key);
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_keys_pass() {
        let auth = Auth::keys(["alpha", " beta ", ""]);
        assert_eq!(auth.check(Some("beta")).unwrap(), KeyIndex(1));
        assert!(auth.check(Some("gamma")).is_err());
        assert!(auth.check(Some("")).is_err());
        assert!(auth.check(None).is_err());
        assert!(Auth::Open.check(None).is_ok());
    }

    #[test]
    fn debug_never_shows_keys() {
        let shown = format!("{:?}", Auth::keys(["s3cret"]));
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn a_key_over_its_rate_waits() {
        // One a day: no request here waits long enough for a new one.
        let day = Duration::from_secs(24 * 3600);
        let limit = RateLimit::one_every(day, NonZeroU32::MIN.saturating_add(1)).expect("a period");
        assert!(limit.check(KeyIndex(0)).is_ok());
        assert!(limit.check(KeyIndex(0)).is_ok());
        assert!(matches!(
            limit.check(KeyIndex(0)),
            Err(ApiError::RateLimited(_))
        ));
        assert!(limit.check(KeyIndex(1)).is_ok(), "buckets are per key");
    }
}
