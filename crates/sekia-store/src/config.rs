//! Store settings, with the defaults the daemon uses.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Result, StoreError};

/// How the store is opened and how its background work behaves.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The SQLite file. Its folder is created 0700 and the file 0600.
    pub path: PathBuf,
    /// Retention by count: the oldest events (and, separately, commands)
    /// beyond this many are deleted.
    pub max_events: u64,
    /// Retention by age, measured on `received_at`.
    pub max_age: Duration,
    /// Payload JSON longer than this is stored cut to this many bytes (at a
    /// character boundary) with `truncated = true`.
    pub max_payload_bytes: usize,
    /// `security.command_secret`; empty means signatures are not checked and
    /// `signature_valid` is stored as unknown (NULL).
    pub command_secret: String,
    /// Most rows per ingest transaction. Bigger batches amortise the commit;
    /// the writer never waits to fill one (see the crate docs).
    pub batch_max_rows: usize,
    /// Rows added to the full-text index per indexing transaction.
    pub fts_chunk_rows: usize,
    /// Above this many unindexed rows the writer indexes a chunk after every
    /// ingest batch even while busy, so the lag stays bounded under a
    /// sustained flood (at some cost to ingest).
    pub fts_max_lag: u64,
    /// How often retention looks for work while rows are being written.
    pub retention_interval: Duration,
    /// How often it looks while nothing is written: then only ages can expire, and an idle
    /// daemon should not wake every second for that.
    pub retention_idle_interval: Duration,
    /// Most rows one retention transaction deletes, so it never holds the
    /// write lock long enough to stall ingest.
    pub retention_batch: usize,
    /// Length of the queue between the bus forwarders and the writer thread.
    /// When it is full the forwarders wait, and the bus makes publishers wait.
    pub inbox_capacity: usize,
    /// Capacity of the live broadcast; a lagging live subscriber skips
    /// events (it sees `RecvError::Lagged`), the store does not.
    pub live_capacity: usize,
    /// Page cache of the writer connection, in KiB.
    pub cache_kib: u32,
}

/// 1,000,000 events.
pub const DEFAULT_MAX_EVENTS: u64 = 1_000_000;
/// 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// 1 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1 << 20;

impl StoreConfig {
    /// The defaults, for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_events: DEFAULT_MAX_EVENTS,
            max_age: DEFAULT_MAX_AGE,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            command_secret: String::new(),
            batch_max_rows: 10_000,
            fts_chunk_rows: 20_000,
            fts_max_lag: 2_000_000,
            retention_interval: Duration::from_secs(1),
            retention_idle_interval: Duration::from_secs(60),
            retention_batch: 5_000,
            inbox_capacity: 16_384,
            live_capacity: 4_096,
            cache_kib: 64 * 1024,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let positive = [
            ("max_events", self.max_events),
            ("max_payload_bytes", self.max_payload_bytes as u64),
            ("batch_max_rows", self.batch_max_rows as u64),
            ("fts_chunk_rows", self.fts_chunk_rows as u64),
            ("retention_batch", self.retention_batch as u64),
            ("inbox_capacity", self.inbox_capacity as u64),
            ("live_capacity", self.live_capacity as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(StoreError::InvalidConfig(format!("{name} must be > 0")));
            }
        }
        if self.max_age.is_zero() {
            return Err(StoreError::InvalidConfig("max_age must be > 0".into()));
        }
        Ok(())
    }
}
