//! The `Daemon` handle: the one API that the socket server, the CLI, the desktop shell and the
//! tests all call. Components start in sekia's order (bus → registry → … ) and stop in reverse.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sekia_bus::{Bus, BusError, LocalBus, NatsBus};
use sekia_protocol::{AgentsResponse, Event, StatusResponse};
use sekia_store::Store;
use sekia_workflow::{DryRunReport, Engine, EngineError, LoadFailure, WorkflowStatus};
use serde::Serialize;
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::clock::Clock;
use crate::config::Config;
use crate::gotime::go_time;
use crate::registry::Registry;

/// How long shutdown waits for each component to drain before giving up on it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Nats { url: String, source: BusError },
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("workflow engine: {0}")]
    Engine(#[from] EngineError),
    #[error("workflow engine not enabled (workflows.dir is empty)")]
    WorkflowsDisabled,
    #[error("event history is off (store.enabled = false)")]
    HistoryDisabled,
    #[error("event history: {0}")]
    Store(#[from] sekia_store::StoreError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("field `{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("accounts: {0}")]
    Accounts(String),
    #[error(transparent)]
    Account(#[from] sekia_accounts::AccountError),
}

impl DaemonError {
    /// Bad input, naming the field it came in.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `GET /api/v1/workflows`: sekia's `{"workflows":[…]}` (each entry with our extra fields:
/// last error, handler time percentiles, drops) plus the files that failed to load.
#[derive(Debug, Clone, Serialize, TS)]
pub struct WorkflowsReport {
    pub workflows: Vec<WorkflowStatus>,
    pub load_errors: Vec<LoadFailure>,
    /// Paused from the tray or the UI: no handler runs.
    pub paused: bool,
    /// The workflow folder (empty when the engine is off).
    pub dir: String,
}

#[derive(Clone)]
pub struct Daemon {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: Config,
    bus: Arc<dyn Bus>,
    pub(crate) store: Option<Store>,
    registry: Arc<Registry>,
    engine: Option<Engine>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Connected accounts, or why they are unavailable (a damaged list, no keychain when
    /// `accounts.store = "keyring"`): the daemon runs on without them.
    pub(crate) accounts: Result<Arc<crate::accounts::Accounts>, String>,
    /// Bumped on anything the tray shows: agents, accounts, pause. See [`Daemon::changes`].
    changes: tokio::sync::watch::Sender<u64>,
    /// Why an account's connector is not running, by account name.
    pub(crate) connector_problems: Arc<Mutex<std::collections::BTreeMap<String, String>>>,
    started_at: SystemTime,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Daemon {
    /// Starts on the bus the config names: the in-process bus when `nats.url` is empty, else
    /// the NATS server or cluster at that URL.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Self, DaemonError> {
        let bus: Arc<dyn Bus> = if config.nats.url.is_empty() {
            Arc::new(LocalBus::new())
        } else {
            let nats = crate::bus_config::nats_config(&config);
            Arc::new(
                NatsBus::connect(nats)
                    .await
                    .map_err(|source| DaemonError::Nats {
                        url: config.nats.url.clone(),
                        source,
                    })?,
            )
        };
        Self::start_on(config, bus, clock).await
    }

    /// Starts on a bus the caller made (tests, the desktop shell).
    pub async fn start_on(
        config: Config,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, DaemonError> {
        let started_at = clock.now();
        if config.security.command_secret.is_empty() {
            tracing::warn!(
                "security.command_secret is empty: commands are sent unsigned and agents accept any command"
            );
        }
        // History first: it must be listening before anything else can publish.
        let store = if config.store.enabled {
            let store = Store::open(
                crate::engine_config::store_config(&config),
                Arc::clone(&clock),
            )?;
            store.attach(bus.as_ref()).await?;
            tracing::info!(path = %config.store.path.display(), "event history open");
            Some(store)
        } else {
            None
        };
        let stop = CancellationToken::new();
        let started = Self::start_components(&config, &bus, &clock, &stop).await;
        let (registry, registry_task, engine) = match started {
            Ok(parts) => parts,
            Err(e) => {
                // Undo what did start, so a failed start leaves no writer thread behind.
                stop.cancel();
                if let Some(store) = &store
                    && let Err(close) = store.close().await
                {
                    tracing::warn!(error = %close, "event history did not close cleanly");
                }
                return Err(e);
            }
        };
        let accounts = crate::accounts::Accounts::open(&config, Arc::clone(&clock))
            .map(Arc::new)
            .map_err(|e| {
                tracing::error!(error = %e, "accounts are unavailable");
                e.to_string()
            });
        let connector_problems = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let changes = tokio::sync::watch::channel(0u64).0;
        let sources = [
            Some(registry.subscribe()),
            accounts.as_ref().ok().map(|a| a.changed.subscribe()),
            engine.as_ref().map(Engine::changes),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut tasks = vec![registry_task];
        tasks.extend(forward_changes(sources, &changes, &stop));
        if let Ok(accounts) = &accounts {
            tasks.push(crate::connectors::spawn(
                crate::connectors::ConnectorContext {
                    bus: Arc::clone(&bus),
                    clock: Arc::clone(&clock),
                    config: config.clone(),
                    accounts: Arc::clone(accounts),
                    problems: Arc::clone(&connector_problems),
                },
                stop.child_token(),
            ));
        }
        tracing::info!(
            bus = if config.nats.url.is_empty() {
                "in-process"
            } else {
                "nats"
            },
            "sekiad started"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                bus,
                store,
                registry,
                engine,
                clock,
                accounts,
                changes,
                connector_problems,
                started_at,
                stop,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// The registry, then the workflow engine (sekia's order). Fails without side effects
    /// beyond what `stop` cancels.
    async fn start_components(
        config: &Config,
        bus: &Arc<dyn Bus>,
        clock: &Arc<dyn Clock>,
        stop: &CancellationToken,
    ) -> Result<(Arc<Registry>, JoinHandle<()>, Option<Engine>), DaemonError> {
        let interval = config.registry.heartbeat_interval.get();
        let registry = Arc::new(Registry::new(
            Arc::clone(clock),
            interval,
            config.registry.missed_heartbeats,
        ));
        let sweep_every = interval
            .min(Duration::from_secs(10))
            .max(Duration::from_millis(100));
        let registry_task = registry
            .spawn(bus.as_ref(), sweep_every, stop.child_token())
            .await?;
        let engine = match crate::engine_config::engine_config(config)? {
            Some(engine_config) => {
                Some(Engine::start(Arc::clone(bus), engine_config, Arc::clone(clock)).await?)
            }
            None => {
                tracing::info!("workflows.dir is empty: the workflow engine is off");
                None
            }
        };
        Ok((registry, registry_task, engine))
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn bus(&self) -> Arc<dyn Bus> {
        Arc::clone(&self.inner.bus)
    }

    /// `GET /api/v1/status`.
    pub async fn status(&self) -> StatusResponse {
        let uptime = self
            .inner
            .clock
            .now()
            .duration_since(self.inner.started_at)
            .unwrap_or_default();
        StatusResponse {
            status: "ok".into(),
            uptime: sekia_protocol::format_go_duration_secs(uptime.as_secs()),
            nats_running: self.inner.bus.stats().connected,
            started_at: go_time(self.inner.started_at),
            agent_count: self.inner.registry.count() as u64,
            workflow_count: self.inner.engine.as_ref().map_or(0, |e| e.count() as u64),
        }
    }

    /// `GET /api/v1/agents`.
    pub async fn agents(&self) -> AgentsResponse {
        AgentsResponse {
            agents: self.inner.registry.agents(),
        }
    }

    /// `GET /api/v1/workflows`.
    pub async fn workflows(&self) -> WorkflowsReport {
        match &self.inner.engine {
            Some(engine) => WorkflowsReport {
                workflows: engine.workflows(),
                load_errors: engine.load_errors(),
                paused: engine.is_paused(),
                dir: engine.dir().display().to_string(),
            },
            None => WorkflowsReport {
                workflows: Vec::new(),
                load_errors: Vec::new(),
                paused: false,
                dir: String::new(),
            },
        }
    }

    /// The workflow engine, or why there is none.
    pub(crate) fn engine(&self) -> Result<&Engine, DaemonError> {
        self.inner
            .engine
            .as_ref()
            .ok_or(DaemonError::WorkflowsDisabled)
    }

    /// Pauses (`true`) or resumes every workflow; returns the new state. Events keep flowing
    /// into history while paused; handlers skip them.
    pub fn set_paused(&self, paused: bool) -> Result<bool, DaemonError> {
        Ok(self.engine()?.set_paused(paused))
    }

    /// Changes to what a status display shows besides new events (those come from
    /// [`Daemon::live_events`]): agents appearing, going offline or coming back, accounts
    /// added, removed or refused, workflows loaded, unloaded or refused, pause and resume. A
    /// display waits on this instead of polling, so an idle app does not wake up.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Whether workflows are paused.
    pub fn is_paused(&self) -> bool {
        self.inner.engine.as_ref().is_some_and(|e| e.is_paused())
    }

    /// The overview's status: sekia's status, paused, events today and what needs attention.
    pub async fn daemon_status(&self) -> crate::api::DaemonStatus {
        let status = self.status().await;
        let events_today = match &self.inner.store {
            Some(store) => {
                let midnight = crate::gotime::local_midnight_ms(self.inner.clock.now());
                store
                    .count_received_since(midnight)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "cannot count today's events");
                        0
                    })
            }
            None => 0,
        };
        use crate::api::{Attention, AttentionKind};
        let mut attention = Vec::new();
        if let Some(engine) = &self.inner.engine {
            for f in engine.load_errors() {
                attention.push(Attention::new(
                    AttentionKind::WorkflowError,
                    format!(
                        "workflow {} did not load: {}",
                        f.error.file, f.error.message
                    ),
                ));
            }
            for w in engine.workflows() {
                if let Some(e) = &w.last_error {
                    attention.push(Attention::new(
                        AttentionKind::WorkflowError,
                        format!("workflow {}: {}", w.info.name, e.message),
                    ));
                }
            }
        }
        for a in self.inner.registry.agents() {
            if a.status == crate::registry::OFFLINE {
                attention.push(Attention::new(
                    AttentionKind::AgentOffline,
                    format!("agent {} is offline", a.name),
                ));
            }
        }
        attention.extend(self.accounts_attention());
        for (name, problem) in self
            .inner
            .connector_problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            attention.push(Attention::new(
                AttentionKind::Unavailable,
                format!("connector {name} is not running: {problem}"),
            ));
        }
        crate::api::DaemonStatus {
            status,
            paused: self.is_paused(),
            events_today,
            history: self.inner.store.is_some(),
            workflows_enabled: self.inner.engine.is_some(),
            attention,
        }
    }

    /// `POST /api/v1/workflows/reload`: every file and skill handler again; returns how many
    /// workflows are loaded.
    pub async fn reload_workflows(&self) -> Result<usize, DaemonError> {
        let engine = self
            .inner
            .engine
            .as_ref()
            .ok_or(DaemonError::WorkflowsDisabled)?;
        Ok(engine.reload_all().await)
    }

    /// `POST /api/v1/config/reload[?target=NAME]`, `sekiactl config reload [--target NAME]`:
    /// asks every agent (no target, or `*`) or the named one to read its config again, on
    /// sekia's subjects, so standalone `sekia-agent`s on a NATS server hear it too. The
    /// daemon's own connectors restart with their changed `[connectors.<name>]` sections.
    pub async fn request_config_reload(
        &self,
        target: Option<&str>,
    ) -> Result<sekia_protocol::ConfigReloadResponse, DaemonError> {
        let target = target
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("*");
        let subject = if target == "*" {
            sekia_protocol::subjects::CONFIG_RELOAD.to_owned()
        } else {
            sekia_protocol::subjects::config_reload_target(target)
                .map_err(|e| DaemonError::invalid("target", e.to_string()))?
        };
        self.inner
            .bus
            .publish(&subject, bytes::Bytes::new())
            .await?;
        tracing::info!(target, "config reload requested");
        Ok(sekia_protocol::ConfigReloadResponse {
            status: sekia_protocol::types::STATUS_RELOAD_REQUESTED.into(),
            target: target.to_owned(),
        })
    }

    /// Runs `source` against `event` in a fresh sandbox and reports what it would do; nothing
    /// is sent. For the UI's dry-run panel and `sekiactl workflows test`.
    pub async fn dry_run(
        &self,
        source: &str,
        file_name: &str,
        event: Event,
        ai_answer: Option<String>,
    ) -> DryRunReport {
        sekia_workflow::dry_run(source, file_name, event, ai_answer).await
    }

    /// Stops every component in reverse start order, each bounded by a drain timeout, then
    /// flushes the bus. Calling it twice is harmless (sekia panicked).
    pub async fn shutdown(&self) {
        if self.inner.stop.is_cancelled() {
            return;
        }
        if let Some(engine) = &self.inner.engine
            && tokio::time::timeout(DRAIN_TIMEOUT * 2, engine.shutdown())
                .await
                .is_err()
        {
            tracing::warn!("the workflow engine did not drain in time");
        }
        self.inner.stop.cancel();
        let tasks: Vec<_> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks.into_iter().rev() {
            let abort = task.abort_handle();
            if tokio::time::timeout(DRAIN_TIMEOUT, task).await.is_err() {
                tracing::warn!("a component did not stop within {DRAIN_TIMEOUT:?}; aborting it");
                abort.abort();
            }
        }
        if tokio::time::timeout(DRAIN_TIMEOUT, self.inner.bus.close())
            .await
            .is_err()
        {
            tracing::warn!("the bus did not drain within {DRAIN_TIMEOUT:?}");
        }
        // After the bus: everything it delivered is written before the store closes.
        if let Some(store) = &self.inner.store {
            match tokio::time::timeout(DRAIN_TIMEOUT * 2, store.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "event history did not close cleanly"),
                Err(_) => tracing::warn!("event history did not flush in time"),
            }
        }
        tracing::info!("sekiad stopped");
    }
}

/// Merges the change signals of the registry, the accounts and the workflow engine into the
/// daemon's one: a task per source, each bumping `out` when its source changes.
fn forward_changes(
    sources: Vec<tokio::sync::watch::Receiver<u64>>,
    out: &tokio::sync::watch::Sender<u64>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    sources
        .into_iter()
        .map(|mut source| {
            let (out, stop) = (out.clone(), stop.child_token());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        r = source.changed() => if r.is_err() { break },
                    }
                    out.send_modify(|n| *n = n.wrapping_add(1));
                }
            })
        })
        .collect()
}
