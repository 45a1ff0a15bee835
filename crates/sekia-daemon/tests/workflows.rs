//! sekia's `TestWorkflowEndToEnd`, through the `Daemon` handle: an event on the bus reaches a
//! Lua workflow, whose signed command arrives on the agent's subject.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use sekia_bus::{Bus, LocalBus};
use sekia_daemon::config::Secret;
use sekia_daemon::{Config, Daemon, DaemonError, ManualClock};
use sekia_protocol::{Command, Event};

const RESPONDER: &str = r#"
sekia.on("sekia.events.test", function(event)
    sekia.command("test-agent", "handle", {
        original_id = event.id,
        event_type = event.type,
        title = event.payload.title,
    })
end)
"#;

fn config(dir: &std::path::Path) -> Config {
    let mut config = test_config(dir);
    config.workflows.dir = dir.to_path_buf();
    config.workflows.hot_reload = false;
    config.security.command_secret = Secret::new("shared-secret");
    config.skills.dir = Default::default();
    config
}

#[tokio::test]
async fn event_reaches_workflow_and_its_signed_command_reaches_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("responder.lua"), RESPONDER).unwrap();
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let daemon = Daemon::start_on(config(dir.path()), bus.clone(), clock)
        .await
        .unwrap();

    let workflows = daemon.workflows().await;
    assert_eq!(workflows.workflows.len(), 1, "{workflows:?}");
    assert_eq!(workflows.workflows[0].info.name, "responder");
    assert_eq!(workflows.workflows[0].info.handlers, 1);
    assert_eq!(daemon.status().await.workflow_count, 1);

    let mut commands = bus.subscribe("sekia.commands.test-agent").await.unwrap();
    let mut payload = serde_json::Map::new();
    payload.insert("title".into(), "Crash on start".into());
    let event = Event::new("test.created", "test", payload, 1_700_000_000);
    bus.publish(
        "sekia.events.test",
        serde_json::to_vec(&event).unwrap().into(),
    )
    .await
    .unwrap();

    let msg = tokio::time::timeout(Duration::from_secs(10), commands.next())
        .await
        .unwrap()
        .unwrap();
    let command: Command = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(command.command, "handle");
    assert_eq!(command.source, "workflow:responder");
    let p = command.payload.clone().unwrap();
    assert_eq!(p["original_id"], event.id.as_str());
    assert_eq!(p["event_type"], "test.created");
    assert_eq!(p["title"], "Crash on start");
    sekia_protocol::verify(&command, "shared-secret").expect("signed with the command secret");
    assert!(sekia_protocol::verify(&command, "other").is_err());

    // Both the event and the command are in history; the command's signature checked out.
    let mut history = None;
    for _ in 0..200 {
        let page = daemon
            .commands(sekia_daemon::CommandQuery::default())
            .await
            .unwrap();
        if let Some(c) = page.items.into_iter().next() {
            history = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stored = history.expect("the command reaches history");
    assert_eq!(
        (stored.agent.as_str(), stored.command.as_str()),
        ("test-agent", "handle")
    );
    assert_eq!(stored.source, "workflow:responder");
    assert_eq!(stored.signature_valid, Some(true));
    assert_eq!(daemon.event(&event.id).await.unwrap().source, "test");

    assert_eq!(daemon.reload_workflows().await.unwrap(), 1);
    daemon.shutdown().await;
}

#[tokio::test]
async fn empty_workflows_dir_turns_the_engine_off() {
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.workflows.dir = Default::default();
    let daemon = Daemon::start_on(config, bus, Arc::new(ManualClock::new(1_700_000_000)))
        .await
        .unwrap();
    assert!(daemon.workflows().await.workflows.is_empty());
    assert!(matches!(
        daemon.reload_workflows().await,
        Err(DaemonError::WorkflowsDisabled)
    ));
    daemon.shutdown().await;
}

/// Defaults, with history in a throw-away folder instead of the user's data folder.
fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.store.path = dir.join("history/sekia.db");
    config
}
