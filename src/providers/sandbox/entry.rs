//! What every call goes through around its effect: the fault planned for
//! it, the latency and the hold before it, the access token, and a fault that
//! shows only after the call took effect.

use super::{FaultKind, SandboxProvider, State};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult, Session};
use std::time::Duration;

/// What a call is, for fault matching.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    /// A token refresh (only `InvalidGrant` faults apply).
    Refresh,
    /// Any other call.
    Other,
}

impl SandboxProvider {
    /// Takes the fault due for this call, if any, waits the configured
    /// latency and, while the provider is held, until it is released; then
    /// answers the fault.
    pub(super) async fn enter(&self, call: Call, calendar: Option<&str>) -> Option<FaultKind> {
        let (latency, fault) = {
            let mut state = self.state();
            let fault = take_fault(&mut state, call, calendar);
            (state.latency, fault)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.pass_hold().await;
        fault
    }

    /// What every call but a refresh does first: takes its planned fault,
    /// waits its latency and hold, and fails when the fault shows before the
    /// call takes effect; answers the fault still due after the call took
    /// effect.
    pub(super) async fn admit(&self, calendar: Option<&str>) -> ProviderResult<Option<FaultKind>> {
        match self.enter(Call::Other, calendar).await {
            Some(kind) if !kind.applies_first() => Err(self.fault_error(kind)),
            after => Ok(after),
        }
    }

    /// What every call on a session does first: [`SandboxProvider::admit`],
    /// then the access token is checked. Answers the session's calendar and
    /// the fault still due after the call took effect.
    pub(super) async fn begin(
        &self,
        session: &Session,
    ) -> ProviderResult<(String, Option<FaultKind>)> {
        let after = self.admit(session.calendar_id.as_deref()).await?;
        let calendar = self.authorize(session)?;
        Ok((calendar, after))
    }

    /// What every call that changes a calendar does: [`SandboxProvider::begin`],
    /// then `change` to the session's calendar under the state's lock, then
    /// the fault due after the change, if any.
    pub(super) async fn write<T>(
        &self,
        session: &Session,
        change: impl FnOnce(&mut State, &str) -> ProviderResult<T>,
    ) -> ProviderResult<T> {
        let (calendar, after) = self.begin(session).await?;
        let answer = change(&mut self.state(), &calendar)?;
        self.fail_after(after).await?;
        Ok(answer)
    }

    /// Answers a fault that applies first (after the call took effect).
    pub(super) async fn fail_after(&self, fault: Option<FaultKind>) -> ProviderResult<()> {
        match fault {
            Some(FaultKind::HangAfterApply) => self.hang().await,
            Some(kind) if kind.applies_first() => Err(self.fault_error(kind)),
            _ => Ok(()),
        }
    }

    pub(super) fn fault_error(&self, kind: FaultKind) -> ProviderError {
        let retry_after = self
            .state()
            .faults
            .first()
            .and_then(|plan| plan.retry_after_ms)
            .unwrap_or(10);
        kind.error(Duration::from_millis(retry_after))
    }

    /// Checks the session's access token; answers its calendar.
    pub(super) fn authorize(&self, session: &Session) -> ProviderResult<String> {
        let now = self.clock.now();
        let token = session
            .credentials
            .get_str("access_token")
            .unwrap_or_default();
        let state = self.state();
        match state.access_tokens.get(token) {
            Some(known) if known.expires_at > now => Ok(known.calendar.clone()),
            Some(_) => Err(ProviderError::new(
                ProviderErrorKind::Unauthorized,
                "401 Unauthorized: the access token expired",
            )),
            None => Err(ProviderError::new(
                ProviderErrorKind::Unauthorized,
                "401 Unauthorized: invalid access token",
            )),
        }
    }
}

fn take_fault(state: &mut State, call: Call, calendar: Option<&str>) -> Option<FaultKind> {
    let index = state.faults.iter().position(|plan| {
        plan.remaining > 0
            && (plan.kind == FaultKind::InvalidGrant) == (call == Call::Refresh)
            && plan
                .calendar
                .as_deref()
                .is_none_or(|only| Some(only) == calendar)
    })?;
    let plan = &mut state.faults[index];
    plan.remaining -= 1;
    let kind = plan.kind;
    if plan.remaining == 0 {
        state.faults.remove(index);
    }
    state.counts.faults += 1;
    Some(kind)
}
