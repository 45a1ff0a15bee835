//! `sekia-agent slack` as its own process on a real nats-server, against the
//! fake Slack: it registers, turns a Socket Mode envelope into an event on NATS,
//! and executes a signed command. Tokens come from sekia's env variables.

mod common;
mod slack_common;

use std::process::Stdio;
use std::time::Duration;

use common::signed_command;
use futures::StreamExt;
use sekia_bus::{Bus, NatsBus, NatsConfig, Subscription};
use sekia_protocol::{Event, Registration};
use serde_json::json;
use sha2::{Digest, Sha256};
use slack_common::*;

async fn next_matching(sub: &mut Subscription, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = sub.next().await.expect("subscription");
            let e: Event = serde_json::from_slice(&m.payload).unwrap();
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} within 20 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_slack_agent_on_nats() {
    let server = sekia_bus::testing::NatsServer::start().expect("nats-server");
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sekia-slack-proc.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[slack]
api_url = "{api}"

[socket_mode]
reconnect_base_delay = "50ms"
reconnect_max_delay = "500ms"

[security]
command_secret = "proc-secret"
"#,
            api = fake.api_url(),
        ),
    )
    .unwrap();

    let bus = NatsBus::connect(NatsConfig::new(server.url()))
        .await
        .unwrap();
    let mut registry = bus.subscribe("sekia.registry").await.unwrap();
    let mut events = bus.subscribe("sekia.events.>").await.unwrap();
    bus.flush().await.unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sekia-agent"))
        .args([
            "slack",
            "--name",
            "slack-proc",
            "--nats",
            &server.url(),
            "--config",
        ])
        .arg(&config)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
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
            if r.name == "slack-proc" {
                return r;
            }
        }
    })
    .await
    .expect("the agent registered within 30 s");
    assert_eq!(
        registration.capabilities,
        vec!["slack-socketmode", "slack-api"]
    );

    let mut conn = fake.next_connection().await;
    conn.deliver(events_api(
        "env-1",
        "Ev1",
        json!({"type": "message", "channel": "C1", "user": "U1", "text": "over NATS", "ts": "1.0"}),
    ))
    .await;
    let e = next_matching(&mut events, "a Slack event", |e| e.source == "slack").await;
    assert_eq!(e.event_type, "slack.message.received");
    assert_eq!(e.payload["text"], "over NATS");
    assert_eq!(e.payload["account"], "slack-proc");

    let bytes = signed_command(
        "send_message",
        json!({"channel": "C1", "text": "from NATS"}),
        "proc-secret",
    );
    let id = hex::encode(Sha256::digest(&bytes));
    bus.publish("sekia.commands.slack-proc", bytes.into())
        .await
        .unwrap();
    let result = next_matching(&mut events, "a command result", |e| {
        e.payload.get("command_id").and_then(|v| v.as_str()) == Some(id.as_str())
    })
    .await;
    assert_eq!(result.event_type, "command.succeeded", "{result:?}");
    let reqs = fake.requests_to("chat.postMessage");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, json!({"channel": "C1", "text": "from NATS"}));
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {BOT_TOKEN}")
    );

    child.kill().await.expect("stop sekia-agent");
    bus.close().await.unwrap();
}
