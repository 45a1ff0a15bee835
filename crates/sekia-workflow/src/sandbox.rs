//! The VM sandbox: which libraries exist, what is removed, and the time and
//! memory limits. Why Luau and not Lua 5.4: see the crate README.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mlua::{Lua, LuaOptions, StdLib, VmState};

/// Globals removed from the base library: everything that loads code or bytecode,
/// changes function environments (a way around the sandbox's read-only globals),
/// or reports/steers the GC (information leak, defeats the memory limit).
pub const REMOVED_GLOBALS: &[&str] = &[
    "dofile",
    "loadfile",
    "load",
    "loadstring",
    "require",
    "getfenv",
    "setfenv",
    "newproxy",
    "gcinfo",
    "collectgarbage",
    "module",
    "debug",
    "os",
    "io",
    "package",
    "coroutine",
    "ffi",
    "utf8",
    "bit32",
    "buffer",
    "vector",
];

/// Message of the error raised when a call runs past its time budget.
pub const TIMEOUT_MESSAGE: &str = "workflow time limit exceeded";

/// How many interrupt callbacks pass between two clock reads: Luau calls the
/// interrupt at every loop back-edge and call, reading the clock each time would
/// cost more than the handler.
const CLOCK_EVERY: u32 = 64;

/// Longest a script runs before it yields its tokio worker thread to other tasks
/// (the router, other workflows). Handlers run as coroutines under `call_async`,
/// so a yield from the interrupt just makes the future return `Pending` once.
pub const TIME_SLICE: Duration = Duration::from_millis(5);

/// Finished handler coroutines kept for reuse per VM.
const THREAD_POOL: usize = 8;

/// The time budget of the call running in a VM, checked by Luau's interrupt.
///
/// Once expired, every interrupt raises again, so a script that catches the error
/// with `pcall` in a loop is stopped at its next instruction outside the `pcall`.
#[derive(Clone)]
pub struct Deadline {
    base: Instant,
    /// Nanoseconds after `base`; `u64::MAX` = disarmed (no call running),
    /// `u64::MAX - 1` = a call without a time budget (still time-sliced).
    at: Arc<AtomicU64>,
    /// Nanoseconds after `base` at which the script should yield its thread.
    slice_end: Arc<AtomicU64>,
    ticks: Arc<AtomicU32>,
}

impl Deadline {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            at: Arc::new(AtomicU64::new(u64::MAX)),
            slice_end: Arc::new(AtomicU64::new(u64::MAX)),
            ticks: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Starts a budget of `budget` from now (`ZERO` = unlimited).
    pub fn arm(&self, budget: Duration) {
        let now = self.base.elapsed();
        let at = if budget.is_zero() {
            u64::MAX - 1
        } else {
            (now + budget).as_nanos() as u64
        };
        self.slice_end
            .store((now + TIME_SLICE).as_nanos() as u64, Ordering::Relaxed);
        self.at.store(at, Ordering::Relaxed);
    }

    /// Removes the budget.
    pub fn disarm(&self) {
        self.at.store(u64::MAX, Ordering::Relaxed);
    }

    /// Whether the budget is spent.
    pub fn expired(&self) -> bool {
        let at = self.at.load(Ordering::Relaxed);
        at < u64::MAX - 1 && self.base.elapsed().as_nanos() as u64 >= at
    }

    fn check(&self) -> mlua::Result<VmState> {
        let at = self.at.load(Ordering::Relaxed);
        if at == u64::MAX {
            return Ok(VmState::Continue);
        }
        let n = self.ticks.fetch_add(1, Ordering::Relaxed);
        if !n.is_multiple_of(CLOCK_EVERY) {
            return Ok(VmState::Continue);
        }
        let now = self.base.elapsed().as_nanos() as u64;
        if at < u64::MAX - 1 && now >= at {
            // Reset the sampler so the next check reads the clock again at once.
            self.ticks.store(0, Ordering::Relaxed);
            return Err(mlua::Error::runtime(TIMEOUT_MESSAGE));
        }
        if now >= self.slice_end.load(Ordering::Relaxed) {
            self.slice_end
                .store(now + TIME_SLICE.as_nanos() as u64, Ordering::Relaxed);
            return Ok(VmState::Yield);
        }
        Ok(VmState::Continue)
    }
}

/// A fresh VM with base, table, string and math only, the dangerous globals
/// removed, the memory limit set and the time-limit interrupt installed.
///
/// The caller adds its globals (`sekia`, `print`) and then calls [`seal`].
pub fn new_vm(memory_limit: usize) -> mlua::Result<(Lua, Deadline)> {
    // Handlers run as coroutines (`call_async`); without a pool mlua creates a
    // new Luau thread for every call.
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default().thread_pool_size(THREAD_POOL),
    )?;
    let globals = lua.globals();
    for name in REMOVED_GLOBALS {
        globals.raw_set(*name, mlua::Nil)?;
    }
    if memory_limit > 0 {
        lua.set_memory_limit(memory_limit)?;
    }
    let deadline = Deadline::new();
    let check = deadline.clone();
    lua.set_interrupt(move |_| check.check());
    Ok((lua, deadline))
}

/// Freezes the standard library and the globals defined so far (Luau sandbox
/// mode): scripts cannot modify `string`, `table`, `math`, `sekia` or the string
/// metatable, and their own globals go to a per-VM table that persists across
/// events until reload.
///
/// The removed globals are cleared again first: mlua opens `coroutine` on its own
/// for its async support after the state is created.
pub fn seal(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    for name in REMOVED_GLOBALS {
        globals.raw_set(*name, mlua::Nil)?;
    }
    lua.sandbox(true)
}

/// Runs `f` with the VM's memory limit lifted, for conversions the engine does
/// itself (event → table, table → payload) whose size the script does not
/// control. With a limit set, mlua wraps every table write from Rust in a
/// protected call (it must catch allocation errors), which costs more than half
/// of the handler throughput; these writes are bounded by the event's size.
pub(crate) fn without_limit<R>(lua: &Lua, limit: usize, f: impl FnOnce() -> R) -> R {
    if limit == 0 {
        return f();
    }
    let _ = lua.set_memory_limit(0);
    let r = f();
    let _ = lua.set_memory_limit(limit);
    r
}
