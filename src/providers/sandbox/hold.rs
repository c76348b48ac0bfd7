//! Calls that wait for the test: a provider held until released, and calls
//! that hang after taking effect, counted while they wait so that a test
//! goes on exactly when they are there, however fast the machine is.

use super::{SandboxProvider, State};

impl SandboxProvider {
    /// Holds every call from now on before it takes effect, until
    /// [`SandboxProvider::release`]: a provider that has not answered yet for
    /// exactly as long as a test needs, however fast or slow the machine is.
    /// A call takes its planned fault (if any) when it arrives, before it waits.
    pub fn hold(&self) {
        self.state().held = true;
        self.changed.notify_waiters();
    }

    /// Lets the held calls, and every later one, go on.
    pub fn release(&self) {
        self.state().held = false;
        self.changed.notify_waiters();
    }

    /// Waits until `count` calls are waiting at once: held before taking
    /// effect (see [`SandboxProvider::hold`]), or hung after it by
    /// [`FaultKind::HangAfterApply`](super::FaultKind::HangAfterApply).
    pub async fn until_waiting(&self, count: usize) {
        self.until(|state| state.waiting >= count).await;
    }

    /// Waits until `ready` holds of the state; it is looked at again on every change.
    async fn until(&self, ready: impl Fn(&State) -> bool) {
        loop {
            // Registered before the look, so that a change between the two is not missed.
            let changed = self.changed.notified();
            if ready(&self.state()) {
                return;
            }
            changed.await;
        }
    }

    /// Waits while the provider is held, counted as waiting.
    pub(super) async fn pass_hold(&self) {
        if self.state().held {
            let _waiting = Waiting::start(self);
            self.until(|state| !state.held).await;
        }
    }

    /// Never answers (a provider that hangs), counted as waiting until the
    /// caller gives up on the call.
    pub(super) async fn hang<T>(&self) -> T {
        let _waiting = Waiting::start(self);
        std::future::pending().await
    }
}

/// Counts a call as waiting until dropped, however the call ends (a caller
/// that gives up on it drops it too).
struct Waiting<'a>(&'a SandboxProvider);

impl<'a> Waiting<'a> {
    fn start(sandbox: &'a SandboxProvider) -> Self {
        sandbox.state().waiting += 1;
        sandbox.changed.notify_waiters();
        Waiting(sandbox)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.state().waiting -= 1;
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Provider;
    use crate::providers::sandbox::FaultKind;
    use crate::providers::{AccountProvider, CalendarProvider, Credentials, Session, WriteContext};

    fn credentials() -> Credentials {
        let mut credentials = Credentials::default();
        credentials.set_str("access_token", "token");
        credentials
    }

    fn waiting(sandbox: &SandboxProvider) -> usize {
        sandbox.state().waiting
    }

    #[tokio::test]
    async fn a_held_call_waits_until_released_and_is_counted_meanwhile() {
        let sandbox = SandboxProvider::new(Provider::Google);
        sandbox.hold();
        let credentials = credentials();
        let call = sandbox.connect(&credentials);
        tokio::pin!(call);
        assert!(futures::poll!(call.as_mut()).is_pending(), "held");
        sandbox.until_waiting(1).await;
        sandbox.release();
        call.await.expect("answered once released");
        assert_eq!(waiting(&sandbox), 0);
        sandbox
            .connect(&credentials)
            .await
            .expect("not held any more");
    }

    #[tokio::test]
    async fn a_hanging_call_takes_effect_and_waits_until_given_up() {
        let sandbox = SandboxProvider::new(Provider::Outlook);
        let connection = sandbox.connect(&credentials()).await.expect("connect");
        let session = Session {
            account: "account".into(),
            credentials: connection.credentials,
            calendar_id: connection.calendar_id.clone(),
        };
        sandbox.fail_next(1, FaultKind::HangAfterApply);
        let context = WriteContext {
            idempotency_key: "key".to_owned(),
            synced_id: crate::model::EventId::fresh(),
            invite_attendees: false,
            retry: false,
        };
        let details = crate::model::EventDetails::timed(
            "Hangs",
            chrono::DateTime::UNIX_EPOCH,
            chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(1),
        );
        let call = sandbox.create_event(&session, &details, &context);
        let mut call = Box::pin(call);
        assert!(futures::poll!(call.as_mut()).is_pending(), "hangs");
        sandbox.until_waiting(1).await;
        let calendar = connection.calendar_id.expect("a calendar");
        assert_eq!(sandbox.events(&calendar).len(), 1, "took effect");
        drop(call);
        assert_eq!(waiting(&sandbox), 0, "a call given up on waits no more");
    }
}
