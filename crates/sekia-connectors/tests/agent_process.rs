//! `sekia-agent github` as its own process on a real nats-server: it registers
//! and executes a signed command against the fake GitHub.

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
