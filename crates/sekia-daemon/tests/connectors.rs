//! The connectors inside the daemon, end to end, one test per service: an account connected
//! the way a user connects it (a pasted token checked with the service, or a browser sign-in
//! against a real OAuth server) starts its agent; something happens at the fake service (a
//! signed GitHub webhook delivery, a Slack Socket Mode envelope, new Gmail mail, a new Calendar
//! event, a new Linear issue) and becomes an event; a real Lua workflow answers it with a
//! command; the agent sends the exact request the fake API records; and the
//! `command.succeeded` result lands in history. Disconnecting an account stops its agent.
//!
//! The fake services are the connector crate's own test fakes (they answer with the documented
//! shapes), shared by path so both crates test against the same ones.

#[path = "../../sekia-connectors/tests/google_common/mod.rs"]
mod google_common;
#[path = "../../sekia-connectors/tests/linear_common/mod.rs"]
mod linear_common;
#[path = "../../sekia-accounts/tests/common/mod.rs"]
mod oauth;
#[path = "../../sekia-connectors/tests/slack_common/mod.rs"]
mod slack_common;

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

/// A daemon config in `tmp` with one workflow file, the encrypted-file account store and a
/// command secret; the test adds its accounts' and connectors' settings.
fn base_config(tmp: &std::path::Path, workflow: &str) -> Config {
    let workflows = tmp.join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join("flow.lua"), workflow).unwrap();
    let mut config = Config::default();
    config.store.path = tmp.join("data/sekia.db");
    config.workflows.dir = workflows;
    config.workflows.hot_reload = false;
    config.skills.dir = Default::default();
    config.secrets.identity = tmp.join("age.key");
    config.security.command_secret = sekia_protocol::Secret::new("command-secret");
    config.accounts.store = "file".into();
    config
}

fn connector_section(toml_text: &str) -> toml::Table {
    toml::from_str(toml_text).unwrap()
}

/// The payload of the first stored event of `event_type` whose payload satisfies `pred`.
async fn stored_event(d: &Daemon, event_type: &str, pred: impl Fn(&Value) -> bool) -> Value {
    until(&format!("a {event_type} event in history"), async || {
        let page = call(
            d,
            json!({"cmd": "events", "args": {"event_type": event_type}}),
        )
        .await
        .ok()?;
        page["items"]
            .as_array()?
            .iter()
            .filter_map(|i| serde_json::from_str::<Value>(i["payload"].as_str()?).ok())
            .find(|p| pred(p))
    })
    .await
}

/// The `command.succeeded` result of `agent`'s `command`, once it is in history.
async fn succeeded(d: &Daemon, agent: &str, command: &str) -> Value {
    let failed = call(
        d,
        json!({"cmd": "events", "args": {"event_type": "command.failed"}}),
    )
    .await
    .unwrap();
    assert_eq!(failed["items"], json!([]), "a command failed: {failed}");
    stored_event(d, "command.succeeded", |p| {
        p["agent"] == agent && p["command"] == command
    })
    .await
}

const SLACK_WORKFLOW: &str = r#"
sekia.on("sekia.events.slack", function(event)
  if event.type == "slack.message.received" and event.payload.text:find("deploy") then
    sekia.command("slack-agent", "send_reply", {
      channel = event.payload.channel, thread_ts = event.payload.timestamp,
      text = "On it, <@" .. event.payload.user .. ">",
    })
  end
end)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_message_to_workflow_to_reply_in_thread_and_the_result_in_history() {
    use slack_common::{APP_TOKEN, BOT_TOKEN, FakeSlack, events_api};
    let fake = FakeSlack::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = base_config(tmp.path(), SLACK_WORKFLOW);
    config.accounts.slack = serde_json::from_value(json!({"api_url": fake.api_url()})).unwrap();
    config.connectors.insert(
        "slack-agent".into(),
        connector_section(&format!(
            "[slack]\napi_url = \"{}\"\n[retry]\nbase_delay = \"10ms\"\n",
            fake.api_url()
        )),
    );
    let d = Daemon::start_on(config, Arc::new(LocalBus::new()), Arc::new(SystemClock))
        .await
        .unwrap();

    // Both tokens pasted and checked; the agent opens its Socket Mode connection.
    let account = call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "slack", "token": BOT_TOKEN, "app_token": APP_TOKEN}}),
    )
    .await
    .unwrap();
    assert_eq!(account["name"], "slack-agent");
    let mut conn = fake.next_connection().await;
    conn.deliver(events_api(
        "env-1",
        "Ev01",
        json!({"type": "message", "channel": "C123", "user": "U7", "text": "please deploy",
               "ts": "1700000000.000100", "team": "T1", "channel_type": "channel",
               "event_ts": "1700000000.000100"}),
    ))
    .await;

    let event = stored_event(&d, "slack.message.received", |_| true).await;
    assert_eq!(
        event,
        json!({"channel": "C123", "user": "U7", "text": "please deploy",
               "timestamp": "1700000000.000100", "account": "slack-agent"})
    );
    let result = succeeded(&d, "slack-agent", "send_reply").await;
    assert_eq!(result["source"], "workflow:flow");
    let posts = fake.requests_to("chat.postMessage");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0].body,
        json!({"channel": "C123", "text": "On it, <@U7>", "thread_ts": "1700000000.000100"})
    );
    assert_eq!(
        posts[0].headers["authorization"],
        format!("Bearer {BOT_TOKEN}")
    );
    d.shutdown().await;
}

const GOOGLE_WORKFLOW: &str = r#"
sekia.on("sekia.events.google", function(event)
  if event.type == "gmail.message.received" and event.payload.subject:find("Invoice") then
    sekia.command("google-agent", "add_label", { message_id = event.payload.id, label = "Work" })
  elseif event.type == "google.calendar.event.created" then
    sekia.command("google-agent", "create_event", {
      summary = "Prep: " .. event.payload.summary,
      start = "2030-01-01T08:30:00Z", ["end"] = "2030-01-01T09:00:00Z",
    })
  end
end)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_and_calendar_to_workflow_to_commands_and_the_results_in_history() {
    use google_common::{FakeGoogle, NewMail};
    let server = oauth::MockServer::start();
    let fake = FakeGoogle::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = base_config(tmp.path(), GOOGLE_WORKFLOW);
    config.accounts.google = serde_json::from_value(json!({
        "auth_url": format!("{}/authorize", server.base),
        "token_url": format!("{}/token", server.base),
        "api_url": fake.url(),
        "client_id": "sekia-test",
    }))
    .unwrap();
    config.connectors.insert(
        "google-agent".into(),
        connector_section(&format!(
            "[gmail]\napi_url = \"{}\"\npoll_interval = \"100ms\"\n\
             [calendar]\nenabled = true\napi_url = \"{}\"\npoll_interval = \"100ms\"\n\
             [retry]\nbase_delay = \"10ms\"\n",
            fake.url(),
            fake.calendar_url()
        )),
    );
    let d = Daemon::start_on(config, Arc::new(LocalBus::new()), Arc::new(SystemClock))
        .await
        .unwrap();

    // Sign in through the browser (an HTTP client following the real OAuth server).
    let started = call(
        &d,
        json!({"cmd": "connect_account", "args": {"provider": "google"}}),
    )
    .await
    .unwrap();
    let browser = oauth::browser();
    let callback = oauth::redirect_of(&browser, started["url"].as_str().unwrap()).await;
    let page = tokio::spawn(async move { browser.get(&callback).send().await.unwrap() });
    let account = call(
        &d,
        json!({"cmd": "wait_sign_in", "args": {"id": started["id"]}}),
    )
    .await
    .unwrap();
    assert_eq!(page.await.unwrap().status(), 200);
    assert_eq!(account["name"], "google-agent");
    let (source, _) = d.account_token("google-agent").unwrap();
    let access = source.access_token().await.unwrap().expose().to_owned();

    // The agent seeds its watermarks first, so mail and events from before it started are not
    // news; wait for its first polls, then let things happen.
    fake.wait_for("the first Gmail and Calendar polls", |s| {
        s.count("GET", "/gmail/v1/users/me/profile") >= 2
            && s.count("GET", "/calendar/v3/calendars/primary/events") >= 1
    })
    .await;
    fake.with(|s| {
        s.add_mail(NewMail {
            id: "m1",
            thread_id: "t1",
            from: "Billing <billing@example.com>",
            subject: "Invoice 42",
            plain: Some("Please pay."),
            html: None,
            labels: &["INBOX", "UNREAD"],
            date: 1_893_488_400,
        });
        s.put_event(
            "ev1",
            json!({"summary": "Board meeting",
                   "start": {"dateTime": "2030-01-01T09:00:00Z"},
                   "end": {"dateTime": "2030-01-01T10:00:00Z"}}),
        );
    });

    let mail = stored_event(&d, "gmail.message.received", |_| true).await;
    assert_eq!(mail["id"], "m1");
    assert_eq!(mail["subject"], "Invoice 42");
    assert_eq!(mail["account"], "google-agent");
    let label = succeeded(&d, "google-agent", "add_label").await;
    assert_eq!(label["source"], "workflow:flow");
    let modify = fake.requests_to("POST", "/gmail/v1/users/me/messages/m1/modify");
    assert_eq!(modify.len(), 1, "{modify:?}");
    assert_eq!(
        modify[0].body,
        json!({"addLabelIds": ["Label_12"], "removeLabelIds": []})
    );
    assert_eq!(modify[0].authorization, format!("Bearer {access}"));

    let created = stored_event(&d, "google.calendar.event.created", |_| true).await;
    assert_eq!(created["summary"], "Board meeting");
    succeeded(&d, "google-agent", "create_event").await;
    let inserts = fake.requests_to("POST", "/calendar/v3/calendars/primary/events");
    assert_eq!(inserts.len(), 1, "{inserts:?}");
    assert_eq!(inserts[0].body["summary"], "Prep: Board meeting");
    assert_eq!(inserts[0].body["start"]["dateTime"], "2030-01-01T08:30:00Z");
    d.shutdown().await;
}

const LINEAR_WORKFLOW: &str = r#"
sekia.on("sekia.events.linear", function(event)
  if event.type == "linear.issue.created" then
    sekia.command("linear-agent", "create_comment", {
      issue_id = event.payload.id, body = "Triaged " .. event.payload.identifier,
    })
  end
end)
"#;

const LINEAR_KEY: &str = "lin_api_daemon-test-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linear_issue_to_workflow_to_comment_and_the_result_in_history() {
    use linear_common::{FakeLinear, Scripted};
    let fake = FakeLinear::start().await;
    // The identity check's query is anonymous (`{ viewer … }`).
    fake.script(
        "",
        Scripted {
            status: 200,
            headers: vec![],
            body: json!({"data": {"viewer": {"name": "Ann", "email": "ann@acme.io"},
                                  "organization": {"name": "Acme"}}}),
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut config = base_config(tmp.path(), LINEAR_WORKFLOW);
    config.accounts.linear = serde_json::from_value(json!({"api_url": fake.url()})).unwrap();
    config.connectors.insert(
        "linear-agent".into(),
        connector_section(&format!(
            "[linear]\napi_url = \"{}\"\n[poll]\nenabled = true\ninterval = \"100ms\"\n\
             [retry]\nbase_delay = \"10ms\"\n",
            fake.url()
        )),
    );
    let d = Daemon::start_on(config, Arc::new(LocalBus::new()), Arc::new(SystemClock))
        .await
        .unwrap();
    let account = call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "linear", "token": LINEAR_KEY}}),
    )
    .await
    .unwrap();
    assert_eq!(account["identity"], "ann@acme.io (Acme)");
    fake.wait_polls(1).await;

    let id = fake.with(|s| s.add_issue("ENG", "Crash on start"));
    let issue = stored_event(&d, "linear.issue.created", |_| true).await;
    assert_eq!(issue["id"], id.as_str());
    assert_eq!(issue["account"], "linear-agent");
    let result = succeeded(&d, "linear-agent", "create_comment").await;
    assert_eq!(result["source"], "workflow:flow");
    let comments = fake.requests("CommentCreate");
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(
        comments[0].body["variables"],
        json!({"input": {"issueId": id, "body": "Triaged ENG-1"}})
    );
    // A personal API key goes bare in Authorization, as Linear wants it.
    assert_eq!(comments[0].headers["authorization"], LINEAR_KEY);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_reload_restarts_a_connector_with_its_new_section() {
    use linear_common::{FakeLinear, Scripted};
    let viewer = || Scripted {
        status: 200,
        headers: vec![],
        body: json!({"data": {"viewer": {"name": "Ann", "email": "ann@acme.io"}}}),
    };
    let (old, new) = (FakeLinear::start().await, FakeLinear::start().await);
    old.script("", viewer());
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sekia.toml");
    let section = |api: &str| {
        format!(
            "[connectors.linear-agent.linear]\napi_url = \"{api}\"\n\
             [connectors.linear-agent.poll]\nenabled = true\ninterval = \"100ms\"\n"
        )
    };
    std::fs::write(&file, section(&old.url())).unwrap();
    let mut config = base_config(tmp.path(), "");
    config.file = file.clone();
    config.accounts.linear = serde_json::from_value(json!({"api_url": old.url()})).unwrap();
    config.connectors = toml::from_str::<toml::Table>(&section(&old.url())).unwrap()["connectors"]
        .as_table()
        .unwrap()
        .clone()
        .into_iter()
        .map(|(k, v)| (k, v.as_table().unwrap().clone()))
        .collect();
    let d = Daemon::start_on(config, Arc::new(LocalBus::new()), Arc::new(SystemClock))
        .await
        .unwrap();
    call(
        &d,
        json!({"cmd": "add_account_token", "args": {"provider": "linear", "token": LINEAR_KEY}}),
    )
    .await
    .unwrap();
    old.wait_polls(1).await;

    // The section now names another API: a reload aimed at the account restarts its agent there.
    std::fs::write(&file, section(&new.url())).unwrap();
    let answer = call(
        &d,
        json!({"cmd": "reload_config", "args": {"target": "linear-agent"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        json!({"status": "reload_requested", "target": "linear-agent"})
    );
    new.wait_polls(2).await;
    let polls_at_old = old.requests("SekiaIssues").len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        old.requests("SekiaIssues").len(),
        polls_at_old,
        "the old agent stopped"
    );

    // A file that does not load changes nothing: the agent keeps polling where it was.
    std::fs::write(&file, "[connectors.linear-agent\n").unwrap();
    call(&d, json!({"cmd": "reload_config", "args": {}}))
        .await
        .unwrap();
    new.wait_polls(3).await;
    // A bad target is named.
    let e = call(
        &d,
        json!({"cmd": "reload_config", "args": {"target": "a.b"}}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("target"), "{e}");
    d.shutdown().await;
}
