//! Files are private, old databases are upgraded, newer ones are refused.

mod common;

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use sekia_protocol::clock::SystemClock;
use sekia_store::{SCHEMA_VERSION, Store, StoreConfig, StoreError};
use serde_json::json;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode()
}

// Mode bits are Unix; on Windows the profile's ACL keeps the files private.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_and_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("share").join("sekia");
    let (store, bus) = common::open(&nested, Arc::new(SystemClock), |_| {}).await;
    common::publish(&bus, "evt_1", "t", "s", 1, json!({})).await;
    common::written(&store, 1).await;
    assert_eq!(mode(&nested) & 0o777, 0o700);
    assert_eq!(mode(&dir.path().join("share")) & 0o077, 0);
    for f in [
        "sekia.db",
        "sekia.db-wal",
        "sekia.db-shm",
        "sekia.db-index0",
        "sekia.db-index0-wal",
        "sekia.db-index1",
    ] {
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

/// Schema version 2 as that release wrote it: the v2 tables, a
/// `detail=column` FTS index and one event already indexed in both indexes.
const V2: &str = r#"
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, id TEXT NOT NULL,
        type TEXT NOT NULL, source TEXT NOT NULL, timestamp INTEGER NOT NULL,
        payload TEXT NOT NULL, received_at INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE commands (
        seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, agent TEXT NOT NULL,
        command TEXT NOT NULL, source TEXT NOT NULL, signature TEXT NOT NULL,
        signature_valid INTEGER, payload TEXT NOT NULL, received_at INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0, command_id TEXT, outcome TEXT,
        outcome_error TEXT, outcome_duration_ms INTEGER, outcome_at INTEGER);
    CREATE INDEX commands_command_id ON commands(command_id);
    CREATE INDEX commands_agent ON commands(agent, seq);
    CREATE TABLE event_ids (id_hash INTEGER NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (id_hash, seq)) WITHOUT ROWID;
    CREATE TABLE replays (event_id TEXT PRIMARY KEY, replayed_from TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE pending_outcomes (command_id TEXT PRIMARY KEY, outcome TEXT NOT NULL,
        error TEXT, duration_ms INTEGER, at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE VIRTUAL TABLE events_fts USING fts5(
        type, source, payload,
        content = '', contentless_delete = 1, detail = column, tokenize = 'unicode61');
    INSERT INTO events(seq, subject, id, type, source, timestamp, payload, received_at)
        VALUES (1, 'sekia.events.github', 'evt_v2', 'github.issue.opened', 'github', 7,
                '{"title":"old crash"}', 1000);
    INSERT INTO events_fts(rowid, type, source, payload)
        VALUES (1, 'github.issue.opened', 'github', '{"title":"old crash"}');
    INSERT INTO event_ids(id_hash, seq) SELECT 0, 1;
    INSERT INTO meta(key, value) VALUES ('indexed_upto', 1), ('events_seq', 1), ('commands_seq', 0);
    PRAGMA user_version = 2;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_database_gets_the_new_index_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sekia.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(V2)
        .unwrap();

    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_age = std::time::Duration::from_secs(u32::MAX as u64 * 1000)
    })
    .await;
    let (version, fts_sql): (i64, String) = store
        .read(|r| {
            let c = r.connection();
            Ok((
                c.query_row("PRAGMA user_version", [], |row| row.get(0))
                    .unwrap(),
                c.query_row(
                    "SELECT sql FROM idx0.sqlite_master WHERE name = 'events_fts'",
                    [],
                    |row| row.get(0),
                )
                .unwrap(),
            ))
        })
        .await
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert!(fts_sql.contains("detail = none"), "{fts_sql}");
    assert_eq!(main_tables(&store).await, V4_MAIN_TABLES);
    // Found before and after the rebuilt index reaches it.
    assert_eq!(store.get_event("evt_v2").await.unwrap().unwrap().seq, 1);

    common::publish(&bus, "evt_v3", "t", "s", 8, json!({"title": "new crash"})).await;
    common::written(&store, 1).await;
    common::indexed(&store).await;
    assert_eq!(store.get_event("evt_v2").await.unwrap().unwrap().seq, 1);
    assert_eq!(store.get_event("evt_v3").await.unwrap().unwrap().seq, 2);
    let search = |q: &str| sekia_store::EventQuery {
        q: Some(q.into()),
        ..Default::default()
    };
    let hits = store.list_events(search("crash")).await.unwrap();
    assert_eq!(hits.items.len(), 2, "the old row is re-indexed once");
    let old = store.list_events(search("github.iss*")).await.unwrap();
    assert_eq!(old.items.len(), 1);
    assert_eq!(old.items[0].id, "evt_v2");
    store.close().await.unwrap();
}

/// The tables a version 4 database holds (the search index is in its own file).
const V4_MAIN_TABLES: &[&str] = &["commands", "events", "meta", "pending_outcomes", "replays"];

async fn main_tables(store: &Store) -> Vec<String> {
    store
        .read(|r| {
            let c = r.connection();
            let mut stmt = c
                .prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name")
                .unwrap();
            Ok(stmt
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(|n| n.unwrap())
                .collect())
        })
        .await
        .unwrap()
}

/// Schema version 3 as that release wrote it: the `detail=none` FTS index
/// and `event_ids` in the database file, two events, the first indexed.
const V3: &str = r#"
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, id TEXT NOT NULL,
        type TEXT NOT NULL, source TEXT NOT NULL, timestamp INTEGER NOT NULL,
        payload TEXT NOT NULL, received_at INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE commands (
        seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, agent TEXT NOT NULL,
        command TEXT NOT NULL, source TEXT NOT NULL, signature TEXT NOT NULL,
        signature_valid INTEGER, payload TEXT NOT NULL, received_at INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0, command_id TEXT, outcome TEXT,
        outcome_error TEXT, outcome_duration_ms INTEGER, outcome_at INTEGER);
    CREATE INDEX commands_command_id ON commands(command_id);
    CREATE INDEX commands_agent ON commands(agent, seq);
    CREATE TABLE event_ids (id_hash INTEGER NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (id_hash, seq)) WITHOUT ROWID;
    CREATE TABLE replays (event_id TEXT PRIMARY KEY, replayed_from TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE pending_outcomes (command_id TEXT PRIMARY KEY, outcome TEXT NOT NULL,
        error TEXT, duration_ms INTEGER, at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE VIRTUAL TABLE events_fts USING fts5(
        type, source, payload,
        content = '', contentless_delete = 1, detail = none, tokenize = 'unicode61');
    INSERT INTO events_fts(events_fts, rank) VALUES ('automerge', 16);
    INSERT INTO events(seq, subject, id, type, source, timestamp, payload, received_at)
        VALUES (1, 'sekia.events.github', 'evt_v3a', 'github.issue.opened', 'github', 7,
                '{"title":"old crash"}', 1000),
               (2, 'sekia.events.slack', 'evt_v3b', 'slack.message', 'slack', 8,
                '{"text":"tail crash"}', 1001);
    INSERT INTO events_fts(rowid, type, source, payload)
        VALUES (1, 'github.issue.opened', 'github', '{"title":"old crash"}');
    INSERT INTO event_ids(id_hash, seq) SELECT 0, 1;
    INSERT INTO replays(event_id, replayed_from) VALUES ('evt_v3b', 'evt_v3a');
    INSERT INTO meta(key, value) VALUES ('indexed_upto', 1), ('events_seq', 2), ('commands_seq', 0);
    PRAGMA user_version = 3;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v3_database_moves_its_index_to_the_index_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sekia.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(V3)
        .unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_age = std::time::Duration::from_secs(u32::MAX as u64 * 1000)
    })
    .await;
    let version: i64 = store
        .read(|r| {
            Ok(r.connection()
                .query_row("PRAGMA main.user_version", [], |row| row.get(0))
                .unwrap())
        })
        .await
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // The old index is gone from the database file; the new one is private.
    assert_eq!(main_tables(&store).await, V4_MAIN_TABLES);
    #[cfg(unix)]
    for shard in ["sekia.db-index0", "sekia.db-index1"] {
        assert_eq!(mode(&dir.path().join(shard)) & 0o077, 0, "{shard}");
    }
    // Exact by id before the new index reaches the old rows…
    assert_eq!(store.get_event("evt_v3a").await.unwrap().unwrap().seq, 1);
    let b = store.get_event("evt_v3b").await.unwrap().unwrap();
    assert_eq!(b.replayed_from.as_deref(), Some("evt_v3a"));

    // …and after; new rows continue the sequence.
    common::publish(&bus, "evt_v4", "t", "s", 9, json!({"title": "new crash"})).await;
    common::written(&store, 1).await;
    common::indexed(&store).await;
    assert_eq!(store.stats().progress.indexed_upto, 3);
    for (id, seq) in [("evt_v3a", 1), ("evt_v3b", 2), ("evt_v4", 3)] {
        assert_eq!(store.get_event(id).await.unwrap().unwrap().seq, seq, "{id}");
    }
    assert!(store.get_event("evt_v3c").await.unwrap().is_none());
    let search = |q: &str| sekia_store::EventQuery {
        q: Some(q.into()),
        ..Default::default()
    };
    let hits = store.list_events(search("crash")).await.unwrap();
    let seqs: Vec<i64> = hits.items.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 2, 1], "every old row indexed once");
    let old = store.list_events(search("github.iss*")).await.unwrap();
    assert_eq!(old.items.len(), 1);
    assert_eq!(old.items[0].id, "evt_v3a");
    store.close().await.unwrap();

    // Reopening keeps the index: nothing is rebuilt or indexed twice.
    let (store, _bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_age = std::time::Duration::from_secs(u32::MAX as u64 * 1000)
    })
    .await;
    common::indexed(&store).await;
    let raw: i64 = store
        .read(|r| {
            Ok(r.connection()
                .query_row(
                    "SELECT count(*) FROM idx0.events_fts WHERE events_fts MATCH 'crash'",
                    [],
                    |row| row.get(0),
                )
                .unwrap())
        })
        .await
        .unwrap();
    assert_eq!(raw, 3);
    assert_eq!(
        store
            .list_events(search("crash"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
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
