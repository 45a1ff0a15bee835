//! The search index — full text and event ids — in SQLite files of its own,
//! filled behind ingest by the indexer threads, and search expressions.
//!
//! The index is split in [`SHARDS`] shards by blocks of `seq`, each in its own
//! file next to the database, `<file>-index0` and `<file>-index1` (0600,
//! WAL), attached to every connection as `idx0` and `idx1`. Its own files
//! mean their own write locks: an indexer thread per shard commits chunks
//! while the writer thread commits ingest batches, and after a burst both
//! shards are filled at once, one per core. Searches ask every shard for a
//! page and merge them by `seq`.
//!
//! The index is derived data: it holds nothing that cannot be rebuilt from
//! `events`, and a missing, foreign, stale or unreadable shard is rebuilt
//! from scratch when the store opens.
//!
//! Each shard's `events_fts` is a contentless FTS5 table (`contentless_delete=1`,
//! `detail=none`: rowids only, as searches are ANDed single tokens and
//! prefixes) whose rowid is the event's `seq`. Besides type, source and
//! payload it indexes two tokens derived from the event id (see
//! [`id_key`]): that is the id index, so `get_event` needs no B-tree keyed
//! by random ids (which made every indexing chunk rewrite pages all over the
//! file). The tokens start with a private-use character, which search text
//! can never produce (`match_expr` splits on anything not alphanumeric), so
//! they never show up in search results.
//!
//! A shard's `meta` holds `indexed_upto` (every event of the shard's blocks
//! up to it is indexed, committed with each chunk; the index as a whole
//! reaches the smallest of the shards'), `pruned_below` (index rows below it
//! whose events retention deleted are gone), `shard` and `index_key` (the
//! database's `meta.index_key`, so an index file is never used with a
//! database it was not built from).
//!
//! Merging is kept off the catch-up path: `automerge` is 0, so a chunk
//! only writes its segment; the indexer merges (`usermerge` 16, as many
//! segments per level as schema 3's `automerge`) when it is nearly caught
//! up. `crisismerge` 64 bounds the segments a very long backlog can leave.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::error::{Result, SqlContext, StoreError};

/// The index files' layout version (their `PRAGMA user_version`). A shard
/// of any other version is rebuilt, never migrated.
pub(crate) const INDEX_VERSION: i64 = 1;

/// Shards of the index: two, for the two cores sekia is measured on; every
/// search asks each shard.
pub(crate) const SHARDS: usize = 2;

/// Event `seq` goes to shard `(seq >> SHARD_BLOCK_BITS) % SHARDS`: blocks of
/// 1,024 consecutive events alternate, so both shards get about half of any
/// indexing chunk, and events that alternate by kind (a source every other
/// event, say) do not all land in one shard — a filtered search would then
/// walk a shard without any hit to its end.
const SHARD_BLOCK_BITS: u32 = 10;

/// One shard's tables; `{s}` is its schema name.
const SHARD_SCHEMA: &str = r#"
    CREATE VIRTUAL TABLE {s}.events_fts USING fts5(
        type, source, payload, id_key,
        content = '', contentless_delete = 1, detail = none, tokenize = 'unicode61'
    );
    INSERT INTO {s}.events_fts(events_fts, rank) VALUES ('automerge', 0);
    INSERT INTO {s}.events_fts(events_fts, rank) VALUES ('usermerge', 16);
    INSERT INTO {s}.events_fts(events_fts, rank) VALUES ('crisismerge', 64);
    INSERT INTO {s}.events_fts(events_fts, rank) VALUES ('hashsize', 33554432);
    CREATE TABLE {s}.meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
"#;

/// Pages a merge step writes (~1 MiB): short enough that new events wait
/// little for the indexer.
const MERGE_PAGES: i64 = 256;

/// The schema name a shard is attached as: `idx0`, `idx1`.
pub(crate) fn schema(shard: usize) -> String {
    format!("idx{shard}")
}

/// Where shard `shard` of the index of the database at `db` lives:
/// `<db>-index0`, `<db>-index1`.
pub(crate) fn index_path(db: &Path, shard: usize) -> PathBuf {
    let mut name = OsString::from(db.as_os_str());
    name.push(format!("-index{shard}"));
    PathBuf::from(name)
}

/// Attaches one shard of the index of the database at `db`.
fn attach_shard(conn: &Connection, db: &Path, shard: usize) -> Result<()> {
    let path = index_path(db, shard);
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {}", schema(shard)),
        params![path.to_string_lossy()],
    )
    .ctx(|| format!("attach the search index {}", path.display()))?;
    Ok(())
}

/// Attaches every shard of the index of the database at `db`.
pub(crate) fn attach(conn: &Connection, db: &Path) -> Result<()> {
    (0..SHARDS).try_for_each(|shard| attach_shard(conn, db, shard))
}

/// How far one shard goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexState {
    pub shard: usize,
    pub indexed_upto: i64,
    pub pruned_below: i64,
}

/// Opens shard `shard` for its indexer's connection `conn` (the database as
/// `main`): attaches it, checks that it belongs to this database and is not
/// ahead of it, and builds an empty one otherwise (the indexer then fills it
/// from the oldest event). An unreadable shard file is deleted first.
pub(crate) fn prepare(
    conn: &mut Connection,
    db: &Path,
    shard: usize,
    cache_kib: u32,
) -> Result<IndexState> {
    register_functions(conn)?;
    let path = index_path(db, shard);
    crate::fsperm::prepare_db_file(&path)?;
    match open_checked(conn, db, shard, cache_kib) {
        Ok(state) => return Ok(state),
        Err(e) if is_not_a_database(&e) => {
            tracing::warn!(path = %path.display(), error = %e, "search index unreadable; rebuilding it");
            let _ = conn.execute_batch(&format!("DETACH DATABASE {}", schema(shard)));
            for suffix in ["", "-wal", "-shm"] {
                let mut p = OsString::from(path.as_os_str());
                p.push(suffix);
                match std::fs::remove_file(PathBuf::from(p)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(StoreError::CreateFile {
                            path: path.clone(),
                            source,
                        });
                    }
                }
            }
            crate::fsperm::prepare_db_file(&path)?;
        }
        Err(e) => return Err(e),
    }
    open_checked(conn, db, shard, cache_kib)
}

fn is_not_a_database(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(f, _), .. }
            if matches!(f.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

fn open_checked(
    conn: &mut Connection,
    db: &Path,
    shard: usize,
    cache_kib: u32,
) -> Result<IndexState> {
    attach_shard(conn, db, shard)?;
    let path = index_path(db, shard);
    let idx = schema(shard);
    let mode: String = conn
        .query_row(&format!("PRAGMA {idx}.journal_mode = WAL"), [], |r| {
            r.get(0)
        })
        .ctx(|| format!("enable WAL on {}", path.display()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), %mode, "search index could not switch to WAL");
    }
    conn.execute_batch(&format!(
        "PRAGMA {idx}.synchronous = NORMAL; PRAGMA {idx}.cache_size = -{cache_kib};"
    ))
    .ctx(|| format!("configure {}", path.display()))?;

    let (key, events_hw, oldest): (i64, i64, Option<i64>) = conn
        .query_row(
            "SELECT (SELECT value FROM main.meta WHERE key = 'index_key'),
                    max(coalesce((SELECT max(seq) FROM main.events), 0),
                        coalesce((SELECT value FROM main.meta WHERE key = 'events_seq'), 0)),
                    (SELECT min(seq) FROM main.events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ctx(|| "read where the events stand".into())?;
    let version: i64 = conn
        .query_row(&format!("PRAGMA {idx}.user_version"), [], |r| r.get(0))
        .ctx(|| format!("read the version of {}", path.display()))?;
    let found = if version == INDEX_VERSION {
        let read = |k: &str| -> Result<Option<i64>> {
            conn.query_row(
                &format!("SELECT value FROM {idx}.meta WHERE key = ?1"),
                [k],
                |r| r.get(0),
            )
            .optional()
            .ctx(|| format!("read {k} from {}", path.display()))
        };
        match (
            read("index_key")?,
            read("shard")?,
            read("indexed_upto")?,
            read("pruned_below")?,
        ) {
            (Some(k), Some(sh), Some(upto), Some(pruned)) => Some((k, sh, upto, pruned)),
            _ => None,
        }
    } else {
        None
    };
    match found {
        Some((k, sh, upto, pruned)) if k == key && sh == shard as i64 && upto <= events_hw => {
            return Ok(IndexState {
                shard,
                indexed_upto: upto,
                pruned_below: pruned,
            });
        }
        Some((k, sh, upto, _)) => tracing::warn!(
            path = %path.display(),
            belongs_to_this_database = k == key,
            shard = sh,
            indexed_upto = upto,
            last_event = events_hw,
            "search index does not match the database; rebuilding it"
        ),
        None if version != 0 => tracing::warn!(
            path = %path.display(),
            version,
            "search index has another layout; rebuilding it"
        ),
        None => {}
    }
    // Nothing below the oldest event needs indexing.
    let start = oldest.map_or(events_hw, |o| o - 1);
    let tx = conn
        .transaction()
        .ctx(|| format!("begin building {}", path.display()))?;
    let tables: Vec<String> = {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT name FROM {idx}.sqlite_master
                 WHERE type = 'table' AND name NOT LIKE 'events^_fts^_%' ESCAPE '^'"
            ))
            .ctx(|| format!("list the tables of {}", path.display()))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .ctx(|| format!("list the tables of {}", path.display()))?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx(|| format!("list the tables of {}", path.display()))?
    };
    for t in tables {
        tx.execute_batch(&format!("DROP TABLE {idx}.\"{}\"", t.replace('"', "\"\"")))
            .ctx(|| format!("clear {}", path.display()))?;
    }
    tx.execute_batch(&SHARD_SCHEMA.replace("{s}", &idx))
        .ctx(|| format!("create the search index in {}", path.display()))?;
    tx.execute(
        &format!(
            "INSERT INTO {idx}.meta(key, value) VALUES ('index_key', ?1), ('shard', ?2),
                 ('indexed_upto', ?3), ('pruned_below', ?3 + 1)"
        ),
        params![key, shard as i64, start],
    )
    .ctx(|| format!("initialise {}", path.display()))?;
    tx.pragma_update(Some(idx.as_str()), "user_version", INDEX_VERSION)
        .ctx(|| format!("record the version of {}", path.display()))?;
    tx.commit()
        .ctx(|| format!("commit the new search index {}", path.display()))?;
    tracing::info!(path = %path.display(), from_seq = start + 1, "search index created; filling it behind ingest");
    Ok(IndexState {
        shard,
        indexed_upto: start,
        pruned_below: start + 1,
    })
}

/// Registers `sekia_id_key(id)` (see [`id_key`]) for the indexing statement.
fn register_functions(conn: &Connection) -> Result<()> {
    conn.create_scalar_function(
        "sekia_id_key",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let id = ctx.get_raw(0).as_str().unwrap_or("");
            Ok(id_key(id))
        },
    )
    .ctx(|| "register sekia_id_key".into())
}

/// The highest seq the whole index covers: the smallest of the shards'.
pub(crate) fn indexed_upto(conn: &Connection) -> Result<i64> {
    let parts: Vec<String> = (0..SHARDS)
        .map(|s| {
            format!(
                "(SELECT value FROM {}.meta WHERE key = 'indexed_upto')",
                schema(s)
            )
        })
        .collect();
    let sql = if SHARDS == 1 {
        format!("SELECT {}", parts[0])
    } else {
        format!("SELECT min({})", parts.join(", "))
    };
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .ctx(|| "read the search index position".into())
}

/// Indexes the shard's events in `(from, min(from + chunk × SHARDS, upto)]`
/// (about `chunk` rows) in one transaction on the shard's file and returns
/// the new position.
pub(crate) fn index_chunk(
    conn: &mut Connection,
    shard: usize,
    from: i64,
    upto: i64,
    chunk: usize,
) -> Result<i64> {
    let to = upto.min(from.saturating_add((chunk * SHARDS) as i64));
    if to <= from {
        return Ok(from);
    }
    if !owns_any(shard, from, to) {
        // Nothing of this shard in the range (a trickle inside the other
        // shard's block): move on without a transaction. Only the committed
        // position is durable; re-reading this range after a restart finds
        // nothing to add either.
        return Ok(to);
    }
    let idx = schema(shard);
    let tx = conn
        .transaction()
        .ctx(|| "begin an indexing transaction".into())?;
    tx.prepare_cached(&format!(
        "INSERT INTO {idx}.events_fts(rowid, type, source, payload, id_key)
         SELECT seq, type, source, payload, sekia_id_key(id) FROM main.events
         WHERE seq > ?1 AND seq <= ?2 AND (seq >> {SHARD_BLOCK_BITS}) % {SHARDS} = ?3"
    ))
    .and_then(|mut s| s.execute(params![from, to, shard as i64]))
    .ctx(|| format!("index events {}..={to} in {idx}", from + 1))?;
    tx.prepare_cached(&format!(
        "UPDATE {idx}.meta SET value = ?1 WHERE key = 'indexed_upto'"
    ))
    .and_then(|mut s| s.execute(params![to]))
    .ctx(|| "record the search index position".into())?;
    tx.commit()
        .ctx(|| "commit an indexing transaction".into())?;
    Ok(to)
}

/// Whether any seq in `(from, to]` belongs to `shard`.
fn owns_any(shard: usize, from: i64, to: i64) -> bool {
    let (first, last) = ((from + 1) >> SHARD_BLOCK_BITS, to >> SHARD_BLOCK_BITS);
    last - first + 1 >= SHARDS as i64 || (first..=last).any(|b| b % SHARDS as i64 == shard as i64)
}

/// Removes from the index up to `max_rows` seqs below the oldest event
/// (retention deleted those events; their index rows only cost space).
/// Returns the new `pruned_below`.
pub(crate) fn prune(conn: &mut Connection, state: IndexState, max_rows: usize) -> Result<i64> {
    let idx = schema(state.shard);
    let oldest: Option<i64> = conn
        .query_row("SELECT min(seq) FROM main.events", [], |r| r.get(0))
        .ctx(|| "find the oldest event".into())?;
    // With no events left, everything indexed so far is gone.
    let below = oldest
        .unwrap_or(i64::MAX)
        .min(state.indexed_upto.saturating_add(1))
        .min(
            state
                .pruned_below
                .saturating_add((max_rows * SHARDS) as i64),
        );
    if below <= state.pruned_below {
        return Ok(state.pruned_below);
    }
    let tx = conn
        .transaction()
        .ctx(|| "begin pruning the search index".into())?;
    tx.prepare_cached(&format!(
        "DELETE FROM {idx}.events_fts WHERE rowid >= ?1 AND rowid < ?2"
    ))
    .and_then(|mut s| s.execute(params![state.pruned_below, below]))
    .ctx(|| "delete expired events from the search index".into())?;
    tx.prepare_cached(&format!(
        "UPDATE {idx}.meta SET value = ?1 WHERE key = 'pruned_below'"
    ))
    .and_then(|mut s| s.execute(params![below]))
    .ctx(|| "record how far the search index is pruned".into())?;
    tx.commit()
        .ctx(|| "commit pruning the search index".into())?;
    Ok(below)
}

/// One bounded step of segment merging; whether it found anything to merge.
pub(crate) fn merge_step(conn: &Connection, shard: usize) -> Result<bool> {
    let before = conn.total_changes();
    conn.execute(
        &format!(
            "INSERT INTO {}.events_fts(events_fts, rank) VALUES ('merge', ?1)",
            schema(shard)
        ),
        params![MERGE_PAGES],
    )
    .ctx(|| "merge search index segments".into())?;
    // SQLite's documented test: 2 or more changes means work was done.
    Ok(conn.total_changes() - before >= 2)
}

/// 64-bit FNV-1a of an event id.
fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The two tokens an event's id is indexed under: U+E000 and U+E001 (private
/// use; the tokenizer keeps them, user search text never contains them),
/// each followed by one byte of the id's hash in hex. 2 × 256 distinct
/// tokens stay hot in FTS5's pending-terms hash, and both together narrow a
/// lookup to about one event in 65,536 before the id itself is compared.
pub(crate) fn id_key(id: &str) -> String {
    let h = id_hash(id);
    format!(
        "\u{E000}{:02x} \u{E001}{:02x}",
        (h >> 56) as u8,
        (h >> 48) as u8
    )
}

/// The FTS5 expression that finds the candidates for `id`.
pub(crate) fn id_match(id: &str) -> String {
    let h = id_hash(id);
    format!(
        "\"\u{E000}{:02x}\" AND \"\u{E001}{:02x}\"",
        (h >> 56) as u8,
        (h >> 48) as u8
    )
}

/// An FTS5 expression for the user's words: each whitespace-separated word
/// is split into tokens the way the `unicode61` tokenizer splits (on anything
/// not alphanumeric), every token is quoted (so no user text is FTS syntax)
/// and all are ANDed. A word ending in `*` makes its last token a prefix.
pub(crate) fn match_expr(q: &str) -> Result<String> {
    let mut parts = Vec::new();
    for word in q.split_whitespace() {
        let (word, prefix) = match word.strip_suffix('*') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let tokens: Vec<&str> = word
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        let last = tokens.len().saturating_sub(1);
        for (i, token) in tokens.iter().enumerate() {
            let star = if prefix && i == last { "*" } else { "" };
            parts.push(format!("\"{}\"{star}", token.replace('"', "\"\"")));
        }
    }
    if parts.is_empty() {
        return Err(StoreError::BadQuery(format!(
            "q {q:?} contains no searchable words"
        )));
    }
    Ok(parts.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_tokens() {
        assert_eq!(match_expr("crash").unwrap(), r#""crash""#);
        assert_eq!(
            match_expr("github.issue crash*").unwrap(),
            r#""github" AND "issue" AND "crash"*"#
        );
        assert_eq!(match_expr(r#"a"b OR"#).unwrap(), r#""a" AND "b" AND "OR""#);
        assert!(match_expr("  ... ").is_err());
        // The id tokens' marker is not searchable text.
        assert!(match_expr("\u{E000}ab").unwrap() == r#""ab""#);
    }

    #[test]
    fn shards_own_alternating_blocks() {
        assert!(owns_any(0, 0, 1));
        assert!(!owns_any(1, 0, 1));
        assert!(!owns_any(0, 1023, 1030));
        assert!(owns_any(1, 1023, 1030));
        assert!(owns_any(0, 1000, 1030) && owns_any(1, 1000, 1030));
        assert!(owns_any(0, 2047, 2048));
    }

    #[test]
    fn id_tokens_are_single_tokens_user_text_cannot_reach() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(body, content = '', detail = none, tokenize = 'unicode61');",
        )
        .unwrap();
        let count = |q: &str| -> i64 {
            conn.query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [q], |r| r.get(0))
                .unwrap()
        };
        let key = id_key("evt_1");
        let (a, b) = key.split_once(' ').unwrap();
        conn.execute(
            "INSERT INTO t(rowid, body) VALUES (1, ?1)",
            [format!("hello {key}")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO t(rowid, body) VALUES (2, ?1)",
            [format!("{} {}", &a[3..], &b[3..])],
        )
        .unwrap();
        assert_eq!(count(&id_match("evt_1")), 1);
        // Each is one token: the hex alone does not find row 1, only row 2.
        assert_eq!(count(&match_expr(&a[3..]).unwrap()), 1);
        assert_eq!(count(&format!("\"{}\"", &a[3..])), 1);
        assert_eq!(count(&match_expr("hello").unwrap()), 1);
        // Nor does a prefix of the hex.
        assert_eq!(count(&match_expr(&format!("{}*", &a[3..4])).unwrap()), 1);
    }
}
