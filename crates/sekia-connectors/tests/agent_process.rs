//! `sekia-agent github` as its own process on a real nats-server: it registers
//! and executes a signed command against the fake GitHub; and with a daemon on the same
//! server (NatsBus), a workflow in the daemon drives it, the result lands in the daemon's
//! history, and the daemon's config reload makes it read its file again.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use sekia_bus::{Bus, NatsBus, NatsConfig};
use sekia_protocol::{Event, Registration};
use serde_json::json;
use sha2::{Digest, Sha256};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_agent_registers_and_runs_commands() {
    let server = sekia_bus::testing::NatsServer::start().expect("nats-server");
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sekia-github-proc.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[github]
token = "proc-token"
api_url = "{api}"

[webhook]
listen = ""

[security]
command_secret = "proc-secret"

[state]
path = "{state}"
"#,
            api = fake.url(),
            state = dir.path().join("state.db").display()
        ),
    )
    .unwrap();

    let bus = NatsBus::connect(NatsConfig::new(server.url()))
        .await
        .unwrap();
    let mut registry = bus.subscribe("sekia.registry").await.unwrap();
    let mut results = bus.subscribe("sekia.events.sekia").await.unwrap();
    bus.flush().await.unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sekia-agent"))
        .args([
            "github",
            "--name",
            "github-proc",
            "--nats",
            &server.url(),
            "--config",
        ])
        .arg(&config)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .env_remove("SEKIA_COMMAND_SECRET")
        .env_remove("SEKIA_NATS_URL")
        .env_remove("SEKIA_NATS_TOKEN")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sekia-agent");

    let registration: Registration = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let m = registry.next().await.expect("registry subscription");
            let r: Registration = serde_json::from_slice(&m.payload).unwrap();
            if r.name == "github-proc" {
                return r;
            }
        }
    })
    .await
    .expect("the agent registered within 30 s");
    assert_eq!(registration.capabilities, vec!["github-api"]);
    assert!(registration.commands.contains(&"approve_pr".to_owned()));

    let bytes = signed_command(
        "create_comment",
        json!({"owner": "octo", "repo": "hello", "number": 12, "body": "from NATS"}),
        "proc-secret",
    );
    let id = hex::encode(Sha256::digest(&bytes));
    bus.publish("sekia.commands.github-proc", bytes.into())
        .await
        .unwrap();
    let result: Event = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = results.next().await.expect("results subscription");
            let e: Event = serde_json::from_slice(&m.payload).unwrap();
            if e.payload.get("command_id").and_then(|v| v.as_str()) == Some(id.as_str()) {
                return e;
            }
        }
    })
    .await
    .expect("a result within 20 s");
    assert_eq!(result.event_type, "command.succeeded", "{result:?}");
    assert_eq!(result.payload["agent"], "github-proc");

    let reqs = fake.requests_to("POST", "/repos/octo/hello/issues/12/comments");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, json!({"body": "from NATS"}));
    assert_eq!(reqs[0].headers["authorization"], "Bearer proc-token");

    child.kill().await.expect("stop sekia-agent");
    bus.close().await.unwrap();
}

fn agent_config(path: &std::path::Path, api: &str, token: &str, state: &std::path::Path) {
    std::fs::write(
        path,
        format!(
            "[github]\ntoken = \"{token}\"\napi_url = \"{api}\"\n[webhook]\nlisten = \"\"\n\
             [security]\ncommand_secret = \"proc-secret\"\n[state]\npath = \"{}\"\n",
            state.display()
        ),
    )
    .unwrap();
}

async fn daemon_call(d: &sekia_daemon::Daemon, call: serde_json::Value) -> serde_json::Value {
    let call: sekia_daemon::ApiCall = serde_json::from_value(call).unwrap();
    d.call(call).await.unwrap()
}

const WORKFLOW: &str = r#"
sekia.on("sekia.events.test", function(event)
  sekia.command("github-proc", "create_comment", {
    owner = "octo", repo = "hello", number = event.payload.number, body = "from the daemon",
  })
end)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_on_nats_drives_the_standalone_agent_and_reloads_its_config() {
    let server = sekia_bus::testing::NatsServer::start().expect("nats-server");
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent_file = dir.path().join("sekia-github-proc.toml");
    let state = dir.path().join("agent-state.db");
    agent_config(&agent_file, &fake.url(), "proc-token", &state);

    // The daemon: NatsBus to the same server, one workflow, history on.
    let workflows = dir.path().join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join("comment.lua"), WORKFLOW).unwrap();
    let mut config = sekia_daemon::Config::default();
    config.nats.url = server.url();
    config.store.path = dir.path().join("data/sekia.db");
    config.workflows.dir = workflows;
    config.workflows.hot_reload = false;
    config.skills.dir = Default::default();
    config.secrets.identity = dir.path().join("age.key");
    config.accounts.store = "file".into();
    config.security.command_secret = sekia_protocol::Secret::new("proc-secret");
    let d = sekia_daemon::Daemon::start(config, std::sync::Arc::new(sekia_protocol::SystemClock))
        .await
        .unwrap();

    let watcher = NatsBus::connect(NatsConfig::new(server.url()))
        .await
        .unwrap();
    let mut registry = watcher.subscribe("sekia.registry").await.unwrap();
    watcher.flush().await.unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sekia-agent"))
        .args([
            "github",
            "--name",
            "github-proc",
            "--nats",
            &server.url(),
            "--config",
        ])
        .arg(&agent_file)
        .env_remove("GITHUB_TOKEN")
        .env_remove("SEKIA_COMMAND_SECRET")
        .env_remove("SEKIA_NATS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sekia-agent");
    let registered = async |registry: &mut sekia_bus::Subscription| {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let m = registry.next().await.expect("registry subscription");
                let r: Registration = serde_json::from_slice(&m.payload).unwrap();
                if r.name == "github-proc" {
                    return;
                }
            }
        })
        .await
        .expect("the agent registered within 30 s");
    };
    registered(&mut registry).await;

    // A test event → the daemon's workflow → a command over NATS → the agent → GitHub.
    let path = "/repos/octo/hello/issues/12/comments";
    daemon_call(
        &d,
        json!({"cmd": "publish_event", "args": {"source": "test", "type": "test.ping", "payload": {"number": 12}}}),
    )
    .await;
    let first = wait_for_requests(&fake, path, 1).await;
    assert_eq!(first[0].body, json!({"body": "from the daemon"}));
    assert_eq!(first[0].headers["authorization"], "Bearer proc-token");
    // The agent's result reached the daemon's history over NATS.
    let result = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let page = daemon_call(
                &d,
                json!({"cmd": "events", "args": {"event_type": "command.succeeded"}}),
            )
            .await;
            if let Some(item) = page["items"].as_array().and_then(|a| a.first()) {
                return serde_json::from_str::<serde_json::Value>(
                    item["payload"].as_str().unwrap(),
                )
                .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the result in the daemon's history within 20 s");
    assert_eq!(result["agent"], "github-proc");
    assert_eq!(result["source"], "workflow:comment");

    // A new token in the file; the daemon asks the agent to reload; the next command uses it.
    agent_config(&agent_file, &fake.url(), "proc-token-2", &state);
    let answer = daemon_call(
        &d,
        json!({"cmd": "reload_config", "args": {"target": "github-proc"}}),
    )
    .await;
    assert_eq!(
        answer,
        json!({"status": "reload_requested", "target": "github-proc"})
    );
    registered(&mut registry).await;
    daemon_call(
        &d,
        json!({"cmd": "publish_event", "args": {"source": "test", "type": "test.ping", "payload": {"number": 12}}}),
    )
    .await;
    let both = wait_for_requests(&fake, path, 2).await;
    assert_eq!(both[1].headers["authorization"], "Bearer proc-token-2");

    // A file that does not load: the agent runs on with what it had.
    std::fs::write(&agent_file, "[github\ntoken = ").unwrap();
    daemon_call(&d, json!({"cmd": "reload_config", "args": {}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemon_call(
        &d,
        json!({"cmd": "publish_event", "args": {"source": "test", "type": "test.ping", "payload": {"number": 12}}}),
    )
    .await;
    let three = wait_for_requests(&fake, path, 3).await;
    assert_eq!(three[2].headers["authorization"], "Bearer proc-token-2");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent kept running"
    );

    child.kill().await.expect("stop sekia-agent");
    d.shutdown().await;
    watcher.close().await.unwrap();
}

async fn wait_for_requests(fake: &FakeGithub, path: &str, n: usize) -> Vec<Recorded> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let reqs = fake.requests_to("POST", path);
            if reqs.len() >= n {
                return reqs;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} requests to {path} within 20 s"))
}
