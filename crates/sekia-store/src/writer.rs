//! The one writer: a dedicated thread that owns the write connection.
//!
//! It takes whatever the forwarders have queued (up to `batch_max_rows`) and
//! commits it in one transaction — it never waits to fill a batch, so under
//! light load each event is committed at once and under a burst batches grow
//! by themselves. Between batches it runs a retention batch when one is due.
//! After each commit it publishes [`Progress`] (which wakes the indexer
//! threads, see [`crate::indexer`]) and the new events on the live
//! broadcast. When the search index lags by more than `fts_max_lag` events
//! it waits for the indexers before committing more, so a sustained flood cannot leave
//! search arbitrarily far behind.
//!
//! A thread rather than a tokio task because every step blocks in SQLite; it
//! waits for work through the runtime handle so that the forwarders can hand
//! over with an ordinary async, bounded channel (that is the back-pressure).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use sekia_protocol::clock::Clock;

use crate::config::StoreConfig;
use crate::error::{Result, SqlContext};
use crate::indexer::{self, BUSY_ROWS, BUSY_WINDOW};
use crate::ingest::{Inbound, NewCommand, NewEvent, OutcomeUpdate};
use crate::records::StoredEvent;
use crate::retention::{self, Limits, Table};
use crate::stats::{Counters, Progress};

/// What the writer needs besides its connection.
pub(crate) struct Writer {
    pub conn: Connection,
    pub config: StoreConfig,
    pub clock: Arc<dyn Clock>,
    pub counters: Arc<Counters>,
    pub progress_tx: Arc<watch::Sender<Progress>>,
    pub indexers: Arc<indexer::Shared>,
    pub live: broadcast::Sender<Arc<StoredEvent>>,
    pub rx: mpsc::Receiver<Inbound>,
    pub handle: Handle,
    pub progress: Progress,
    pub event_rows: u64,
    pub command_rows: u64,
}

/// Reads where a reopened database stands (`indexed_upto` comes from the
/// search index).
pub(crate) fn initial_state(conn: &Connection, indexed_upto: i64) -> Result<(Progress, u64, u64)> {
    // Seqs are assigned by the writer, never reused: the high-water mark in
    // `meta` survives even when retention has deleted every row.
    let last = |table: &str| -> Result<(i64, u64)> {
        conn.query_row(
            &format!(
                "SELECT max(coalesce((SELECT max(seq) FROM {table}), 0),
                            coalesce((SELECT value FROM meta WHERE key = '{table}_seq'), 0)),
                        (SELECT count(*) FROM {table})"
            ),
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)),
        )
        .ctx(|| format!("count the stored {table}"))
    };
    let (last_event_seq, event_rows) = last("events")?;
    let (last_command_seq, command_rows) = last("commands")?;
    let progress = Progress {
        last_event_seq,
        last_command_seq,
        indexed_upto,
        written: 0,
        evicted: 0,
    };
    Ok((progress, event_rows, command_rows))
}

impl Writer {
    /// Runs until every sender is gone and the inbox is drained.
    pub(crate) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.config.batch_max_rows.min(65_536));
        let mut next_retention = Instant::now();
        let mut progress = self.progress_tx.subscribe();
        let mut stalled_at = None;
        let mut window = (Instant::now(), 0usize);
        let mut written_since_retention = false;
        loop {
            let first = if Instant::now() >= next_retention {
                match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                let wait = next_retention.saturating_duration_since(Instant::now());
                let rx = &mut self.rx;
                match self
                    .handle
                    .block_on(async { tokio::time::timeout(wait, rx.recv()).await })
                {
                    Ok(Some(m)) => Some(m),
                    Ok(None) => break,
                    Err(_) => None,
                }
            };
            if let Some(m) = first {
                batch.push(m);
                while batch.len() < self.config.batch_max_rows {
                    match self.rx.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                // Rows per window: tells the indexers when ingest is bursting.
                if window.0.elapsed() >= BUSY_WINDOW {
                    window = (Instant::now(), 0);
                }
                window.1 += batch.len();
                if window.1 >= BUSY_ROWS {
                    self.indexers.gate.mark_busy();
                }
                self.commit_batch(&mut batch);
                self.wait_for_index(&mut progress, &mut stalled_at);
                // New rows may put the table over its row limit: look soon, even if the idle
                // look was a minute away.
                written_since_retention = true;
                next_retention =
                    next_retention.min(Instant::now() + self.config.retention_interval);
            }
            if Instant::now() >= next_retention {
                let full = self.retention();
                next_retention = Instant::now()
                    + if full {
                        Duration::from_millis(10)
                    } else if written_since_retention {
                        self.config.retention_interval
                    } else {
                        self.config.retention_idle_interval
                    };
                written_since_retention = false;
            }
        }
        tracing::debug!("store writer stopped");
    }

    /// Holds ingest while the search index lags by more than `fts_max_lag`
    /// events, as long as the index keeps advancing: an index that has not
    /// moved for 5 s (the indexers log their own errors) is not waited for
    /// again until it moves, so indexing can slow ingest down but never stop
    /// it.
    fn wait_for_index(
        &mut self,
        progress: &mut watch::Receiver<Progress>,
        stalled_at: &mut Option<i64>,
    ) {
        let max = i64::try_from(self.config.fts_max_lag).unwrap_or(i64::MAX);
        let last = self.progress.last_event_seq;
        loop {
            let indexed = progress.borrow_and_update().indexed_upto;
            if last - indexed <= max || *stalled_at == Some(indexed) {
                return;
            }
            *stalled_at = None;
            let advanced = self.handle.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    progress.wait_for(|p| p.indexed_upto > indexed),
                )
                .await
            });
            if !matches!(advanced, Ok(Ok(_))) {
                tracing::warn!(
                    lag = last - indexed,
                    "search index is not advancing; ingest carries on"
                );
                *stalled_at = Some(indexed);
                return;
            }
        }
    }

    /// One retention batch per table; whether either was full (more to do).
    fn retention(&mut self) -> bool {
        let cutoff_ms = self
            .clock_ms()
            .saturating_sub(i64::try_from(self.config.max_age.as_millis()).unwrap_or(i64::MAX));
        let mut full = false;
        for table in [Table::Events, Table::Commands] {
            let rows = match table {
                Table::Events => self.event_rows,
                Table::Commands => self.command_rows,
            };
            let limits = Limits {
                max_rows: self.config.max_events,
                cutoff_ms,
                batch: self.config.retention_batch,
            };
            match retention::run_batch(&mut self.conn, table, rows, limits) {
                Ok(n) => {
                    match table {
                        Table::Events => {
                            self.event_rows = self.event_rows.saturating_sub(n);
                            if n > 0 {
                                self.progress.evicted += n;
                                let evicted = self.progress.evicted;
                                self.progress_tx.send_modify(|p| p.evicted = evicted);
                            }
                        }
                        Table::Commands => self.command_rows = self.command_rows.saturating_sub(n),
                    }
                    Counters::add(&self.counters.retention_deleted, n);
                    full |= n as usize >= self.config.retention_batch;
                }
                Err(e) => tracing::error!(error = %e, "store retention failed"),
            }
        }
        full
    }

    fn clock_ms(&self) -> i64 {
        let now = self.clock.now();
        match now.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }

    /// Commits `batch` (emptying it), then reports progress, live events and
    /// answers barriers. A failed transaction is logged and its rows counted
    /// as `failed`; the writer carries on with the next batch.
    fn commit_batch(&mut self, batch: &mut Vec<Inbound>) {
        let now = self.clock_ms();
        let want_live = self.live.receiver_count() > 0;
        let mut live: Vec<StoredEvent> = Vec::new();
        let rows = batch
            .iter()
            .filter(|m| matches!(m, Inbound::Event(_) | Inbound::Command(_)))
            .count() as u64;
        let result = write_batch(
            &mut self.conn,
            batch,
            (self.progress.last_event_seq, self.progress.last_command_seq),
            now,
            want_live.then_some(&mut live),
        );
        let barriers: Vec<oneshot::Sender<()>> = batch
            .drain(..)
            .filter_map(|m| match m {
                Inbound::Barrier(b) => Some(b),
                _ => None,
            })
            .collect();
        match result {
            Ok(outcome) => {
                let counted = outcome.events + outcome.commands;
                Counters::add(&self.counters.written, counted);
                Counters::add(&self.counters.outcomes_applied, outcome.outcomes);
                self.event_rows += outcome.events;
                self.command_rows += outcome.commands;
                if let Some(seq) = outcome.last_event_seq {
                    self.progress.last_event_seq = seq;
                }
                if let Some(seq) = outcome.last_command_seq {
                    self.progress.last_command_seq = seq;
                }
                self.progress.written += counted;
                let mine = self.progress;
                self.progress_tx.send_modify(|p| {
                    p.last_event_seq = mine.last_event_seq;
                    p.last_command_seq = mine.last_command_seq;
                    p.written = mine.written;
                });
                for event in live {
                    // No receivers left is fine: nobody is watching.
                    let _ = self.live.send(Arc::new(event));
                }
            }
            Err(e) => {
                Counters::add(&self.counters.failed, rows);
                tracing::error!(error = %e, rows, "store lost a batch: write transaction failed");
            }
        }
        for b in barriers {
            let _ = b.send(());
        }
    }
}

#[derive(Default)]
struct BatchOutcome {
    events: u64,
    commands: u64,
    outcomes: u64,
    last_event_seq: Option<i64>,
    last_command_seq: Option<i64>,
}

fn write_batch(
    conn: &mut Connection,
    batch: &[Inbound],
    (mut event_seq, mut command_seq): (i64, i64),
    now: i64,
    mut live: Option<&mut Vec<StoredEvent>>,
) -> Result<BatchOutcome> {
    let mut out = BatchOutcome::default();
    let tx = conn
        .transaction()
        .ctx(|| "begin an ingest transaction".into())?;
    // Prepared once per batch, not looked up in the statement cache (by
    // hashing its text) for every row: about a tenth of the writer's CPU.
    let mut insert = tx
        .prepare_cached(INSERT_EVENT)
        .ctx(|| "prepare the event insert".into())?;
    for item in batch {
        match item {
            Inbound::Event(e) => {
                event_seq += 1;
                let seq = event_seq;
                insert_event(&mut insert, e, seq, now)?;
                out.events += 1;
                out.last_event_seq = Some(seq);
                if let Some(update) = &e.outcome {
                    out.outcomes += apply_outcome(&tx, update, now)?;
                }
                if let Some(live) = live.as_deref_mut() {
                    live.push(stored_event(&tx, e, seq, now)?);
                }
            }
            Inbound::Command(c) => {
                command_seq += 1;
                let seq = command_seq;
                insert_command(&tx, c, seq, now)?;
                out.commands += 1;
                out.last_command_seq = Some(seq);
                out.outcomes += apply_pending_outcome(&tx, &c.command_id, seq)?;
            }
            Inbound::Replay {
                original_id,
                new_id,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO replays(event_id, replayed_from) VALUES (?1, ?2)",
                )
                .and_then(|mut s| s.execute(params![new_id, original_id]))
                .ctx(|| format!("record that {new_id} replays {original_id}"))?;
            }
            Inbound::Barrier(_) => {}
        }
    }
    drop(insert);
    for (key, seq) in [
        ("events_seq", out.last_event_seq),
        ("commands_seq", out.last_command_seq),
    ] {
        if let Some(seq) = seq {
            tx.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![key, seq]))
                .ctx(|| format!("record the {key} high-water mark"))?;
        }
    }
    tx.commit().ctx(|| "commit an ingest transaction".into())?;
    Ok(out)
}

const INSERT_EVENT: &str =
    "INSERT INTO events(subject, id, type, source, timestamp, payload, truncated, received_at, seq)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

fn insert_event(
    insert: &mut rusqlite::CachedStatement<'_>,
    e: &NewEvent,
    seq: i64,
    now: i64,
) -> Result<()> {
    insert
        .execute(params![
            e.subject,
            e.id,
            e.event_type,
            e.source,
            e.timestamp,
            e.payload,
            e.truncated,
            now,
            seq
        ])
        .ctx(|| format!("insert event {}", e.id))?;
    Ok(())
}

fn insert_command(
    tx: &rusqlite::Transaction<'_>,
    c: &NewCommand,
    seq: i64,
    now: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO commands(subject, agent, command, source, signature, signature_valid,
                              payload, truncated, received_at, command_id, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.subject,
            c.agent,
            c.command,
            c.source,
            c.signature,
            c.signature_valid,
            c.payload,
            c.truncated,
            now,
            c.command_id,
            seq
        ])
    })
    .ctx(|| format!("insert command {} for {}", c.command, c.agent))?;
    Ok(())
}

/// Sets the outcome on the oldest command with this id that has none yet.
/// A result for a command not stored yet (results and commands arrive on two
/// subscriptions, so their order is not guaranteed) waits in
/// `pending_outcomes`; a duplicate result for an already-settled command is
/// ignored.
fn apply_outcome(tx: &rusqlite::Transaction<'_>, u: &OutcomeUpdate, now: i64) -> Result<u64> {
    let changed = tx
        .prepare_cached(
            "UPDATE commands SET outcome = ?2, outcome_error = ?3, outcome_duration_ms = ?4,
                                 outcome_at = ?5
             WHERE seq = (SELECT seq FROM commands WHERE command_id = ?1 AND outcome IS NULL
                          ORDER BY seq LIMIT 1)",
        )
        .and_then(|mut s| {
            s.execute(params![
                u.command_id,
                u.outcome.as_str(),
                u.error,
                u.duration_ms,
                now
            ])
        })
        .ctx(|| format!("set the outcome of command {}", u.command_id))?;
    if changed > 0 {
        return Ok(1);
    }
    let known: Option<i64> = tx
        .prepare_cached("SELECT seq FROM commands WHERE command_id = ?1 LIMIT 1")
        .and_then(|mut s| s.query_row(params![u.command_id], |r| r.get(0)).optional())
        .ctx(|| format!("look up command {}", u.command_id))?;
    if known.is_none() {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO pending_outcomes(command_id, outcome, error, duration_ms, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                u.command_id,
                u.outcome.as_str(),
                u.error,
                u.duration_ms,
                now
            ])
        })
        .ctx(|| format!("park the result of command {}", u.command_id))?;
    }
    Ok(0)
}

/// Applies a result that arrived before its command.
fn apply_pending_outcome(
    tx: &rusqlite::Transaction<'_>,
    command_id: &str,
    seq: i64,
) -> Result<u64> {
    let changed = tx
        .prepare_cached(
            "UPDATE commands SET (outcome, outcome_error, outcome_duration_ms, outcome_at) =
                 (SELECT outcome, error, duration_ms, at FROM pending_outcomes WHERE command_id = ?1)
             WHERE seq = ?2 AND EXISTS (SELECT 1 FROM pending_outcomes WHERE command_id = ?1)",
        )
        .and_then(|mut s| s.execute(params![command_id, seq]))
        .ctx(|| format!("apply the parked result of command {command_id}"))?;
    if changed == 0 {
        return Ok(0);
    }
    tx.prepare_cached("DELETE FROM pending_outcomes WHERE command_id = ?1")
        .and_then(|mut s| s.execute(params![command_id]))
        .ctx(|| format!("clear the parked result of command {command_id}"))?;
    Ok(1)
}

fn stored_event(
    tx: &rusqlite::Transaction<'_>,
    e: &NewEvent,
    seq: i64,
    now: i64,
) -> Result<StoredEvent> {
    let replayed_from: Option<String> = tx
        .prepare_cached("SELECT replayed_from FROM replays WHERE event_id = ?1")
        .and_then(|mut s| s.query_row(params![e.id], |r| r.get(0)).optional())
        .ctx(|| format!("look up the replay link of {}", e.id))?;
    Ok(StoredEvent {
        seq,
        subject: e.subject.clone(),
        id: e.id.clone(),
        event_type: e.event_type.clone(),
        source: e.source.clone(),
        timestamp: e.timestamp,
        payload: e.payload.clone(),
        truncated: e.truncated,
        received_at_ms: now,
        replayed_from,
    })
}
