//! OAuth 2.0 as every OAuth provider needs it: refreshing an access token,
//! revoking a token, and the authorization-code flow with PKCE (S256), on
//! calsync's own HTTP client.
//!
//! An [`OAuthClient`] is one deployment's client at one provider: its client
//! id and secret and the provider's endpoints, each configurable so that
//! tests aim it at a local server and deployments go through a proxy. The
//! typed requests come from the `oauth2` crate; its answers and failures are
//! turned into calsync's [`ProviderError`] kinds here, once, for every
//! provider:
//!
//! | the token endpoint answers | kind | what follows |
//! |---|---|---|
//! | `invalid_grant` | [`ProviderErrorKind::InvalidGrant`] | the user must connect again; never retried |
//! | `invalid_client`, `unauthorized_client` | [`ProviderErrorKind::Misconfigured`] | the deployment's client is wrong: work waits, the account stays connected |
//! | 429, 5xx, `temporarily_unavailable` | `RateLimited` / `Unavailable` | retried with backoff |
//! | another refusal | `Rejected` | not retried |
//!
//! Which refresh runs when (one at a time per account, before expiry and
//! once on a 401) is the engine's business ([`crate::engine`]); this module
//! makes one request per call.
//!
//! # Example
//! ```no_run
//! # async fn run() -> calsync::providers::ProviderResult<()> {
//! use calsync::oauth::{ClientSettings, Endpoints, OAuthClient};
//! let endpoints = Endpoints::parse(
//!     "https://accounts.google.com/o/oauth2/v2/auth",
//!     "https://oauth2.googleapis.com/token",
//!     Some("https://oauth2.googleapis.com/revoke"),
//! )?;
//! let client = OAuthClient::new(ClientSettings::new("id", Some("secret")), endpoints)?;
//! let tokens = client.refresh("1//refresh-token").await?;
//! println!("expires in {:?}", tokens.expires_in);
//! # Ok(()) }
//! ```

mod errors;
mod http;

pub use http::build_client;

use crate::providers::{Credentials, ProviderError, ProviderErrorKind, ProviderResult};
use errors::{revocation_error, token_error};
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    TokenResponse, TokenUrl,
};
use std::borrow::Cow;
use std::time::Duration;
use url::Url;

/// A provider's OAuth endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Where a person is sent to consent.
    pub authorize: Url,
    /// Where codes and refresh tokens are exchanged for access tokens.
    pub token: Url,
    /// Where tokens are revoked (RFC 7009), when the provider has one.
    pub revoke: Option<Url>,
}

impl Endpoints {
    /// Endpoints from their URLs.
    ///
    /// # Errors
    /// `Misconfigured` naming the URL that is not an http(s) URL.
    pub fn parse(authorize: &str, token: &str, revoke: Option<&str>) -> ProviderResult<Self> {
        Ok(Endpoints {
            authorize: parse_url("authorization URL", authorize)?,
            token: parse_url("token URL", token)?,
            revoke: revoke
                .map(|url| parse_url("revocation URL", url))
                .transpose()?,
        })
    }
}

fn parse_url(what: &str, text: &str) -> ProviderResult<Url> {
    match Url::parse(text.trim()) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(url),
        Ok(_) => Err(ProviderError::new(
            ProviderErrorKind::Misconfigured,
            format!("the OAuth {what} must be an http:// or https:// URL, got {text:?}"),
        )),
        Err(error) => Err(ProviderError::new(
            ProviderErrorKind::Misconfigured,
            format!("the OAuth {what} {text:?} is not a URL: {error}"),
        )),
    }
}

/// How the client proves who it is to the token and revocation endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (Google's documented form).
    #[default]
    RequestBody,
    /// `Authorization: Basic base64(client_id:client_secret)` (Zoom's only form).
    Basic,
}

/// The deployment's OAuth client at a provider: its id and secret.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The client id.
    pub client_id: String,
    /// The client secret (public clients have none).
    pub client_secret: Option<String>,
    /// How the client authenticates to the token and revocation endpoints.
    pub auth: ClientAuth,
}

impl ClientSettings {
    /// A client of `id`, with `secret` if it has one, sending both in the
    /// request body.
    pub fn new(id: impl Into<String>, secret: Option<&str>) -> Self {
        ClientSettings {
            client_id: id.into(),
            client_secret: secret.map(str::to_owned),
            auth: ClientAuth::RequestBody,
        }
    }

    /// The same client, authenticating with `auth`.
    pub fn with_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// `Authorization: Basic` for this client: `base64(client_id:client_secret)`.
    pub fn basic_authorization(&self) -> String {
        use base64::Engine;
        let pair = format!(
            "{}:{}",
            self.client_id,
            self.client_secret.as_deref().unwrap_or_default()
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth", &self.auth)
            .finish()
    }
}

/// What a token endpoint answered.
///
/// `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// A refresh token, when the provider sent one (Google: on first consent
    /// only; Microsoft and Zoom: a new one on every refresh).
    pub refresh_token: Option<String>,
    /// How long the access token lives.
    pub expires_in: Option<Duration>,
    /// The scopes granted, when the provider said.
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Tokens {
    fn from_response(response: &BasicTokenResponse) -> Self {
        Tokens {
            access_token: response.access_token().secret().clone(),
            refresh_token: response.refresh_token().map(|token| token.secret().clone()),
            expires_in: response.expires_in(),
            scopes: response
                .scopes()
                .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect()),
        }
    }

    /// These tokens written over `credentials`: the access token, its expiry
    /// (`expires_in`, which the engine turns into `expires_at`), the granted
    /// scopes when told, and the refresh token when a new one came (the old
    /// one is kept otherwise, as Google sends none on refresh).
    pub fn apply_to(&self, credentials: &mut Credentials) {
        credentials.set_str("access_token", self.access_token.as_str());
        credentials.0.remove("expires_at");
        match self.expires_in {
            Some(expires_in) => {
                credentials.0.insert(
                    "expires_in".to_owned(),
                    serde_json::Value::from(expires_in.as_secs()),
                );
            }
            None => {
                credentials.0.remove("expires_in");
            }
        }
        if let Some(refresh_token) = &self.refresh_token {
            credentials.set_str("refresh_token", refresh_token.as_str());
        }
        if let Some(scopes) = &self.scopes {
            credentials.set_str("scope", scopes.join(" "));
        }
    }
}

/// The start of an authorization-code flow: where to send the person, and
/// what to keep (never shown to them) until the provider calls back.
///
/// `Debug` never shows the PKCE verifier.
#[derive(Clone)]
pub struct AuthorizationStart {
    /// The provider's consent page, with every parameter.
    pub url: Url,
    /// The `state` sent along, to match the callback.
    pub state: String,
    /// The PKCE verifier to send with the code exchange.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for AuthorizationStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationStart")
            .field("url", &self.url.as_str())
            .field("state", &self.state)
            .field("pkce_verifier", &"<redacted>")
            .finish()
    }
}

type ConfiguredClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// One deployment's OAuth client at one provider. Cheap to clone.
/// `Debug` never shows the client secret.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    settings: ClientSettings,
    endpoints: Endpoints,
    http: reqwest::Client,
}

impl OAuthClient {
    /// A client with its own HTTP client ([`build_client`]).
    ///
    /// # Errors
    /// `Unavailable` when the TLS backend cannot be set up; `Misconfigured`
    /// when the client id is empty.
    pub fn new(settings: ClientSettings, endpoints: Endpoints) -> ProviderResult<Self> {
        Self::with_http(settings, endpoints, build_client()?)
    }

    /// A client on `http`, which must not follow redirects.
    ///
    /// # Errors
    /// `Misconfigured` when the client id is empty.
    pub fn with_http(
        settings: ClientSettings,
        endpoints: Endpoints,
        http: reqwest::Client,
    ) -> ProviderResult<Self> {
        if settings.client_id.trim().is_empty() {
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                "the OAuth client id is empty",
            ));
        }
        Ok(OAuthClient {
            settings,
            endpoints,
            http,
        })
    }

    /// The endpoints this client speaks to.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    fn configured(&self) -> ConfiguredClient {
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(self.endpoints.authorize.clone()))
            .set_token_uri(TokenUrl::from_url(self.endpoints.token.clone()))
            .set_auth_type(match self.settings.auth {
                ClientAuth::RequestBody => AuthType::RequestBody,
                ClientAuth::Basic => AuthType::BasicAuth,
            });
        match &self.settings.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
            None => client,
        }
    }

    /// Exchanges a refresh token for a new access token.
    ///
    /// # Errors
    /// As the module's table says: `InvalidGrant` for a dead refresh token,
    /// `Misconfigured` for a refused client, transient kinds for throttling,
    /// outages and timeouts, `Rejected` otherwise.
    pub async fn refresh(&self, refresh_token: &str) -> ProviderResult<Tokens> {
        self.refresh_with_scopes(refresh_token, &[]).await
    }

    /// [`OAuthClient::refresh`] naming the `scopes` asked for (sent
    /// space-separated as `scope`; Microsoft's identity platform wants them
    /// on every refresh). No scopes sends no `scope` parameter.
    ///
    /// # Errors
    /// As [`OAuthClient::refresh`].
    pub async fn refresh_with_scopes(
        &self,
        refresh_token: &str,
        scopes: &[&str],
    ) -> ProviderResult<Tokens> {
        let transport = http::Transport::new(&self.http);
        let token = RefreshToken::new(refresh_token.to_owned());
        let answer = self
            .configured()
            .exchange_refresh_token(&token)
            .add_scopes(scopes.iter().map(|scope| Scope::new((*scope).to_owned())))
            .request_async(&transport)
            .await;
        answer
            .map(|response| Tokens::from_response(&response))
            .map_err(|error| token_error("refresh the access token", &error, transport.seen()))
    }

    /// Starts an authorization-code flow: the consent URL asking for
    /// `scopes`, with a fresh `state` and a PKCE (S256) challenge, and the
    /// provider's own `extra` parameters (Google: `access_type=offline`).
    ///
    /// # Errors
    /// `Misconfigured` when `redirect_uri` is not a URL.
    pub fn start_authorization(
        &self,
        scopes: &[&str],
        redirect_uri: &str,
        extra: &[(&str, &str)],
    ) -> ProviderResult<AuthorizationStart> {
        let redirect = redirect_url(redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.configured();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|scope| Scope::new((*scope).to_owned())))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect));
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state) = request.url();
        Ok(AuthorizationStart {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges an authorization code (with the flow's PKCE verifier and
    /// the same redirect URI) for tokens.
    ///
    /// # Errors
    /// As [`OAuthClient::refresh`]; a used, expired or foreign code is `InvalidGrant`.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> ProviderResult<Tokens> {
        let redirect = redirect_url(redirect_uri)?;
        let transport = http::Transport::new(&self.http);
        let answer = self
            .configured()
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&transport)
            .await;
        answer
            .map(|response| Tokens::from_response(&response))
            .map_err(|error| {
                token_error("exchange the authorization code", &error, transport.seen())
            })
    }

    /// Asks the token endpoint for an access token of a whole account
    /// (`grant_type=account_credentials&account_id=...`, Zoom's
    /// Server-to-Server OAuth). No refresh token comes with it.
    ///
    /// Sent by hand: the grant is not one of OAuth 2.0's and the `oauth2`
    /// crate has no request for it. The answer is read, and its failures
    /// mapped, as every other token request's.
    ///
    /// # Errors
    /// As [`OAuthClient::refresh`].
    pub async fn account_credentials(&self, account_id: &str) -> ProviderResult<Tokens> {
        const WHAT: &str = "fetch the account's access token";
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "account_credentials"),
                ("account_id", account_id),
            ])
            .finish();
        let mut request = oauth2::http::Request::builder()
            .method(oauth2::http::Method::POST)
            .uri(self.endpoints.token.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if self.settings.auth == ClientAuth::Basic {
            request = request.header("authorization", self.settings.basic_authorization());
        }
        let request = request.body(form.into_bytes()).map_err(|error| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                format!("cannot {WHAT}: the request cannot be built: {error}"),
            )
        })?;
        let transport = http::Transport::new(&self.http);
        let answer = oauth2::AsyncHttpClient::call(&transport, request).await;
        let result = match answer {
            Err(error) => Err(oauth2::RequestTokenError::Request(error)),
            Ok(response) if response.status().is_success() => {
                serde_json::from_slice::<BasicTokenResponse>(response.body()).map_err(|_| {
                    oauth2::RequestTokenError::Other(
                        String::from_utf8_lossy(response.body()).into_owned(),
                    )
                })
            }
            Ok(response) => Err(
                match serde_json::from_slice::<oauth2::basic::BasicErrorResponse>(response.body()) {
                    Ok(refusal) => oauth2::RequestTokenError::ServerResponse(refusal),
                    Err(_) => oauth2::RequestTokenError::Other(
                        String::from_utf8_lossy(response.body()).into_owned(),
                    ),
                },
            ),
        };
        result
            .map(|response| Tokens::from_response(&response))
            .map_err(|error| token_error(WHAT, &error, transport.seen()))
    }

    /// Revokes a token (access or refresh) at the revocation endpoint, as
    /// RFC 7009 says. A token the provider no longer knows (already revoked,
    /// expired) counts as revoked.
    ///
    /// Sent by hand rather than by `oauth2`'s `revoke_token`, which refuses
    /// any revocation URL that is not `https://`: a local test server, or a
    /// proxy on loopback, is `http://`.
    ///
    /// # Errors
    /// `Misconfigured` when the provider has no revocation endpoint or
    /// refused the client; transient kinds for outages; `Rejected` otherwise.
    pub async fn revoke(&self, token: &str, hint: TokenHint) -> ProviderResult<()> {
        let Some(url) = &self.endpoints.revoke else {
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                "no OAuth revocation URL is configured",
            ));
        };
        let mut form = vec![("token", token), ("token_type_hint", hint.as_str())];
        let mut request = self
            .http
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded");
        match self.settings.auth {
            ClientAuth::RequestBody => {
                form.push(("client_id", self.settings.client_id.as_str()));
                if let Some(secret) = &self.settings.client_secret {
                    form.push(("client_secret", secret.as_str()));
                }
            }
            ClientAuth::Basic => {
                request = request.header("authorization", self.settings.basic_authorization());
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = request.body(body).send().await.map_err(|error| {
            let kind = if error.is_timeout() {
                ProviderErrorKind::Timeout
            } else {
                ProviderErrorKind::Unavailable
            };
            ProviderError::new(
                kind,
                format!("cannot reach the revocation endpoint {url}: {error}"),
            )
        })?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers().get("retry-after"));
        let text = response.text().await.unwrap_or_default();
        revocation_error(status, &text, wait)
    }
}

/// Which kind of token is revoked (RFC 7009 `token_type_hint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenHint {
    /// A refresh token (revoking it ends the grant at Google).
    RefreshToken,
    /// An access token.
    AccessToken,
}

impl TokenHint {
    fn as_str(self) -> &'static str {
        match self {
            TokenHint::RefreshToken => "refresh_token",
            TokenHint::AccessToken => "access_token",
        }
    }
}

fn redirect_url(text: &str) -> ProviderResult<RedirectUrl> {
    RedirectUrl::new(text.to_owned()).map_err(|error| {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            format!("the OAuth redirect URI {text:?} is not a URL: {error}"),
        )
    })
}

/// Parses `Retry-After`: delay seconds (possibly fractional) or an HTTP date.
pub(crate) fn retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}
