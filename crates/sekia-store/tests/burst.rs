//! No silent loss: a burst published as fast as the bus allows is stored
//! completely, because the store's subscriptions push back on the publisher.
//!
//! Size: `SEKIA_STORE_BURST` events (default 1,000,000).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sekia_bus::Bus;
use sekia_protocol::clock::SystemClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_stored_completely() {
    let n: u64 = std::env::var("SEKIA_STORE_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_events = u64::MAX;
    })
    .await;
    let started = Instant::now();
    let publisher = tokio::spawn(async move {
        for i in 0..n {
            let body = format!(
                r#"{{"id":"evt_{i}","type":"load.tick","source":"load","timestamp":{i},"payload":{{"i":{i},"text":"burst event number {i}"}}}}"#
            );
            bus.publish("sekia.events.load", Bytes::from(body))
                .await
                .expect("publish");
        }
        bus
    });
    let bus = publisher.await.unwrap();
    tokio::time::timeout(Duration::from_secs(300), store.wait_written(n))
        .await
        .expect("every event committed in time")
        .unwrap();
    let elapsed = started.elapsed();

    let stats = store.stats();
    assert_eq!(stats.received, n);
    assert_eq!(stats.written, n);
    assert_eq!((stats.invalid, stats.failed, stats.dropped), (0, 0, 0));
    let (rows, distinct, min_ts, max_ts): (i64, i64, i64, i64) = store
        .read(|r| {
            Ok(r.connection()
                .query_row(
                    "SELECT count(*), count(DISTINCT id), min(timestamp), max(timestamp) FROM events",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .unwrap())
        })
        .await
        .unwrap();
    assert_eq!((rows, distinct), (n as i64, n as i64));
    assert_eq!((min_ts, max_ts), (0, n as i64 - 1));
    eprintln!(
        "burst of {n} stored in {elapsed:.2?} ({:.0} events/s)",
        n as f64 / elapsed.as_secs_f64()
    );
    drop(bus);
    store.close().await.unwrap();
}
