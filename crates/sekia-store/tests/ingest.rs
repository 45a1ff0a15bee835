//! Events and commands from the bus end up as rows with every field, results
//! settle their commands, replays are linked, oversize payloads are cut, and
//! undecodable messages are counted.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sekia_bus::Bus;
use sekia_protocol::Command;
use sekia_protocol::clock::SystemClock;
use sekia_store::{CommandQuery, Outcome, OutcomeFilter, command_id};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_stored_with_all_fields_and_sent_live() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open_default(dir.path()).await;
    let mut live = store.subscribe_live();
    common::publish(
        &bus,
        "evt_a",
        "github.issue.opened",
        "github",
        1_700_000_000,
        json!({"title": "crash on start"}),
    )
    .await;
    common::written(&store, 1).await;

    let e = store.get_event("evt_a").await.unwrap().expect("stored");
    assert_eq!(e.subject, "sekia.events.github");
    assert_eq!(e.event_type, "github.issue.opened");
    assert_eq!(e.source, "github");
    assert_eq!(e.timestamp, 1_700_000_000);
    assert_eq!(e.payload, r#"{"title":"crash on start"}"#);
    assert!(!e.truncated && e.received_at_ms > 0 && e.replayed_from.is_none());
    assert_eq!(e.to_event().unwrap().payload["title"], "crash on start");

    let got = tokio::time::timeout(Duration::from_secs(5), live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, "evt_a");
    assert_eq!(got.seq, e.seq);
    assert!(store.get_event("evt_missing").await.unwrap().is_none());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_payload_is_cut_and_flagged_invalid_messages_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_payload_bytes = 64
    })
    .await;
    let big = "x".repeat(1000);
    common::publish(&bus, "evt_big", "t", "src", 1, json!({ "text": big })).await;
    bus.publish("sekia.events.src", Bytes::from_static(b"not json"))
        .await
        .unwrap();
    bus.publish("sekia.commands.a", Bytes::from_static(b"{"))
        .await
        .unwrap();
    common::written(&store, 1).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while store.stats().invalid < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let e = store.get_event("evt_big").await.unwrap().unwrap();
    assert!(e.truncated);
    assert_eq!(e.payload.len(), 64);
    assert!(e.payload.starts_with(r#"{"text":"xxx"#));
    assert!(e.to_event().is_none());
    let s = store.stats();
    assert_eq!(
        (s.received, s.written, s.invalid, s.failed, s.dropped),
        (3, 1, 2, 0, 0)
    );
    store.close().await.unwrap();
}

fn signed_command(name: &str, secret: &str) -> Bytes {
    let mut payload = serde_json::Map::new();
    payload.insert("label".into(), json!("bug"));
    let mut cmd = Command::new(name, payload, "workflow:triage");
    sekia_protocol::sign(&mut cmd, secret).unwrap();
    Bytes::from(serde_json::to_vec(&cmd).unwrap())
}

fn result_event(id: &str, ty: &str, cmd_id: &str) -> Bytes {
    common::event_json(
        id,
        ty,
        "sekia",
        1,
        json!({"command_id": cmd_id, "agent": "github-agent", "command": "add_label",
               "source": "workflow:triage", "duration_ms": 42, "error": if ty == "command.failed" { "403" } else { "" }}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_verified_and_settled_by_results_in_either_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.command_secret = "s3cret".into()
    })
    .await;

    // Result after the command.
    let good = signed_command("add_label", "s3cret");
    bus.publish("sekia.commands.github-agent", good.clone())
        .await
        .unwrap();
    common::written(&store, 1).await;
    bus.publish(
        "sekia.events.sekia",
        result_event("evt_r1", "command.succeeded", &command_id(&good)),
    )
    .await
    .unwrap();
    // Result before the command (forged signature, so also signature_valid = false).
    let forged = signed_command("close_issue", "wrong");
    bus.publish(
        "sekia.events.sekia",
        result_event("evt_r2", "command.failed", &command_id(&forged)),
    )
    .await
    .unwrap();
    common::written(&store, 3).await;
    bus.publish("sekia.commands.github-agent", forged.clone())
        .await
        .unwrap();
    // A command nobody reports on.
    bus.publish(
        "sekia.commands.slack-agent",
        signed_command("post", "s3cret"),
    )
    .await
    .unwrap();
    common::written(&store, 5).await;

    let c = store
        .get_command(&command_id(&good))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.agent.as_str(), c.command.as_str(), c.source.as_str()),
        ("github-agent", "add_label", "workflow:triage")
    );
    assert_eq!(c.signature_valid, Some(true));
    assert_eq!(c.outcome, Some(Outcome::Succeeded));
    assert_eq!(
        (c.outcome_duration_ms, c.outcome_error.as_deref()),
        (Some(42), None)
    );
    assert_eq!(c.payload, r#"{"label":"bug"}"#);

    let f = store
        .get_command(&command_id(&forged))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.signature_valid, Some(false));
    assert_eq!(f.outcome, Some(Outcome::Failed));
    assert_eq!(f.outcome_error.as_deref(), Some("403"));
    assert_eq!(store.stats().outcomes_applied, 2);

    let q = |outcome| CommandQuery {
        outcome: Some(outcome),
        ..Default::default()
    };
    let pending = store
        .list_commands(q(OutcomeFilter::Pending))
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 1);
    assert_eq!(pending.items[0].agent, "slack-agent");
    assert_eq!(
        store
            .list_commands(q(OutcomeFilter::Failed))
            .await
            .unwrap()
            .items[0]
            .command,
        "close_issue"
    );
    let by_agent = store
        .list_commands(CommandQuery {
            agent: Some("github-agent".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_agent.items.len(), 2);
    let by_name = store
        .list_commands(CommandQuery {
            command: Some("post".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let list = |query: CommandQuery| {
        let store = &store;
        async move { store.list_commands(query).await.unwrap().items.len() }
    };
    let words = |q: &str| CommandQuery {
        q: Some(q.into()),
        ..Default::default()
    };
    assert_eq!(list(words("BUG")).await, 3, "payload words, any case");
    assert_eq!(
        list(words("bug close_issue")).await,
        1,
        "all words must match"
    );
    assert_eq!(list(words("nowhere")).await, 0);
    let from = |source: &str| CommandQuery {
        source: Some(source.into()),
        ..Default::default()
    };
    assert_eq!(list(from("workflow:triage")).await, 3);
    assert_eq!(list(from("workflow:other")).await, 0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let window = |since, until| CommandQuery {
        since,
        until,
        ..Default::default()
    };
    assert_eq!(list(window(Some(now - 60), None)).await, 3);
    assert_eq!(list(window(Some(now + 60), None)).await, 0);
    assert_eq!(list(window(None, Some(now - 60))).await, 0);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_linked_to_their_original() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open_default(dir.path()).await;
    common::publish(&bus, "evt_orig", "t", "s", 1, json!({})).await;
    // The daemon may tell the store before or after the replay arrives.
    store.record_replay("evt_orig", "evt_copy1").await.unwrap();
    common::publish(&bus, "evt_copy1", "t", "s", 1, json!({})).await;
    common::publish(&bus, "evt_copy2", "t", "s", 1, json!({})).await;
    common::written(&store, 3).await;
    store.record_replay("evt_orig", "evt_copy2").await.unwrap();
    store.sync().await.unwrap();
    for copy in ["evt_copy1", "evt_copy2"] {
        let e = store.get_event(copy).await.unwrap().unwrap();
        assert_eq!(e.replayed_from.as_deref(), Some("evt_orig"), "{copy}");
    }
    assert!(
        store
            .get_event("evt_orig")
            .await
            .unwrap()
            .unwrap()
            .replayed_from
            .is_none()
    );
    store.close().await.unwrap();
}
