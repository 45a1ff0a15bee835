//! Durability: a writer killed with SIGKILL mid-ingest loses nothing it had
//! reported committed, and leaves a database that passes `integrity_check`.
//!
//! The writer runs in a child process: this test binary re-runs itself
//! (`current_exe`) with only the `ingest_child` test selected and
//! `SEKIA_STORE_CHILD_DB` set. The child ingests 100,000 events through a
//! LocalBus and prints `committed <seq>` after each commit; the parent kills
//! it once 20,000 are reported, then checks the file.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sekia_bus::Bus;
use sekia_protocol::clock::SystemClock;
use sekia_store::{Store, StoreConfig};

const CHILD_ENV: &str = "SEKIA_STORE_CHILD_DB";
const TOTAL: u64 = 100_000;
const KILL_AFTER: i64 = 20_000;

/// The child's body; does nothing in a normal test run.
#[test]
fn ingest_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut config = StoreConfig::new(path);
        config.max_events = u64::MAX;
        let store = Store::open(config, Arc::new(SystemClock)).unwrap();
        let bus = sekia_bus::LocalBus::new();
        store.attach(&bus).await.unwrap();
        let mut progress = store.progress();
        tokio::spawn(async move {
            let mut out = std::io::stdout();
            while progress.changed().await.is_ok() {
                let seq = progress.borrow_and_update().last_event_seq;
                // Only ever reports a seq whose transaction has committed.
                let _ = writeln!(out, "committed {seq}");
                let _ = out.flush();
            }
        });
        for i in 1..=TOTAL {
            let body = format!(
                r#"{{"id":"evt_{i}","type":"durable.tick","source":"child","timestamp":{i},"payload":{{"i":{i}}}}}"#
            );
            bus.publish("sekia.events.child", Bytes::from(body)).await.unwrap();
            if i.is_multiple_of(1000) {
                // Stretch ingest so the kill lands while it is running.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        // Wait to be killed.
        std::future::pending::<()>().await;
    });
}

#[test]
fn committed_events_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sekia.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "ingest_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<i64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(seq) = line.strip_prefix("committed ").and_then(|s| s.parse().ok()) {
                let _ = tx.send(seq);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut reported = 0i64;
    while reported < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(seq) => reported = reported.max(seq),
            Err(e) => {
                let _ = child.kill();
                panic!("child reported only {reported} before {e:?}");
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    // Lines already in the pipe were printed after their commit: they count.
    while let Ok(seq) = rx.try_recv() {
        reported = reported.max(seq);
    }
    eprintln!("killed after {reported} of {TOTAL} events reported committed");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // The search index files the indexers were writing are whole too.
    for shard in 0..2 {
        let index =
            rusqlite::Connection::open(dir.path().join(format!("sekia.db-index{shard}"))).unwrap();
        let check: String = index
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "index shard {shard}");
    }
    let (count, max_id_seq): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(max(seq), 0) FROM events WHERE seq <= ?1",
            [reported],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, max_id_seq), (reported, reported));
    // seq n is the n-th published event.
    let mismatched: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE seq <= ?1 AND id != 'evt_' || seq",
            [reported],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatched, 0);
    drop(conn);

    // The store reopens the killed database and carries on.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
            c.max_events = u64::MAX
        })
        .await;
        let before = store.stats().progress.last_event_seq;
        assert!(before >= reported);
        common::publish(&bus, "evt_after", "t", "s", 1, serde_json::json!({})).await;
        common::written(&store, 1).await;
        assert_eq!(
            store.get_event("evt_after").await.unwrap().unwrap().seq,
            before + 1
        );
        // Indexing resumes where the kill left it: every event searchable once.
        common::indexed(&store).await;
        let page = store
            .list_events(sekia_store::EventQuery {
                q: Some("durable.tick".into()),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items[0].seq, before);
        let all: i64 = store
            .read(|r| {
                let c = r.connection();
                let mut n = 0;
                for s in 0..2 {
                    n += c
                        .query_row(
                            &format!(
                                "SELECT count(*) FROM idx{s}.events_fts WHERE events_fts MATCH '\"durable\"'"
                            ),
                            [],
                            |row| row.get::<_, i64>(0),
                        )
                        .unwrap();
                }
                Ok(n)
            })
            .await
            .unwrap();
        assert_eq!(all, before);
        store.close().await.unwrap();
    });
}
