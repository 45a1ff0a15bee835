//! A running workflow: its bounded queue and the task that owns its VM.
//! One task per workflow: its events run in order, different workflows run in
//! parallel, and a slow one never delays another.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mlua::Function;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::VmCtx;
use crate::vm::Vm;
use crate::wire::Incoming;

/// Handle of a loaded workflow, held by the engine and the router.
pub(crate) struct Workflow {
    pub name: String,
    pub file_path: PathBuf,
    pub loaded_at: SystemTime,
    pub ctx: Arc<VmCtx>,
    tx: mpsc::Sender<Arc<Incoming>>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Workflow {
    /// Starts the task of a loaded VM.
    pub fn spawn(
        vm: Vm,
        schedules: Vec<(Duration, Function)>,
        file_path: PathBuf,
        loaded_at: SystemTime,
        capacity: usize,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stop = CancellationToken::new();
        let ctx = vm.ctx.clone();
        let task = tokio::spawn(run(vm, rx, stop.clone(), schedules));
        Arc::new(Self {
            name: ctx.name.clone(),
            file_path,
            loaded_at,
            ctx,
            tx,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// Queues `inc` if a handler pattern matches and it is not this workflow's own
    /// event. Never waits: a full queue drops the event and counts it.
    pub fn offer(&self, inc: &Arc<Incoming>) {
        if inc.event.source == self.ctx.source {
            return;
        }
        let matches = match self.ctx.patterns.read() {
            Ok(p) => p.iter().any(|p| p.matches(&inc.subject)),
            Err(_) => false,
        };
        if !matches {
            return;
        }
        if let Err(e) = self.tx.try_send(inc.clone()) {
            let stats = &self.ctx.stats;
            if matches!(e, mpsc::error::TrySendError::Full(_)) {
                let n = stats.dropped.fetch_add(1, Ordering::Relaxed);
                stats.errors.fetch_add(1, Ordering::Relaxed);
                // Once per 1024 drops: a stuck workflow must not flood the log.
                if n.is_multiple_of(1024) {
                    tracing::warn!(
                        workflow = %self.name,
                        dropped = n + 1,
                        "workflow queue full, dropping event"
                    );
                }
            }
        }
    }

    /// Asks the task to finish what is queued and stop; returns it to await.
    pub fn stop(&self) -> Option<JoinHandle<()>> {
        self.stop.cancel();
        self.task.lock().ok().and_then(|mut t| t.take())
    }
}

/// Most queued events handled in a row before the task checks for a stop or a
/// due schedule again.
const BATCH: usize = 64;

async fn run(
    vm: Vm,
    mut rx: mpsc::Receiver<Arc<Incoming>>,
    stop: CancellationToken,
    schedules: Vec<(Duration, Function)>,
) {
    let start = Instant::now();
    let mut next: Vec<Instant> = schedules.iter().map(|(d, _)| start + *d).collect();
    loop {
        let due = next.iter().min().copied();
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = sleep_until(due), if due.is_some() => {
                let now = Instant::now();
                for (i, (every, f)) in schedules.iter().enumerate() {
                    if next[i] <= now {
                        vm.tick(f).await;
                        // Missed ticks are skipped, not replayed in a burst.
                        next[i] = (next[i] + *every).max(Instant::now());
                    }
                }
            }
            item = rx.recv() => match item {
                Some(inc) => {
                    vm.handle(&inc).await;
                    // Handle what else is queued before going back to `select!`
                    // (bounded, so stops and schedules are still seen promptly).
                    let mut yielded = false;
                    let mut n = 1;
                    while n < BATCH {
                        match rx.try_recv() {
                            Ok(inc) => {
                                vm.handle(&inc).await;
                                n += 1;
                            }
                            // Queue empty: let the router (often on this worker)
                            // run once and refill it, rather than park and be
                            // woken for the next event.
                            Err(mpsc::error::TryRecvError::Empty) if !yielded => {
                                yielded = true;
                                tokio::task::yield_now().await;
                            }
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
        }
    }
    // Finish what was queued before the stop (reload hands over without losing
    // accepted events); the engine bounds this with its shutdown grace.
    rx.close();
    while let Ok(inc) = rx.try_recv() {
        vm.handle(&inc).await;
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
