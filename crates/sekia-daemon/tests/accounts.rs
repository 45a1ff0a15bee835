//! Accounts through the `Daemon` handle, as the UI and `sekiactl accounts` use them: a browser
//! sign-in against a real OAuth server (oauth2-mock-server) with an HTTP client as the
//! browser, pasted tokens checked with a fake service API (answering with GitHub's, Slack's
//! and Gmail's documented shapes), names, revocation on disconnect, the list surviving a
//! restart — and every log line of the run (at TRACE) and every error grepped for the tokens.

#[path = "../../sekia-accounts/tests/common/mod.rs"]
mod oauth;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use sekia_bus::LocalBus;
use sekia_daemon::{ApiCall, Config, Daemon, ManualClock};
use serde_json::{Value, json};

const PAT: &str = "github_pat_11AAAAAAA0pasted-secret-value";
const PAT2: &str = "ghp_second-pasted-secret-value";
const BOT: &str = "xoxb-1234-bot-secret-value";
const APP: &str = "xapp-1-A1-app-secret-value";
const BAD_BOT: &str = "xoxb-revoked-bot-secret";

/// Every log line of the process, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fake service API: what each request carried, and documented answers.
#[derive(Clone, Default)]
struct Api {
    seen: Arc<Mutex<Vec<String>>>,
}

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned()
}

async fn fake_api() -> (String, Api) {
    let api = Api::default();
    let app = axum::Router::new()
        .route(
            "/user",
            get(|State(a): State<Api>, h: HeaderMap| async move {
                let t = bearer(&h);
                a.seen.lock().unwrap().push("GET /user".into());
                match t.as_str() {
                    PAT => (StatusCode::OK, Json(json!({"login": "octocat", "id": 1}))),
                    PAT2 => (StatusCode::OK, Json(json!({"login": "Hubot", "id": 2}))),
                    t if t.starts_with("ghp_bad") => (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})),
                    ),
                    _ => (StatusCode::OK, Json(json!({"login": "oauth-octocat", "id": 3}))),
                }
            }),
        )
        .route(
            "/gmail/v1/users/me/profile",
            get(|State(a): State<Api>| async move {
                a.seen.lock().unwrap().push("GET /gmail/v1/users/me/profile".into());
                Json(json!({"emailAddress": "me@example.com", "messagesTotal": 3, "threadsTotal": 2, "historyId": "99"}))
            }),
        )
        .route(
            "/auth.test",
            post(|State(a): State<Api>, h: HeaderMap| async move {
                a.seen.lock().unwrap().push("POST /auth.test".into());
                // BOT, or a bot token from the OAuth server (a JWT there).
                if bearer(&h) == BOT || bearer(&h).starts_with("ey") {
                    Json(json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "sekia", "team_id": "T1", "user_id": "U1", "bot_id": "B1"}))
                } else {
                    Json(json!({"ok": false, "error": "invalid_auth"}))
                }
            }),
        )
        .route(
            "/apps.connections.open",
            post(|State(a): State<Api>, h: HeaderMap| async move {
                a.seen.lock().unwrap().push("POST /apps.connections.open".into());
                if bearer(&h) == APP {
                    // A loopback address nothing listens on: the connector stays off the network.
                    Json(json!({"ok": true, "url": "ws://127.0.0.1:9/link/?ticket=x"}))
                } else {
                    Json(json!({"ok": false, "error": "invalid_auth"}))
                }
            }),
        )
        .route(
            "/auth.revoke",
            post(|State(a): State<Api>| async move {
                a.seen.lock().unwrap().push("POST /auth.revoke".into());
                Json(json!({"ok": true, "revoked": true}))
            }),
        )
        .route(
            "/applications/{client_id}/token",
            delete(|State(a): State<Api>| async move {
                a.seen.lock().unwrap().push("DELETE /applications/token".into());
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, api)
}

fn config(dir: &std::path::Path, oauth: &str, api: &str) -> Config {
    let mut config = Config::default();
    config.store.path = dir.join("data/sekia.db");
    config.workflows.dir = Default::default();
    config.skills.dir = Default::default();
    config.secrets.identity = dir.join("keys/age.key");
    config.accounts.store = "file".into();
    let overrides = |extra: Value| -> sekia_accounts::ProviderOverrides {
        let mut v = json!({
            "auth_url": format!("{oauth}/authorize"),
            "token_url": format!("{oauth}/token"),
            "api_url": api,
            "client_id": "sekia-test",
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    };
    config.accounts.google = overrides(json!({"revocation_url": format!("{oauth}/revoke")}));
    config.accounts.github = overrides(json!({"client_secret": "client-secret-value"}));
    config.accounts.slack = overrides(json!({}));
    config.accounts.linear = overrides(json!({}));
    // The accounts' connectors talk to the fake API too, never to the real services.
    for (name, section) in [
        ("google-agent", format!("[gmail]\napi_url = \"{api}\"\n")),
        ("slack-acme", format!("[slack]\napi_url = \"{api}\"\n")),
        ("slack-agent", format!("[slack]\napi_url = \"{api}\"\n")),
    ] {
        config
            .connectors
            .insert(name.into(), toml::from_str(&section).unwrap());
    }
    config
}

async fn call(d: &Daemon, call: Value) -> Result<Value, String> {
    let call: ApiCall = serde_json::from_value(call).map_err(|e| e.to_string())?;
    d.call(call).await.map_err(|e| e.to_string())
}

async fn start(config: Config) -> Daemon {
    Daemon::start_on(
        config,
        Arc::new(LocalBus::new()),
        Arc::new(ManualClock::new(1_700_000_000)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_paste_disconnect_restart_and_no_token_in_any_log() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    let server = oauth::MockServer::start();
    let (api_base, api) = fake_api().await;
    let tmp = tempfile::tempdir().unwrap();
    let d = start(config(tmp.path(), &server.base, &api_base)).await;
    let mut errors = Vec::new();

    // Nothing yet; the store is the encrypted file (forced), and the providers say how to add.
    let report = call(&d, json!({"cmd": "accounts"})).await.unwrap();
    assert_eq!(report["store"], "encrypted_file");
    assert_eq!(report["accounts"], json!([]));
    let slack = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "slack")
        .unwrap();
    assert_eq!(slack["sign_in"], false);
    assert_eq!(slack["paste"], "slack_bot_and_app_token");

    // Browser sign-in to Google: the URL, the "browser" follows it, the account appears.
    let started = call(
        &d,
        json!({"cmd": "connect_account", "args": {"provider": "google"}}),
    )
    .await
    .unwrap();
    let url = started["url"].as_str().unwrap().to_owned();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains("access_type=offline"), "{url}");
    let pending = call(&d, json!({"cmd": "accounts"})).await.unwrap();
    assert_eq!(pending["sign_ins"][0]["provider"], "google");
    let browser = oauth::browser();
    let callback = oauth::redirect_of(&browser, &url).await;
    let page = tokio::spawn(async move { browser.get(&callback).send().await.unwrap() });
    let account = call(
        &d,
        json!({"cmd": "wait_sign_in", "args": {"id": started["id"]}}),
    )
    .await
    .unwrap();
    let page = page.await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("connected to sekia"));
    assert_eq!(account["name"], "google-agent");
    assert_eq!(account["identity"], "me@example.com");
    assert_eq!(account["kind"], "oauth");
    assert_eq!(account["state"], "connected");
    let (source, _) = d.account_token("google-agent").unwrap();
    let google_token = source.access_token().await.unwrap().expose().to_owned();
    assert!(google_token.len() > 20);

    // Pasted tokens: format checked first (naming the field), then the service, then stored.
    let e = call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "github", "token": BOT}}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("field `token`") && e.contains("GitHub"), "{e}");
    errors.push(e);
    let e = call(&d, json!({"cmd": "add_account_token", "args": {"provider": "github", "token": "ghp_bad-secret-value"}}))
        .await
        .unwrap_err();
    assert!(
        e.contains("Bad credentials") && e.contains("HTTP 401"),
        "{e}"
    );
    errors.push(e);
    let gh = call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "github", "token": PAT}}),
    )
    .await
    .unwrap();
    assert_eq!(
        (gh["name"].as_str(), gh["identity"].as_str()),
        (Some("github-agent"), Some("octocat"))
    );
    // A second GitHub account gets a name of its own; an explicit name is checked.
    let gh2 = call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "github", "token": PAT2}}),
    )
    .await
    .unwrap();
    assert_eq!(gh2["name"], "github-hubot");
    let e = call(&d, json!({"cmd": "add_account_token", "args": {"provider": "github", "name": "google-agent", "token": PAT2}}))
        .await
        .unwrap_err();
    assert!(e.contains("field `name`"), "{e}");
    errors.push(e);
    let e = call(&d, json!({"cmd": "add_account_token", "args": {"provider": "github", "name": "my work", "token": PAT2}}))
        .await
        .unwrap_err();
    assert!(e.contains("field `name`"), "{e}");
    errors.push(e);

    // Slack: both tokens, each checked; a refused bot token names its field.
    let e = call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "slack", "token": BOT}}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("field `app_token`"), "{e}");
    errors.push(e);
    let e = call(&d, json!({"cmd": "add_account_token", "args": {"provider": "slack", "token": BAD_BOT, "app_token": APP}}))
        .await
        .unwrap_err();
    assert!(
        e.contains("field `token`") && e.contains("invalid_auth"),
        "{e}"
    );
    errors.push(e);
    let sl = call(&d, json!({"cmd": "add_account_token", "args": {"provider": "slack", "name": "slack-acme", "token": BOT, "app_token": APP}}))
        .await
        .unwrap();
    assert_eq!(sl["identity"], "Acme (bot sekia)");
    assert_eq!(
        d.slack_app_token("slack-acme")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        APP
    );

    // Sign-in without a client id says where to set it; Slack has no browser sign-in.
    let e = call(
        &d,
        json!({"cmd": "connect_account", "args": {"provider": "slack"}}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("paste"), "{e}");
    errors.push(e);

    // The list: no token in it; the files hold no token in the clear.
    let report = call(&d, json!({"cmd": "accounts"})).await.unwrap();
    let names: Vec<&str> = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["github-agent", "github-hubot", "google-agent", "slack-acme"]
    );
    let listed = report.to_string();
    for t in [PAT, PAT2, BOT, APP, google_token.as_str()] {
        assert!(!listed.contains(t));
    }
    for entry in walk(tmp.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for t in [PAT, PAT2, BOT, APP, google_token.as_str()] {
            assert!(
                !text.contains(t),
                "{} holds a token in the clear",
                entry.display()
            );
        }
    }

    // A restart: the same accounts, their tokens readable.
    d.shutdown().await;
    let d = start(config(tmp.path(), &server.base, &api_base)).await;
    let report = call(&d, json!({"cmd": "accounts"})).await.unwrap();
    assert_eq!(report["accounts"].as_array().unwrap().len(), 4);
    let (source, _) = d.account_token("github-agent").unwrap();
    assert_eq!(source.access_token().await.unwrap().expose(), PAT);

    // Disconnect: revoked where the provider allows (Google RFC 7009, Slack auth.revoke), a
    // note where it does not (a pasted GitHub token).
    let g = call(
        &d,
        json!({"cmd": "disconnect_account", "args": {"name": "google-agent"}}),
    )
    .await
    .unwrap();
    assert_eq!(g["revoked"], true);
    assert_eq!(
        server.wait_lines("REVOKE", 1),
        ["REVOKE token=yes hint=refresh_token"]
    );
    let s = call(
        &d,
        json!({"cmd": "disconnect_account", "args": {"name": "slack-acme"}}),
    )
    .await
    .unwrap();
    assert_eq!(s["revoked"], true);
    assert!(d.slack_app_token("slack-acme").await.unwrap().is_none());
    let p = call(
        &d,
        json!({"cmd": "disconnect_account", "args": {"name": "github-agent"}}),
    )
    .await
    .unwrap();
    assert_eq!(p["revoked"], false);
    assert!(
        p["note"]
            .as_str()
            .unwrap()
            .contains("github.com/settings/tokens")
    );
    assert!(d.account_token("github-agent").is_none());
    let e = call(
        &d,
        json!({"cmd": "disconnect_account", "args": {"name": "github-agent"}}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("not found"), "{e}");
    let seen = api.seen.lock().unwrap().clone();
    assert!(seen.contains(&"POST /auth.revoke".to_owned()), "{seen:?}");
    d.shutdown().await;

    // Not one token value in the log of the whole run, nor in any error.
    let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(log.contains("account connected"), "the log was captured");
    for t in [
        PAT,
        PAT2,
        BOT,
        APP,
        BAD_BOT,
        "ghp_bad-secret-value",
        "client-secret-value",
        google_token.as_str(),
    ] {
        assert!(!log.contains(t), "a token reached the log");
        for e in &errors {
            assert!(!e.contains(t), "a token reached an error: {e}");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Slack's OAuth v2 through an HTTPS redirect page the user controls (Slack refuses loopback
/// redirects): the page forwards the browser to the loopback listener named in `state`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sign_in_through_an_https_redirect_page() {
    let server = oauth::MockServer::start();
    let (api_base, _api) = fake_api().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(tmp.path(), &server.base, &api_base);
    let page = "https://sekia-redirect.example/slack";
    config.accounts.slack = serde_json::from_value(json!({
        "auth_url": format!("{}/authorize", server.base),
        "token_url": format!("{}/token", server.base),
        "api_url": api_base,
        "client_id": "sekia-test",
        "client_secret": "client-secret-value",
        "redirect_url": page,
    }))
    .unwrap();
    let d = start(config).await;
    let report = call(&d, json!({"cmd": "accounts"})).await.unwrap();
    let slack = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "slack")
        .unwrap()
        .clone();
    assert_eq!(slack["sign_in"], true, "{slack}");

    // The app-level token (Socket Mode) cannot come from OAuth: it is asked for and checked.
    let e = call(
        &d,
        json!({"cmd": "connect_account", "args": {"provider": "slack"}}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("field `app_token`"), "{e}");
    let e = call(
        &d,
        json!({"cmd": "connect_account", "args": {"provider": "slack", "app_token": "xapp-1-wrong-secret"}}),
    )
    .await
    .unwrap_err();
    assert!(
        e.contains("field `app_token`") && e.contains("invalid_auth"),
        "{e}"
    );
    assert!(!e.contains("xapp-1-wrong-secret"), "{e}");

    let started = call(
        &d,
        json!({"cmd": "connect_account", "args": {"provider": "slack", "app_token": APP}}),
    )
    .await
    .unwrap();
    let url = started["url"].as_str().unwrap().to_owned();
    assert!(
        url.contains("redirect_uri=https%3A%2F%2Fsekia-redirect.example%2Fslack"),
        "{url}"
    );
    assert!(
        url.contains("scope=app_mentions%3Aread%2Cchannels%3Ahistory"),
        "{url}"
    );

    // The OAuth server sends the browser to the HTTPS page...
    let browser = oauth::browser();
    let at_page = oauth::redirect_of(&browser, &url).await;
    assert!(at_page.starts_with(page), "{at_page}");
    // ...which forwards it, query unchanged, to the loopback port named in `state`.
    let state = oauth::query_param(&at_page, "state").unwrap();
    let port = state.split('.').next().unwrap();
    let query = at_page.split_once('?').unwrap().1;
    let forwarded = format!("http://127.0.0.1:{port}/callback?{query}");
    let done = tokio::spawn(async move { browser.get(&forwarded).send().await.unwrap() });
    let account = call(
        &d,
        json!({"cmd": "wait_sign_in", "args": {"id": started["id"]}}),
    )
    .await
    .unwrap();
    let done = done.await.unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(account["name"], "slack-agent");
    assert_eq!(account["identity"], "Acme (bot sekia)");
    assert_eq!(account["kind"], "oauth");
    assert_eq!(
        d.slack_app_token("slack-agent")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        APP
    );
    let codes = server.wait_lines("TOKEN grant_type=authorization_code", 1);
    assert_eq!(codes.len(), 1, "{codes:?}");
    d.shutdown().await;
}
