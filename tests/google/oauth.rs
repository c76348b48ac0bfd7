//! The OAuth machinery on its own against the local Google server: the
//! authorization-code flow with PKCE (S256), and the token endpoint's
//! refusals as kinds.

use super::server::{CLIENT_ID, SCOPES};
use super::support::server;
use calsync::oauth::{ClientSettings, Endpoints, OAuthClient, TokenHint};
use calsync::providers::ProviderErrorKind;
use calsync::providers::google::REQUIRED_SCOPES;

const REDIRECT: &str = "https://app.example/oauth/google/callback";

fn client(server: &super::server::GoogleServer, secret: &str) -> OAuthClient {
    let settings = server.settings();
    let endpoints = Endpoints::parse(
        &settings.auth_url,
        &settings.token_url,
        Some(&settings.revoke_url),
    )
    .expect("endpoints");
    OAuthClient::new(ClientSettings::new(CLIENT_ID, Some(secret)), endpoints).expect("client")
}

/// Follows the consent page (which approves at once) without following its
/// redirect; answers the callback's query.
async fn consent(url: &url::Url) -> std::collections::HashMap<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = http.get(url.clone()).send().await.expect("consent page");
    assert_eq!(answer.status().as_u16(), 302);
    let location = answer.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_code_flow_with_pkce_yields_a_refresh_token_with_the_narrow_scopes() {
    let server = server().await;
    let oauth = client(&server, super::server::CLIENT_SECRET);
    let start = oauth
        .start_authorization(&REQUIRED_SCOPES, REDIRECT, &[("access_type", "offline")])
        .expect("start");
    let query: std::collections::HashMap<_, _> = start.url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["scope"], SCOPES);
    assert!(!format!("{start:?}").contains(&start.pkce_verifier));

    let callback = consent(&start.url).await;
    assert_eq!(callback["state"], start.state);
    let code = &callback["code"];
    let wrong = oauth
        .exchange_code(
            code,
            "not-the-verifier-not-the-verifier-not-the-verifier",
            REDIRECT,
        )
        .await
        .expect_err("a wrong verifier is refused");
    assert_eq!(wrong.kind, ProviderErrorKind::InvalidGrant, "{wrong}");

    let second = oauth
        .start_authorization(&REQUIRED_SCOPES, REDIRECT, &[])
        .expect("start");
    assert_ne!(second.state, start.state);
    let callback = consent(&second.url).await;
    let tokens = oauth
        .exchange_code(&callback["code"], &second.pkce_verifier, REDIRECT)
        .await
        .expect("exchange");
    let refresh = tokens.refresh_token.clone().expect("a refresh token");
    assert_eq!(
        tokens.scopes.as_ref().map(|s| s.join(" ")).as_deref(),
        Some(SCOPES)
    );
    assert!(!format!("{tokens:?}").contains(&refresh));
    let replayed = oauth
        .exchange_code(&callback["code"], &second.pkce_verifier, REDIRECT)
        .await
        .expect_err("a code works once");
    assert_eq!(replayed.kind, ProviderErrorKind::InvalidGrant);

    oauth.refresh(&refresh).await.expect("refresh");
    oauth
        .revoke(&refresh, TokenHint::RefreshToken)
        .await
        .expect("revoke");
    let dead = oauth.refresh(&refresh).await.expect_err("revoked");
    assert_eq!(dead.kind, ProviderErrorKind::InvalidGrant);
}

#[tokio::test]
async fn a_wrong_client_secret_is_the_deployments_fault() {
    let server = server().await;
    let oauth = client(&server, "wrong-secret");
    let refresh = server.grant(SCOPES);
    let error = oauth.refresh(&refresh).await.expect_err("wrong secret");
    assert_eq!(error.kind, ProviderErrorKind::Misconfigured, "{error}");
    assert!(error.kind.is_transient() && !error.kind.needs_reauthorization());
    assert!(!error.message.contains("wrong-secret"), "{error}");
    assert!(!format!("{oauth:?}").contains("wrong-secret"));
}
