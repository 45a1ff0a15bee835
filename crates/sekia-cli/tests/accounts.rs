//! `sekiactl accounts` and `sekiactl config reload` against a real sekiad: a GitHub token
//! pasted on standard input (checked with a fake GitHub API, never echoed), a Google browser
//! sign-in against a real OAuth server (oauth2-mock-server) with an HTTP client as the
//! browser, the list as a table and as JSON, disconnect, and a config reload request.

// They drive sekiad over its Unix socket in temporary folders (Windows serves a named pipe).
#![cfg(unix)]

mod common;
#[path = "../../sekia-accounts/tests/common/mod.rs"]
mod oauth;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use common::*;
use serde_json::{Value, json};

const PAT: &str = "github_pat_11cli-test-secret-value";

/// GitHub's `/user` and Gmail's profile, as the identity checks ask them.
fn fake_api(rt: &tokio::runtime::Runtime) -> String {
    let app = axum::Router::new()
        .route(
            "/user",
            get(|h: HeaderMap| async move {
                let auth = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if auth == format!("Bearer {PAT}") {
                    (StatusCode::OK, Json(json!({"login": "octocat", "id": 1})))
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({"message": "Bad credentials"})),
                    )
                }
            }),
        )
        .route(
            "/gmail/v1/users/me/profile",
            get(|| async { Json(json!({"emailAddress": "me@example.com", "historyId": "9"})) }),
        );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[test]
fn accounts_from_the_command_line_and_a_config_reload() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = fake_api(&rt);
    let server = oauth::MockServer::start();
    let sb = Sandbox::new();
    let config = sb.path().join("sekia.toml");
    // The agents of these accounts are kept off the network: no webhook port, Gmail off.
    std::fs::write(
        &config,
        format!(
            r#"
[accounts]
store = "file"

[accounts.github]
api_url = "{api}"

[accounts.google]
auth_url = "{oauth}/authorize"
token_url = "{oauth}/token"
api_url = "{api}"
client_id = "sekia-test"

[connectors.github-agent.github]
api_url = "{api}"
[connectors.github-agent.webhook]
listen = ""

[connectors.google-agent.gmail]
enabled = false
"#,
            oauth = server.base
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let mut daemon = sb.spawn_sekiad(&["--config", &config]);
    sb.wait_ready(&mut daemon);

    // Nothing yet.
    let out = sb.sekiactl(&["accounts", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A refused token: the service's message, and never the token.
    let out = sb.sekiactl_stdin(
        &["accounts", "add-token", "github"],
        Some("ghp_wrong-secret-value\n"),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("Bad credentials"), "{err}");
    assert!(!err.contains("ghp_wrong-secret-value"), "{err}");

    // A good one, on standard input.
    let out = sb.sekiactl_stdin(
        &["accounts", "add-token", "github"],
        Some(&format!("{PAT}\n")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "Connected github-agent as octocat (github)."
    );

    // Browser sign-in: the URL comes first on stdout; the "browser" follows it.
    let mut connect = std::process::Command::new(env!("CARGO_BIN_EXE_sekiactl"))
        .args(["accounts", "connect", "google"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sb.env.iter().map(|(k, v)| (k, v)))
        .current_dir(sb.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(connect.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    rt.block_on(async {
        let browser = oauth::browser();
        let callback = oauth::redirect_of(&browser, &url).await;
        let page = browser.get(&callback).send().await.unwrap();
        assert_eq!(page.status(), 200);
    });
    let done = lines.next().unwrap().unwrap();
    assert_eq!(done, "Connected google-agent as me@example.com (google).");
    assert!(connect.wait().unwrap().success());

    // The list, for people and for scripts; no token in either.
    let table = stdout(&sb.sekiactl(&["accounts", "list"]));
    assert!(
        table.contains("github-agent") && table.contains("octocat"),
        "{table}"
    );
    assert!(
        table.contains("google-agent") && table.contains("me@example.com"),
        "{table}"
    );
    let json: Value =
        serde_json::from_slice(&sb.sekiactl(&["accounts", "list", "--json"]).stdout).unwrap();
    let names: Vec<&str> = json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["github-agent", "google-agent"]);
    assert!(!table.contains(PAT) && !json.to_string().contains(PAT));

    // sekia's config reload, for every agent and for one.
    let out = sb.sekiactl(&["config", "reload"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Config reload requested for: *");
    let out = sb.sekiactl(&["config", "reload", "--target", "github-agent"]);
    assert_eq!(
        stdout(&out).trim(),
        "Config reload requested for: github-agent"
    );
    let out = sb.sekiactl(&["config", "reload", "--target", "no.such"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("target"), "{}", stderr(&out));

    // Disconnect: gone from the list.
    let out = sb.sekiactl(&["accounts", "disconnect", "github-agent"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Disconnected github-agent"),
        "{}",
        stdout(&out)
    );
    let table = stdout(&sb.sekiactl(&["accounts", "list"]));
    assert!(!table.contains("github-agent"), "{table}");

    let (status, log) = terminate(daemon);
    assert!(status.success(), "{log}");
    assert!(!log.contains(PAT), "the token reached the log");
}
