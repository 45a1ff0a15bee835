//! The indexers: one thread per index shard, filling the search index
//! behind ingest.
//!
//! Each owns a connection that reads `events` (the database as `main`,
//! never written here) and writes its shard's file (see [`crate::fts`]), so
//! its transactions never hold the lock the writer commits under.
//!
//! While ingest is busy (the writer committed at burst rate in the last
//! 200 ms, see [`Gate`]) the shards take turns, one chunk each, so indexing uses about one core next to the
//! writer's instead of crowding it out; once ingest is idle they run at
//! once, a core each, and the rest of a burst is indexed about twice as fast.
//!
//! Work, in order: prune index rows of events retention deleted (at most
//! once a second unless there is more), index the next chunk, and — only
//! when less than a chunk is left, so never while catching up — merge
//! segments in small steps. With nothing to do an indexer sleeps until the
//! writer publishes new events or the store closes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::fts::{self, IndexState, SHARDS};
use crate::stats::Progress;

/// Whether ingest is busy, and whose turn it is then.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    busy_until: Option<Instant>,
    turn: usize,
    /// Shards with nothing to index: their turn does not hold others up.
    idle: [bool; SHARDS],
}

/// How long ingest counts as busy after a burst-sized window (below).
const BUSY_FOR: Duration = Duration::from_millis(200);

/// Ingest is busy when the writer commits at least [`BUSY_ROWS`] rows within
/// [`BUSY_WINDOW`] (50,000 rows/s): a burst, not a steady trickle.
pub(crate) const BUSY_WINDOW: Duration = Duration::from_millis(100);
pub(crate) const BUSY_ROWS: usize = 5_000;

impl Gate {
    /// Called by the writer when ingest runs at burst rate: it counts as
    /// busy for the next [`BUSY_FOR`].
    pub(crate) fn mark_busy(&self) {
        self.lock().busy_until = Some(Instant::now() + BUSY_FOR);
    }

    /// Waits (up to 50 ms) until `shard` may index: ingest is idle or it is
    /// the shard's turn. False if it may not yet.
    fn enter(&self, shard: usize) -> bool {
        let deadline = Instant::now() + Duration::from_millis(50);
        let mut s = self.lock();
        loop {
            let now = Instant::now();
            let busy_for = s
                .busy_until
                .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
            if busy_for.is_zero() || s.turn == shard || s.idle[s.turn] {
                return true;
            }
            if now >= deadline {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, busy_for.min(deadline - now))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Hands the turn to the next shard, after a chunk.
    fn pass(&self, shard: usize) {
        let mut s = self.lock();
        if s.turn == shard {
            s.turn = (shard + 1) % SHARDS;
            drop(s);
            self.changed.notify_all();
        }
    }

    /// Whether `shard` has nothing to index.
    fn set_idle(&self, shard: usize, idle: bool) {
        let mut s = self.lock();
        if s.idle[shard] != idle {
            s.idle[shard] = idle;
            drop(s);
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the indexers share: the gate, and each shard's position (the index
/// as a whole reaches the smallest).
#[derive(Debug)]
pub(crate) struct Shared {
    pub gate: Gate,
    pub positions: [AtomicI64; SHARDS],
}

impl Shared {
    pub(crate) fn new(states: &[IndexState]) -> Self {
        Self {
            gate: Gate::default(),
            positions: std::array::from_fn(|i| AtomicI64::new(states[i].indexed_upto)),
        }
    }

    /// The position of the index as a whole.
    pub(crate) fn indexed_upto(&self) -> i64 {
        self.positions
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }
}

pub(crate) struct Indexer {
    pub conn: Connection,
    pub state: IndexState,
    pub chunk: usize,
    pub shared: Arc<Shared>,
    pub progress_tx: Arc<watch::Sender<Progress>>,
    pub stop: watch::Receiver<bool>,
    pub handle: Handle,
}

/// How long to wait after a failed step before trying again.
const RETRY: Duration = Duration::from_secs(1);

impl Indexer {
    /// Runs until the store is closed (or dropped).
    pub(crate) fn run(mut self) {
        lower_priority();
        let shard = self.state.shard;
        let span = (self.chunk * SHARDS) as i64;
        let mut progress = self.progress_tx.subscribe();
        // Pruning follows retention: at start, whenever it has deleted events (`evicted`
        // moved), and again at once while a prune leaves more to do. No timer otherwise.
        let mut next_prune = Some(Instant::now());
        let mut evicted_seen = progress.borrow().evicted;
        let mut merge_pending = true;
        loop {
            // Closed, or the store dropped without closing.
            if *self.stop.borrow() || self.stop.has_changed().is_err() {
                break;
            }
            let (last, evicted) = {
                let p = progress.borrow_and_update();
                (p.last_event_seq, p.evicted)
            };
            if evicted != evicted_seen {
                evicted_seen = evicted;
                next_prune = Some(Instant::now());
            }
            if next_prune.is_some_and(|t| Instant::now() >= t) {
                next_prune = self.prune();
            }
            let has_work = last > self.state.indexed_upto;
            self.shared.gate.set_idle(shard, !has_work);
            if has_work {
                if !self.shared.gate.enter(shard) {
                    continue;
                }
                let done = fts::index_chunk(
                    &mut self.conn,
                    shard,
                    self.state.indexed_upto,
                    last,
                    self.chunk,
                );
                self.shared.gate.pass(shard);
                match done {
                    Ok(to) => {
                        self.state.indexed_upto = to;
                        self.publish(to);
                        merge_pending = true;
                        if last - to >= span {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, shard, "search indexing failed");
                        if self.sleep(RETRY) {
                            break;
                        }
                        continue;
                    }
                }
            }
            if merge_pending {
                match fts::merge_step(&self.conn, shard) {
                    Ok(more) => merge_pending = more,
                    Err(e) => {
                        tracing::error!(error = %e, shard, "search index merge failed");
                        merge_pending = false;
                    }
                }
                continue;
            }
            if self.state.indexed_upto < progress.borrow().last_event_seq {
                continue;
            }
            // Idle: wait for new events or evictions, a prune retry, or the end.
            let prune_at = next_prune;
            let stop = &mut self.stop;
            let stopped = self.handle.block_on(async {
                let retry = async {
                    match prune_at {
                        Some(t) => tokio::time::sleep_until(t.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    changed = progress.changed() => changed.is_err(),
                    changed = stop.changed() => changed.is_err() || *stop.borrow(),
                    () = retry => false,
                }
            });
            if stopped {
                break;
            }
        }
        // Never leave the other shard waiting for a turn.
        self.shared.gate.set_idle(shard, true);
        tracing::debug!(shard, "store indexer stopped");
    }

    /// One prune batch; when to prune next (`None`: when retention next deletes events).
    fn prune(&mut self) -> Option<Instant> {
        match fts::prune(&mut self.conn, self.state, self.chunk) {
            Ok(below) => {
                let more = below > self.state.pruned_below;
                self.state.pruned_below = below;
                more.then(Instant::now)
            }
            Err(e) => {
                tracing::error!(error = %e, shard = self.state.shard, "search index pruning failed");
                Some(Instant::now() + RETRY)
            }
        }
    }

    /// Records this shard's position and publishes the index's if it moved.
    fn publish(&self, to: i64) {
        self.shared.positions[self.state.shard].store(to, Ordering::Release);
        let upto = self.shared.indexed_upto();
        self.progress_tx.send_if_modified(|p| {
            if upto > p.indexed_upto {
                p.indexed_upto = upto;
                true
            } else {
                false
            }
        });
    }

    /// Sleeps up to `d`; true if the store was closed meanwhile.
    fn sleep(&mut self, d: Duration) -> bool {
        let stop = &mut self.stop;
        // Finished waiting (closed, or the store dropped) rather than timed out.
        self.handle
            .block_on(async { tokio::time::timeout(d, stop.wait_for(|s| *s)).await.is_ok() })
    }
}

/// Nice value of the indexer threads on Linux: below the writer and the
/// runtime's workers (0), so on a busy machine ingest gets the CPU first and
/// indexing takes what is left; on an idle core it runs at full speed.
#[cfg(target_os = "linux")]
const INDEXER_NICE: libc::c_int = 5;

/// Lowers the calling thread's scheduling priority (only ever lowers: no
/// privilege needed, and the writer's threads are untouched).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: gettid and setpriority take no pointers; on Linux
    // PRIO_PROCESS with a thread id applies to that thread alone.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, INDEXER_NICE)
    };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "indexer priority unchanged");
    }
}

/// macOS: the utility QoS class, meant for work the user is not waiting on.
#[cfg(target_os = "macos")]
fn lower_priority() {
    // SAFETY: sets the calling thread's QoS class; no pointers.
    let rc =
        unsafe { libc::pthread_set_qos_class_self_np(libc::qos_class_t::QOS_CLASS_UTILITY, 0) };
    if rc != 0 {
        tracing::debug!(rc, "indexer priority unchanged");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn lower_priority() {}
