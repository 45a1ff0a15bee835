//! The embedded daemon: `Sekiad` (the daemon and its local API, exactly as the headless
//! `sekiad` runs them) on its own tokio runtime in a background thread, and a handle that a
//! tray or a window uses to call it, watch its state and stop it.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sekia_daemon::{Clock, Config, Daemon, StatusWatch, StoredEvent};
use sekia_server::Sekiad;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::{broadcast, oneshot, watch};

/// What the window and the tray show about the daemon. Sent to the UI as `sekia:state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DaemonState {
    Starting,
    Running {
        socket: PathBuf,
    },
    /// The daemon did not start: a config error, or another sekiad owns the socket. The
    /// message is user-facing as it is.
    Failed {
        error: String,
    },
    Stopped,
}

/// A cheap, cloneable handle on the embedded daemon.
#[derive(Clone)]
pub struct DaemonHost {
    inner: Arc<Inner>,
}

struct Inner {
    state: watch::Sender<DaemonState>,
    running: Mutex<Option<(Daemon, Handle)>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    workflows_dir: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DaemonHost {
    /// Starts `Sekiad` with `config` on a new runtime in a background thread and returns at
    /// once; the state goes `Starting` → `Running` or `Failed`.
    pub fn start(config: Config, clock: Arc<dyn Clock>) -> Self {
        let workflows_dir =
            Some(config.workflows.dir.clone()).filter(|d| !d.as_os_str().is_empty());
        let host = Self::new(DaemonState::Starting, workflows_dir);
        let (stop_tx, stop_rx) = oneshot::channel();
        *lock(&host.inner.stop) = Some(stop_tx);
        let inner = Arc::clone(&host.inner);
        let thread = std::thread::Builder::new()
            .name("sekia-daemon".into())
            .spawn(move || run_daemon(inner, config, clock, stop_rx));
        match thread {
            Ok(t) => *lock(&host.inner.thread) = Some(t),
            Err(e) => host.set_state(DaemonState::Failed {
                error: format!("cannot start the daemon thread: {e}"),
            }),
        }
        host
    }

    /// A host whose daemon never started, e.g. because the config did not load.
    pub fn failed(error: impl Into<String>) -> Self {
        Self::new(
            DaemonState::Failed {
                error: error.into(),
            },
            None,
        )
    }

    fn new(state: DaemonState, workflows_dir: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: watch::Sender::new(state),
                running: Mutex::new(None),
                stop: Mutex::new(None),
                thread: Mutex::new(None),
                workflows_dir,
            }),
        }
    }

    fn set_state(&self, state: DaemonState) {
        self.inner.state.send_replace(state);
    }

    pub fn state(&self) -> DaemonState {
        self.inner.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<DaemonState> {
        self.inner.state.subscribe()
    }

    /// `workflows.dir` from the config, when the engine is on.
    pub fn workflows_dir(&self) -> Option<&PathBuf> {
        self.inner.workflows_dir.as_ref()
    }

    /// Blocks until the daemon is no longer `Starting` (or `timeout` passes); returns the state.
    pub fn wait_settled(&self, timeout: Duration) -> DaemonState {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.state();
            if state != DaemonState::Starting || Instant::now() >= deadline {
                return state;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&self) -> Result<(Daemon, Handle), String> {
        lock(&self.inner.running)
            .clone()
            .ok_or_else(|| match self.state() {
                DaemonState::Starting => "sekia is starting".to_string(),
                DaemonState::Failed { error } => error,
                DaemonState::Running { .. } | DaemonState::Stopped => {
                    "sekia has stopped".to_string()
                }
            })
    }

    /// Runs `f` with the daemon on the daemon's own runtime; the error, when the daemon is not
    /// running, says why in words for the user.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(Daemon) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (daemon, handle) = self.running()?;
        handle
            .spawn(f(daemon))
            .await
            .map_err(|e| format!("the daemon task failed: {e}"))
    }

    /// [`Self::call`] for the daemon's fallible methods.
    pub async fn try_call<T, E, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(Daemon) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.call(f).await?.map_err(|e| e.to_string())
    }

    /// The live feed of newly stored events and the runtime to read it on; `None` while the
    /// daemon is not running or history is off.
    pub fn live_events(&self) -> Option<(broadcast::Receiver<Arc<StoredEvent>>, Handle)> {
        let (daemon, handle) = self.running().ok()?;
        let rx = daemon.live_events().ok()?;
        Some((rx, handle))
    }

    /// When a status display should look again ([`StatusWatch`]); only rarely while the daemon
    /// is not running.
    pub fn status_watch(&self) -> StatusWatch {
        self.running()
            .map_or_else(|_| StatusWatch::idle(), |(daemon, _)| daemon.status_watch())
    }

    /// [`Self::status_watch`] that also wakes when the daemon starts or stops, and then
    /// follows the daemon that is there now.
    pub fn watch(&self) -> HostWatch {
        HostWatch {
            host: self.clone(),
            states: self.subscribe(),
            status: self.status_watch(),
        }
    }

    fn request_stop(&self) -> Option<JoinHandle<()>> {
        if let Some(stop) = lock(&self.inner.stop).take() {
            let _ = stop.send(());
        }
        lock(&self.inner.thread).take()
    }

    /// Stops the daemon (the API socket first, then the daemon, as `sekiad` does on SIGTERM)
    /// and waits for its thread. Calling it again is harmless.
    pub fn shutdown_blocking(&self) {
        if let Some(thread) = self.request_stop() {
            let _ = thread.join();
        }
    }

    /// [`Self::shutdown_blocking`] for async callers.
    pub async fn shutdown(&self) {
        if let Some(thread) = self.request_stop() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// See [`DaemonHost::watch`].
pub struct HostWatch {
    host: DaemonHost,
    states: watch::Receiver<DaemonState>,
    status: StatusWatch,
}

impl HostWatch {
    /// Returns when a status display should look again; `false` once the host is gone.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            changed = self.states.changed() => {
                if changed.is_err() {
                    return false;
                }
                // Started or stopped: the signals of the daemon that is there now.
                self.status = self.host.status_watch();
            }
            () = self.status.next() => {}
        }
        true
    }
}

fn run_daemon(
    inner: Arc<Inner>,
    config: Config,
    clock: Arc<dyn Clock>,
    stop: oneshot::Receiver<()>,
) {
    let host = DaemonHost { inner };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sekia-daemon-rt")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            host.set_state(DaemonState::Failed {
                error: format!("cannot start the daemon's async runtime: {e}"),
            });
            return;
        }
    };
    runtime.block_on(async {
        let sekiad = match Sekiad::start(config, clock).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("sekiad did not start: {e}");
                host.set_state(DaemonState::Failed {
                    error: e.to_string(),
                });
                return;
            }
        };
        let socket = sekiad.socket().to_path_buf();
        tracing::info!(socket = %socket.display(), "sekiad is running in the desktop shell");
        *lock(&host.inner.running) = Some((sekiad.daemon().clone(), Handle::current()));
        host.set_state(DaemonState::Running { socket });
        let _ = stop.await;
        *lock(&host.inner.running) = None;
        tracing::info!("stopping sekiad");
        sekiad.shutdown().await;
        host.set_state(DaemonState::Stopped);
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// Loads the config as `sekiad` does (the same files, environment and defaults) and starts the
/// daemon; a config error becomes a failed host whose message the window and the tray show.
pub fn start_configured() -> DaemonHost {
    use sekia_daemon::SystemClock;
    use sekia_daemon::config::{LoadOptions, load};
    match load(&LoadOptions::from_process(None)) {
        Ok(loaded) => {
            match &loaded.source {
                Some(path) => tracing::info!("config loaded from {}", path.display()),
                None => tracing::info!("no config file found; running on defaults"),
            }
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            DaemonHost::start(loaded.config, Arc::new(SystemClock))
        }
        Err(e) => {
            tracing::error!("{e}");
            DaemonHost::failed(e.to_string())
        }
    }
}
