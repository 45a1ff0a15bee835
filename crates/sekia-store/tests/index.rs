//! The search index in its own files: written without the database's write
//! lock, rebuilt when missing, foreign or broken, pruned after retention, an
//! exact id index, and a bound on how far it may lag.

mod common;

use std::sync::Arc;
use std::time::Duration;

use sekia_protocol::clock::SystemClock;
use sekia_store::{EventQuery, Store};
use serde_json::json;

const SHARDS: [&str; 2] = ["sekia.db-index0", "sekia.db-index1"];

fn search(q: &str) -> EventQuery {
    EventQuery {
        q: Some(q.into()),
        limit: 1000,
        ..Default::default()
    }
}

async fn fill(dir: &std::path::Path, word: &str, n: usize) {
    let (store, bus) = common::open_default(dir).await;
    for i in 0..n {
        common::publish(
            &bus,
            &format!("evt_{word}_{i}"),
            "t",
            "s",
            i as i64,
            json!({ "text": word }),
        )
        .await;
    }
    common::written(&store, n as u64).await;
    common::indexed(&store).await;
    store.close().await.unwrap();
}

fn remove_shard(dir: &std::path::Path, name: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
    }
}

async fn hits(store: &Store, q: &str) -> usize {
    store.list_events(search(q)).await.unwrap().items.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_files_are_rebuilt_when_missing_foreign_or_broken() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    // 3,000 events span both shards (blocks of 1,024 seqs).
    fill(dir.path(), "alpha", 3000).await;
    fill(other.path(), "beta", 3000).await;

    // Missing.
    remove_shard(dir.path(), SHARDS[0]);
    // Broken.
    std::fs::write(dir.path().join(SHARDS[1]), b"this is not a database").unwrap();
    let (store, _bus) = common::open_default(dir.path()).await;
    common::indexed(&store).await;
    assert_eq!(hits(&store, "alpha").await, 1000, "a page of the 3,000");
    assert_eq!(
        store.get_event("evt_alpha_5").await.unwrap().unwrap().seq,
        6
    );
    store.close().await.unwrap();

    // Foreign: another database's shard (file and WAL, as it was left).
    remove_shard(dir.path(), SHARDS[0]);
    for suffix in ["", "-wal"] {
        let name = format!("{}{suffix}", SHARDS[0]);
        let _ = std::fs::copy(other.path().join(&name), dir.path().join(&name));
    }
    let (store, _bus) = common::open_default(dir.path()).await;
    common::indexed(&store).await;
    assert_eq!(hits(&store, "beta").await, 0);
    assert_eq!(hits(&store, "alpha").await, 1000);
    let page = store
        .list_events(EventQuery {
            q: Some("alpha".into()),
            limit: 1000,
            cursor: store
                .list_events(search("alpha"))
                .await
                .unwrap()
                .next_cursor,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1000);
    for i in [0, 1500, 2999] {
        let id = format!("evt_alpha_{i}");
        assert_eq!(store.get_event(&id).await.unwrap().unwrap().id, id);
    }
    // Rebuilt shards are private like the database.
    #[cfg(unix)]
    for name in SHARDS {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "{name}");
    }
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_ahead_of_its_database_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), "old", 5).await;
    // Keep the 5-event database (file and WAL), let the index go on to
    // 2,005 events, then put the database back.
    let files = ["sekia.db", "sekia.db-wal"];
    for f in files {
        let _ = std::fs::copy(dir.path().join(f), dir.path().join(format!("backup-{f}")));
    }
    fill(dir.path(), "new", 2000).await;
    for f in files {
        let _ = std::fs::remove_file(dir.path().join(f));
        let _ = std::fs::copy(dir.path().join(format!("backup-{f}")), dir.path().join(f));
    }
    let _ = std::fs::remove_file(dir.path().join("sekia.db-shm"));
    let (store, bus) = common::open_default(dir.path()).await;
    // The restored database reuses seqs 6…: they must not match the old rows.
    common::publish(&bus, "evt_after", "t", "s", 1, json!({"text": "after"})).await;
    common::written(&store, 1).await;
    common::indexed(&store).await;
    assert_eq!(hits(&store, "new").await, 0);
    assert_eq!(hits(&store, "old").await, 5);
    assert_eq!(hits(&store, "after").await, 1);
    assert_eq!(store.get_event("evt_after").await.unwrap().unwrap().seq, 6);
    assert!(store.get_event("evt_new_0").await.unwrap().is_none());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexing_does_not_need_the_database_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), "locked", 3000).await;
    for name in SHARDS {
        remove_shard(dir.path(), name);
    }
    // Someone else holds the database's write lock the whole time.
    let holder = rusqlite::Connection::open(dir.path().join("sekia.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (store, _bus) = common::open_default(dir.path()).await;
    tokio::time::timeout(Duration::from_secs(30), store.wait_indexed(3000))
        .await
        .expect("indexed while the database was locked")
        .unwrap();
    assert_eq!(hits(&store, "locked").await, 1000);
    holder.execute_batch("ROLLBACK").unwrap();
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.max_events = 100;
        c.retention_batch = 7;
    })
    .await;
    for i in 0..2500 {
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
    common::written(&store, 2500).await;
    common::indexed(&store).await;
    // Every shard's own rows for "word", without the join to `events` that
    // hides rows retention deleted.
    let raw = |store: Store| async move {
        store
            .read(|r| {
                let c = r.connection();
                let mut n = 0i64;
                for s in 0..2 {
                    n += c
                        .query_row(
                            &format!(
                                "SELECT count(*) FROM idx{s}.events_fts WHERE events_fts MATCH 'word'"
                            ),
                            [],
                            |row| row.get::<_, i64>(0),
                        )
                        .unwrap();
                }
                Ok(n)
            })
            .await
            .unwrap()
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while raw(store.clone()).await != 100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the index keeps only the 100 events left");
    assert_eq!(hits(&store, "word").await, 100);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_found_exactly_and_their_tokens_are_not_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open_default(dir.path()).await;
    for i in 0..3000 {
        common::publish(
            &bus,
            &format!("evt_{i}"),
            "t",
            "s",
            i,
            json!({"text": "hello"}),
        )
        .await;
    }
    // The same id twice: the newest wins.
    common::publish(&bus, "evt_7", "t", "s", 9, json!({"text": "again"})).await;
    common::written(&store, 3001).await;
    common::indexed(&store).await;
    for i in (0..3000).step_by(37) {
        let id = format!("evt_{i}");
        let want = if i == 7 { 3001 } else { i + 1 };
        assert_eq!(
            store.get_event(&id).await.unwrap().unwrap().seq,
            want,
            "{id}"
        );
    }
    assert_eq!(store.get_event("evt_7").await.unwrap().unwrap().seq, 3001);
    assert!(store.get_event("evt_3000").await.unwrap().is_none());
    assert!(store.get_event("").await.unwrap().is_none());
    // The id tokens are a private-use character plus two hex digits: no hex
    // pair, with or without a prefix star, finds anything here.
    for b in 0..=255u8 {
        assert_eq!(hits(&store, &format!("{b:02x}")).await, 0, "{b:02x}");
    }
    assert_eq!(hits(&store, "e*").await, 0);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_waits_for_an_index_lagging_beyond_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open(dir.path(), Arc::new(SystemClock), |c| {
        c.fts_max_lag = 200;
        c.fts_chunk_rows = 50;
        c.batch_max_rows = 20;
    })
    .await;
    let mut progress = store.progress();
    let watcher = tokio::spawn(async move {
        let mut worst = 0;
        while progress.changed().await.is_ok() {
            let p = *progress.borrow_and_update();
            worst = worst.max(p.last_event_seq - p.indexed_upto);
            if p.indexed_upto >= 5000 {
                break;
            }
        }
        worst
    });
    for i in 0..5000 {
        common::publish(&bus, &format!("evt_{i}"), "t", "s", i, json!({"n": i})).await;
    }
    common::written(&store, 5000).await;
    let worst = tokio::time::timeout(Duration::from_secs(60), watcher)
        .await
        .expect("indexed in time")
        .unwrap();
    assert!(worst <= 200 + 20, "lag reached {worst}");
    store.close().await.unwrap();
}
