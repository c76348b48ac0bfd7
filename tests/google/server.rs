//! A local Google Calendar API and OAuth server, written from PROVIDERS.md
//! §1 and §7, including Google's unfriendly parts: answers in the calendar's
//! zone, 409 on a reused id (also after a delete), 412 on a stale ETag, 410
//! on a second delete, pages with `nextPageToken` (an empty first page
//! still has one when asked), 401 once access tokens expire,
//! `invalid_grant` for a revoked refresh token, 403 rate reasons that clear
//! after N tries, and a write whose reply is lost (carried out, answered 503).

// Checks answer the ready response as their error; its size does not
// matter in a test server.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use calsync::oauth::ClientSettings;
use calsync::providers::google::GoogleSettings;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The OAuth client the server knows.
pub const CLIENT_ID: &str = "calsync-test.apps.example";
/// Its secret.
pub const CLIENT_SECRET: &str = "test-secret";
/// The primary calendar's id (the user's address).
pub const PRIMARY: &str = "ada@example.com";
/// Scopes calsync asks for.
pub const SCOPES: &str = "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.calendarlist.readonly";

/// A calendar on the server.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// Its zone: answers come in it.
    pub zone: String,
    /// Shown in the user's list.
    pub selected: bool,
    /// Hidden from the user's list.
    pub hidden: bool,
    /// Its events by id (deleted ones stay, `cancelled`).
    pub events: BTreeMap<String, Value>,
}

/// A scripted failure.
#[derive(Clone, Debug)]
enum Fault {
    /// Answer this status and Google reason instead of acting.
    Status(u16, &'static str, Option<u64>),
    /// Act, then answer 503 as if the reply was lost on the way.
    LoseReply,
}

#[derive(Default)]
struct Grant {
    scopes: String,
    revoked: bool,
}

#[derive(Default)]
struct Inner {
    calendars: BTreeMap<String, Calendar>,
    grants: HashMap<String, Grant>,
    /// Access token → refresh token it came from.
    access: HashMap<String, String>,
    codes: HashMap<String, (String, String, String)>,
    faults: VecDeque<Fault>,
    token_faults: VecDeque<Fault>,
    log: Vec<String>,
    /// `METHOD /path?query` of every request.
    requests: Vec<String>,
    /// The ids of events whose insert mailed invitations (`sendUpdates=all`).
    mailed: Vec<String>,
    page_size: usize,
    empty_first_page: bool,
    etag_counter: u64,
    token_counter: u64,
    latency: Option<Duration>,
    wrong_client: bool,
}

/// The running server.
#[derive(Clone)]
pub struct GoogleServer {
    /// Its base URL.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn google_error(status: u16, reason: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).expect("status");
    let body = json!({"error": {"code": status, "message": message,
        "errors": [{"domain": "global", "reason": reason, "message": message}]}});
    (code, axum::Json(body)).into_response()
}

fn oauth_error(status: u16, code: &str, description: &str) -> Response {
    let body = json!({"error": code, "error_description": description});
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(body),
    )
        .into_response()
}

impl GoogleServer {
    /// Starts a server on a free loopback port, with one primary calendar in `zone`.
    pub async fn start(zone: &str) -> GoogleServer {
        let mut inner = Inner {
            page_size: 250,
            ..Inner::default()
        };
        inner.calendars.insert(
            PRIMARY.to_owned(),
            Calendar {
                zone: zone.to_owned(),
                selected: true,
                hidden: false,
                events: BTreeMap::new(),
            },
        );
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/o/oauth2/auth", get(authorize))
            .route("/calendar/v3/users/me/calendarList", get(calendar_list))
            .route("/calendar/v3/calendars/{calendar}", get(calendar_get))
            .route(
                "/calendar/v3/calendars/{calendar}/events",
                get(events_list).post(events_insert),
            )
            .route(
                "/calendar/v3/calendars/{calendar}/events/{id}",
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
        GoogleServer { url, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settings aiming the adapter at this server.
    pub fn settings(&self) -> GoogleSettings {
        GoogleSettings::new(ClientSettings::new(CLIENT_ID, Some(CLIENT_SECRET))).all_at(&self.url)
    }

    /// A new grant with `scopes`; answers its refresh token.
    pub fn grant(&self, scopes: &str) -> String {
        let mut inner = self.lock();
        inner.token_counter += 1;
        let token = format!("1//refresh-{}", inner.token_counter);
        inner.grants.insert(
            token.clone(),
            Grant {
                scopes: scopes.to_owned(),
                revoked: false,
            },
        );
        token
    }

    /// Whether the grant of `refresh_token` was revoked.
    pub fn is_revoked(&self, refresh_token: &str) -> bool {
        self.lock()
            .grants
            .get(refresh_token)
            .is_none_or(|g| g.revoked)
    }

    /// The user revokes the grant at Google.
    pub fn revoke_grant(&self, refresh_token: &str) {
        let mut inner = self.lock();
        if let Some(grant) = inner.grants.get_mut(refresh_token) {
            grant.revoked = true;
        }
        inner.access.retain(|_, refresh| refresh != refresh_token);
    }

    /// Every access token issued so far stops working (they expired).
    pub fn expire_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// The token endpoint refuses the deployment's client from now on.
    pub fn refuse_client(&self, refuse: bool) {
        self.lock().wrong_client = refuse;
    }

    /// Adds a calendar to the user's list.
    pub fn add_calendar(&self, id: &str, zone: &str, selected: bool, hidden: bool) {
        self.lock().calendars.insert(
            id.to_owned(),
            Calendar {
                zone: zone.to_owned(),
                selected,
                hidden,
                events: BTreeMap::new(),
            },
        );
    }

    /// The next `times` calendar API calls answer `status` with Google's
    /// `reason` (and a Retry-After when given) instead of acting.
    pub fn fail_next(
        &self,
        times: usize,
        status: u16,
        reason: &'static str,
        retry_after: Option<u64>,
    ) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner
                .faults
                .push_back(Fault::Status(status, reason, retry_after));
        }
    }

    /// The next `times` token requests answer `status` with `reason`.
    pub fn fail_token_next(&self, times: usize, status: u16, reason: &'static str) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner
                .token_faults
                .push_back(Fault::Status(status, reason, None));
        }
    }

    /// The next calendar API write is carried out, but its reply is lost
    /// (the client gets a 503).
    pub fn lose_next_reply(&self) {
        self.lock().faults.push_back(Fault::LoseReply);
    }

    /// Pages hold at most `size` items.
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// The first page of every events listing is empty (with a `nextPageToken`).
    pub fn empty_first_pages(&self) {
        self.lock().empty_first_page = true;
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

    /// The ids of the events whose insert asked Google to mail the invitations.
    pub fn mailed(&self) -> Vec<String> {
        self.lock().mailed.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        let mut inner = self.lock();
        inner.log.clear();
        inner.requests.clear();
    }

    /// The stored events of `calendar`, deleted ones included.
    pub fn events(&self, calendar: &str) -> Vec<Value> {
        self.lock().calendars[calendar]
            .events
            .values()
            .cloned()
            .collect()
    }

    /// The live (not cancelled) events of `calendar`.
    pub fn live_events(&self, calendar: &str) -> Vec<Value> {
        self.events(calendar)
            .into_iter()
            .filter(|event| event["status"] != "cancelled")
            .collect()
    }

    /// One stored event.
    pub fn event(&self, calendar: &str, id: &str) -> Option<Value> {
        self.lock().calendars[calendar].events.get(id).cloned()
    }

    /// Another client writes `event` (with its `id`) into `calendar`.
    pub fn put_event(&self, calendar: &str, mut event: Value) {
        let mut inner = self.lock();
        inner.etag_counter += 1;
        let etag = format!("\"{}\"", inner.etag_counter);
        let id = event["id"].as_str().expect("an id").to_owned();
        let object = event.as_object_mut().expect("an object");
        object.insert("etag".into(), json!(etag));
        object.entry("status").or_insert(json!("confirmed"));
        object
            .entry("iCalUID")
            .or_insert(json!(format!("{id}@google.com")));
        inner
            .calendars
            .get_mut(calendar)
            .expect("calendar")
            .events
            .insert(id, event);
    }

    /// Another client changes fields of an event (its ETag moves).
    pub fn edit_event(&self, calendar: &str, id: &str, changes: Value) {
        let mut inner = self.lock();
        inner.etag_counter += 1;
        let etag = format!("\"{}\"", inner.etag_counter);
        let event = inner
            .calendars
            .get_mut(calendar)
            .expect("calendar")
            .events
            .get_mut(id)
            .expect("event");
        for (name, value) in changes.as_object().expect("object") {
            event[name] = value.clone();
        }
        event["etag"] = json!(etag);
    }
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

async fn token(State(shared): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Response {
    arrive(&shared, &method, &uri).await;
    let form = form(&body);
    let mut inner = lock(&shared);
    if let Some(Fault::Status(status, reason, _)) = inner.token_faults.pop_front() {
        return oauth_error(status, reason, "scripted failure");
    }
    if inner.wrong_client
        || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(401, "invalid_client", "The OAuth client was not found.");
    }
    let (refresh, issue_refresh) = match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let refresh = form.get("refresh_token").cloned().unwrap_or_default();
            match inner.grants.get(&refresh) {
                Some(grant) if !grant.revoked => (refresh, false),
                _ => {
                    return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
                }
            }
        }
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect, refresh)) = inner.codes.remove(&code) else {
                return oauth_error(400, "invalid_grant", "Malformed auth code.");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64_url(&Sha256::digest(verifier.as_bytes()));
            if computed != challenge {
                return oauth_error(400, "invalid_grant", "Invalid code verifier.");
            }
            if form.get("redirect_uri") != Some(&redirect) {
                return oauth_error(400, "redirect_uri_mismatch", "Bad Request");
            }
            (refresh, true)
        }
        _ => return oauth_error(400, "unsupported_grant_type", "Invalid grant_type"),
    };
    inner.token_counter += 1;
    let access = format!("ya29.access-{}", inner.token_counter);
    inner.access.insert(access.clone(), refresh.clone());
    let scopes = inner.grants[&refresh].scopes.clone();
    let mut answer = json!({"access_token": access, "expires_in": 3599,
        "scope": scopes, "token_type": "Bearer"});
    if issue_refresh {
        answer["refresh_token"] = json!(refresh);
    }
    axum::Json(answer).into_response()
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn revoke(State(shared): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Response {
    arrive(&shared, &method, &uri).await;
    let form = form(&body);
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = lock(&shared);
    let refresh = match inner.grants.get(&token) {
        Some(grant) if !grant.revoked => Some(token.clone()),
        Some(_) => None,
        None => inner.access.get(&token).cloned(),
    };
    match refresh {
        Some(refresh) => {
            inner.grants.get_mut(&refresh).expect("grant").revoked = true;
            inner.access.retain(|_, r| *r != refresh);
            StatusCode::OK.into_response()
        }
        None => oauth_error(400, "invalid_token", "Token expired or revoked"),
    }
}

/// The consent page approves at once: it redirects to `redirect_uri` with a
/// code for a new grant of the asked scopes, bound to the PKCE challenge.
async fn authorize(
    State(shared): State<Shared>,
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
    if query.get("code_challenge_method").map(String::as_str) != Some("S256")
        || query.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        return (
            StatusCode::BAD_REQUEST,
            "S256 and a known client are required",
        )
            .into_response();
    }
    let mut inner = lock(&shared);
    inner.token_counter += 1;
    let refresh = format!("1//refresh-{}", inner.token_counter);
    let code = format!("4/code-{}", inner.token_counter);
    let scopes = query.get("scope").cloned().unwrap_or_default();
    inner.grants.insert(
        refresh.clone(),
        Grant {
            scopes,
            revoked: false,
        },
    );
    inner
        .codes
        .insert(code.clone(), (challenge.clone(), redirect.clone(), refresh));
    let mut target = url::Url::parse(redirect).expect("a redirect URL");
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = query.get("state") {
        target.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [("location", target.to_string())]).into_response()
}

/// Checks the bearer token and takes the next scripted fault; answers the
/// response to send instead of acting, if any, and whether to lose the reply.
fn admit(inner: &mut Inner, headers: &HeaderMap) -> Result<bool, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !inner.access.contains_key(token) {
        return Err(google_error(401, "authError", "Invalid Credentials"));
    }
    match inner.faults.pop_front() {
        Some(Fault::Status(status, reason, retry_after)) => {
            let mut response = google_error(status, reason, "scripted failure");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().expect("header"));
            }
            Err(response)
        }
        Some(Fault::LoseReply) => Ok(true),
        None => Ok(false),
    }
}

fn lost() -> Response {
    google_error(503, "backendError", "The reply was lost")
}

/// The calendar an id names (`primary` is the user's main calendar).
fn calendar_id(id: &str) -> String {
    if id == "primary" {
        PRIMARY.to_owned()
    } else {
        id.to_owned()
    }
}

async fn calendar_list(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    if let Err(response) = admit(&mut inner, &headers) {
        return response;
    }
    let items: Vec<Value> = inner
        .calendars
        .iter()
        .map(|(id, calendar)| {
            let mut entry = json!({"kind": "calendar#calendarListEntry", "id": id,
                "timeZone": calendar.zone, "accessRole": "owner"});
            // Google leaves out `selected`, `hidden` and `primary` when false.
            if calendar.selected {
                entry["selected"] = json!(true);
            }
            if calendar.hidden {
                entry["hidden"] = json!(true);
            }
            if id == PRIMARY {
                entry["primary"] = json!(true);
            }
            entry
        })
        .collect();
    page(&inner, items, &query, None)
}

fn page(
    inner: &Inner,
    items: Vec<Value>,
    query: &HashMap<String, String>,
    zone: Option<&str>,
) -> Response {
    let asked = query
        .get("maxResults")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(250);
    let size = asked.min(inner.page_size);
    let offset: usize = query
        .get("pageToken")
        .and_then(|token| token.strip_prefix("page-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut answer = json!({"kind": "calendar#events"});
    if let Some(zone) = zone {
        answer["timeZone"] = json!(zone);
    }
    if zone.is_some() && inner.empty_first_page && !query.contains_key("pageToken") {
        answer["items"] = json!([]);
        answer["nextPageToken"] = json!("page-0");
        return axum::Json(answer).into_response();
    }
    let end = (offset + size).min(items.len());
    answer["items"] = json!(items[offset.min(items.len())..end]);
    if end < items.len() {
        answer["nextPageToken"] = json!(format!("page-{end}"));
    }
    axum::Json(answer).into_response()
}

async fn calendar_get(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    if let Err(response) = admit(&mut inner, &headers) {
        return response;
    }
    let id = calendar_id(&calendar);
    match inner.calendars.get(&id) {
        Some(found) => axum::Json(json!({"kind": "calendar#calendar", "id": id,
            "timeZone": found.zone, "summary": id}))
        .into_response(),
        None => google_error(404, "notFound", "Not Found"),
    }
}

/// An event as Google answers it: times in the calendar's zone.
fn answered(event: &Value, zone: &str) -> Value {
    let mut event = event.clone();
    let tz: chrono_tz::Tz = zone.parse().expect("an IANA zone");
    for field in ["start", "end", "originalStartTime"] {
        if let Some(text) = event[field]["dateTime"].as_str()
            && let Ok(instant) = DateTime::parse_from_rfc3339(text)
        {
            event[field]["dateTime"] = json!(
                instant
                    .with_timezone(&tz)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
            );
        }
    }
    event
}

fn instant_of(time: &Value) -> Option<DateTime<Utc>> {
    if let Some(text) = time["dateTime"].as_str() {
        return DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(time["date"].as_str()?, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

async fn events_list(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    if let Err(response) = admit(&mut inner, &headers) {
        return response;
    }
    let id = calendar_id(&calendar);
    let Some(found) = inner.calendars.get(&id) else {
        return google_error(404, "notFound", "Not Found");
    };
    if query.get("singleEvents").map(String::as_str) == Some("true") {
        return google_error(
            400,
            "invalid",
            "this server lists masters and exceptions only",
        );
    }
    let min = query
        .get("timeMin")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let max = query
        .get("timeMax")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let show_deleted = query.get("showDeleted").map(String::as_str) == Some("true");
    let items: Vec<Value> = found
        .events
        .values()
        .filter(|event| {
            let cancelled = event["status"] == "cancelled";
            // Cancelled instances of a series are listed (as stubs) even
            // without showDeleted; deleted events are not.
            if cancelled && !show_deleted && event.get("recurringEventId").is_none() {
                return false;
            }
            let start =
                instant_of(&event["start"]).or_else(|| instant_of(&event["originalStartTime"]));
            let end = instant_of(&event["end"]).or(start);
            let recurring = event["recurrence"]
                .as_array()
                .is_some_and(|r| !r.is_empty());
            let before_max = match (start, max) {
                (Some(start), Some(max)) => start < max,
                _ => true,
            };
            let after_min = recurring
                || match (end, min) {
                    (Some(end), Some(min)) => end > min,
                    _ => true,
                };
            before_max && after_min
        })
        .map(|event| {
            if event["status"] == "cancelled" {
                // Stubs are sparse: no summary, no times.
                json!({"id": event["id"], "status": "cancelled", "etag": event["etag"],
                    "recurringEventId": event["recurringEventId"],
                    "originalStartTime": event["originalStartTime"]})
            } else {
                answered(event, &found.zone)
            }
        })
        .collect();
    let zone = found.zone.clone();
    page(&inner, items, &query, Some(&zone))
}

fn valid_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9'))
}

fn check_times(event: &Value) -> Result<(), Response> {
    for field in ["start", "end"] {
        let time = &event[field];
        if time.is_null() {
            return Err(google_error(
                400,
                "required",
                &format!("Missing {field} time."),
            ));
        }
        if let Some(text) = time["dateTime"].as_str()
            && DateTime::parse_from_rfc3339(text).is_err()
            && time["timeZone"].is_null()
        {
            return Err(google_error(
                400,
                "invalid",
                "Missing time zone definition for start time.",
            ));
        }
    }
    let recurring = event["recurrence"]
        .as_array()
        .is_some_and(|r| !r.is_empty());
    if recurring && event["start"]["date"].is_null() && event["start"]["timeZone"].is_null() {
        return Err(google_error(
            400,
            "invalid",
            "Missing time zone definition for start time.",
        ));
    }
    match (instant_of(&event["start"]), instant_of(&event["end"])) {
        (Some(start), Some(end)) if start < end => Ok(()),
        _ => Err(google_error(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
        )),
    }
}

async fn events_insert(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(calendar): Path<String>,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let lose = match admit(&mut inner, &headers) {
        Ok(lose) => lose,
        Err(response) => return response,
    };
    let id = calendar_id(&calendar);
    let Ok(mut event) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return google_error(400, "parseError", "Parse Error");
    };
    let event_id = match event.get("id").and_then(Value::as_str) {
        Some(given) if !valid_id(given) => {
            return google_error(400, "invalid", "Invalid resource id value.");
        }
        Some(given) => given.to_owned(),
        None => format!("srv{:032x}", rand_id()),
    };
    let Some(found) = inner.calendars.get(&id) else {
        return google_error(404, "notFound", "Not Found");
    };
    // Ids stay taken after a delete.
    if found.events.contains_key(&event_id) {
        return google_error(409, "duplicate", "The requested identifier already exists.");
    }
    if let Err(response) = check_times(&Value::Object(event.clone())) {
        return response;
    }
    let zone = found.zone.clone();
    inner.etag_counter += 1;
    event.insert("id".into(), json!(event_id));
    event.insert("etag".into(), json!(format!("\"{}\"", inner.etag_counter)));
    event.insert("status".into(), json!("confirmed"));
    event.insert("iCalUID".into(), json!(format!("{event_id}@google.com")));
    event.insert("kind".into(), json!("calendar#event"));
    let event = Value::Object(event);
    if uri
        .query()
        .is_some_and(|query| query.split('&').any(|part| part == "sendUpdates=all"))
    {
        inner.mailed.push(event_id.clone());
    }
    inner
        .calendars
        .get_mut(&id)
        .expect("calendar")
        .events
        .insert(event_id, event.clone());
    if lose {
        return lost();
    }
    axum::Json(answered(&event, &zone)).into_response()
}

fn rand_id() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

async fn event_get(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((calendar, event_id)): Path<(String, String)>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    if let Err(response) = admit(&mut inner, &headers) {
        return response;
    }
    let id = calendar_id(&calendar);
    let Some(found) = inner.calendars.get(&id) else {
        return google_error(404, "notFound", "Not Found");
    };
    match found.events.get(&event_id) {
        // A deleted event is still answered, as `cancelled`.
        Some(event) => axum::Json(answered(event, &found.zone)).into_response(),
        None => google_error(404, "notFound", "Not Found"),
    }
}

fn if_match_fails(headers: &HeaderMap, event: &Value) -> bool {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tag| tag != "*" && Some(tag) != event["etag"].as_str())
}

async fn event_patch(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((calendar, event_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let lose = match admit(&mut inner, &headers) {
        Ok(lose) => lose,
        Err(response) => return response,
    };
    let id = calendar_id(&calendar);
    let Ok(changes) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return google_error(400, "parseError", "Parse Error");
    };
    inner.etag_counter += 1;
    let etag = format!("\"{}\"", inner.etag_counter);
    let Some(found) = inner.calendars.get_mut(&id) else {
        return google_error(404, "notFound", "Not Found");
    };
    let zone = found.zone.clone();
    let Some(event) = found.events.get_mut(&event_id) else {
        return google_error(404, "notFound", "Not Found");
    };
    if event["status"] == "cancelled" {
        return google_error(410, "deleted", "Resource has been deleted");
    }
    if if_match_fails(&headers, event) {
        return google_error(412, "conditionNotMet", "Precondition Failed");
    }
    let mut next = event.clone();
    for (name, value) in changes {
        if value.is_null() {
            next.as_object_mut().expect("object").remove(&name);
        } else {
            next[name] = value;
        }
    }
    if let Err(response) = check_times(&next) {
        return response;
    }
    next["etag"] = json!(etag);
    *event = next.clone();
    if lose {
        return lost();
    }
    axum::Json(answered(&next, &zone)).into_response()
}

async fn event_delete(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((calendar, event_id)): Path<(String, String)>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let lose = match admit(&mut inner, &headers) {
        Ok(lose) => lose,
        Err(response) => return response,
    };
    let id = calendar_id(&calendar);
    let Some(found) = inner.calendars.get_mut(&id) else {
        return google_error(404, "notFound", "Not Found");
    };
    let Some(event) = found.events.get_mut(&event_id) else {
        return google_error(404, "notFound", "Not Found");
    };
    if event["status"] == "cancelled" {
        return google_error(410, "deleted", "Resource has been deleted");
    }
    if if_match_fails(&headers, event) {
        return google_error(412, "conditionNotMet", "Precondition Failed");
    }
    event["status"] = json!("cancelled");
    if lose {
        return lost();
    }
    StatusCode::NO_CONTENT.into_response()
}
