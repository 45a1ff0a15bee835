//! The connectors inside the daemon, end to end: a GitHub account added by pasting a token
//! starts its agent; a signed webhook delivery from "GitHub" becomes an event, a real Lua
//! workflow answers it with a command, the agent sends the exact request the fake GitHub API
//! records, and the `command.succeeded` result lands in history. Disconnecting the account
//! stops the agent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use sekia_bus::LocalBus;
use sekia_daemon::{ApiCall, Config, Daemon, SystemClock};
use serde_json::{Value, json};
use sha2::Sha256;

const PAT: &str = "github_pat_11connector-test-secret";
const WEBHOOK_SECRET: &str = "webhook-secret-value";

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, Value, String)>>>);

async fn fake_github() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route(
            "/user",
            get(|| async { Json(json!({"login": "octocat", "id": 1})) }),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            post(
                |State(s): State<Seen>,
                 Path((owner, repo, number)): Path<(String, String, u64)>,
                 h: HeaderMap,
                 Json(body): Json<Value>| async move {
                    let auth = h
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    s.0.lock().unwrap().push((
                        format!("POST /repos/{owner}/{repo}/issues/{number}/labels"),
                        body,
                        auth,
                    ));
                    (StatusCode::OK, Json(json!([{"id": 1, "name": "triage"}])))
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const WORKFLOW: &str = r#"
sekia.on("sekia.events.github", function(event)
  if event.type == "github.issue.opened" then
    sekia.command("github-agent", "add_label", {
      owner = event.payload.owner, repo = event.payload.repo,
      number = event.payload.number, label = "triage",
    })
  end
end)
"#;

async fn call(d: &Daemon, call: Value) -> Result<Value, String> {
    let call: ApiCall = serde_json::from_value(call).map_err(|e| e.to_string())?;
    d.call(call).await.map_err(|e| e.to_string())
}

async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_to_workflow_to_command_to_github_and_the_result_in_history() {
    let (api, seen) = fake_github().await;
    let tmp = tempfile::tempdir().unwrap();
    let workflows = tmp.path().join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join("triage.lua"), WORKFLOW).unwrap();
    let port = free_port();

    let mut config = Config::default();
    config.store.path = tmp.path().join("data/sekia.db");
    config.workflows.dir = workflows;
    config.workflows.hot_reload = false;
    config.skills.dir = Default::default();
    config.secrets.identity = tmp.path().join("age.key");
    config.security.command_secret = sekia_protocol::Secret::new("command-secret");
    config.accounts.store = "file".into();
    config.accounts.github = serde_json::from_value(json!({"api_url": api})).unwrap();
    config.connectors.insert(
        "github-agent".into(),
        toml::from_str(&format!(
            "[github]\napi_url = \"{api}\"\n[webhook]\nlisten = \"127.0.0.1:{port}\"\nsecret = \"{WEBHOOK_SECRET}\"\n[retry]\nbase_delay = \"10ms\"\n"
        ))
        .unwrap(),
    );
    let d = Daemon::start_on(config, Arc::new(LocalBus::new()), Arc::new(SystemClock))
        .await
        .unwrap();

    // No account, no agent. Paste a token: the agent registers under the account's name.
    call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "github", "token": PAT}}),
    )
    .await
    .unwrap();
    until("the github-agent to register", async || {
        let agents = d.agents().await.agents;
        agents
            .iter()
            .any(|a| a.name == "github-agent")
            .then_some(())
    })
    .await;

    // A signed delivery, as GitHub sends it.
    let body = json!({
        "action": "opened",
        "issue": {"number": 42, "title": "Crash on start", "body": "It crashes.",
                  "html_url": "https://github.com/acme/app/issues/42",
                  "user": {"login": "mona"}, "labels": []},
        "repository": {"name": "app", "owner": {"login": "acme"}},
        "sender": {"login": "mona"}
    })
    .to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("X-GitHub-Event", "issues")
        .header("X-GitHub-Delivery", "d-1")
        .header("X-Hub-Signature-256", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The workflow's command reached GitHub, exactly.
    let request = until("the label request", async || {
        seen.0.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(request.0, "POST /repos/acme/app/issues/42/labels");
    assert_eq!(request.1, json!(["triage"]));
    assert_eq!(request.2, format!("Bearer {PAT}"));

    // The result is in history, after the event and the command.
    let result = until("the result in history", async || {
        let page = call(
            &d,
            json!({"cmd": "events", "args": {"event_type": "command.succeeded"}}),
        )
        .await
        .ok()?;
        page["items"].as_array()?.first().cloned()
    })
    .await;
    let payload: Value = serde_json::from_str(result["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["agent"], "github-agent");
    assert_eq!(payload["command"], "add_label");
    assert_eq!(payload["source"], "workflow:triage");
    let opened = call(
        &d,
        json!({"cmd": "events", "args": {"event_type": "github.issue.opened"}}),
    )
    .await
    .unwrap();
    let issue: Value =
        serde_json::from_str(opened["items"][0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(issue["account"], "github-agent");
    assert_eq!(issue["number"], 42, "{issue}");
    // The command itself is in history, its signature checked, its outcome joined.
    let commands = call(&d, json!({"cmd": "commands", "args": {}}))
        .await
        .unwrap();
    let command = &commands["items"][0];
    assert_eq!(command["command"], "add_label", "{commands}");
    assert_eq!(command["signature_valid"], true, "{commands}");

    // Disconnected: the agent stops (its webhook port closes).
    call(
        &d,
        json!({"cmd": "disconnect_account", "args": {"name": "github-agent"}}),
    )
    .await
    .unwrap();
    until("the webhook listener to close", async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    d.shutdown().await;
}
