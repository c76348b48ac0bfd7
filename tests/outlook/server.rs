//! A local Microsoft Graph and identity platform server, written from
//! PROVIDERS.md §2 and §7, including Graph's unfriendly parts: 201 with
//! long, opaque, case-sensitive ids; `transactionId` dedup (forgettable, as
//! Graph publishes no retention); unknown properties refused with 400;
//! times answered in UTC unless `Prefer: outlook.timezone`; 10-item pages
//! with `@odata.nextLink`; 412 on a stale `If-Match`; 404 after a delete;
//! 429 with a fractional `Retry-After`; 401 once access tokens expire;
//! rotating refresh tokens, the previous one valid for a grace period, and
//! AADSTS error bodies; and a write whose reply is lost.

// Checks answer the error response; its size does not matter in a test server.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use calsync::model::zones::resolve_zone;
use calsync::oauth::ClientSettings;
use calsync::providers::outlook::OutlookSettings;
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The OAuth client the server knows.
pub const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
/// Its secret.
pub const CLIENT_SECRET: &str = "test~secret.value";
/// The mailbox's address.
pub const MAILBOX: &str = "ada@contoso.example";
/// The default calendar's id (long, opaque, mixed case).
pub const DEFAULT_CALENDAR: &str = "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAAAAAEGAAAiIsqMbYjsT5e-T7KzowPTAAAYbuK-AAA=";
/// The scope the token endpoint grants for calsync's request.
pub const GRANTED: &str = "https://graph.microsoft.com/Calendars.ReadWrite";

/// Properties Graph's `event` type has (a create or PATCH naming another is refused).
const EVENT_PROPERTIES: [&str; 22] = [
    "subject",
    "body",
    "start",
    "end",
    "isAllDay",
    "location",
    "locations",
    "attendees",
    "recurrence",
    "showAs",
    "transactionId",
    "singleValueExtendedProperties",
    "importance",
    "sensitivity",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "categories",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "hideAttendees",
];

/// A calendar on the server.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// Its name.
    pub name: String,
    /// Its owner's address.
    pub owner: String,
    /// Its events by id, as written (wall times and zones).
    pub events: BTreeMap<String, Value>,
}

#[derive(Clone, Debug)]
enum Fault {
    /// Answer this status and Graph code (and Retry-After) instead of acting.
    Status(u16, &'static str, Option<&'static str>),
    /// Act, then answer 503 as if the reply was lost on the way.
    LoseReply,
}

struct Grant {
    revoked: bool,
    needs_interaction: bool,
}

struct Refresh {
    grant: u64,
    superseded: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    calendars: BTreeMap<String, Calendar>,
    grants: HashMap<u64, Grant>,
    refresh: HashMap<String, Refresh>,
    /// Access token → grant.
    access: HashMap<String, u64>,
    codes: HashMap<String, (String, String, u64)>,
    transactions: HashMap<String, (String, String)>,
    faults: VecDeque<Fault>,
    log: Vec<String>,
    requests: Vec<String>,
    tenants: Vec<String>,
    without_immutable_ids: usize,
    page_size: usize,
    counter: u64,
    latency: Option<Duration>,
    wrong_client: bool,
    grace: Duration,
    skew: Duration,
    in_flight: HashMap<u64, usize>,
    most_in_flight: usize,
}

/// The running server.
#[derive(Clone)]
pub struct GraphServer {
    /// Its base URL (Graph at `{url}/v1.0`, the identity platform at `{url}`).
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"request-id": "9f3c1c1e-0000-4000-8000-000000000000",
            "date": "2030-03-04T09:00:00"}}});
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(body),
    )
        .into_response()
}

/// An identity platform error: `error`, an AADSTS description, `error_codes`.
fn aad_error(status: u16, error: &str, code: u32, description: &str) -> Response {
    let body = json!({"error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: 0000 Correlation ID: 0000 Timestamp: 2030-03-04 09:00:00Z"),
        "error_codes": [code], "timestamp": "2030-03-04 09:00:00Z",
        "trace_id": "0000", "correlation_id": "0000"});
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(body),
    )
        .into_response()
}

impl GraphServer {
    /// Starts a server on a free loopback port with one default calendar.
    pub async fn start() -> GraphServer {
        let mut inner = Inner {
            page_size: 10,
            grace: Duration::from_secs(3600),
            ..Inner::default()
        };
        inner.calendars.insert(
            DEFAULT_CALENDAR.to_owned(),
            Calendar {
                name: "Calendar".into(),
                owner: MAILBOX.into(),
                events: BTreeMap::new(),
            },
        );
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
            .route("/v1.0/me/calendar", get(default_calendar))
            .route("/v1.0/me/calendars", get(calendars))
            .route("/v1.0/me/calendars/{calendar}", get(calendar_get))
            .route(
                "/v1.0/me/calendars/{calendar}/events",
                get(events_find).post(event_create),
            )
            .route(
                "/v1.0/me/calendars/{calendar}/calendarView",
                get(calendar_view),
            )
            .route(
                "/v1.0/me/events/{id}",
                get(event_get).patch(event_patch).delete(event_delete),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the server runs");
        });
        GraphServer { url, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settings aiming the adapter at this server.
    pub fn settings(&self) -> OutlookSettings {
        OutlookSettings::new(ClientSettings::new(CLIENT_ID, Some(CLIENT_SECRET))).all_at(&self.url)
    }

    /// A new grant; answers its refresh token.
    pub fn grant(&self) -> String {
        let mut inner = self.lock();
        new_grant(&mut inner)
    }

    /// The person's grant behind `refresh_token` is revoked (password reset).
    pub fn revoke_grant(&self, refresh_token: &str) {
        let mut inner = self.lock();
        if let Some(grant) = inner.refresh.get(refresh_token).map(|r| r.grant) {
            inner.grants.get_mut(&grant).expect("grant").revoked = true;
            inner.access.retain(|_, g| *g != grant);
        }
    }

    /// The grant behind `refresh_token` needs the person (MFA, Conditional Access).
    pub fn require_interaction(&self, refresh_token: &str) {
        let mut inner = self.lock();
        if let Some(grant) = inner.refresh.get(refresh_token).map(|r| r.grant) {
            inner
                .grants
                .get_mut(&grant)
                .expect("grant")
                .needs_interaction = true;
        }
    }

    /// Every access token issued so far stops working (they expired).
    pub fn expire_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// The server's clock moves on by `by` (superseded refresh tokens age).
    pub fn advance(&self, by: Duration) {
        self.lock().skew += by;
    }

    /// How long a superseded refresh token stays valid.
    pub fn grace(&self) -> Duration {
        self.lock().grace
    }

    /// The token endpoint refuses the deployment's client from now on.
    pub fn refuse_client(&self, refuse: bool) {
        self.lock().wrong_client = refuse;
    }

    /// Adds a calendar owned by `owner`; answers its id.
    pub fn add_calendar(&self, name: &str, owner: &str) -> String {
        let mut inner = self.lock();
        let id = long_id(&mut inner, "AAMkCAL");
        inner.calendars.insert(
            id.clone(),
            Calendar {
                name: name.into(),
                owner: owner.into(),
                events: BTreeMap::new(),
            },
        );
        id
    }

    /// The next `times` Graph calls answer `status` with `code` (and a
    /// `Retry-After`, fractional seconds allowed) instead of acting.
    pub fn fail_next(
        &self,
        times: usize,
        status: u16,
        code: &'static str,
        retry_after: Option<&'static str>,
    ) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner
                .faults
                .push_back(Fault::Status(status, code, retry_after));
        }
    }

    /// The next Graph write is carried out, but its reply is lost (503).
    pub fn lose_next_reply(&self) {
        self.lock().faults.push_back(Fault::LoseReply);
    }

    /// Graph forgets every `transactionId` (its retention is unpublished).
    pub fn forget_transactions(&self) {
        self.lock().transactions.clear();
    }

    /// Every request waits `latency` before it is handled.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = Some(latency);
    }

    /// `METHOD /path` of every request so far.
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// How many requests of `method` whose path contains `part` came.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.log()
            .iter()
            .filter(|line| line.starts_with(method) && line.contains(part))
            .count()
    }

    /// `METHOD /path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The tenants token and consent requests named.
    pub fn tenants(&self) -> Vec<String> {
        self.lock().tenants.clone()
    }

    /// How many Graph requests came without `Prefer: IdType="ImmutableId"`.
    pub fn without_immutable_ids(&self) -> usize {
        self.lock().without_immutable_ids
    }

    /// The most Graph requests of one grant in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.lock().most_in_flight
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        let mut inner = self.lock();
        inner.log.clear();
        inner.requests.clear();
        inner.most_in_flight = 0;
    }

    /// The stored events of `calendar`.
    pub fn events(&self, calendar: &str) -> Vec<Value> {
        self.lock().calendars[calendar]
            .events
            .values()
            .cloned()
            .collect()
    }

    /// One stored event, by id, in any calendar.
    pub fn event(&self, id: &str) -> Option<Value> {
        let inner = self.lock();
        inner
            .calendars
            .values()
            .find_map(|c| c.events.get(id).cloned())
    }

    /// Another client writes `event` (times as Graph takes them) into
    /// `calendar`; answers its id.
    pub fn put_event(&self, calendar: &str, mut event: Value) -> String {
        let mut inner = self.lock();
        let id = long_id(&mut inner, "AAMkAGI2");
        stamp(&mut inner, &mut event, &id);
        inner
            .calendars
            .get_mut(calendar)
            .expect("calendar")
            .events
            .insert(id.clone(), event);
        id
    }

    /// Another client deletes an event.
    pub fn remove_event(&self, id: &str) {
        let mut inner = self.lock();
        for calendar in inner.calendars.values_mut() {
            calendar.events.remove(id);
        }
    }

    /// Another client changes fields of an event (its ETag moves).
    pub fn edit_event(&self, id: &str, changes: Value) {
        let mut inner = self.lock();
        inner.counter += 1;
        let etag = format!("W/\"DwAAABYAAAAiIsqMbYjsT5e+T7KzowPT{:06}\"", inner.counter);
        let event = inner
            .calendars
            .values_mut()
            .find_map(|c| c.events.get_mut(id))
            .expect("event");
        for (name, value) in changes.as_object().expect("object") {
            event[name] = value.clone();
        }
        event["@odata.etag"] = json!(etag);
    }
}

fn new_grant(inner: &mut Inner) -> String {
    inner.counter += 1;
    let grant = inner.counter;
    inner.grants.insert(
        grant,
        Grant {
            revoked: false,
            needs_interaction: false,
        },
    );
    let token = format!("0.AXoA{}-refresh.{grant}", "x".repeat(40));
    inner.refresh.insert(
        token.clone(),
        Refresh {
            grant,
            superseded: None,
        },
    );
    token
}

/// A long opaque id, mixed case, with Graph's `-`, `_` and `=`.
fn long_id(inner: &mut Inner, prefix: &str) -> String {
    use base64::Engine;
    inner.counter += 1;
    let bytes: Vec<u8> = (0..96u32)
        .map(|n| (n as u8).wrapping_mul(31).wrapping_add(inner.counter as u8))
        .chain(inner.counter.to_be_bytes())
        .collect();
    format!(
        "{prefix}{}=",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Fills in what Graph adds to a saved event.
fn stamp(inner: &mut Inner, event: &mut Value, id: &str) {
    inner.counter += 1;
    let object = event.as_object_mut().expect("an object");
    object.insert("id".into(), json!(id));
    object.insert(
        "@odata.etag".into(),
        json!(format!(
            "W/\"DwAAABYAAAAiIsqMbYjsT5e+T7KzowPT{:06}\"",
            inner.counter
        )),
    );
    object.entry("showAs").or_insert(json!("busy"));
    object.entry("isAllDay").or_insert(json!(false));
    object.entry("isCancelled").or_insert(json!(false));
    let kind = if object.get("recurrence").is_some_and(|r| !r.is_null()) {
        "seriesMaster"
    } else {
        "singleInstance"
    };
    object.insert("type".into(), json!(kind));
    object.insert(
        "iCalUId".into(),
        json!(format!(
            "040000008200E00074C5B7101A82E008{:016X}",
            inner.counter
        )),
    );
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

async fn arrive(shared: &Shared, method: &Method, uri: &Uri) {
    let latency = {
        let mut inner = lock(shared);
        inner.log.push(format!("{method} {}", uri.path()));
        inner.requests.push(format!("{method} {uri}"));
        inner.latency
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn issue(inner: &mut Inner, grant: u64) -> Value {
    inner.counter += 1;
    let access = format!("eyJ0eXAiOiJKV1Qi.access-{}", inner.counter);
    inner.access.insert(access.clone(), grant);
    inner.counter += 1;
    let refresh = format!("0.AXoA{}-refresh.{}", "y".repeat(40), inner.counter);
    inner.refresh.insert(
        refresh.clone(),
        Refresh {
            grant,
            superseded: None,
        },
    );
    json!({"token_type": "Bearer", "scope": GRANTED, "expires_in": 3599, "ext_expires_in": 3599,
        "access_token": access, "refresh_token": refresh})
}

async fn token(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let form = form(&body);
    let mut inner = lock(&shared);
    inner.tenants.push(tenant);
    if inner.wrong_client
        || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return aad_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let scope = form.get("scope").cloned().unwrap_or_default();
            if scope.is_empty() {
                return aad_error(
                    400,
                    "invalid_request",
                    90014,
                    "The required field 'scope' is missing from the credential.",
                );
            }
            if scope.contains(',') || !scope.split(' ').any(|s| s == GRANTED) {
                return aad_error(
                    400,
                    "invalid_scope",
                    70011,
                    "The provided value for the input parameter 'scope' is not valid.",
                );
            }
            let given = form.get("refresh_token").cloned().unwrap_or_default();
            let now = Instant::now() + inner.skew;
            let grace = inner.grace;
            let Some(found) = inner.refresh.get(&given) else {
                return aad_error(
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            let grant = found.grant;
            if found
                .superseded
                .is_some_and(|at| now.duration_since(at) >= grace)
            {
                return aad_error(
                    400,
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity. The token was issued on 2030-01-01 and was inactive for 90.00:00:00.",
                );
            }
            let state = &inner.grants[&grant];
            if state.revoked {
                return aad_error(
                    400,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                );
            }
            if state.needs_interaction {
                return aad_error(
                    400,
                    "interaction_required",
                    50076,
                    "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.",
                );
            }
            // Rotation: the answered refresh token supersedes the given one,
            // which stays valid for the grace period.
            let entry = inner.refresh.get_mut(&given).expect("known");
            entry.superseded.get_or_insert(now);
            axum::Json(issue(&mut inner, grant)).into_response()
        }
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect, grant)) = inner.codes.remove(&code) else {
                return aad_error(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity.",
                );
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if base64_url(&Sha256::digest(verifier.as_bytes())) != challenge {
                return aad_error(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
            if form.get("redirect_uri") != Some(&redirect) {
                return aad_error(
                    400,
                    "invalid_grant",
                    500112,
                    "The reply address does not match the reply address provided when requesting the authorization code.",
                );
            }
            axum::Json(issue(&mut inner, grant)).into_response()
        }
        _ => aad_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ),
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The consent page approves at once: it redirects to `redirect_uri` with a
/// code for a new grant, bound to the PKCE challenge.
async fn authorize(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let (Some(redirect), Some(challenge)) =
        (query.get("redirect_uri"), query.get("code_challenge"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri and code_challenge are required",
        )
            .into_response();
    };
    let scope = query.get("scope").cloned().unwrap_or_default();
    if query.get("code_challenge_method").map(String::as_str) != Some("S256")
        || query.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || !scope.split(' ').any(|s| s == "offline_access")
    {
        return (
            StatusCode::BAD_REQUEST,
            "S256, offline_access and a known client are required",
        )
            .into_response();
    }
    let mut inner = lock(&shared);
    inner.tenants.push(tenant);
    let refresh = new_grant(&mut inner);
    let grant = inner.refresh[&refresh].grant;
    inner.counter += 1;
    let code = format!("M.C5{}_BAY.code-{}", "Ab".repeat(10), inner.counter);
    inner
        .codes
        .insert(code.clone(), (challenge.clone(), redirect.clone(), grant));
    let mut target = url::Url::parse(redirect).expect("a redirect URL");
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = query.get("state") {
        target.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [("location", target.to_string())]).into_response()
}

/// A Graph request in flight: counted against its grant until dropped.
struct InFlight {
    shared: Shared,
    grant: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut inner = lock(&self.shared);
        if let Some(count) = inner.in_flight.get_mut(&self.grant) {
            *count = count.saturating_sub(1);
        }
    }
}

/// Logs the request, checks the bearer token, counts it in flight, waits
/// the latency, and takes the next scripted fault: answers the response to
/// send instead of acting, or whether to lose the reply.
async fn admit(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(bool, InFlight), Response> {
    let (latency, guard) = {
        let mut inner = lock(shared);
        inner.log.push(format!("{method} {}", uri.path()));
        inner.requests.push(format!("{method} {uri}"));
        let prefer = headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        if !prefer.contains("IdType=\"ImmutableId\"") {
            inner.without_immutable_ids += 1;
        }
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let Some(grant) = inner.access.get(token).copied() else {
            return Err(graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ));
        };
        let count = inner.in_flight.entry(grant).or_default();
        *count += 1;
        let count = *count;
        inner.most_in_flight = inner.most_in_flight.max(count);
        (
            inner.latency,
            InFlight {
                shared: shared.clone(),
                grant,
            },
        )
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let fault = lock(shared).faults.pop_front();
    match fault {
        Some(Fault::Status(status, code, retry_after)) => {
            let mut response = graph_error(status, code, "scripted failure");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.parse().expect("header"));
            }
            Err(response)
        }
        Some(Fault::LoseReply) => Ok((true, guard)),
        None => Ok((false, guard)),
    }
}

fn lost() -> Response {
    graph_error(503, "ServiceNotAvailable", "The reply was lost")
}

/// The zone answers come in: `Prefer: outlook.timezone="..."`, else UTC.
fn answer_zone(headers: &HeaderMap) -> String {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| part.trim().strip_prefix("outlook.timezone="))
        .map(|zone| zone.trim_matches('"').to_owned())
        .unwrap_or_else(|| "UTC".to_owned())
}

fn page_size(inner: &Inner, headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| part.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(inner.page_size)
}

/// One page of `items` at `$skiptoken`, with `@odata.nextLink` (the whole
/// URL) while more follow.
fn page(
    base: &str,
    uri: &Uri,
    query: &HashMap<String, String>,
    items: Vec<Value>,
    size: usize,
) -> Response {
    let offset: usize = query
        .get("$skiptoken")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let end = (offset + size).min(items.len());
    let mut answer = json!({"@odata.context": format!("{base}/v1.0/$metadata"),
        "value": items[offset.min(items.len())..end]});
    if end < items.len() {
        let mut next = url::Url::parse(&format!("{base}{}", uri.path())).expect("url");
        for (name, value) in query.iter().filter(|(name, _)| *name != "$skiptoken") {
            next.query_pairs_mut().append_pair(name, value);
        }
        next.query_pairs_mut()
            .append_pair("$skiptoken", &end.to_string());
        answer["@odata.nextLink"] = json!(next.to_string());
    }
    axum::Json(answer).into_response()
}

fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn calendar_json(id: &str, calendar: &Calendar) -> Value {
    json!({"id": id, "name": calendar.name, "isDefaultCalendar": id == DEFAULT_CALENDAR,
        "canEdit": true, "canShare": calendar.owner == MAILBOX,
        "owner": {"name": calendar.owner, "address": calendar.owner}})
}

async fn default_calendar(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admit(&shared, &method, &uri, &headers).await {
        return response;
    }
    let inner = lock(&shared);
    axum::Json(calendar_json(
        DEFAULT_CALENDAR,
        &inner.calendars[DEFAULT_CALENDAR],
    ))
    .into_response()
}

async fn calendars(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = admit(&shared, &method, &uri, &headers).await {
        return response;
    }
    let inner = lock(&shared);
    let items = inner
        .calendars
        .iter()
        .map(|(id, c)| calendar_json(id, c))
        .collect();
    page(
        &base_of(&headers),
        &uri,
        &query,
        items,
        page_size(&inner, &headers),
    )
}

async fn calendar_get(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
) -> Response {
    if let Err(response) = admit(&shared, &method, &uri, &headers).await {
        return response;
    }
    let inner = lock(&shared);
    match inner.calendars.get(&calendar) {
        Some(found) => axum::Json(calendar_json(&calendar, found)).into_response(),
        None => graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        ),
    }
}

/// The instant of a stored `dateTimeTimeZone`; `None` when unreadable.
fn instant_of(time: &Value) -> Option<DateTime<Utc>> {
    let wall = wall_of(time)?;
    let zone = resolve_zone(time["timeZone"].as_str()?)?;
    zone.from_local_datetime(&wall)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn wall_of(time: &Value) -> Option<NaiveDateTime> {
    let text = time["dateTime"].as_str()?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// A time as Graph answers it: the wall time in the asked zone (all-day
/// events keep their date), seven fractional digits.
fn answered_time(time: &Value, all_day: bool, zone: &str) -> Value {
    let wall = if all_day {
        wall_of(time)
    } else {
        let tz = resolve_zone(zone).unwrap_or(chrono_tz::Tz::UTC);
        instant_of(time).map(|t| t.with_timezone(&tz).naive_local())
    };
    match wall {
        Some(wall) => {
            json!({"dateTime": format!("{}.0000000", wall.format("%Y-%m-%dT%H:%M:%S")), "timeZone": zone})
        }
        None => time.clone(),
    }
}

/// An event as Graph answers it: times in `zone`; extended properties only
/// when `$expand` names them.
fn answered(event: &Value, zone: &str, expand: Option<&str>) -> Value {
    let mut event = event.clone();
    let all_day = event["isAllDay"] == true;
    for field in ["start", "end"] {
        event[field] = answered_time(&event[field], all_day, zone);
    }
    let properties = event
        .as_object_mut()
        .and_then(|o| o.remove("singleValueExtendedProperties"))
        .unwrap_or(json!([]));
    if let Some(expand) = expand.filter(|e| e.contains("singleValueExtendedProperties")) {
        let kept: Vec<Value> = properties
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["id"].as_str().is_some_and(|id| expand.contains(id)))
            .cloned()
            .collect();
        event["singleValueExtendedProperties"] = json!(kept);
    }
    event
        .as_object_mut()
        .expect("object")
        .remove("transactionId");
    event
}

/// Graph's checks of an event's fields; `full` for a create.
fn check_event(event: &Map<String, Value>, full: bool) -> Result<(), Response> {
    if let Some(unknown) = event
        .keys()
        .find(|k| !EVENT_PROPERTIES.contains(&k.as_str()))
    {
        return Err(graph_error(
            400,
            "RequestBodyRead",
            &format!(
                "The property '{unknown}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type."
            ),
        ));
    }
    for field in ["start", "end"] {
        let Some(time) = event.get(field) else {
            if full {
                return Err(graph_error(
                    400,
                    "ErrorInvalidRequest",
                    &format!("Your request can't be completed. The {field} time is missing."),
                ));
            }
            continue;
        };
        let text = time["dateTime"].as_str().unwrap_or_default();
        if DateTime::parse_from_rfc3339(text).is_ok() || text.ends_with('Z') {
            return Err(graph_error(
                400,
                "ErrorInvalidRequest",
                "dateTime must be a wall time without an offset; the zone goes in timeZone.",
            ));
        }
        if wall_of(time).is_none() {
            return Err(graph_error(
                400,
                "ErrorInvalidRequest",
                "Cannot convert the literal to a DateTime.",
            ));
        }
        if time["timeZone"].as_str().and_then(resolve_zone).is_none() {
            return Err(graph_error(
                400,
                "TimeZoneNotSupportedException",
                &format!(
                    "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{}'.",
                    time["timeZone"]
                ),
            ));
        }
    }
    if let Some(properties) = event.get("singleValueExtendedProperties") {
        let valid = properties.as_array().is_some_and(|all| {
            all.iter().all(|p| {
                p["id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("String {") && id.contains("} Name "))
                    && p["value"].is_string()
            })
        });
        if !valid {
            return Err(graph_error(
                400,
                "ErrorInvalidProperty",
                "The extended property id is not valid.",
            ));
        }
    }
    if let Some(recurrence) = event.get("recurrence").filter(|r| !r.is_null()) {
        let known = [
            "daily",
            "weekly",
            "absoluteMonthly",
            "relativeMonthly",
            "absoluteYearly",
            "relativeYearly",
        ];
        if !recurrence["pattern"]["type"]
            .as_str()
            .is_some_and(|t| known.contains(&t))
            || recurrence["range"]["startDate"].as_str().is_none()
        {
            return Err(graph_error(
                400,
                "ErrorInvalidRequest",
                "The recurrence pattern is not valid.",
            ));
        }
    }
    Ok(())
}

/// The checks that need the whole event: start before end, all-day at midnight.
fn check_span(event: &Value) -> Result<(), Response> {
    let (Some(start), Some(end)) = (instant_of(&event["start"]), instant_of(&event["end"])) else {
        return Ok(());
    };
    if event["isAllDay"] == true {
        let midnight = |t: &Value| wall_of(t).is_some_and(|w| w.time() == chrono::NaiveTime::MIN);
        if !midnight(&event["start"])
            || !midnight(&event["end"])
            || event["start"]["timeZone"] != event["end"]["timeZone"]
        {
            return Err(graph_error(
                400,
                "ErrorInvalidRequest",
                "The start and end of an all-day event must be midnight in the same time zone.",
            ));
        }
    }
    if start >= end {
        return Err(graph_error(
            400,
            "ErrorInvalidRequest",
            "The end of the event must be after its start.",
        ));
    }
    Ok(())
}

async fn event_create(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
    body: Bytes,
) -> Response {
    let lose = match admit(&shared, &method, &uri, &headers).await {
        Ok((lose, _guard)) => lose,
        Err(response) => return response,
    };
    let Ok(event) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return graph_error(400, "RequestBodyRead", "Invalid JSON.");
    };
    if let Err(response) = check_event(&event, true) {
        return response;
    }
    let mut event = Value::Object(event);
    if let Err(response) = check_span(&event) {
        return response;
    }
    let zone = answer_zone(&headers);
    let mut inner = lock(&shared);
    if !inner.calendars.contains_key(&calendar) {
        return graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    }
    // transactionId: a repeated create answers the event the first one made.
    let transaction = event["transactionId"].as_str().map(str::to_owned);
    if let Some((in_calendar, id)) = transaction
        .as_ref()
        .and_then(|t| inner.transactions.get(t))
        .cloned()
        && let Some(existing) = inner.calendars[&in_calendar].events.get(&id)
    {
        let response = (
            StatusCode::CREATED,
            axum::Json(answered(existing, &zone, None)),
        )
            .into_response();
        return if lose { lost() } else { response };
    }
    let id = long_id(&mut inner, "AAMkAGI2");
    stamp(&mut inner, &mut event, &id);
    if let Some(transaction) = transaction {
        inner
            .transactions
            .insert(transaction, (calendar.clone(), id.clone()));
    }
    inner
        .calendars
        .get_mut(&calendar)
        .expect("calendar")
        .events
        .insert(id, event.clone());
    if lose {
        return lost();
    }
    (
        StatusCode::CREATED,
        axum::Json(answered(&event, &zone, None)),
    )
        .into_response()
}

/// The `(id, value)` an `$filter=singleValueExtendedProperties/any(ep: ep/id
/// eq '...' and ep/value eq '...')` names.
fn property_filter(filter: &str) -> Option<(String, String)> {
    let quoted = |after: &str| -> Option<String> {
        let rest = &filter[filter.find(after)? + after.len()..];
        let mut value = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    value.push('\'');
                } else {
                    return Some(value);
                }
            } else {
                value.push(c);
            }
        }
        None
    };
    filter
        .starts_with("singleValueExtendedProperties/any(")
        .then(|| Some((quoted("ep/id eq '")?, quoted("ep/value eq '")?)))
        .flatten()
}

async fn events_find(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = admit(&shared, &method, &uri, &headers).await {
        return response;
    }
    let inner = lock(&shared);
    let Some(found) = inner.calendars.get(&calendar) else {
        return graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    };
    let Some((id, value)) = query.get("$filter").and_then(|f| property_filter(f)) else {
        return graph_error(
            400,
            "BadRequest",
            "This test server filters by an extended property only.",
        );
    };
    let zone = answer_zone(&headers);
    let items = found
        .events
        .values()
        .filter(|event| {
            event["singleValueExtendedProperties"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| {
                    p["id"]
                        .as_str()
                        .is_some_and(|pid| pid.eq_ignore_ascii_case(&id))
                        && p["value"] == value.as_str()
                })
        })
        .map(|event| answered(event, &zone, query.get("$expand").map(String::as_str)))
        .collect();
    page(
        &base_of(&headers),
        &uri,
        &query,
        items,
        page_size(&inner, &headers),
    )
}

/// The dates a `patternedRecurrence` starting at `first` produces up to `until`
/// (daily, weekly and absolute monthly patterns; others yield the first date).
fn occurrences(recurrence: &Value, first: NaiveDate, until: NaiveDate) -> Vec<NaiveDate> {
    let pattern = &recurrence["pattern"];
    let range = &recurrence["range"];
    let interval = pattern["interval"].as_i64().unwrap_or(1).max(1);
    let limit = range["numberOfOccurrences"]
        .as_u64()
        .filter(|_| range["type"] == "numbered");
    let end = range["endDate"]
        .as_str()
        .filter(|_| range["type"] == "endDate")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(until)
        .min(until);
    let days: Vec<String> = pattern["daysOfWeek"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_lowercase))
        .collect();
    let mut dates = Vec::new();
    let mut day = first;
    while day <= end && limit.is_none_or(|n| (dates.len() as u64) < n) {
        let weeks = (day - first).num_days().div_euclid(7);
        let hit = match pattern["type"].as_str().unwrap_or_default() {
            "daily" => (day - first).num_days() % interval == 0,
            "weekly" => {
                weeks % interval == 0 && days.iter().any(|d| d == weekday_name(day.weekday()))
            }
            "absoluteMonthly" => day.day() as i64 == pattern["dayOfMonth"].as_i64().unwrap_or(0),
            _ => day == first,
        };
        if hit {
            dates.push(day);
        }
        day += Days::days(1);
    }
    dates
}

fn weekday_name(day: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match day {
        Mon => "monday",
        Tue => "tuesday",
        Wed => "wednesday",
        Thu => "thursday",
        Fri => "friday",
        Sat => "saturday",
        Sun => "sunday",
    }
}

async fn calendar_view(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = admit(&shared, &method, &uri, &headers).await {
        return response;
    }
    let parse = |name: &str| {
        query
            .get(name)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(from), Some(to)) = (parse("startDateTime"), parse("endDateTime")) else {
        return graph_error(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        );
    };
    let inner = lock(&shared);
    let Some(found) = inner.calendars.get(&calendar) else {
        return graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    };
    let zone = answer_zone(&headers);
    let expand = query.get("$expand").map(String::as_str);
    let mut items = Vec::new();
    for event in found.events.values() {
        let (Some(start), Some(end)) = (instant_of(&event["start"]), instant_of(&event["end"]))
        else {
            continue;
        };
        let recurrence = &event["recurrence"];
        if recurrence.is_null() {
            if start < to && end > from {
                items.push(answered(event, &zone, expand));
            }
            continue;
        }
        // Graph expands a series into its occurrences, each with its own id.
        let master_zone = event["start"]["timeZone"]
            .as_str()
            .and_then(resolve_zone)
            .unwrap_or(chrono_tz::Tz::UTC);
        let (Some(start_wall), Some(end_wall)) = (wall_of(&event["start"]), wall_of(&event["end"]))
        else {
            continue;
        };
        let length = end_wall - start_wall;
        for date in occurrences(
            recurrence,
            start_wall.date(),
            to.date_naive() + Days::days(1),
        ) {
            let wall = date.and_time(start_wall.time());
            let Some(at) = master_zone.from_local_datetime(&wall).earliest() else {
                continue;
            };
            let (at, until) = (at.with_timezone(&Utc), at.with_timezone(&Utc) + length);
            if at >= to || until <= from {
                continue;
            }
            let mut occurrence = event.clone();
            let tz = event["start"]["timeZone"].clone();
            occurrence["start"] =
                json!({"dateTime": wall.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": tz});
            occurrence["end"] = json!({"dateTime": (wall + length).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": tz});
            occurrence["seriesMasterId"] = event["id"].clone();
            occurrence["id"] = json!(format!(
                "{}OCC{}",
                event["id"].as_str().unwrap_or_default(),
                date.format("%Y%m%d")
            ));
            occurrence["type"] = json!("occurrence");
            occurrence
                .as_object_mut()
                .expect("object")
                .remove("recurrence");
            items.push(answered(&occurrence, &zone, expand));
        }
    }
    page(
        &base_of(&headers),
        &uri,
        &query,
        items,
        page_size(&inner, &headers),
    )
}

fn find_event<'a>(inner: &'a mut Inner, id: &str) -> Option<(&'a String, &'a mut Value)> {
    inner
        .calendars
        .iter_mut()
        .find_map(|(calendar, c)| c.events.get_mut(id).map(|e| (calendar, e)))
}

fn not_found() -> Response {
    graph_error(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn if_match_fails(headers: &HeaderMap, event: &Value) -> bool {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tag| tag != "*" && Some(tag) != event["@odata.etag"].as_str())
}

fn conflict() -> Response {
    graph_error(
        412,
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
    )
}

async fn event_get(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = admit(&shared, &method, &uri, &headers).await {
        return response;
    }
    let zone = answer_zone(&headers);
    let mut inner = lock(&shared);
    match find_event(&mut inner, &id) {
        Some((_, event)) => axum::Json(answered(
            event,
            &zone,
            query.get("$expand").map(String::as_str),
        ))
        .into_response(),
        None => not_found(),
    }
}

async fn event_patch(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let lose = match admit(&shared, &method, &uri, &headers).await {
        Ok((lose, _guard)) => lose,
        Err(response) => return response,
    };
    let Ok(changes) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return graph_error(400, "RequestBodyRead", "Invalid JSON.");
    };
    if let Err(response) = check_event(&changes, false) {
        return response;
    }
    if changes.contains_key("transactionId") {
        return graph_error(
            400,
            "ErrorInvalidRequest",
            "transactionId cannot be changed.",
        );
    }
    let zone = answer_zone(&headers);
    let mut inner = lock(&shared);
    inner.counter += 1;
    let etag = format!("W/\"DwAAABYAAAAiIsqMbYjsT5e+T7KzowPT{:06}\"", inner.counter);
    let Some((_, event)) = find_event(&mut inner, &id) else {
        return not_found();
    };
    if if_match_fails(&headers, event) {
        return conflict();
    }
    let mut next = event.clone();
    for (name, value) in changes {
        next[name] = value;
    }
    if let Err(response) = check_span(&next) {
        return response;
    }
    next["@odata.etag"] = json!(etag);
    *event = next.clone();
    if lose {
        return lost();
    }
    axum::Json(answered(&next, &zone, None)).into_response()
}

async fn event_delete(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lose = match admit(&shared, &method, &uri, &headers).await {
        Ok((lose, _guard)) => lose,
        Err(response) => return response,
    };
    let mut inner = lock(&shared);
    let Some((calendar, event)) = find_event(&mut inner, &id) else {
        return not_found();
    };
    if if_match_fails(&headers, event) {
        return conflict();
    }
    let calendar = calendar.clone();
    inner
        .calendars
        .get_mut(&calendar)
        .expect("calendar")
        .events
        .remove(&id);
    if lose {
        return lost();
    }
    StatusCode::NO_CONTENT.into_response()
}
