//! The ten actions as routes: `POST /api/CalendarSync/{action}`, each with one
//! request type (the action's named arguments) and one answer type.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, Keyed};
use super::json::Body;
use crate::concept::Suggestions;
use crate::model::{
    Account, AccountId, ConflictReport, DraftEvent, EventDetails, EventId, SyncOutcome,
    SyncedEvent, UserId,
};
use crate::providers::Credentials;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// The spec's action names, in the spec's order: each is routed at
/// `/api/CalendarSync/{name}`.
pub const ACTIONS: [&str; 10] = [
    "connectAccount",
    "commit",
    "detectConflicts",
    "suggestReschedules",
    "update",
    "cancel",
    "disconnectAccount",
    "refreshSync",
    "getAccountStatus",
    "getSyncedEvent",
];

/// The arguments of connectAccount.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectAccountRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// `google`, `outlook`, `apple` or `zoom`.
    pub provider: String,
    /// The provider's own credentials (OAuth: `access_token`, `refresh_token`,
    /// `expires_in`; CalDAV: `username`, `password`, `url`).
    #[schema(value_type = Object)]
    pub credentials: Credentials,
}

/// The arguments of commit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommitRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// The event (`title`, `start`, `end`, `timeZone`, `allDay`, `location`,
    /// `description`, `attendees`, `recurrence`, `transparency`, `virtualMeeting`).
    #[schema(value_type = Object)]
    pub event: EventDetails,
    /// The accounts to write it to.
    #[schema(value_type = Vec<String>)]
    pub accounts: Vec<AccountId>,
    /// The account whose copy sends the invitations to the attendees (one of
    /// `accounts`; by default the first calendar account). The other copies
    /// carry the attendees without inviting them again.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub inviting_account: Option<AccountId>,
}

/// The arguments of detectConflicts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DetectConflictsRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// The draft: an event plus `id` and `constraints` (`bufferBefore`,
    /// `bufferAfter`, `travelTime`, in minutes).
    #[schema(value_type = Object)]
    pub draft: DraftEvent,
}

/// The arguments of suggestReschedules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuggestReschedulesRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// The draft whose conflicts were detected.
    #[schema(value_type = Object)]
    pub draft: DraftEvent,
    /// What suggestions must respect (optional).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub constraints: Value,
}

/// The arguments of update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// The synced event's internal id.
    #[schema(value_type = String)]
    pub event_id: EventId,
    /// The fields to change, by their wire names.
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
}

/// The arguments of cancel and getSyncedEvent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventRequest {
    /// The app's user (only the user's own events are seen).
    #[schema(value_type = String)]
    pub user: UserId,
    /// The synced event's internal id.
    #[schema(value_type = String)]
    pub event_id: EventId,
}

/// The arguments of disconnectAccount and refreshSync.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccountRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// The account's id.
    #[schema(value_type = String)]
    pub account: AccountId,
}

/// The arguments of getAccountStatus.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
}

/// The answer of disconnectAccount: the account, and what revoking its
/// credentials did (`revocation`: `revoked`, `not_supported` or `failed`,
/// with `revocationReason`; null when there was nothing left to revoke).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DisconnectAnswer {
    /// The account and the revocation's outcome.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub disconnected: crate::concept::Disconnected,
}

/// The answer of connectAccount and refreshSync.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountAnswer {
    /// The account, never with credentials.
    #[schema(value_type = Object)]
    pub account: Account,
}

/// The answer of commit, update and cancel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOutcomeAnswer {
    /// The synced event with `providerIds`, plus `results` per account and `stored`.
    #[schema(value_type = Object)]
    pub synced_event: SyncOutcome,
}

/// The answer of getSyncedEvent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncedEventAnswer {
    /// The synced event, or null when it is not synced (or is another user's).
    #[schema(value_type = Option<Object>)]
    pub synced_event: Option<SyncedEvent>,
}

/// The answer of getAccountStatus.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountsAnswer {
    /// The user's accounts, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub accounts: Vec<Account>,
}

/// The answer of deleteUser.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasedAnswer {
    /// How many records were removed per collection (`removed`), and the
    /// accounts whose provider did not confirm revoking (`notRevoked`).
    #[schema(value_type = Object)]
    pub erased: crate::concept::ErasedUser,
}

/// The answer of detectConflicts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConflictsAnswer {
    /// The conflicts found.
    #[schema(value_type = Vec<Object>)]
    pub conflicts: Vec<crate::model::Conflict>,
    /// Accounts whose busy time could not be read (unknown, not free).
    #[schema(value_type = Vec<Object>)]
    pub unknown_accounts: Vec<crate::model::UnknownAccount>,
}

/// The answer of suggestReschedules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionsAnswer {
    /// Ranked alternatives, best first (`start`, `end`, `score`, `scoreParts`).
    #[schema(value_type = Vec<Object>)]
    pub suggestions: Vec<crate::model::Suggestion>,
    /// Accounts whose busy time could not be read.
    #[schema(value_type = Vec<Object>)]
    pub unknown_accounts: Vec<crate::model::UnknownAccount>,
}

type Answer<T> = Result<Json<T>, ApiError>;

/// connectAccount.
#[utoipa::path(post, path = "/api/CalendarSync/connectAccount", request_body = ConnectAccountRequest,
    responses((status = 200, body = AccountAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn connect_account(
    State(state): State<AppState>,
    Body(request): Body<ConnectAccountRequest>,
) -> Answer<AccountAnswer> {
    let account = state
        .sync
        .connect_account(&request.user, &request.provider, &request.credentials)
        .await?;
    Ok(Json(AccountAnswer { account }))
}

/// commit. With an `Idempotency-Key` header, a retry answers the first
/// call's synced event instead of making another ([`super::idempotency`]).
#[utoipa::path(post, path = "/api/CalendarSync/commit", request_body = CommitRequest,
    params(IdempotencyKeyHeader),
    responses((status = 200, body = SyncOutcomeAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    Keyed { request, key }: Keyed<CommitRequest>,
) -> Result<Response, ApiError> {
    let Some(key) = key else {
        let synced_event = match &request.inviting_account {
            Some(inviting) => {
                state
                    .sync
                    .commit_inviting_from(
                        &request.user,
                        &request.event,
                        &request.accounts,
                        inviting,
                    )
                    .await?
            }
            None => {
                state
                    .sync
                    .commit(&request.user, &request.event, &request.accounts)
                    .await?
            }
        };
        return Ok(answer(synced_event, false));
    };
    let sync = state.sync.clone();
    let user = request.user.clone();
    let keyed = idempotency::once(
        &state,
        &user,
        "commit".to_owned(),
        key,
        move |derived| async move {
            sync.commit_with_key_recorded(
                &request.user,
                &request.event,
                &request.accounts,
                &derived,
                request.inviting_account.as_ref(),
            )
            .await
        },
    )
    .await?;
    Ok(answer(keyed.outcome, keyed.replayed))
}

/// detectConflicts.
#[utoipa::path(post, path = "/api/CalendarSync/detectConflicts", request_body = DetectConflictsRequest,
    responses((status = 200, body = ConflictsAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn detect_conflicts(
    State(state): State<AppState>,
    Body(request): Body<DetectConflictsRequest>,
) -> Answer<ConflictsAnswer> {
    let ConflictReport {
        conflicts,
        unknown_accounts,
    } = state
        .sync
        .detect_conflicts(&request.user, &request.draft)
        .await?;
    Ok(Json(ConflictsAnswer {
        conflicts,
        unknown_accounts,
    }))
}

/// suggestReschedules.
#[utoipa::path(post, path = "/api/CalendarSync/suggestReschedules", request_body = SuggestReschedulesRequest,
    responses((status = 200, body = SuggestionsAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn suggest_reschedules(
    State(state): State<AppState>,
    Body(request): Body<SuggestReschedulesRequest>,
) -> Answer<SuggestionsAnswer> {
    let Suggestions {
        suggestions,
        unknown_accounts,
    } = state
        .sync
        .suggest_reschedules(&request.user, &request.draft, &request.constraints)
        .await?;
    Ok(Json(SuggestionsAnswer {
        suggestions,
        unknown_accounts,
    }))
}

/// update. With an `Idempotency-Key` header, a retry answers the first
/// call's outcome instead of recording the change again.
#[utoipa::path(post, path = "/api/CalendarSync/update", request_body = UpdateRequest,
    params(IdempotencyKeyHeader),
    responses((status = 200, body = SyncOutcomeAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Keyed { request, key }: Keyed<UpdateRequest>,
) -> Result<Response, ApiError> {
    let Some(key) = key else {
        let synced_event = state
            .sync
            .update(&request.user, &request.event_id, &request.changes)
            .await?;
        return Ok(answer(synced_event, false));
    };
    let sync = state.sync.clone();
    let user = request.user.clone();
    let name = format!("update {}", request.event_id);
    let keyed = idempotency::once(&state, &user, name, key, move |_| async move {
        sync.update_recorded(&request.user, &request.event_id, &request.changes)
            .await
    })
    .await?;
    Ok(answer(keyed.outcome, keyed.replayed))
}

/// cancel. With an `Idempotency-Key` header, a retry answers the first
/// call's outcome instead of recording the deletions again.
#[utoipa::path(post, path = "/api/CalendarSync/cancel", request_body = EventRequest,
    params(IdempotencyKeyHeader),
    responses((status = 200, body = SyncOutcomeAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Keyed { request, key }: Keyed<EventRequest>,
) -> Result<Response, ApiError> {
    let Some(key) = key else {
        let synced_event = state.sync.cancel(&request.user, &request.event_id).await?;
        return Ok(answer(synced_event, false));
    };
    let sync = state.sync.clone();
    let user = request.user.clone();
    let name = format!("cancel {}", request.event_id);
    let keyed = idempotency::once(&state, &user, name, key, move |_| async move {
        sync.cancel_recorded(&request.user, &request.event_id).await
    })
    .await?;
    Ok(answer(keyed.outcome, keyed.replayed))
}

/// The answer of commit, update and cancel; a replayed one says so in the
/// `Idempotent-Replayed` header.
fn answer(synced_event: SyncOutcome, replayed: bool) -> Response {
    let mut response = Json(SyncOutcomeAnswer { synced_event }).into_response();
    if replayed {
        response.headers_mut().insert(
            idempotency::REPLAYED_HEADER,
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// The `Idempotency-Key` header of commit, update and cancel.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Makes the call safe to retry: 1 to 255 visible ASCII characters (a
    /// UUID, say), scoped to the API key and the user and kept 24 hours. A
    /// retry with the same key and body answers the first call's synced
    /// event with each account's current result (header
    /// `Idempotent-Replayed: true`), waiting for a first call still running
    /// up to the answer deadline (then 409 `idempotency_key_in_use`); the
    /// same key with another action, event or body is refused (422
    /// `idempotency_key_reused`).
    #[param(rename = "Idempotency-Key")]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
}

/// disconnectAccount.
#[utoipa::path(post, path = "/api/CalendarSync/disconnectAccount", request_body = AccountRequest,
    responses((status = 200, body = DisconnectAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn disconnect_account(
    State(state): State<AppState>,
    Body(request): Body<AccountRequest>,
) -> Answer<DisconnectAnswer> {
    let disconnected = state
        .sync
        .disconnect_account(&request.user, &request.account)
        .await?;
    Ok(Json(DisconnectAnswer { disconnected }))
}

/// refreshSync.
#[utoipa::path(post, path = "/api/CalendarSync/refreshSync", request_body = AccountRequest,
    responses((status = 200, body = AccountAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn refresh_sync(
    State(state): State<AppState>,
    Body(request): Body<AccountRequest>,
) -> Answer<AccountAnswer> {
    let account = state
        .sync
        .refresh_sync(&request.user, &request.account)
        .await?;
    Ok(Json(AccountAnswer { account }))
}

/// getAccountStatus.
#[utoipa::path(post, path = "/api/CalendarSync/getAccountStatus", request_body = UserRequest,
    responses((status = 200, body = AccountsAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn get_account_status(
    State(state): State<AppState>,
    Body(request): Body<UserRequest>,
) -> Answer<AccountsAnswer> {
    let accounts = state.sync.get_account_status(&request.user).await?;
    Ok(Json(AccountsAnswer { accounts }))
}

/// The answer of listCalendars.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarsAnswer {
    /// The account's calendars (`id`, `name`, `target`, `checkedForConflicts`).
    #[schema(value_type = Vec<Object>)]
    pub calendars: Vec<crate::providers::CalendarInfo>,
}

/// listCalendars: not an action of the spec; an account's calendars, which
/// one calsync writes to and which ones conflicts are read from.
#[utoipa::path(post, path = "/api/CalendarSync/listCalendars", request_body = AccountRequest,
    responses((status = 200, body = CalendarsAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn list_calendars(
    State(state): State<AppState>,
    Body(request): Body<AccountRequest>,
) -> Answer<CalendarsAnswer> {
    let calendars = state
        .sync
        .list_calendars(&request.user, &request.account)
        .await?;
    Ok(Json(CalendarsAnswer { calendars }))
}

/// deleteUser: not an action of the spec; erases everything kept for a user.
#[utoipa::path(post, path = "/api/CalendarSync/deleteUser", request_body = UserRequest,
    responses((status = 200, body = ErasedAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Body(request): Body<UserRequest>,
) -> Answer<ErasedAnswer> {
    let erased = state.sync.delete_user(&request.user).await?;
    Ok(Json(ErasedAnswer { erased }))
}

/// getSyncedEvent.
#[utoipa::path(post, path = "/api/CalendarSync/getSyncedEvent", request_body = EventRequest,
    responses((status = 200, body = SyncedEventAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn get_synced_event(
    State(state): State<AppState>,
    Body(request): Body<EventRequest>,
) -> Answer<SyncedEventAnswer> {
    let synced_event = state
        .sync
        .get_synced_event(&request.user, &request.event_id)
        .await?;
    Ok(Json(SyncedEventAnswer { synced_event }))
}
