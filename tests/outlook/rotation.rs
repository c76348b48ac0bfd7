//! Microsoft rotates refresh tokens on every refresh, and keeps the previous
//! one valid for a while. A process killed between the token answer and the
//! store write never stores the new token: the stored previous one still
//! refreshes within the grace, and past it the account is marked "needs
//! re-authorization" (AADSTS `invalid_grant`), never lost silently.

use super::server::{DEFAULT_CALENDAR, GraphServer};
use super::support::{calendar_sync, connected, meeting, provider, refresh_only, server};
use crate::patience::patient;
use async_trait::async_trait;
use calsync::model::{EventDetails, ProviderEventRef, SyncResultStatus, SyncStatus, UserId};
use calsync::providers::outlook::OutlookProvider;
use calsync::providers::{
    AccountProvider, CalendarProvider, Connection, Credentials, ProviderError, ProviderErrorKind,
    ProviderResult, Providers, Session, WriteContext,
};
use calsync::schedule::ProviderEvent;
use calsync::{CalendarSync, Error};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The adapter in a process that dies right after the token endpoint
/// answers a refresh: the answer (with its new refresh token) never reaches
/// the store.
struct DiesAfterTokenAnswer(OutlookProvider);

#[async_trait]
impl AccountProvider for DiesAfterTokenAnswer {
    fn provider(&self) -> calsync::model::Provider {
        self.0.provider()
    }
    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        self.0.connect(credentials).await
    }
    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        self.0.refresh(credentials).await?;
        Err(ProviderError::new(
            ProviderErrorKind::Unavailable,
            "the process was killed before it stored the answer",
        ))
    }
    async fn revoke(
        &self,
        credentials: &Credentials,
    ) -> ProviderResult<calsync::providers::Revocation> {
        self.0.revoke(credentials).await
    }
    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        self.0.validate(session).await
    }
}

#[async_trait]
impl CalendarProvider for DiesAfterTokenAnswer {
    async fn create_event(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        self.0.create_event(session, event, context).await
    }
    async fn find_created(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        self.0.find_created(session, context).await
    }
    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        self.0
            .update_event(session, target, event, changed, context)
            .await
    }
    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()> {
        self.0.delete_event(session, target, context).await
    }
    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>> {
        self.0.list_events(session, start, end).await
    }
}

#[tokio::test]
async fn every_refresh_answers_a_new_token_and_the_previous_one_lasts_the_grace() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let first = session.credentials.clone();
    let second = adapter.refresh(&first).await.expect("refresh");
    assert_ne!(
        second.get_str("refresh_token"),
        first.get_str("refresh_token")
    );
    assert_ne!(
        second.get_str("access_token"),
        first.get_str("access_token")
    );
    // The previous token still works for a while, as Microsoft's does.
    adapter.refresh(&first).await.expect("within the grace");
    server.advance(server.grace() + Duration::from_secs(60));
    let refused = adapter.refresh(&first).await.expect_err("past the grace");
    assert_eq!(refused.kind, ProviderErrorKind::InvalidGrant);
    assert!(refused.message.contains("AADSTS700082"), "{refused}");
    adapter
        .refresh(&second)
        .await
        .expect("the newest token still works");
}

/// Connects an account, then plays a process that refreshes and dies before
/// storing the answer; answers the store's directory and the account.
async fn killed_after_the_token_answer(
    server: &GraphServer,
    dir: &tempfile::TempDir,
) -> (UserId, calsync::model::AccountId) {
    let store = calsync::store::SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let dying = CalendarSync::builder(Arc::new(store))
        .providers(Providers::new().with(Arc::new(DiesAfterTokenAnswer(provider(server)))))
        .vault(calsync::vault::Vault::new(&[7; 32]))
        .config(patient())
        .build();
    let ada = UserId::from("ada");
    let account = dying
        .connect_account(&ada, "outlook", &refresh_only(server))
        .await
        .expect("connect");
    server.expire_access_tokens();
    server.clear_log();
    let _ = dying.refresh_sync(&ada, &account.id).await;
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "the refresh reached Microsoft: {:?}",
        server.log()
    );
    dying.shutdown();
    (ada, account.id)
}

#[tokio::test]
async fn a_kill_between_the_token_answer_and_the_store_write_loses_no_account() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (ada, account) = killed_after_the_token_answer(&server, &dir).await;

    // The restarted process refreshes with the stored, superseded token.
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    server.clear_log();
    let committed = sync
        .commit(&ada, &meeting("After the restart"), &[account.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.count("POST", "/token"), 1, "{:?}", server.log());
    assert_eq!(server.events(DEFAULT_CALENDAR).len(), 1);
    let status = sync.get_account(&ada, &account).await.expect("account");
    assert_eq!(status.sync_status, SyncStatus::Connected);
    sync.shutdown();
}

#[tokio::test]
async fn a_stored_token_older_than_the_grace_marks_the_account_for_reauthorization() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (ada, account) = killed_after_the_token_answer(&server, &dir).await;
    server.advance(server.grace() + Duration::from_secs(60));

    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let refused = sync
        .commit(&ada, &meeting("Too late"), &[account.clone()])
        .await;
    let Err(Error::AllProvidersFailed(results)) = refused else {
        panic!("expected every provider to fail: {refused:?}");
    };
    assert_eq!(results[&account].status, SyncResultStatus::Failed);
    let status = sync.get_account(&ada, &account).await.expect("account");
    assert_eq!(status.sync_status, SyncStatus::Error);
    let reason = status.error.expect("an error").reason;
    assert!(reason.contains("needs re-authorization"), "{reason}");
    assert!(reason.contains("AADSTS700082"), "{reason}");
    assert!(server.events(DEFAULT_CALENDAR).is_empty());
    sync.shutdown();
}
