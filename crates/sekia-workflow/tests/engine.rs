//! Engine behaviour (inventory §7 items 2, 9, 10): routing, guards, errors,
//! timeouts, reloads, queues, hop limit, reporting.

mod common;

use std::time::Duration;

use common::{Harness, ponger, write};
use serde_json::json;

const RESPONDER: &str = r#"
sekia.on("sekia.events.test", function(event)
  sekia.command("test-agent", "handle", {
    original_id = event.id, event_type = event.type, title = event.payload.title,
  })
end)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_end_to_end() {
    let mut h = Harness::start(&[("responder.lua", RESPONDER)], |_| {}).await;
    h.publish("sekia.events.test", json!({"title": "Hello"}))
        .await;
    let (subject, c) = h.next_command().await;
    assert_eq!(subject, "sekia.commands.test-agent");
    assert_eq!(c.command, "handle");
    assert_eq!(c.source, "workflow:responder");
    let p = c.payload.unwrap();
    assert_eq!(p["title"], json!("Hello"));
    assert_eq!(p["event_type"], json!("test.event"));
    assert!(p["original_id"].as_str().unwrap().starts_with("evt_"));
    assert!(c.signature.is_empty());
    let ws = h.engine.workflows();
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].info.handlers, 1);
    assert_eq!(ws[0].info.patterns, vec!["sekia.events.test"]);
    assert_eq!(h.engine.count(), 1);
    let s = h.wait_status("responder", |s| s.info.events == 1).await;
    assert_eq!(s.info.errors, 0);
    h.engine.shutdown().await;
    assert_eq!(h.engine.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_signed_with_the_secret() {
    let mut h = Harness::start(&[("responder.lua", RESPONDER)], |c| {
        c.command_secret = "s3cret".into();
    })
    .await;
    h.publish("sekia.events.test", json!({"title": "x"})).await;
    let (_, c) = h.next_command().await;
    assert_eq!(c.signature.len(), 64);
    sekia_protocol::verify(&c, "s3cret").unwrap();
    assert!(sekia_protocol::verify(&c, "other").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_and_separate_workflows() {
    let all = r#"sekia.on("sekia.events.>", function(e) sekia.command("t", "all", {t = e.payload.k}) end)"#;
    let a = r#"sekia.on("sekia.events.a", function(e) sekia.command("t", "a", {}) end)"#;
    let b = r#"sekia.on("sekia.events.b.*", function(e) sekia.command("t", "b", {}) end)"#;
    let mut h = Harness::start(&[("all.lua", all), ("a.lua", a), ("b.lua", b)], |_| {}).await;
    h.publish("sekia.events.a", json!({"k": "x"})).await;
    h.publish("sekia.events.b.c", json!({"k": "y"})).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(h.next_command().await.1.command);
    }
    got.sort();
    assert_eq!(got, vec!["a", "all", "all", "b"]);
    h.no_command(Duration::from_millis(100)).await;
    // NATS semantics: `sekia.events.b.*` does not match `sekia.events.b`.
    h.publish("sekia.events.b", json!({})).await;
    assert_eq!(h.next_command().await.1.command, "all");
    h.no_command(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_events_are_not_delivered_back() {
    let src = r#"
count = 0
sekia.on("sekia.events.loop", function(e)
  count = count + 1
  sekia.publish("sekia.events.loop", "again", {n = count})
  sekia.command("t", "seen", {n = count})
end)"#;
    let mut h = Harness::start(&[("self.lua", src)], |_| {}).await;
    h.publish("sekia.events.loop", json!({})).await;
    let (_, c) = h.next_command().await;
    assert_eq!(c.payload.unwrap()["n"], json!(1));
    h.no_command(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_limit_stops_ping_pong_between_workflows() {
    let ping = r#"sekia.on("sekia.events.pong", function(e) sekia.command("t", "ping", {}) sekia.publish("sekia.events.ping", "x", {}) end)"#;
    let pong = r#"sekia.on("sekia.events.ping", function(e) sekia.publish("sekia.events.pong", "x", {}) end)"#;
    let mut h = Harness::start(&[("ping.lua", ping), ("pong.lua", pong)], |c| {
        c.hop_limit = 4
    })
    .await;
    h.publish("sekia.events.pong", json!({})).await;
    // hops: pong(0) → ping(1) → pong(2) → ping(3) → pong(4) → ping would be 5: stopped.
    for _ in 0..3 {
        assert_eq!(h.next_command().await.1.command, "ping");
    }
    h.no_command(Duration::from_millis(200)).await;
    let s = h.wait_status("ping", |s| s.info.errors == 1).await;
    assert!(
        s.last_error
            .unwrap()
            .message
            .contains("event chain stopped")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_error_is_counted_with_line_and_engine_continues() {
    let src = format!(
        "{}\nsekia.on('sekia.events.boom', function(e)\n  error('boom')\nend)\n",
        ponger("err")
    );
    let mut h = Harness::start(&[("err.lua", &src)], |_| {}).await;
    h.publish("sekia.events.boom", json!({})).await;
    let s = h.wait_status("err", |s| s.info.errors == 1).await;
    let le = s.last_error.unwrap();
    assert_eq!(le.line, Some(4));
    assert!(le.message.contains("boom"), "{le:?}");
    h.assert_alive("err").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_in_one_workflow_does_not_stop_others() {
    let slow = format!(
        "{}sekia.on('sekia.events.spin', function(e) while true do end end)\n",
        ponger("slow")
    );
    let fast = ponger("fast");
    let mut h = Harness::start(&[("slow.lua", &slow), ("fast.lua", &fast)], |c| {
        c.handler_timeout = Duration::from_secs(2);
    })
    .await;
    h.publish("sekia.events.spin", json!({})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // While `slow` spins (time-sliced), `fast` answers well before its deadline.
    let t = std::time::Instant::now();
    h.assert_alive("fast").await;
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    let s = h.wait_status("slow", |s| s.info.errors == 1).await;
    assert!(s.last_error.unwrap().message.contains("time limit"));
    h.assert_alive("slow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_persist_across_events() {
    let src = r#"
counter = 0
sekia.on("sekia.events.inc", function(e)
  counter = counter + 1
  sekia.command("t", "count", {n = counter})
end)"#;
    let mut h = Harness::start(&[("c.lua", src)], |_| {}).await;
    for _ in 0..3 {
        h.publish("sekia.events.inc", json!({})).await;
    }
    let mut last = json!(null);
    for _ in 0..3 {
        last = h.next_command().await.1.payload.unwrap()["n"].clone();
    }
    assert_eq!(last, json!(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_and_counts() {
    let src = format!(
        "{}sekia.on('sekia.events.slow', function(e) local t = os_clock_missing end)\nsekia.on('sekia.events.block', function(e) while true do end end)\n",
        ponger("q")
    );
    let mut h = Harness::start(&[("q.lua", &src)], |c| {
        c.queue_capacity = 4;
        c.handler_timeout = Duration::from_millis(500);
    })
    .await;
    h.publish("sekia.events.block", json!({})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..20 {
        h.publish("sekia.events.slow", json!({})).await;
    }
    // 20 events, 4 queue slots, the handler busy for 500 ms: 16 (or 17) dropped.
    let s = h.wait_status("q", |s| s.dropped >= 16).await;
    assert!(s.info.errors >= s.dropped);
    // Once the queue has drained the workflow works again.
    h.wait_status("q", |s| s.info.events >= 5).await;
    h.assert_alive("q").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_error_is_reported_and_others_load() {
    let mut h = Harness::start(
        &[
            ("good.lua", &ponger("good")),
            ("bad.lua", "sekia.on('x', function()\n  local = 1\nend)"),
        ],
        |_| {},
    )
    .await;
    assert_eq!(h.engine.count(), 1);
    let errs = h.engine.load_errors();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].error.file, "bad.lua");
    assert_eq!(errs[0].error.line, Some(2));
    assert_eq!(errs[0].error.kind, sekia_workflow::LoadErrorKind::Syntax);
    h.assert_alive("good").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_good_version_on_syntax_error_and_picks_up_changes() {
    let mut h = Harness::start(&[("w.lua", &ponger("w"))], |_| {}).await;
    let path = h.dir.path().join("w.lua");
    write(h.dir.path(), "w.lua", "this is not lua");
    assert!(h.engine.load_file(&path).await.is_err());
    assert_eq!(h.engine.count(), 1);
    let s = h.status("w").unwrap();
    assert!(s.last_error.unwrap().message.contains("reload refused"));
    assert_eq!(h.engine.load_errors().len(), 1);
    h.assert_alive("w").await;
    // A fixed version with two handlers replaces it; double reload is fine.
    let two = format!(
        "{}sekia.on('sekia.events.other', function() end)\n",
        ponger("w")
    );
    write(h.dir.path(), "w.lua", &two);
    h.engine.load_file(&path).await.unwrap();
    h.engine.load_file(&path).await.unwrap();
    assert_eq!(h.status("w").unwrap().info.handlers, 2);
    assert!(h.engine.load_errors().is_empty());
    h.assert_alive("w").await;
    // reload_all picks up new files and drops deleted ones.
    write(h.dir.path(), "n.lua", &ponger("n"));
    assert_eq!(h.engine.reload_all().await, 2);
    h.assert_alive("n").await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(h.engine.reload_all().await, 1);
    assert!(h.status("w").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_loads_and_events() {
    let src =
        r#"sekia.on("sekia.events.c", function(e) sekia.command("t", "c", {i = e.payload.i}) end)"#;
    let mut h = Harness::start(&[("c.lua", src)], |_| {}).await;
    let path = h.dir.path().join("c.lua");
    let (a, b) = tokio::join!(h.engine.load_file(&path), h.engine.load_file(&path));
    a.unwrap();
    b.unwrap();
    assert_eq!(h.engine.count(), 1);
    for i in 0..5 {
        h.publish("sekia.events.c", json!({"i": i})).await;
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(
            h.next_command().await.1.payload.unwrap()["i"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_serialises_with_sekia_fields() {
    let h = Harness::start(&[("responder.lua", RESPONDER)], |_| {}).await;
    let v = serde_json::to_value(h.engine.workflows()).unwrap();
    let w = &v[0];
    for k in [
        "name",
        "file_path",
        "handlers",
        "patterns",
        "loaded_at",
        "events",
        "errors",
        "last_error",
        "handler_p50_us",
        "handler_p99_us",
        "dropped",
    ] {
        assert!(w.get(k).is_some(), "missing {k} in {w}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_event_json_is_counted() {
    let h = Harness::start(&[("responder.lua", RESPONDER)], |_| {}).await;
    use sekia_bus::Bus;
    h.bus
        .publish("sekia.events.test", bytes::Bytes::from_static(b"{not json"))
        .await
        .unwrap();
    let until = tokio::time::Instant::now() + common::WAIT;
    while h.engine.decode_errors() == 0 {
        assert!(tokio::time::Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// On a single-threaded runtime a spinning script still lets the router and the
/// other workflows run: it yields its thread every few milliseconds.
#[tokio::test(flavor = "current_thread")]
async fn spinning_script_yields_the_thread() {
    let slow = format!(
        "{}sekia.on('sekia.events.spin', function(e) while true do end end)\n",
        ponger("slow")
    );
    let fast = ponger("fast");
    let mut h = Harness::start(&[("slow.lua", &slow), ("fast.lua", &fast)], |c| {
        c.handler_timeout = Duration::from_millis(1500);
    })
    .await;
    h.publish("sekia.events.spin", json!({})).await;
    tokio::task::yield_now().await;
    let t = std::time::Instant::now();
    h.assert_alive("fast").await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    h.wait_status("slow", |s| s.info.errors == 1).await;
}
