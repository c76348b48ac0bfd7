//! A local Zoom API and OAuth server, written from PROVIDERS.md §4 and §7,
//! including Zoom's unfriendly parts: Server-to-Server tokens without a
//! refresh token (a new one invalidates the previous one), user refresh
//! tokens that die once used (every refresh answers a new one), 401 code
//! 124 for a token it no longer honours, 201 creates that answer the host's
//! `start_url` beside the `join_url`, PATCH and DELETE answering 204
//! without a body, a second DELETE answering 404 code 3001, upcoming
//! listings in pages chained by `next_page_token` (agendas cut to 250
//! characters), 429s per second (`X-RateLimit-Type: QPS`) and per day
//! (`Daily-limit` with a `Retry-After` instant), the cap of 100 meeting
//! creates and updates per user per UTC day, scripted faults (one of which
//! acts and then loses its reply), latency, and a request log.

// Checks answer the ready response as their error; its size does not
// matter in a test server.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use calsync::oauth::ClientSettings;
use calsync::providers::zoom::ZoomSettings;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The OAuth app the server knows.
pub const CLIENT_ID: &str = "zoomClient42";
/// Its secret.
pub const CLIENT_SECRET: &str = "zoomSecret42";
/// The Zoom account of the Server-to-Server app.
pub const ACCOUNT_ID: &str = "acctXYZ";
/// The account's user.
pub const USER_ID: &str = "KDcuGIm1QgePTO8WbOqwIQ";
/// Their address.
pub const EMAIL: &str = "ada@example.com";
/// Another user of the account.
pub const OTHER_ID: &str = "z8yCxjabcdEFGHfp8uQ";
/// Their address.
pub const OTHER_EMAIL: &str = "grace@example.com";
/// The per-user cap on meeting creates and updates per day.
pub const DAILY_CAP: u32 = 100;
/// The UTC day the server starts on.
pub const FIRST_DAY: &str = "2030-03-04";

/// A scripted failure of the next API call.
#[derive(Clone, Debug)]
enum Fault {
    /// Answer this status, Zoom code, message and headers instead of acting.
    Status(u16, i64, String, Vec<(String, String)>),
    /// Act, then answer 503 as if the reply was lost on the way.
    LoseReply,
}

/// Who an access token acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owner {
    /// A user's grant (a user-level app), by refresh token family.
    User { user: String, grant: u64 },
    /// The whole account (a Server-to-Server app).
    Account,
}

#[derive(Clone, Debug)]
struct Grant {
    user: String,
    revoked: bool,
}

#[derive(Default)]
struct Inner {
    users: BTreeMap<String, String>,
    grants: HashMap<u64, Grant>,
    /// Live refresh token → grant.
    refresh: HashMap<String, u64>,
    access: HashMap<String, Owner>,
    codes: HashMap<String, (String, String, String)>,
    meetings: BTreeMap<i64, Value>,
    /// (user, day) → meeting creates and updates.
    writes: HashMap<(String, String), u32>,
    day: String,
    faults: VecDeque<Fault>,
    token_faults: VecDeque<(u16, String, String)>,
    log: Vec<String>,
    requests: Vec<String>,
    /// Every `grant_type` the token endpoint was asked for.
    grants_asked: Vec<String>,
    page_size: usize,
    counter: u64,
    next_meeting: i64,
    latency: Option<Duration>,
}

/// The running server.
#[derive(Clone)]
pub struct ZoomServer {
    /// Its base URL.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn zoom_error(status: u16, code: i64, message: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

fn oauth_error(status: u16, error: &str, reason: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    (
        status,
        axum::Json(json!({"reason": reason, "error": error})),
    )
        .into_response()
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl ZoomServer {
    /// Starts a server on a free loopback port with the account's two users.
    pub async fn start() -> ZoomServer {
        let mut inner = Inner {
            page_size: 300,
            next_meeting: 85_746_065_000,
            day: FIRST_DAY.to_owned(),
            ..Inner::default()
        };
        inner.users.insert(USER_ID.to_owned(), EMAIL.to_owned());
        inner
            .users
            .insert(OTHER_ID.to_owned(), OTHER_EMAIL.to_owned());
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke))
            .route("/oauth/authorize", get(authorize))
            .route("/v2/users/{user}", get(user_get))
            .route(
                "/v2/users/{user}/meetings",
                get(meetings_list).post(meeting_create),
            )
            .route(
                "/v2/meetings/{id}",
                get(meeting_get).patch(meeting_patch).delete(meeting_delete),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the server runs");
        });
        ZoomServer { url, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Settings aiming a user-level OAuth app at this server.
    pub fn user_app(&self) -> ZoomSettings {
        ZoomSettings::new(ClientSettings::new(CLIENT_ID, Some(CLIENT_SECRET))).all_at(&self.url)
    }

    /// Settings aiming a Server-to-Server app at this server.
    pub fn server_app(&self) -> ZoomSettings {
        self.user_app().server_to_server(ACCOUNT_ID)
    }

    /// A new grant of `user` to the user-level app; answers its refresh token.
    pub fn grant(&self, user: &str) -> String {
        let mut inner = self.lock();
        inner.counter += 1;
        let grant = inner.counter;
        inner.grants.insert(
            grant,
            Grant {
                user: user.to_owned(),
                revoked: false,
            },
        );
        let token = format!("eyJrefresh.{grant}.{}", inner.counter);
        inner.refresh.insert(token.clone(), grant);
        token
    }

    /// Whether `refresh_token` would still be honoured.
    pub fn refresh_token_alive(&self, refresh_token: &str) -> bool {
        let inner = self.lock();
        inner
            .refresh
            .get(refresh_token)
            .is_some_and(|grant| !inner.grants[grant].revoked)
    }

    /// Whether every grant of `user` is revoked.
    pub fn grants_revoked(&self, user: &str) -> bool {
        self.lock()
            .grants
            .values()
            .filter(|grant| grant.user == user)
            .all(|grant| grant.revoked)
    }

    /// Every access token issued so far stops working (they expired).
    pub fn expire_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// Someone else fetches a Server-to-Server token, which invalidates the
    /// one calsync holds.
    pub fn issue_s2s_token_elsewhere(&self) {
        let mut inner = self.lock();
        issue(&mut inner, Owner::Account);
    }

    /// The next `times` API calls answer a per-second 429.
    pub fn fail_qps(&self, times: usize) {
        let headers = vec![
            ("X-RateLimit-Category".to_owned(), "Medium".to_owned()),
            ("X-RateLimit-Type".to_owned(), "QPS".to_owned()),
            ("X-RateLimit-Limit".to_owned(), "20".to_owned()),
            ("X-RateLimit-Remaining".to_owned(), "0".to_owned()),
        ];
        let mut inner = self.lock();
        for _ in 0..times {
            inner.faults.push_back(Fault::Status(
                429,
                429,
                "You have reached the maximum per-second rate limit for this API. Try again later."
                    .to_owned(),
                headers.clone(),
            ));
        }
    }

    /// The next API call answers the account's daily limit, spent until `reset`.
    pub fn fail_daily(&self, reset: &str) {
        let headers = vec![
            ("X-RateLimit-Category".to_owned(), "Medium".to_owned()),
            ("X-RateLimit-Type".to_owned(), "Daily-limit".to_owned()),
            ("X-RateLimit-Limit".to_owned(), "2000".to_owned()),
            ("X-RateLimit-Remaining".to_owned(), "0".to_owned()),
            ("Retry-After".to_owned(), reset.to_owned()),
        ];
        self.lock().faults.push_back(Fault::Status(
            429,
            429,
            "You have exceeded the daily rate limit of (2000) for Create meeting API requests."
                .to_owned(),
            headers,
        ));
    }

    /// The next `times` API calls answer `status` with Zoom's `code`.
    pub fn fail_next(&self, times: usize, status: u16, code: i64, message: &str) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner
                .faults
                .push_back(Fault::Status(status, code, message.to_owned(), Vec::new()));
        }
    }

    /// The next token request answers `status` with `error` and `reason`.
    pub fn fail_token_next(&self, status: u16, error: &str, reason: &str) {
        self.lock()
            .token_faults
            .push_back((status, error.to_owned(), reason.to_owned()));
    }

    /// The next API call is carried out, but its reply is lost (the client
    /// gets a 503).
    pub fn lose_next_reply(&self) {
        self.lock().faults.push_back(Fault::LoseReply);
    }

    /// Listings hold at most `size` meetings a page.
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// Every request waits `latency` before it is handled.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = Some(latency);
    }

    /// The UTC day the server counts writes in (`yyyy-mm-dd`).
    pub fn set_day(&self, day: &str) {
        self.lock().day = day.to_owned();
    }

    /// Meeting creates and updates of `user` counted on the current day.
    pub fn writes_today(&self, user: &str) -> u32 {
        let inner = self.lock();
        let key = (user.to_owned(), inner.day.clone());
        inner.writes.get(&key).copied().unwrap_or(0)
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

    /// The `grant_type` of every token request so far.
    pub fn token_grants(&self) -> Vec<String> {
        self.lock().grants_asked.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        let mut inner = self.lock();
        inner.log.clear();
        inner.requests.clear();
        inner.grants_asked.clear();
    }

    /// The stored meetings (as Zoom keeps them, `start_url` included).
    pub fn meetings(&self) -> Vec<Value> {
        self.lock().meetings.values().cloned().collect()
    }

    /// One stored meeting.
    pub fn meeting(&self, id: &str) -> Option<Value> {
        let id: i64 = id.parse().ok()?;
        self.lock().meetings.get(&id).cloned()
    }

    /// Another app makes a meeting for `user` with `agenda`.
    pub fn put_meeting(&self, user: &str, topic: &str, agenda: &str) -> String {
        let mut inner = self.lock();
        let meeting = new_meeting(
            &mut inner,
            user,
            &json!({"topic": topic, "agenda": agenda, "type": 2,
                "start_time": "2030-03-05T09:00:00", "timezone": "UTC", "duration": 30}),
        );
        meeting["id"].to_string()
    }
}

fn issue(inner: &mut Inner, owner: Owner) -> String {
    inner.counter += 1;
    if owner == Owner::Account {
        // Zoom may invalidate the previous Server-to-Server token.
        inner.access.retain(|_, held| *held != Owner::Account);
    }
    let token = format!("eyJaccess.{}", inner.counter);
    inner.access.insert(token.clone(), owner);
    token
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

/// Whether the request carries the app's `Authorization: Basic`.
fn basic_ok(headers: &HeaderMap) -> bool {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        == Some(expected.as_str())
}

async fn token(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let form = form(&body);
    let mut inner = lock(&shared);
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    inner.grants_asked.push(grant_type.clone());
    if let Some((status, error, reason)) = inner.token_faults.pop_front() {
        return oauth_error(status, &error, &reason);
    }
    if !basic_ok(&headers) {
        return oauth_error(400, "invalid_client", "Invalid client_id or client_secret");
    }
    match grant_type.as_str() {
        "account_credentials" => {
            if form.get("account_id").map(String::as_str) != Some(ACCOUNT_ID) {
                return oauth_error(400, "invalid_request", "Invalid account_id");
            }
            let access = issue(&mut inner, Owner::Account);
            axum::Json(json!({"access_token": access, "token_type": "bearer",
                "expires_in": 3600, "scope": "meeting:write:meeting:admin user:read:user:admin",
                "api_url": "https://api.zoom.us"}))
            .into_response()
        }
        "refresh_token" => {
            let old = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(grant) = inner.refresh.remove(&old) else {
                return oauth_error(400, "invalid_grant", "Invalid Token!");
            };
            if inner.grants[&grant].revoked {
                return oauth_error(400, "invalid_grant", "Invalid Token!");
            }
            answer_grant(&mut inner, grant)
        }
        "authorization_code" => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect, user)) = inner.codes.remove(&code) else {
                return oauth_error(400, "invalid_grant", "Invalid authorization code");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if computed != challenge {
                return oauth_error(400, "invalid_grant", "Invalid code_verifier");
            }
            if form.get("redirect_uri") != Some(&redirect) {
                return oauth_error(400, "invalid_request", "Redirect URI mismatch.");
            }
            inner.counter += 1;
            let grant = inner.counter;
            inner.grants.insert(
                grant,
                Grant {
                    user,
                    revoked: false,
                },
            );
            answer_grant(&mut inner, grant)
        }
        _ => oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    }
}

/// A new access token and a new refresh token of `grant` (the old refresh
/// token is dead already).
fn answer_grant(inner: &mut Inner, grant: u64) -> Response {
    let user = inner.grants[&grant].user.clone();
    let access = issue(inner, Owner::User { user, grant });
    inner.counter += 1;
    let refresh = format!("eyJrefresh.{grant}.{}", inner.counter);
    inner.refresh.insert(refresh.clone(), grant);
    axum::Json(json!({"access_token": access, "token_type": "bearer",
        "refresh_token": refresh, "expires_in": 3599,
        "scope": "meeting:write:meeting meeting:update:meeting meeting:delete:meeting meeting:read:list_meetings user:read:user"}))
    .into_response()
}

async fn revoke(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    if !basic_ok(&headers) {
        return oauth_error(400, "invalid_client", "Invalid client_id or client_secret");
    }
    let token = form(&body).get("token").cloned().unwrap_or_default();
    let mut inner = lock(&shared);
    let grant = match inner.access.get(&token) {
        Some(Owner::User { grant, .. }) => Some(*grant),
        _ => inner.refresh.get(&token).copied(),
    };
    let Some(grant) = grant else {
        return oauth_error(400, "invalid_request", "Invalid Token!");
    };
    if let Some(found) = inner.grants.get_mut(&grant) {
        found.revoked = true;
    }
    inner
        .access
        .retain(|_, owner| !matches!(owner, Owner::User { grant: g, .. } if *g == grant));
    inner.refresh.retain(|_, g| *g != grant);
    axum::Json(json!({"status": "success"})).into_response()
}

/// The consent page approves at once, for the account's first user: it
/// redirects to `redirect_uri` with a code bound to the PKCE challenge.
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
    if query.get("response_type").map(String::as_str) != Some("code")
        || query.get("code_challenge_method").map(String::as_str) != Some("S256")
        || query.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        return (
            StatusCode::BAD_REQUEST,
            "response_type=code, S256 and a known client are required",
        )
            .into_response();
    }
    let mut inner = lock(&shared);
    inner.counter += 1;
    let code = format!("code{}", inner.counter);
    inner.codes.insert(
        code.clone(),
        (challenge.clone(), redirect.clone(), USER_ID.to_owned()),
    );
    let mut target = url::Url::parse(redirect).expect("a redirect URL");
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = query.get("state") {
        target.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [("location", target.to_string())]).into_response()
}

/// Checks the bearer token and takes the next scripted fault; answers who
/// calls and whether to lose the reply, or the response to send instead.
fn admit(inner: &mut Inner, headers: &HeaderMap) -> Result<(Owner, bool), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(owner) = inner.access.get(token).cloned() else {
        return Err(zoom_error(401, 124, "Invalid access token."));
    };
    match inner.faults.pop_front() {
        Some(Fault::Status(status, code, message, extra)) => {
            let mut response = zoom_error(status, code, &message);
            for (name, value) in extra {
                response.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                    value.parse().expect("header value"),
                );
            }
            Err(response)
        }
        Some(Fault::LoseReply) => Ok((owner, true)),
        None => Ok((owner, false)),
    }
}

/// The user `name` (`me`, an id or an address) as `owner` may reach them.
fn resolve(inner: &Inner, owner: &Owner, name: &str) -> Result<String, Response> {
    let found = match (owner, name) {
        (Owner::User { user, .. }, "me") => Some(user.clone()),
        (Owner::Account, "me") => None,
        (_, name) => inner
            .users
            .iter()
            .find(|(id, email)| *id == name || email.eq_ignore_ascii_case(name))
            .map(|(id, _)| id.clone()),
    };
    let Some(user) = found else {
        return Err(zoom_error(
            404,
            1001,
            &format!("User does not exist: {name}."),
        ));
    };
    match owner {
        Owner::User { user: own, .. } if *own != user => Err(zoom_error(
            400,
            200,
            "Only the authorized user may be read with a user-level app.",
        )),
        _ => Ok(user),
    }
}

fn lost() -> Response {
    zoom_error(503, 503, "The reply was lost on the way.")
}

async fn user_get(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let (owner, lose) = match admit(&mut inner, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let user = match resolve(&inner, &owner, &name) {
        Ok(user) => user,
        Err(response) => return response,
    };
    if lose {
        return lost();
    }
    let email = inner.users[&user].clone();
    axum::Json(
        json!({"id": user, "email": email, "first_name": "Ada", "last_name": "Lovelace",
        "type": 2, "status": "active", "account_id": ACCOUNT_ID}),
    )
    .into_response()
}

/// Counts a meeting create or update of `user` today; answers Zoom's 429
/// once the user's 100 are spent.
fn count_write(inner: &mut Inner, user: &str) -> Result<(), Response> {
    let key = (user.to_owned(), inner.day.clone());
    let count = inner.writes.entry(key).or_insert(0);
    if *count >= DAILY_CAP {
        let reset = chrono::NaiveDate::parse_from_str(&inner.day, "%Y-%m-%d")
            .ok()
            .and_then(|day| day.succ_opt())
            .map(|day| format!("{}T00:00:00Z", day.format("%Y-%m-%d")))
            .unwrap_or_default();
        let mut response = zoom_error(
            429,
            429,
            &format!(
                "You have reached the maximum per day create/update meeting limit of ({DAILY_CAP}) \
                 for this user. Try again tomorrow."
            ),
        );
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-type", "Daily-limit".parse().expect("value"));
        headers.insert("retry-after", reset.parse().expect("value"));
        return Err(response);
    }
    *count += 1;
    Ok(())
}

fn new_meeting(inner: &mut Inner, user: &str, body: &Value) -> Value {
    inner.next_meeting += 1;
    let id = inner.next_meeting;
    let meeting = json!({
        "uuid": format!("uuid{id}=="),
        "id": id,
        "host_id": user,
        "host_email": inner.users.get(user).cloned().unwrap_or_default(),
        "topic": body["topic"].clone(),
        "type": body.get("type").cloned().unwrap_or(json!(2)),
        "status": "waiting",
        "start_time": body.get("start_time").cloned().unwrap_or(Value::Null),
        "duration": body.get("duration").cloned().unwrap_or(json!(60)),
        "timezone": body.get("timezone").cloned().unwrap_or(json!("UTC")),
        "agenda": body.get("agenda").cloned().unwrap_or(json!("")),
        "created_at": "2030-03-01T08:00:00Z",
        "start_url": format!("https://zoom.us/s/{id}?zak=eyJhostsecret{id}"),
        "join_url": format!("https://zoom.us/j/{id}?pwd=pw{id}"),
        "password": format!("pw{id}"),
        "settings": {"join_before_host": false},
        "pre_schedule": false,
    });
    inner.meetings.insert(id, meeting.clone());
    meeting
}

fn validate(body: &Value) -> Result<(), Response> {
    let mut errors = Vec::new();
    if !body["topic"].is_string() {
        errors.push(json!({"field": "topic", "message": "Required."}));
    }
    if let Some(agenda) = body.get("agenda").and_then(Value::as_str) {
        if agenda.chars().count() > 2000 {
            errors.push(json!({"field": "agenda", "message": "Length must be at most 2000."}));
        }
    }
    if let Some(start) = body.get("start_time").and_then(Value::as_str) {
        let local = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S").is_ok();
        let utc = chrono::DateTime::parse_from_rfc3339(start).is_ok() && start.ends_with('Z');
        if !local && !utc {
            errors.push(json!({"field": "start_time", "message": "Invalid field."}));
        }
    }
    if let Some(zone) = body.get("timezone").and_then(Value::as_str) {
        if zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(json!({"field": "timezone", "message": "Invalid field."}));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err((
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"code": 300, "message": "Validation Failed.", "errors": errors})),
    )
        .into_response())
}

async fn meeting_create(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let (owner, lose) = match admit(&mut inner, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let user = match resolve(&inner, &owner, &name) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return zoom_error(400, 300, "Request Body should be a valid JSON object.");
    };
    if let Err(response) = validate(&body) {
        return response;
    }
    if let Err(response) = count_write(&mut inner, &user) {
        return response;
    }
    let meeting = new_meeting(&mut inner, &user, &body);
    if lose {
        return lost();
    }
    (StatusCode::CREATED, axum::Json(meeting)).into_response()
}

async fn meetings_list(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let (owner, _) = match admit(&mut inner, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let user = match resolve(&inner, &owner, &name) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let asked: usize = query
        .get("page_size")
        .and_then(|size| size.parse().ok())
        .unwrap_or(30);
    if asked > 300 {
        return zoom_error(400, 300, "page_size: must be at most 300.");
    }
    let size = asked.min(inner.page_size).max(1);
    let after: i64 = match query.get("next_page_token").filter(|t| !t.is_empty()) {
        Some(token) => match token.strip_prefix("pt").and_then(|id| id.parse().ok()) {
            Some(id) => id,
            None => return zoom_error(400, 300, "Invalid next_page_token."),
        },
        None => 0,
    };
    let mine: Vec<&Value> = inner
        .meetings
        .values()
        .filter(|meeting| meeting["host_id"] == user.as_str())
        .collect();
    let rest: Vec<&&Value> = mine
        .iter()
        .filter(|meeting| meeting["id"].as_i64().unwrap_or_default() > after)
        .collect();
    let page: Vec<Value> = rest
        .iter()
        .take(size)
        .map(|meeting| {
            // A listing shows no host link and cuts agendas short.
            let agenda: String = meeting["agenda"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(250)
                .collect();
            json!({"uuid": meeting["uuid"], "id": meeting["id"], "host_id": meeting["host_id"],
                "topic": meeting["topic"], "type": meeting["type"],
                "start_time": meeting["start_time"], "duration": meeting["duration"],
                "timezone": meeting["timezone"], "agenda": agenda,
                "created_at": meeting["created_at"], "join_url": meeting["join_url"]})
        })
        .collect();
    let next = if rest.len() > size {
        format!(
            "pt{}",
            page.last()
                .and_then(|m| m["id"].as_i64())
                .unwrap_or_default()
        )
    } else {
        String::new()
    };
    axum::Json(json!({"page_size": size, "total_records": mine.len(),
        "next_page_token": next, "meetings": page}))
    .into_response()
}

/// The stored meeting `id` that `owner` may reach, or Zoom's 404 code 3001.
fn reachable(inner: &Inner, owner: &Owner, id: &str) -> Result<i64, Response> {
    let missing = || zoom_error(404, 3001, &format!("Meeting does not exist: {id}."));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let meeting = inner.meetings.get(&id).ok_or_else(missing)?;
    match owner {
        Owner::User { user, .. } if meeting["host_id"] != user.as_str() => Err(missing()),
        _ => Ok(id),
    }
}

async fn meeting_get(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let (owner, _) = match admit(&mut inner, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    match reachable(&inner, &owner, &id) {
        Ok(id) => axum::Json(inner.meetings[&id].clone()).into_response(),
        Err(response) => response,
    }
}

async fn meeting_patch(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let (owner, lose) = match admit(&mut inner, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let id = match reachable(&inner, &owner, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return zoom_error(400, 300, "Request Body should be a valid JSON object.");
    };
    let mut merged = inner.meetings[&id].clone();
    for (name, value) in &changes {
        merged[name] = value.clone();
    }
    if let Err(response) = validate(&merged) {
        return response;
    }
    let host = merged["host_id"].as_str().unwrap_or_default().to_owned();
    if let Err(response) = count_write(&mut inner, &host) {
        return response;
    }
    inner.meetings.insert(id, merged);
    if lose {
        return lost();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn meeting_delete(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    arrive(&shared, &method, &uri).await;
    let mut inner = lock(&shared);
    let (owner, lose) = match admit(&mut inner, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let id = match reachable(&inner, &owner, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    inner.meetings.remove(&id);
    if lose {
        return lost();
    }
    StatusCode::NO_CONTENT.into_response()
}
