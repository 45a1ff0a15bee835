//! sekiad on a real NATS server: a test agent on another connection registers and beats, shows
//! up in `sekiactl agents`, goes offline when it stops beating, and returns.

// They drive sekiad over its Unix socket in temporary folders (Windows serves a named pipe).
#![cfg(unix)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sekia_bus::testing::NatsServer;
use sekia_bus::{Bus, NatsBus, NatsConfig, Presence};
use sekia_protocol::Registration;

fn agent_status(sb: &Sandbox, name: &str) -> Option<String> {
    let out = sb.sekiactl(&["agents", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json["agents"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
        .map(|a| a["status"].as_str().unwrap_or("").to_string())
}

#[test]
fn agent_over_nats_appears_goes_offline_and_returns() {
    let server = NatsServer::start().expect("start nats-server (Debian package nats-server)");
    let mut sb = Sandbox::new();
    sb.set("SEKIA_NATS_URL", server.url());
    sb.set("SEKIA_REGISTRY_HEARTBEAT_INTERVAL", "300ms");
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(
        rt.block_on(NatsBus::connect(NatsConfig::new(server.url())))
            .unwrap(),
    );
    let registration = Registration {
        name: "test-agent".into(),
        version: "0.2.3".into(),
        capabilities: vec!["testing".into()],
        commands: vec!["ping".into()],
        ..Default::default()
    };
    let start = || {
        rt.block_on(Presence::start(
            bus.clone(),
            registration.clone(),
            Duration::from_millis(300),
        ))
        .unwrap()
    };

    let agent = start();
    wait_until("the agent to be running", Duration::from_secs(10), || {
        agent_status(&sb, "test-agent").as_deref() == Some("running")
    });
    let table = stdout(&sb.sekiactl(&["agents"]));
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("test-agent") && table.contains("0.2.3") && table.contains("running"),
        "{table}"
    );
    assert!(stdout(&sb.sekiactl(&["status"])).contains("Agents:       1"));

    rt.block_on(agent.stop());
    wait_until("the agent to go offline", Duration::from_secs(10), || {
        agent_status(&sb, "test-agent").as_deref() == Some("offline")
    });

    let _agent = start();
    wait_until("the agent to return", Duration::from_secs(10), || {
        agent_status(&sb, "test-agent").as_deref() == Some("running")
    });

    let (status, log) = terminate(daemon);
    assert!(status.success(), "{log}");
}
