//! The live Zoom adapter (provider `zoom`): video meetings whose join link
//! goes into the calendar copies of a synced event.
//!
//! A deployment uses one of Zoom's two app types:
//! - a **user-level OAuth app**: each person consents (the consent flow
//!   ends at calsync's `/oauth/zoom/callback`) or the app hands over a
//!   refresh token it holds (`{"refresh_token": ...}`). Zoom answers every
//!   refresh with a new refresh token and kills the old one; `refresh`
//!   answers the new one, which the engine stores before using the access
//!   token. Disconnecting revokes the grant.
//! - a **Server-to-Server OAuth app** (the deployment's account id set):
//!   accounts connect by user (`{"user": <Zoom user id or email>}`) and
//!   every call uses the deployment's one token, shared by every calsync
//!   process on the store ([`TOKEN_RECORD`]). Disconnecting revokes nothing: the
//!   token is the deployment's.
//!
//! Connecting reads the user (`GET /users/me`, or `/users/{user}`); its
//! address becomes the account's label.
//!
//! Meetings never duplicate: Zoom has no idempotency key, so a create puts
//! calsync's marker (`calsync:{key}`) in the agenda, and a create that was
//! attempted before (its answer lost) first looks for the marker among the
//! user's upcoming meetings ([`crate::providers::MeetingProvider::find_meeting`]). Zoom's 100
//! meeting creates and updates per user per UTC day are counted in the
//! store before each write ([`writes_record_name`]); at the cap the work waits until
//! 00:00 UTC without calling Zoom.

// | file | what |
// |---|---|
// | `settings` | endpoints, the OAuth app, the scopes, the daily cap |
// | `api` | requests with a bearer token; Zoom's failures as kinds |
// | `wire` | the meeting resource and the translation from events |
// | `token` | the deployment's Server-to-Server token, shared through the store |
// | `allowance` | the per-user daily count of meeting writes |
// | `meetings` | create, find, update, delete |
mod allowance;
mod api;
mod meetings;
mod settings;
mod token;
mod wire;

pub use allowance::record_name as writes_record_name;
pub use settings::{
    API_URL, DAILY_MEETING_WRITES, OAUTH_URL, TOKEN_LEASE, USER_SCOPES, ZoomSettings,
};
pub use token::RECORD as TOKEN_RECORD;
pub use wire::{MARKER_PREFIX, marker};

use crate::clock::{Clock, SystemClock};
use crate::model::Provider;
use crate::oauth::{OAuthClient, TokenHint};
use crate::providers::{
    AccountProvider, Connection, ConsentStart, Credentials, ProviderError, ProviderErrorKind,
    ProviderResult, Revocation, Session,
};
use crate::store::Store;
use crate::vault::Vault;
use allowance::Allowance;
use api::{Answer, Api, failure};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use token::DeploymentToken;
use url::Url;

/// The Zoom adapter. Cheap to clone; shares one connection pool.
#[derive(Clone)]
pub struct ZoomProvider {
    api: Api,
    oauth: OAuthClient,
    /// The deployment's token, with a Server-to-Server app.
    deployment: Option<Arc<DeploymentToken>>,
    allowance: Arc<Allowance>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ZoomProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoomProvider")
            .field("api", &self.api.base.as_str())
            .field("oauth", &self.oauth)
            .field("server_to_server", &self.deployment.is_some())
            .finish()
    }
}

/// Who a request is for, and with which token.
#[derive(Clone, Debug)]
struct Caller {
    /// The user in paths: `me` (user OAuth) or the Zoom user (Server-to-Server).
    user: String,
    /// The user whose daily writes are counted: Zoom's user id when known.
    counted: String,
    /// The account's own access token (user OAuth); `None` with the
    /// deployment's token.
    token: Option<String>,
}

/// The credentials field naming the Zoom user of a Server-to-Server account.
const USER: &str = "user";
/// The credentials field keeping Zoom's id of the user.
const USER_ID: &str = "user_id";

fn is_server_to_server(credentials: &Credentials) -> bool {
    credentials.get_str("refresh_token").is_none() && credentials.get_str(USER).is_some()
}

impl ZoomProvider {
    /// An adapter with its own HTTP client, keeping the deployment's state
    /// (the Server-to-Server token, the daily counts) in `store`, sealed
    /// with `vault`.
    ///
    /// # Errors
    /// `Misconfigured` naming a setting that is not a URL or an empty client
    /// id; `Unavailable` when the TLS backend cannot be set up.
    pub fn new(
        settings: &ZoomSettings,
        store: Arc<dyn Store>,
        vault: Vault,
    ) -> ProviderResult<Self> {
        Self::with_client(
            settings,
            store,
            vault,
            Arc::new(SystemClock),
            crate::oauth::build_client()?,
        )
    }

    /// An adapter on `http` (which must not follow redirects) whose days,
    /// token expiries and leases follow `clock`.
    ///
    /// # Errors
    /// As [`ZoomProvider::new`].
    pub fn with_client(
        settings: &ZoomSettings,
        store: Arc<dyn Store>,
        vault: Vault,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> ProviderResult<Self> {
        let base = Url::parse(&settings.api_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    format!(
                        "the Zoom API URL {:?} is not an http(s) URL",
                        settings.api_url
                    ),
                )
            })?;
        let client = settings
            .client
            .clone()
            .with_auth(crate::oauth::ClientAuth::Basic);
        let oauth = OAuthClient::with_http(client, settings.endpoints()?, http.clone())?;
        let deployment = match settings.account_id.as_deref().map(str::trim) {
            Some("") => {
                return Err(ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    "the Zoom account id of the Server-to-Server app is empty",
                ));
            }
            Some(account_id) => Some(Arc::new(DeploymentToken::new(
                oauth.clone(),
                account_id.to_owned(),
                store.clone(),
                vault,
                clock.clone(),
                settings.token_wait,
            ))),
            None => None,
        };
        Ok(ZoomProvider {
            api: Api { http, base },
            oauth,
            deployment,
            allowance: Arc::new(Allowance::new(
                store,
                clock.clone(),
                settings.daily_meeting_writes,
            )),
            clock,
        })
    }

    /// The deployment's OAuth app at Zoom (for the consent flow).
    pub fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    /// Whether the deployment's app is a Server-to-Server one.
    pub fn is_server_to_server(&self) -> bool {
        self.deployment.is_some()
    }

    fn caller(&self, credentials: &Credentials) -> ProviderResult<Caller> {
        if is_server_to_server(credentials) {
            let user = credentials
                .get_str(USER_ID)
                .or_else(|| credentials.get_str(USER))
                .unwrap_or_default()
                .to_owned();
            return Ok(Caller {
                counted: user.clone(),
                user,
                token: None,
            });
        }
        let token = credentials
            .get_str("access_token")
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                // No access token yet: the engine refreshes on `unauthorized`.
                ProviderError::new(ProviderErrorKind::Unauthorized, "no access token yet")
            })?;
        Ok(Caller {
            user: "me".to_owned(),
            counted: credentials.get_str(USER_ID).unwrap_or("me").to_owned(),
            token: Some(token.to_owned()),
        })
    }

    fn deployment(&self) -> ProviderResult<&DeploymentToken> {
        self.deployment.as_deref().ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                "this Zoom account was connected by user, which needs a Server-to-Server app: \
                 set CALSYNC_ZOOM_ACCOUNT_ID with that app's client id and secret",
            )
        })
    }

    /// One request for `caller`. With the deployment's token, a 401 (Zoom
    /// invalidated it, e.g. on issuing a newer one) fetches the current
    /// token once and sends the request again; a second 401 means the app
    /// itself is refused, which is the deployment's to fix.
    async fn call(
        &self,
        caller: &Caller,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> ProviderResult<Answer> {
        let mut url = self.api.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        if let Some(token) = &caller.token {
            return self.api.send(method, url, token, body).await;
        }
        let deployment = self.deployment()?;
        let token = deployment.token(None).await?;
        let answer = self
            .api
            .send(method.clone(), url.clone(), &token, body)
            .await?;
        if answer.status.as_u16() != 401 {
            return Ok(answer);
        }
        let token = deployment.token(Some(&token)).await?;
        let answer = self.api.send(method, url, &token, body).await?;
        if answer.status.as_u16() == 401 {
            let refused = failure("accept the deployment's token", &answer, self.clock.now());
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                format!(
                    "{}; a fresh Server-to-Server token was refused too: check that the Zoom app \
                     is activated and has the scopes calsync needs",
                    refused.message
                ),
            ));
        }
        Ok(answer)
    }

    fn failure(&self, what: &str, answer: &Answer) -> ProviderError {
        failure(what, answer, self.clock.now())
    }

    /// Reads the user `user` (`me` with user OAuth) with `caller`'s token.
    async fn read_user(&self, caller: &Caller) -> ProviderResult<wire::User> {
        let answer = self
            .call(caller, Method::GET, &["users", &caller.user], &[], None)
            .await?;
        if answer.ok() {
            answer.json("users.get")
        } else {
            Err(self.failure("read the user", &answer))
        }
    }

    async fn connect_user(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        let user = credentials
            .get_str(USER)
            .map(str::trim)
            .filter(|user| !user.is_empty())
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    "user: must be a Zoom user id or email address of the app's account",
                )
            })?;
        let caller = Caller {
            user: user.to_owned(),
            counted: user.to_owned(),
            token: None,
        };
        let found = self
            .read_user(&caller)
            .await
            .map_err(|error| match error.kind {
                ProviderErrorKind::NotFound | ProviderErrorKind::Rejected => ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    format!(
                        "user: Zoom has no user {user:?} the app may act for: {}",
                        error.message
                    ),
                ),
                _ => error,
            })?;
        let mut kept = Credentials::default();
        kept.set_str(USER, user);
        kept.set_str(USER_ID, found.id.as_str());
        if let Some(email) = &found.email {
            kept.set_str("email", email.as_str());
        }
        Ok(Connection {
            credentials: kept,
            calendar_id: None,
            label: found.email.or(Some(found.id)),
        })
    }

    async fn connect_oauth(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        let refresh = refresh_token(credentials)?;
        let mut kept = credentials.clone();
        kept.0.remove(USER);
        // An access token that came with the grant (a finished consent) is
        // tried first: refreshing would rotate the refresh token for nothing.
        let mut found = None;
        if kept.get_str("access_token").is_some() {
            let caller = self.caller(&kept)?;
            match self.read_user(&caller).await {
                Ok(user) => found = Some(user),
                Err(error) if error.kind == ProviderErrorKind::Unauthorized => {}
                Err(error) => return Err(error),
            }
        }
        let user = match found {
            Some(user) => user,
            None => {
                let tokens = self.oauth.refresh(refresh).await.map_err(refused_grant)?;
                tokens.apply_to(&mut kept);
                let caller = self.caller(&kept)?;
                self.read_user(&caller)
                    .await
                    .map_err(|error| match error.kind {
                        ProviderErrorKind::Unauthorized | ProviderErrorKind::Rejected => {
                            ProviderError::new(ProviderErrorKind::InvalidCredentials, error.message)
                        }
                        _ => error,
                    })?
            }
        };
        kept.set_str(USER_ID, user.id.as_str());
        if let Some(email) = &user.email {
            kept.set_str("email", email.as_str());
        }
        Ok(Connection {
            credentials: kept,
            calendar_id: None,
            label: user.email.or(Some(user.id)),
        })
    }
}

fn refresh_token(credentials: &Credentials) -> ProviderResult<&str> {
    credentials
        .get_str("refresh_token")
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                "refresh_token: is required for a Zoom account of a user-level OAuth app \
                 (or connect with {\"user\": ...} through a Server-to-Server app)",
            )
        })
}

/// A refresh token Zoom refused ("Invalid Token!") given at connect: the
/// credentials are not valid.
fn refused_grant(error: ProviderError) -> ProviderError {
    if error.kind == ProviderErrorKind::InvalidGrant {
        ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            format!("Zoom refused the refresh token: {}", error.message),
        )
    } else {
        error
    }
}

#[async_trait]
impl AccountProvider for ZoomProvider {
    fn provider(&self) -> Provider {
        Provider::Zoom
    }

    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        match (self.is_server_to_server(), is_server_to_server(credentials)) {
            (true, true) => self.connect_user(credentials).await,
            (false, false) => self.connect_oauth(credentials).await,
            (true, false) => Err(ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                "user: is required; this deployment's Zoom app is a Server-to-Server one, \
                 which connects accounts by Zoom user id or email ({\"user\": ...})",
            )),
            (false, true) => Err(ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                "user: connecting by user needs a Server-to-Server app (CALSYNC_ZOOM_ACCOUNT_ID); \
                 this deployment's Zoom app is a user-level OAuth app: connect with a refresh_token \
                 or through the consent flow",
            )),
        }
    }

    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        if is_server_to_server(credentials) {
            // The account holds no token of its own: the deployment's is
            // fetched (and refetched when refused) where it is used.
            self.deployment()?.token(None).await?;
            return Ok(credentials.clone());
        }
        let tokens = self.oauth.refresh(refresh_token(credentials)?).await?;
        let mut refreshed = credentials.clone();
        // Zoom's answer holds a new refresh token; the old one is dead now.
        tokens.apply_to(&mut refreshed);
        Ok(refreshed)
    }

    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation> {
        if is_server_to_server(credentials) {
            return Ok(Revocation::NotSupported(
                "a Server-to-Server app's token belongs to the deployment, not to this user; \
                 the app's access is managed in the Zoom App Marketplace by the account's admin"
                    .to_owned(),
            ));
        }
        // Zoom revokes the whole grant with an access token. One that has
        // expired may not be recognised, so a fresh one is taken first.
        let expired = credentials.get_str("access_token").is_none()
            || credentials.expires_within(self.clock.now(), chrono::Duration::seconds(60));
        let access = if expired {
            match self.oauth.refresh(refresh_token(credentials)?).await {
                Ok(tokens) => tokens.access_token,
                // The grant is gone already.
                Err(error) if error.kind == ProviderErrorKind::InvalidGrant => {
                    return Ok(Revocation::Revoked);
                }
                Err(error) => return Err(error),
            }
        } else {
            credentials
                .get_str("access_token")
                .unwrap_or_default()
                .to_owned()
        };
        self.oauth.revoke(&access, TokenHint::AccessToken).await?;
        Ok(Revocation::Revoked)
    }

    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        let caller = self.caller(&session.credentials)?;
        self.read_user(&caller).await.map(|_| ())
    }

    fn start_consent(&self, redirect_uri: &str) -> ProviderResult<Option<ConsentStart>> {
        if self.is_server_to_server() {
            // A Server-to-Server app has no consent: accounts connect by user.
            return Ok(None);
        }
        // Zoom grants the scopes the app was given in the Marketplace.
        let start = self.oauth.start_authorization(&[], redirect_uri, &[])?;
        Ok(Some(ConsentStart {
            url: start.url.to_string(),
            state: start.state,
            verifier: start.pkce_verifier,
        }))
    }

    async fn finish_consent(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> ProviderResult<Credentials> {
        let tokens = self
            .oauth
            .exchange_code(code, verifier, redirect_uri)
            .await?;
        if tokens.refresh_token.is_none() {
            return Err(ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                "Zoom sent no refresh token with the authorization code",
            ));
        }
        let mut credentials = Credentials::default();
        tokens.apply_to(&mut credentials);
        Ok(credentials)
    }
}
