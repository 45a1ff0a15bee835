//! The schema and its forward-only migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Opening runs
//! the missing ones in order, each in its own transaction together with the
//! version bump, so a crash mid-upgrade leaves a database at a whole version.
//! A database with a higher version than [`SCHEMA_VERSION`] was written by a
//! newer sekia and is refused rather than guessed at.
//!
//! Never edit a shipped migration; append a new one.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Result, SqlContext, StoreError};

/// Migration `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first history schema.
    r#"
    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY,
        subject     TEXT    NOT NULL,
        id          TEXT    NOT NULL,
        type        TEXT    NOT NULL,
        source      TEXT    NOT NULL,
        timestamp   INTEGER NOT NULL,
        payload     TEXT    NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX events_id ON events(id);
    CREATE TABLE commands (
        seq             INTEGER PRIMARY KEY,
        subject         TEXT    NOT NULL,
        agent           TEXT    NOT NULL,
        command         TEXT    NOT NULL,
        source          TEXT    NOT NULL,
        signature       TEXT    NOT NULL,
        signature_valid INTEGER,
        payload         TEXT    NOT NULL,
        received_at     INTEGER NOT NULL
    );
    "#,
    // 2: truncation flags, command outcomes, replay links, full-text search.
    // The random-keyed `events_id` index made every ingest batch dirty pages
    // all over the file (50k rows/s at 1M rows); ids are now looked up through
    // `event_ids`, filled in bulk behind ingest like the FTS index.
    r#"
    DROP INDEX events_id;
    CREATE TABLE event_ids (
        id_hash INTEGER NOT NULL,
        seq     INTEGER NOT NULL,
        PRIMARY KEY (id_hash, seq)
    ) WITHOUT ROWID;
    ALTER TABLE events   ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE commands ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE commands ADD COLUMN command_id TEXT;
    ALTER TABLE commands ADD COLUMN outcome TEXT;
    ALTER TABLE commands ADD COLUMN outcome_error TEXT;
    ALTER TABLE commands ADD COLUMN outcome_duration_ms INTEGER;
    ALTER TABLE commands ADD COLUMN outcome_at INTEGER;
    CREATE INDEX commands_command_id ON commands(command_id);
    CREATE INDEX commands_agent ON commands(agent, seq);
    CREATE TABLE replays (
        event_id      TEXT PRIMARY KEY,
        replayed_from TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE pending_outcomes (
        command_id  TEXT PRIMARY KEY,
        outcome     TEXT    NOT NULL,
        error       TEXT,
        duration_ms INTEGER,
        at          INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('indexed_upto', 0);
    INSERT INTO meta(key, value) SELECT 'events_seq', coalesce(max(seq), 0) FROM events;
    INSERT INTO meta(key, value) SELECT 'commands_seq', coalesce(max(seq), 0) FROM commands;
    CREATE VIRTUAL TABLE events_fts USING fts5(
        type, source, payload,
        content = '', contentless_delete = 1, detail = column, tokenize = 'unicode61'
    );
    "#,
    // 3: a cheaper full-text index, rebuilt from the events. Searches only
    // AND single quoted tokens and prefixes (see `fts::match_expr`): no
    // phrases, column filters, NEAR or ranking, so positions and columns
    // (`detail=column`) were stored for nothing. `detail=none` keeps rowids
    // only. Merges are batched wider (`automerge` 16 instead of 4, so a row
    // is rewritten about half as often; `crisismerge` above it) and the
    // pending-terms hash may hold a whole indexing chunk (`hashsize`), so a
    // chunk becomes one segment. The index is refilled from `indexed_upto`
    // 0 by the writer behind ingest, like any unindexed tail; `event_ids`
    // keeps its rows (the refill's inserts into it are ignored duplicates).
    r#"
    DROP TABLE events_fts;
    CREATE VIRTUAL TABLE events_fts USING fts5(
        type, source, payload,
        content = '', contentless_delete = 1, detail = none, tokenize = 'unicode61'
    );
    INSERT INTO events_fts(events_fts, rank) VALUES ('automerge', 16);
    INSERT INTO events_fts(events_fts, rank) VALUES ('crisismerge', 32);
    INSERT INTO events_fts(events_fts, rank) VALUES ('hashsize', 33554432);
    UPDATE meta SET value = 0 WHERE key = 'indexed_upto';
    "#,
    // 4: the search index moves to its own file (`<file>-index`, see
    // `fts.rs`), written by an indexer thread on its own connection so that
    // indexing no longer waits for this file's write lock and runs while
    // ingest does. The ids are indexed there as FTS tokens, replacing
    // `event_ids`. The new index is built from the events behind ingest like
    // any unindexed tail; `index_key` ties an index file to this database.
    r#"
    DROP TABLE events_fts;
    DROP TABLE event_ids;
    DELETE FROM meta WHERE key = 'indexed_upto';
    INSERT INTO meta(key, value) VALUES ('index_key', random());
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the missing migrations to `conn`, or refuses a newer database.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(|| "read the schema version".into())?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let to = index as i64 + 1;
        let tx = conn
            .transaction()
            .ctx(|| format!("begin migration to schema {to}"))?;
        tx.execute_batch(sql)
            .ctx(|| format!("migrate the schema to version {to}"))?;
        tx.pragma_update(None, "user_version", to)
            .ctx(|| format!("record schema version {to}"))?;
        tx.commit()
            .ctx(|| format!("commit migration to schema {to}"))?;
        tracing::info!(path = %path.display(), version = to, "store schema migrated");
    }
    Ok(())
}

/// Opens a connection with the store's settings: WAL, `synchronous=NORMAL`
/// (a commit is durable against process crashes; a power loss may lose the
/// last transactions but never corrupts), a busy timeout so readers and the
/// writer never fail on each other's locks.
pub(crate) fn open_connection(path: &Path, cache_kib: u32) -> Result<Connection> {
    let what = || format!("open {}", path.display());
    let conn = Connection::open(path).ctx(what)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .ctx(what)?;
    // journal_mode answers with a row, so it is read rather than executed.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .ctx(|| format!("enable WAL on {}", path.display()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), %mode, "store could not switch to WAL");
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -{cache_kib};"
    ))
    .ctx(|| format!("configure {}", path.display()))?;
    Ok(conn)
}
