//! The dashboard server over real TCP: security headers, the CSRF double-submit check, the
//! Host/Origin check, authentication (and the refusal to listen beyond loopback without it), the
//! body limit, the cap of 50 live-event connections, and the UI's files.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use sekia_daemon::Daemon;
use sekia_daemon::config::{Secret, WebConfig};
use sekia_server::{MAX_LIVE_CONNECTIONS, WebError, WebServer};
use serde_json::{Value, json};

struct Fixture {
    daemon: Daemon,
    web: WebServer,
    base: String,
    _dir: tempfile::TempDir,
}

async fn start(web: WebConfig) -> Result<Fixture, WebError> {
    let dir = tempfile::tempdir().unwrap();
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(ui.join("assets")).unwrap();
    std::fs::write(ui.join("index.html"), "<!doctype html><title>sekia</title>").unwrap();
    std::fs::write(ui.join("assets/app.js"), "console.log(1)").unwrap();
    let daemon = common::daemon(dir.path()).await;
    match WebServer::bind(daemon.clone(), &web, &ui).await {
        Ok(web) => Ok(Fixture {
            base: format!("http://{}", web.addr()),
            daemon,
            web,
            _dir: dir,
        }),
        Err(e) => {
            daemon.shutdown().await;
            Err(e)
        }
    }
}

fn loopback() -> WebConfig {
    WebConfig {
        listen: "127.0.0.1:0".into(),
        ..WebConfig::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The page, and the CSRF cookie it sets.
async fn csrf(base: &str) -> String {
    let r = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sekia_csrf="))
        .expect("the page sets the CSRF cookie");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie
        .trim_start_matches("sekia_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    token
}

async fn rpc(base: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut r = client().post(format!("{base}/api/v1/rpc")).json(&body);
    if let Some(t) = token {
        r = r
            .header("cookie", format!("sekia_csrf={t}"))
            .header("x-csrf-token", t);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn pages_carry_security_headers_and_the_ui_is_served() {
    let f = start(loopback()).await.unwrap();
    for path in ["/", "/assets/app.js", "/api/v1/status", "/some/ui/route"] {
        let r = client()
            .get(format!("{}{path}", f.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
    }
    let page = client()
        .get(format!("{}/events", f.base))
        .send()
        .await
        .unwrap();
    assert!(
        page.text().await.unwrap().contains("<title>sekia</title>"),
        "UI routes fall back to index.html"
    );
    f.web.shutdown().await;
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token() {
    let f = start(loopback()).await.unwrap();
    let r = rpc(&f.base, None, json!({"cmd": "pause_workflows"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("CSRF token mismatch"));
    // A cookie without the matching header is what a cross-site form would send.
    let token = csrf(&f.base).await;
    let r = client()
        .post(format!("{}/api/v1/rpc", f.base))
        .header("cookie", format!("sekia_csrf={token}"))
        .header("x-csrf-token", "0".repeat(64))
        .json(&json!({"cmd": "status"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = rpc(&f.base, Some(&token), json!({"cmd": "status"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["status"], "ok");
    // Errors name the field.
    let r = rpc(
        &f.base,
        Some(&token),
        json!({"cmd": "save_workflow", "args": {"name": "../x.lua", "source": ""}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "name", "{body}");
    let r = rpc(&f.base, Some(&token), json!({"cmd": "nope"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "call", "{body}");
    // Bodies are bounded.
    let big = "x".repeat(3 * 1024 * 1024);
    let r = rpc(
        &f.base,
        Some(&token),
        json!({"cmd": "save_workflow", "args": {"name": "a.lua", "source": big}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    f.web.shutdown().await;
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn dns_rebinding_and_cross_origin_requests_are_refused() {
    let f = start(loopback()).await.unwrap();
    let port = f.web.addr().port();
    let r = client()
        .get(format!("{}/api/v1/status", f.base))
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    let r = client()
        .get(format!("{}/api/v1/status", f.base))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client()
        .get(format!("{}/api/v1/status", f.base))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    f.web.shutdown().await;
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn beyond_loopback_authentication_is_required() {
    let open = WebConfig {
        listen: "0.0.0.0:0".into(),
        ..WebConfig::default()
    };
    let err = start(open).await.err().expect("refused");
    assert!(matches!(err, WebError::NoAuthBeyondLoopback(_)));
    assert!(err.to_string().contains("SEKIA_WEB_PASSWORD"), "{err}");
    let half = WebConfig {
        listen: "127.0.0.1:0".into(),
        username: "me".into(),
        ..WebConfig::default()
    };
    assert!(matches!(
        start(half).await.err(),
        Some(WebError::HalfBasicAuth)
    ));

    let guarded = WebConfig {
        listen: "0.0.0.0:0".into(),
        username: "me".into(),
        password: Secret::new("pa55word"),
        token: Secret::new("t0ken"),
    };
    let f = start(guarded).await.unwrap();
    let url = format!("http://127.0.0.1:{}/api/v1/status", f.web.addr().port());
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let r = client()
        .get(&url)
        .basic_auth("me", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client()
        .get(&url)
        .basic_auth("me", Some("pa55word"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client()
        .get(&url)
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client()
        .get(&url)
        .bearer_auth("t0ken-not")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    f.web.shutdown().await;
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn the_51st_live_connection_is_refused_until_one_closes() {
    let f = start(loopback()).await.unwrap();
    let url = format!("{}/api/v1/events/stream", f.base);
    let mut open = Vec::new();
    for i in 0..MAX_LIVE_CONNECTIONS {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "connection {i}");
        open.push(r);
    }
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("max 50"));
    drop(open.pop());
    let mut ok = false;
    for _ in 0..50 {
        let r = client().get(&url).send().await.unwrap();
        if r.status() == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "a closed connection frees its place");
    drop(open);
    f.web.shutdown().await;
    f.daemon.shutdown().await;
}
