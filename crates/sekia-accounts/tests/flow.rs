//! The browser sign-in against a real oauth2-mock-server, reqwest standing in for the browser.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MockServer, browser, query_param, redirect_of};
use sekia_accounts::{AccountError, FlowOptions, SignIn};
use sekia_protocol::clock::{Clock, ManualClock};

const T0: i64 = 1_700_000_000;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(T0))
}

async fn start(
    server: &MockServer,
    provider: &sekia_accounts::Provider,
    timeout: Duration,
) -> SignIn {
    SignIn::start(
        provider,
        reqwest::Client::new(),
        clock(),
        FlowOptions {
            timeout,
            ..FlowOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("start against {}: {e}", server.base))
}

#[tokio::test]
async fn happy_path_with_pkce() {
    let server = MockServer::start();
    let sign_in = start(&server, &server.provider(), Duration::from_secs(30)).await;
    let url = sign_in.authorize_url().to_owned();
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(&url, "code_challenge").unwrap().len(), 43);
    assert_eq!(query_param(&url, "scope").as_deref(), Some("read write"));
    let redirect_uri = query_param(&url, "redirect_uri").unwrap();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    assert_eq!(redirect_uri, sign_in.redirect_uri());

    let b = browser();
    // A stray request (favicon) neither ends nor disturbs the flow.
    let origin = redirect_uri.trim_end_matches("/callback");
    let stray = b.get(format!("{origin}/favicon.ico")).send().await.unwrap();
    assert_eq!(stray.status(), 404);

    let back = redirect_of(&b, &url).await;
    assert!(back.starts_with(&redirect_uri), "{back}");
    let page = tokio::spawn(async move {
        let r = b.get(back).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    });
    let tokens = sign_in.finish().await.unwrap();
    let (status, body) = page.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("connected"), "{body}");

    assert!(!tokens.access_token.expose().is_empty());
    assert!(tokens.refresh_token.is_some());
    assert_eq!(
        tokens.expires_at,
        Some(T0 + 3600),
        "expires_at comes from the clock"
    );
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scopes, ["dummy"], "the provider's answer wins");

    let auth = server.wait_lines("AUTHORIZE", 1);
    assert_eq!(auth, ["AUTHORIZE code_challenge_method=S256 state=yes"]);
    let token = server.wait_lines("TOKEN", 1);
    assert_eq!(token.len(), 1, "{token:?}");
    // The mock checks the verifier against the challenge when one is sent; it must be sent.
    assert!(
        token[0].starts_with(
            "TOKEN grant_type=authorization_code code_verifier=yes client_id=sekia-test"
        ),
        "{token:?}"
    );
    let debug = format!("{tokens:?}");
    assert!(!debug.contains(tokens.access_token.expose()));
    assert!(!debug.contains(tokens.refresh_token.as_ref().unwrap().expose()));
}

#[tokio::test]
async fn state_mismatch_is_rejected() {
    let server = MockServer::start();
    let sign_in = start(&server, &server.provider(), Duration::from_secs(30)).await;
    let b = browser();
    let back = redirect_of(&b, sign_in.authorize_url()).await;
    let state = query_param(&back, "state").unwrap();
    let forged = back.replace(&format!("state={state}"), "state=forged-state");
    assert_ne!(forged, back);
    let page = tokio::spawn(async move {
        let r = b.get(forged).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    });
    let err = sign_in.finish().await.unwrap_err();
    assert!(matches!(err, AccountError::StateMismatch), "{err}");
    assert!(err.to_string().contains("start the sign-in again"), "{err}");
    let (status, body) = page.await.unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("Sign-in failed"), "{body}");
    assert!(server.wait_lines("TOKEN", 0).is_empty(), "no code exchange");
}

#[tokio::test]
async fn access_denied_says_what_to_do() {
    let server = MockServer::start();
    let mut provider = server.provider();
    provider
        .extra_auth_params
        .push(("login_hint".into(), "deny".into()));
    let sign_in = start(&server, &provider, Duration::from_secs(30)).await;
    let b = browser();
    let back = redirect_of(&b, sign_in.authorize_url()).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    let page = tokio::spawn(async move { b.get(back).send().await.unwrap().text().await.unwrap() });
    let err = sign_in.finish().await.unwrap_err();
    assert!(matches!(err, AccountError::AccessDenied { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("sign-in was cancelled in the browser"),
        "{err}"
    );
    let body = page.await.unwrap();
    assert!(body.contains("cancelled in the browser"), "{body}");
}

#[tokio::test]
async fn timeout_then_the_listener_is_gone() {
    let server = MockServer::start();
    let sign_in = start(&server, &server.provider(), Duration::from_millis(300)).await;
    let redirect_uri = sign_in.redirect_uri().to_owned();
    let started = std::time::Instant::now();
    let err = sign_in.finish().await.unwrap_err();
    assert!(matches!(err, AccountError::Timeout { .. }), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        err.to_string()
            .contains("no answer from the browser within 300 ms"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        browser().get(redirect_uri).send().await.is_err(),
        "the loopback port must be closed after the flow ends"
    );
}

#[tokio::test]
async fn cancel_handle_ends_the_wait() {
    let server = MockServer::start();
    let sign_in = start(&server, &server.provider(), Duration::from_secs(30)).await;
    let cancel = sign_in.cancel_handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let err = sign_in.finish().await.unwrap_err();
    assert!(matches!(err, AccountError::Cancelled), "{err}");
}

#[tokio::test]
async fn refused_before_listening() {
    let server = MockServer::start();
    let mut no_client = server.provider();
    no_client.client_id = None;
    let err = SignIn::start(
        &no_client,
        reqwest::Client::new(),
        clock(),
        FlowOptions::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("set its client_id"), "{err}");

    let slack = sekia_accounts::provider::builtin("slack").unwrap();
    let err = SignIn::start(
        &slack,
        reqwest::Client::new(),
        clock(),
        FlowOptions::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, AccountError::NoBrowserSignIn { .. }), "{err}");

    let mut remote_http = server.provider();
    remote_http.token_url = "http://example.com/token".into();
    let err = SignIn::start(
        &remote_http,
        reqwest::Client::new(),
        clock(),
        FlowOptions::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, AccountError::BadEndpoint { .. }), "{err}");
}
