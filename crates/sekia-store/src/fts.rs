//! The search indexes — full text and event id — filled in bulk behind
//! ingest, and search expressions.
//!
//! Neither index is touched on the ingest path: both have keys unrelated to
//! `seq` (words, random ids), so maintaining them per batch would dirty pages
//! all over the file on every commit. `event_ids(id_hash, seq)` maps a 64-bit
//! hash of the event id to its rows; rows above `indexed_upto` are found by
//! scanning the short unindexed tail.
//!
//! `events_fts` is a contentless FTS5 table (`contentless_delete=1`,
//! `detail=none`: rowids only, as searches are ANDed single tokens and
//! prefixes) whose rowid is the event's `seq`. Rows are not indexed by a trigger — per-row
//! FTS triggers cap ingest at ~40k rows/s here — but in chunks of consecutive
//! seqs by the writer thread when it has no ingest work, or after every
//! batch once the lag exceeds `fts_max_lag`. `meta.indexed_upto` records
//! the highest indexed seq in the same transaction as the chunk, so a crash
//! never leaves the index half a chunk ahead or behind.

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};

/// The highest seq in the index.
pub(crate) fn indexed_upto(conn: &Connection) -> Result<i64> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'indexed_upto'",
        [],
        |r| r.get(0),
    )
    .ctx(|| "read the full-text index position".into())
}

/// Indexes events `(from, min(from + chunk, upto)]` in one transaction and
/// returns the new position.
pub(crate) fn index_chunk(
    conn: &mut Connection,
    from: i64,
    upto: i64,
    chunk: usize,
) -> Result<i64> {
    let to = upto.min(from.saturating_add(chunk as i64));
    if to <= from {
        return Ok(from);
    }
    let tx = conn
        .transaction()
        .ctx(|| "begin a full-text indexing transaction".into())?;
    tx.prepare_cached(
        "INSERT INTO events_fts(rowid, type, source, payload)
         SELECT seq, type, source, payload FROM events WHERE seq > ?1 AND seq <= ?2",
    )
    .and_then(|mut s| s.execute(params![from, to]))
    .ctx(|| format!("index events {}..={to} for full-text search", from + 1))?;
    let mut ids: Vec<(i64, i64)> = {
        let mut stmt = tx
            .prepare_cached("SELECT seq, id FROM events WHERE seq > ?1 AND seq <= ?2")
            .ctx(|| "prepare the id index scan".into())?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((id_hash(&r.get::<_, String>(1)?), r.get::<_, i64>(0)?))
            })
            .ctx(|| "scan event ids to index".into())?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx(|| "scan event ids to index".into())?
    };
    ids.sort_unstable();
    {
        let mut stmt = tx
            .prepare_cached("INSERT OR IGNORE INTO event_ids(id_hash, seq) VALUES (?1, ?2)")
            .ctx(|| "prepare the id index insert".into())?;
        for (hash, seq) in ids {
            stmt.execute(params![hash, seq])
                .ctx(|| format!("index the id of event {seq}"))?;
        }
    }
    tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'indexed_upto'")
        .and_then(|mut s| s.execute(params![to]))
        .ctx(|| "record the full-text index position".into())?;
    tx.commit()
        .ctx(|| "commit a full-text indexing transaction".into())?;
    Ok(to)
}

/// 64-bit FNV-1a of an event id, the key of `event_ids`. Collisions only
/// cost an extra row check: lookups also compare the id itself.
pub(crate) fn id_hash(id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
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
    }
}
