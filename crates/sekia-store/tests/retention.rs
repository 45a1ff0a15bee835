//! Retention by count and by age (with a controlled clock), in batches.

mod common;

use std::sync::Arc;
use std::time::Duration;

use sekia_protocol::clock::ManualClock;
use sekia_store::EventQuery;
use serde_json::json;

async fn wait_rows(store: &sekia_store::Store, want: usize) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n = store
                .list_events(EventQuery {
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .items
                .len();
            if n == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("retention reached the expected row count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_limit_keeps_the_newest_in_small_batches() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000);
    let (store, bus) = common::open(dir.path(), Arc::new(clock), |c| {
        c.max_events = 100;
        c.retention_batch = 7;
    })
    .await;
    for i in 0..250 {
        common::publish(
            &bus,
            &format!("evt_{i}"),
            "t",
            "s",
            i,
            json!({"text": "word"}),
        )
        .await;
    }
    common::written(&store, 250).await;
    wait_rows(&store, 100).await;
    let page = store
        .list_events(EventQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.first().unwrap().id, "evt_249");
    assert_eq!(page.items.last().unwrap().id, "evt_150");
    assert_eq!(store.stats().retention_deleted, 150);
    // Deleted rows are gone from search as well.
    common::indexed(&store).await;
    let hits = store
        .list_events(EventQuery {
            q: Some("word".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 100);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn age_limit_uses_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000);
    let (store, bus) = common::open(dir.path(), Arc::new(clock.clone()), |c| {
        c.retention_batch = 4
    })
    .await;
    for i in 0..10 {
        common::publish(&bus, &format!("evt_old_{i}"), "t", "s", i, json!({})).await;
    }
    common::written(&store, 10).await;
    clock.advance(Duration::from_secs(20 * 24 * 3600));
    for i in 0..5 {
        common::publish(&bus, &format!("evt_new_{i}"), "t", "s", i, json!({})).await;
    }
    common::written(&store, 15).await;
    // Nothing is 30 days old yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    wait_rows(&store, 15).await;
    clock.advance(Duration::from_secs(11 * 24 * 3600));
    wait_rows(&store, 5).await;
    let page = store.list_events(EventQuery::default()).await.unwrap();
    assert!(page.items.iter().all(|e| e.id.starts_with("evt_new")));
    // Everything expires; sequence numbers still never restart (cursors and
    // the index position depend on it), also across a reopen.
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    wait_rows(&store, 0).await;
    store.close().await.unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(clock.clone()), |_| {}).await;
    common::publish(&bus, "evt_later", "t", "s", 1, json!({"text": "later"})).await;
    common::written(&store, 1).await;
    assert_eq!(store.get_event("evt_later").await.unwrap().unwrap().seq, 16);
    common::indexed(&store).await;
    let hits = store
        .list_events(EventQuery {
            q: Some("later".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 1);
    store.close().await.unwrap();
}

/// An idle store does not look for expired events every `retention_interval` (an idle daemon
/// would wake every second for it): only every `retention_idle_interval`, or as soon as rows
/// are written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_store_looks_for_expired_events_only_at_the_idle_interval() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000);
    let (store, bus) = common::open(dir.path(), Arc::new(clock.clone()), |c| {
        c.retention_idle_interval = Duration::from_secs(3600);
    })
    .await;
    for i in 0..3 {
        common::publish(&bus, &format!("evt_old_{i}"), "t", "s", i, json!({})).await;
    }
    common::written(&store, 3).await;
    // Let the look that follows the writes pass, so the store is idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    // Expired, but nobody looks while idle (the busy interval is 20 ms here).
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_rows(&store, 3).await;
    // A write brings the look forward: the old rows go, the new one stays.
    common::publish(&bus, "evt_new", "t", "s", 9, json!({})).await;
    wait_rows(&store, 1).await;
    store.close().await.unwrap();
}
