//! One workflow's VM: loading a file under the limits, and running handlers and
//! schedule ticks under the limits.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mlua::{Function, Lua};

use crate::api::{Handlers, Schedules, Services, VmCtx};
use crate::error::{LoadError, LoadErrorKind};
use crate::output::{LogLevel, Sink};
use crate::sandbox::{self, Deadline, TIMEOUT_MESSAGE};
use crate::stats::Stats;
use crate::wire::Incoming;

/// Extra wall-clock time given to the async timeout beyond the in-VM budget, so
/// that CPU-bound overruns are reported by the VM (with a line number) and the
/// async timeout only catches waits (LLM calls).
const ASYNC_GRACE: Duration = Duration::from_millis(250);

/// Time and memory limits of a VM.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub timeout: Duration,
    pub memory: usize,
}

/// How a call failed.
#[derive(Debug)]
pub(crate) enum Failure {
    Timeout,
    Memory(String),
    Error(String),
}

impl Failure {
    fn message(&self, budget: Duration) -> String {
        match self {
            Failure::Timeout => format!("{TIMEOUT_MESSAGE} ({budget:?})"),
            Failure::Memory(m) | Failure::Error(m) => m.clone(),
        }
    }
}

/// A loaded workflow VM.
pub(crate) struct Vm {
    keys: crate::fastconv::EventKeys,
    lua: Lua,
    deadline: Deadline,
    pub ctx: Arc<VmCtx>,
    limits: Limits,
}

pub(crate) struct LoadParams<'a> {
    pub name: &'a str,
    pub file: &'a str,
    pub source: &'a [u8],
    pub sink: Arc<dyn Sink>,
    pub services: Arc<Services>,
    pub limits: Limits,
}

impl Vm {
    /// Builds a sandboxed VM, installs the API, compiles `source` as text and runs
    /// its top-level code under the limits.
    pub async fn load(p: LoadParams<'_>) -> Result<(Vm, Vec<(Duration, Function)>), LoadError> {
        let setup = |e: mlua::Error| LoadError::new(LoadErrorKind::Setup, p.file, e.to_string());
        let (lua, deadline) = sandbox::new_vm(p.limits.memory).map_err(setup)?;
        let ctx = Arc::new(VmCtx {
            name: p.name.to_owned(),
            file: p.file.to_owned(),
            source: format!("workflow:{}", p.name),
            sink: p.sink,
            services: p.services,
            patterns: std::sync::RwLock::new(Arc::from(Vec::new())),
            hops: Default::default(),
            loading: true.into(),
            stats: Arc::new(Stats::default()),
            memory_limit: p.limits.memory,
            command_size_hint: 128.into(),
        });
        crate::api::install(&lua, &ctx).map_err(setup)?;
        sandbox::seal(&lua).map_err(setup)?;
        let keys = crate::fastconv::EventKeys::new(&lua).map_err(setup)?;
        let vm = Vm {
            keys,
            lua,
            deadline,
            ctx,
            limits: p.limits,
        };
        let chunk = vm
            .lua
            .load(p.source)
            .set_name(format!("={}", p.file))
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| LoadError::from_lua(LoadErrorKind::Syntax, p.file, &e.to_string()))?;
        let result = vm.guarded(chunk.call_async::<()>(())).await;
        vm.ctx.loading.store(false, Ordering::Relaxed);
        if let Err(f) = result {
            let kind = match f {
                Failure::Timeout => LoadErrorKind::Timeout,
                Failure::Memory(_) => LoadErrorKind::Memory,
                Failure::Error(_) => LoadErrorKind::Runtime,
            };
            return Err(LoadError::from_lua(
                kind,
                p.file,
                &f.message(p.limits.timeout),
            ));
        }
        let schedules = vm
            .lua
            .app_data_mut::<Schedules>()
            .map(|mut s| std::mem::take(&mut s.0))
            .unwrap_or_default();
        Ok((vm, schedules))
    }

    /// Runs `fut` (a call into this VM) under the time budget.
    async fn guarded<R>(&self, fut: impl Future<Output = mlua::Result<R>>) -> Result<R, Failure> {
        let budget = self.limits.timeout;
        self.deadline.arm(budget);
        let res = if budget.is_zero() {
            Ok(fut.await)
        } else {
            tokio::time::timeout(budget + ASYNC_GRACE, fut).await
        };
        let expired = self.deadline.expired();
        self.deadline.disarm();
        match res {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                let msg = error_text(&e);
                if expired || msg.contains(TIMEOUT_MESSAGE) {
                    Err(Failure::Timeout)
                } else if is_memory_error(&e) {
                    Err(Failure::Memory(format!(
                        "memory limit exceeded ({} bytes): {msg}",
                        self.limits.memory
                    )))
                } else {
                    Err(Failure::Error(msg))
                }
            }
        }
    }

    fn report(&self, what: &str, f: Failure) {
        let msg = f.message(self.limits.timeout);
        self.ctx
            .sink
            .log(&self.ctx.name, LogLevel::Error, &format!("{what}: {msg}"));
        self.ctx.record_error(&msg);
        // A script that hit the memory limit usually left garbage behind; collect it
        // now so the next event starts from a clean heap.
        let _ = self.lua.gc_collect();
    }

    /// Delivers one event to every matching handler, in registration order, all
    /// sharing one event table (as sekia).
    pub async fn handle(&self, inc: &Incoming) {
        let started = Instant::now();
        self.ctx.hops.store(inc.hops, Ordering::Relaxed);
        let handlers = match self.lua.app_data_ref::<Handlers>() {
            Some(h) => h.0.clone(),
            None => return,
        };
        if !handlers.iter().any(|(p, _)| p.matches(&inc.subject)) {
            return;
        }
        self.ctx.stats.events.fetch_add(1, Ordering::Relaxed);
        // Events up to this size are converted with the memory limit lifted (see
        // `without_limit`); bigger ones count against the workflow's budget.
        const UNLIMITED_EVENT_BYTES: usize = 1 << 20;
        let limit = if inc.size <= UNLIMITED_EVENT_BYTES {
            self.limits.memory
        } else {
            0
        };
        let table = match sandbox::without_limit(&self.lua, limit, || {
            // Unprotected when no limit applies (lifted, or none configured).
            let protect = limit == 0 && self.limits.memory > 0;
            crate::fastconv::event_table(&self.lua, &self.keys, &inc.event, protect)
        }) {
            Ok(t) => t,
            Err(e) => {
                self.report("event conversion failed", Failure::Error(error_text(&e)));
                return;
            }
        };
        for (_, f) in handlers.iter().filter(|(p, _)| p.matches(&inc.subject)) {
            if let Err(fail) = self.guarded(f.call_async::<()>(&table)).await {
                self.report("handler failed", fail);
            }
        }
        self.ctx.stats.record_duration(started.elapsed());
    }

    /// Runs one schedule callback.
    pub async fn tick(&self, f: &Function) {
        let started = Instant::now();
        self.ctx.hops.store(0, Ordering::Relaxed);
        if let Err(fail) = self.guarded(f.call_async::<()>(())).await {
            self.report("schedule failed", fail);
        }
        self.ctx.stats.record_duration(started.elapsed());
    }
}

fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory_error(cause),
        mlua::Error::WithContext { cause, .. } => is_memory_error(cause),
        other => other.to_string().contains("not enough memory"),
    }
}

/// The first line of an error (Lua tracebacks are noise in an API field).
pub(crate) fn error_text(e: &mlua::Error) -> String {
    let root = match e {
        mlua::Error::CallbackError { cause, .. } => cause.as_ref(),
        other => other,
    };
    root.to_string().lines().next().unwrap_or("").to_owned()
}
