//! `sekia-agent google` with sekia's token file, against a real OAuth server
//! (oauth2-mock-server) and the fake Gmail: `sekia-agent google auth` signs in (an HTTP
//! client plays the browser) and writes `google.token_path` 0600; the agent, started on a
//! real nats-server with an expired access token in that file, refreshes it before its first
//! call, writes the new one back, and polls Gmail with it.

mod google_common;
#[path = "../../sekia-accounts/tests/common/mod.rs"]
mod oauth;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use google_common::FakeGoogle;
use serde_json::Value;

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn agent_file(
    path: &std::path::Path,
    oauth: &str,
    gmail: &str,
    token: &std::path::Path,
    state: &std::path::Path,
) {
    std::fs::write(
        path,
        format!(
            r#"
[google]
client_id = "sekia-test"
client_secret = "client-secret-value"
token_path = "{token}"
auth_url = "{oauth}/authorize"
token_url = "{oauth}/token"

[gmail]
api_url = "{gmail}"
poll_interval = "100ms"

[security]
command_secret = "proc-secret"

[state]
path = "{state}"
"#,
            token = token.display(),
            state = state.display(),
        ),
    )
    .unwrap();
}

fn agent(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sekia-agent"));
    c.args(args)
        .env_remove("GOOGLE_ACCESS_TOKEN")
        .env_remove("GOOGLE_CLIENT_ID")
        .env_remove("GOOGLE_CLIENT_SECRET")
        .env_remove("GOOGLE_TOKEN_PATH")
        .env_remove("SEKIA_NATS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_writes_the_token_file_and_the_agent_refreshes_it() {
    let oauth = oauth::MockServer::start();
    let fake = FakeGoogle::start().await;
    let nats = sekia_bus::testing::NatsServer::start().expect("nats-server");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("secrets/google-token.json");
    let config = dir.path().join("sekia-google.toml");
    agent_file(
        &config,
        &oauth.base,
        &fake.url(),
        &token,
        &dir.path().join("state.db"),
    );
    let config = config.display().to_string();

    // `auth`: the URL on stdout, the "browser" follows it, the token lands in the file.
    let mut auth = agent(&["google", "auth", "--config", &config])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(auth.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    assert!(url.contains("access_type=offline"), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let browser = oauth::browser();
    let callback = oauth::redirect_of(&browser, &url).await;
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(lines.next().unwrap().unwrap().starts_with("Signed in"));
    assert!(auth.wait().unwrap().success());
    #[cfg(unix)]
    {
        assert_eq!(mode(&token), 0o600);
        assert_eq!(mode(token.parent().unwrap()), 0o700);
    }
    let signed_in: Value = serde_json::from_str(&std::fs::read_to_string(&token).unwrap()).unwrap();
    let refresh = signed_in["refresh_token"].as_str().unwrap().to_owned();
    assert!(!refresh.is_empty());

    // An expired access token, as a day-old file would hold.
    let mut stale = signed_in.clone();
    stale["access_token"] = "ya29.expired".into();
    stale["expiry"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&token, serde_json::to_string_pretty(&stale).unwrap()).unwrap();

    let mut child = tokio::process::Command::from(agent(&[
        "google",
        "--name",
        "google-proc",
        "--nats",
        &nats.url(),
        "--config",
        &config,
    ]))
    .stdout(Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    fake.wait_for("a Gmail call", |s| !s.requests.is_empty())
        .await;
    let used = fake.requests()[0].authorization.clone();
    assert!(used.starts_with("Bearer "), "{used}");
    assert_ne!(used, "Bearer ya29.expired", "the expired token was used");
    let refreshes = oauth.wait_lines("TOKEN grant_type=refresh_token", 1);
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert!(refreshes[0].contains(&format!("refresh_token={refresh}")));
    // The new token was written back before it was used.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&token).unwrap()).unwrap();
    assert_eq!(
        format!("Bearer {}", saved["access_token"].as_str().unwrap()),
        used
    );
    assert_ne!(saved["expiry"], "2020-01-01T00:00:00Z");
    #[cfg(unix)]
    assert_eq!(mode(&token), 0o600);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent kept running"
    );
    child.kill().await.unwrap();
}

#[test]
fn without_a_token_file_the_agent_says_to_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sekia-google.toml");
    let token = dir.path().join("none.json");
    agent_file(
        &config,
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &token,
        &dir.path().join("state.db"),
    );
    let nats = sekia_bus::testing::NatsServer::start().expect("nats-server");
    let out = agent(&["google", "--nats", &nats.url(), "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sekia-agent google auth") && err.contains("none.json"),
        "{err}"
    );
}
