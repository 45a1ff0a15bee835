//! Retention by count and age, in small batches.
//!
//! The writer thread runs one batch at a time between ingest batches, so a
//! large backlog of expired rows (say after the daemon was off for a month)
//! is worked off in transactions of at most `retention_batch` rows without
//! ever holding the write lock long. Rows are deleted oldest-seq first; age is
//! judged on `received_at`, which the writer stamps in seq order, so the
//! expired rows are always a prefix of the table — which is also what lets
//! the indexer prune the search index by seq alone.

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext};

/// Which history table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Events,
    Commands,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Commands => "commands",
        }
    }
}

/// The limits one batch enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Rows to keep at most.
    pub max_rows: u64,
    /// Rows received before this (Unix ms) are expired.
    pub cutoff_ms: i64,
    /// Most rows to delete now.
    pub batch: usize,
}

/// Deletes up to `limits.batch` of the oldest rows of `table` that exceed the
/// count (given the current `rows`) or are older than the cutoff. Returns how
/// many were deleted.
pub(crate) fn run_batch(
    conn: &mut Connection,
    table: Table,
    rows: u64,
    limits: Limits,
) -> Result<u64> {
    let name = table.name();
    let excess = rows.saturating_sub(limits.max_rows);
    let oldest: Vec<(i64, i64)> = {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT seq, received_at FROM {name} ORDER BY seq LIMIT ?1"
            ))
            .ctx(|| format!("prepare retention scan of {name}"))?;
        let rows = stmt
            .query_map(params![limits.batch as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx(|| format!("scan the oldest {name}"))?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx(|| format!("scan the oldest {name}"))?
    };
    let expired = oldest
        .iter()
        .take_while(|(_, at)| *at < limits.cutoff_ms)
        .count();
    let n = expired.max(
        usize::try_from(excess)
            .unwrap_or(usize::MAX)
            .min(oldest.len()),
    );
    let (Some(first), Some(last)) = (oldest.first(), n.checked_sub(1).and_then(|i| oldest.get(i)))
    else {
        return Ok(0);
    };
    let (first, last) = (first.0, last.0);
    let tx = conn
        .transaction()
        .ctx(|| format!("begin retention of {name}"))?;
    if table == Table::Events {
        // The search index (another file) is pruned by the indexer once the
        // rows are gone; until then searches skip them in the join.
        tx.prepare_cached(
            "DELETE FROM replays WHERE event_id IN
             (SELECT id FROM events WHERE seq >= ?1 AND seq <= ?2)",
        )
        .and_then(|mut s| s.execute(params![first, last]))
        .ctx(|| "delete replay links of expired events".into())?;
    } else {
        tx.prepare_cached("DELETE FROM pending_outcomes WHERE at < ?1")
            .and_then(|mut s| s.execute(params![limits.cutoff_ms]))
            .ctx(|| "delete expired unmatched command results".into())?;
    }
    let deleted = tx
        .prepare_cached(&format!("DELETE FROM {name} WHERE seq <= ?1"))
        .and_then(|mut s| s.execute(params![last]))
        .ctx(|| format!("delete expired {name}"))?;
    tx.commit().ctx(|| format!("commit retention of {name}"))?;
    Ok(deleted as u64)
}
