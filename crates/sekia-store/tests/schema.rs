//! Files are private, old databases are upgraded, newer ones are refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use sekia_protocol::clock::SystemClock;
use sekia_store::{SCHEMA_VERSION, Store, StoreConfig, StoreError};
use serde_json::json;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_and_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("share").join("sekia");
    let (store, bus) = common::open(&nested, Arc::new(SystemClock), |_| {}).await;
    common::publish(&bus, "evt_1", "t", "s", 1, json!({})).await;
    common::written(&store, 1).await;
    assert_eq!(mode(&nested) & 0o777, 0o700);
    assert_eq!(mode(&dir.path().join("share")) & 0o077, 0);
    for f in ["sekia.db", "sekia.db-wal", "sekia.db-shm"] {
        let p = nested.join(f);
        assert_eq!(mode(&p) & 0o077, 0, "{f} is {:o}", mode(&p));
    }
    store.close().await.unwrap();

    // An existing database with loose permissions is tightened.
    let loose = dir.path().join("loose.db");
    std::fs::write(&loose, b"").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Store::open(StoreConfig::new(&loose), Arc::new(SystemClock)).unwrap();
    assert_eq!(mode(&loose) & 0o077, 0);
    s.close().await.unwrap();
}

/// Schema version 1 as the first release wrote it, by hand.
const V1: &str = r#"
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, id TEXT NOT NULL,
        type TEXT NOT NULL, source TEXT NOT NULL, timestamp INTEGER NOT NULL,
        payload TEXT NOT NULL, received_at INTEGER NOT NULL);
    CREATE INDEX events_id ON events(id);
    CREATE TABLE commands (
        seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, agent TEXT NOT NULL,
        command TEXT NOT NULL, source TEXT NOT NULL, signature TEXT NOT NULL,
        signature_valid INTEGER, payload TEXT NOT NULL, received_at INTEGER NOT NULL);
    INSERT INTO events(subject, id, type, source, timestamp, payload, received_at)
        VALUES ('sekia.events.github', 'evt_old', 'github.issue.opened', 'github', 7,
                '{"title":"old crash"}', 1000);
    PRAGMA user_version = 1;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_database_is_upgraded_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sekia.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(V1)
        .unwrap();

    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_age = std::time::Duration::from_secs(u32::MAX as u64 * 1000)
    })
    .await;
    let version: i64 = store
        .read(|r| {
            Ok(r.connection()
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .unwrap())
        })
        .await
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let old = store
        .get_event("evt_old")
        .await
        .unwrap()
        .expect("old row kept");
    assert!(!old.truncated);
    assert_eq!(old.payload, r#"{"title":"old crash"}"#);

    // New rows continue the sequence, and the old row gets indexed.
    common::publish(&bus, "evt_new", "t", "s", 8, json!({"title": "new crash"})).await;
    common::written(&store, 1).await;
    common::indexed(&store).await;
    assert_eq!(store.get_event("evt_new").await.unwrap().unwrap().seq, 2);
    let hits = store
        .list_events(sekia_store::EventQuery {
            q: Some("crash".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 2);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_database_is_refused_by_name_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sekia.db");
    let newer = SCHEMA_VERSION + 5;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {newer};"))
        .unwrap();
    let err = Store::open(StoreConfig::new(&path), Arc::new(SystemClock)).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported, .. } if found == newer && supported == SCHEMA_VERSION)
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("version {newer}"))
            && msg.contains(&format!("version {SCHEMA_VERSION}")),
        "{msg}"
    );
    // Untouched.
    let v: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, newer);
}
