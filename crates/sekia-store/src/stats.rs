//! Counters that make every message accounted for.
//!
//! Invariant once the store is idle:
//! `received == written + invalid + failed`, and `dropped` (messages the bus
//! dropped before we saw them) is 0 because the store subscribes with
//! back-pressure. Anything else is a bug or a counted failure, never silent.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub received: AtomicU64,
    pub written: AtomicU64,
    pub invalid: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub retention_deleted: AtomicU64,
    pub outcomes_applied: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, progress: Progress) -> StoreStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            received: get(&self.received),
            written: get(&self.written),
            invalid: get(&self.invalid),
            failed: get(&self.failed),
            dropped: get(&self.dropped),
            retention_deleted: get(&self.retention_deleted),
            outcomes_applied: get(&self.outcomes_applied),
            progress,
        }
    }
}

/// A snapshot of the store's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoreStats {
    /// Messages taken off the bus (events and commands).
    pub received: u64,
    /// Rows committed (events and commands).
    pub written: u64,
    /// Messages that were not valid envelopes (not UTF-8 / not JSON), logged
    /// and counted, not stored.
    pub invalid: u64,
    /// Rows lost to a failed write transaction (disk full, I/O error), logged.
    pub failed: u64,
    /// Messages the bus dropped for the store's subscriptions. 0 unless the
    /// bus cannot apply back-pressure (a remote NATS publisher).
    pub dropped: u64,
    /// Rows deleted by retention.
    pub retention_deleted: u64,
    /// Command rows that received an outcome.
    pub outcomes_applied: u64,
    /// Sequence numbers reached.
    pub progress: Progress,
}

/// How far the writer and the indexer have got, published after every commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Highest committed event `seq`.
    pub last_event_seq: i64,
    /// Highest committed command `seq`.
    pub last_command_seq: i64,
    /// Every event with `seq <= indexed_upto` is in the full-text index.
    pub indexed_upto: i64,
    /// Events retention has deleted since open: the indexers prune the search index when it
    /// moves, instead of looking every second.
    pub evicted: u64,
    /// Rows committed since open (same as [`StoreStats::written`]).
    pub written: u64,
}
