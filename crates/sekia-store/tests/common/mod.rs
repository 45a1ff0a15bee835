//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sekia_bus::{Bus, LocalBus};
use sekia_protocol::clock::{Clock, SystemClock};
use sekia_store::{Store, StoreConfig};
use serde_json::{Value, json};

/// A store in `dir` attached to a fresh LocalBus.
pub async fn open(
    dir: &std::path::Path,
    clock: Arc<dyn Clock>,
    tweak: impl FnOnce(&mut StoreConfig),
) -> (Store, LocalBus) {
    let mut config = StoreConfig::new(dir.join("sekia.db"));
    config.retention_interval = Duration::from_millis(20);
    config.retention_idle_interval = Duration::from_millis(20);
    tweak(&mut config);
    let store = Store::open(config, clock).expect("open store");
    let bus = LocalBus::new();
    store.attach(&bus).await.expect("attach");
    (store, bus)
}

pub async fn open_default(dir: &std::path::Path) -> (Store, LocalBus) {
    open(dir, Arc::new(SystemClock), |_| {}).await
}

pub fn event_json(id: &str, ty: &str, source: &str, ts: i64, payload: Value) -> Bytes {
    Bytes::from(
        json!({"id": id, "type": ty, "source": source, "timestamp": ts, "payload": payload})
            .to_string(),
    )
}

pub async fn publish(bus: &LocalBus, id: &str, ty: &str, source: &str, ts: i64, payload: Value) {
    bus.publish(
        &format!("sekia.events.{source}"),
        event_json(id, ty, source, ts, payload),
    )
    .await
    .expect("publish");
}

/// Waits (bounded) until `rows` rows are committed.
pub async fn written(store: &Store, rows: u64) {
    tokio::time::timeout(Duration::from_secs(60), store.wait_written(rows))
        .await
        .expect("rows committed in time")
        .expect("writer alive");
}

/// Waits (bounded) until the full-text index has caught up with every committed event.
pub async fn indexed(store: &Store) {
    // The newest row as the reader sees it: the stats counter can lag a just-synced write.
    let newest = store
        .list_events(sekia_store::EventQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .ok()
        .and_then(|p| p.items.first().map(|e| e.seq))
        .unwrap_or(0);
    let last = store.stats().progress.last_event_seq.max(newest);
    tokio::time::timeout(Duration::from_secs(60), store.wait_indexed(last))
        .await
        .expect("indexed in time")
        .expect("writer alive");
}
