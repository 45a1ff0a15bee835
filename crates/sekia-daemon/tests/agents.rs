//! The registry through the `Daemon` handle, with a real agent presence on the bus: an agent
//! appears, goes offline after missed beats (driven by a manual clock), and returns.

use std::sync::Arc;
use std::time::Duration;

use sekia_bus::{Bus, LocalBus, Presence};
use sekia_daemon::{Config, Daemon, ManualClock};
use sekia_protocol::Registration;

fn registration(name: &str) -> Registration {
    Registration {
        name: name.into(),
        version: "0.2.3".into(),
        capabilities: vec!["testing".into()],
        commands: vec!["ping".into()],
        ..Default::default()
    }
}

async fn eventually<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, check: F) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn agent_appears_goes_offline_and_returns() {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
    let tmp = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_on(test_config(tmp.path()), bus.clone(), clock.clone())
        .await
        .unwrap();
    assert_eq!(daemon.status().await.agent_count, 0);

    // A real presence: registers, beats once now, then every hour (the clock drives liveness).
    let agent = Presence::start(
        bus.clone(),
        registration("test-agent"),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    eventually("the agent to register", || async {
        daemon.agents().await.agents.len() == 1
    })
    .await;
    eventually("the first heartbeat", || async {
        daemon.agents().await.agents[0].status == "running"
    })
    .await;
    let info = &daemon.agents().await.agents[0];
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("test-agent", "0.2.3")
    );
    assert_eq!(info.capabilities, vec!["testing".to_string()]);
    assert_eq!(info.commands, vec!["ping".to_string()]);
    assert_eq!(daemon.status().await.agent_count, 1);

    // Three missed 30 s beats: offline.
    clock.advance(Duration::from_secs(91));
    assert_eq!(daemon.agents().await.agents[0].status, "offline");

    // It beats again (a restarted agent): back to running, registration kept.
    agent.stop().await;
    let _agent = Presence::start(
        bus.clone(),
        registration("test-agent"),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    eventually("the agent to return", || async {
        daemon.agents().await.agents[0].status == "running"
    })
    .await;
    assert_eq!(
        daemon.agents().await.agents.len(),
        1,
        "the same agent, not a second entry"
    );

    daemon.shutdown().await;
    daemon.shutdown().await; // twice is harmless
}

#[tokio::test]
async fn malformed_announcements_are_ignored_not_fatal() {
    let clock = Arc::new(ManualClock::new(0));
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
    let tmp = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_on(test_config(tmp.path()), bus.clone(), clock)
        .await
        .unwrap();
    bus.publish("sekia.registry", "not json".into())
        .await
        .unwrap();
    bus.publish("sekia.heartbeat.x", "{\"name\": 5}".into())
        .await
        .unwrap();
    let _agent = Presence::start(
        bus.clone(),
        registration("ok-agent"),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    eventually("the good agent", || async {
        daemon.agents().await.agents.len() == 1
    })
    .await;
    assert_eq!(daemon.status().await.status, "ok");
    daemon.shutdown().await;
}

/// Defaults, with history in a throw-away folder instead of the user's data folder.
fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.store.path = dir.join("history/sekia.db");
    config
}
