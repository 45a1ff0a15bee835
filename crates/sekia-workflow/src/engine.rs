//! The engine: loads workflow files, routes `sekia.events.>` to them, reloads,
//! reports, shuts down.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use ts_rs::TS;

use futures::StreamExt;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use sekia_bus::{Bus, SubscribeOptions};
use sekia_protocol::WorkflowInfo;
use sekia_protocol::subjects::EVENTS_ALL;

use crate::ai::{HttpLlm, Llm};
use crate::api::Services;
use crate::clock::{Clock, rfc3339};
use crate::config::EngineConfig;
use crate::conversation::ConversationStore;
use crate::error::{EngineError, LastError, LoadError, LoadErrorKind};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::output::{BusSink, Sink};
use crate::skills::{Skill, load_skills, skills_index};
use crate::vm::{Limits, LoadParams, Vm};
use crate::workflow::Workflow;

/// Manifest of skill handlers, in the skills directory (`<dir>/handler.lua` lines).
pub const SKILLS_MANIFEST_FILE: &str = "skills.sha256";

/// Queue of the engine's single bus subscription.
const ROUTER_CAPACITY: usize = 16_384;

/// A loaded workflow as reported by the API: sekia's fields plus diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct WorkflowStatus {
    /// sekia's `WorkflowInfo` (name, file_path, handlers, patterns, loaded_at,
    /// events, errors).
    #[serde(flatten)]
    pub info: WorkflowInfo,
    /// The last handler error, timeout, memory error or refused reload.
    pub last_error: Option<LastError>,
    /// Median time to handle one event (all matching handlers), µs.
    pub handler_p50_us: u64,
    /// 99th percentile of the same, µs.
    pub handler_p99_us: u64,
    /// Events lost because the workflow's queue was full.
    pub dropped: u64,
}

/// A file that is not running because it never loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LoadFailure {
    /// File, line, message.
    #[serde(flatten)]
    pub error: LoadError,
    /// When, RFC 3339.
    pub at: String,
}

pub(crate) struct Inner {
    pub config: EngineConfig,
    pub clock: Arc<dyn Clock>,
    sink: Arc<dyn Sink>,
    llm: Option<Arc<dyn Llm>>,
    persona: String,
    conversations: ConversationStore,
    services: RwLock<Arc<Services>>,
    skills: RwLock<Arc<Vec<Skill>>>,
    workflows: RwLock<Arc<Vec<Arc<Workflow>>>>,
    load_errors: Mutex<BTreeMap<String, LoadFailure>>,
    /// Serialises loads so that concurrent reloads of one file cannot interleave.
    load_lock: tokio::sync::Mutex<()>,
    shutdown: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    decode_errors: AtomicU64,
    /// While set, the router passes no event to any workflow (the tray's "Pause all workflows").
    paused: AtomicBool,
    /// Events that arrived while paused and so reached no workflow.
    skipped_paused: AtomicU64,
    /// SHA-256 of the source each running workflow was loaded from, by name: lets the watcher
    /// skip a file whose bytes it already runs (a save from the UI loads it at once, then the
    /// watcher sees the same write).
    loaded_from: Mutex<BTreeMap<String, [u8; 32]>>,
    /// Bumped whenever what [`Engine::workflows`], [`Engine::load_errors`] or
    /// [`Engine::is_paused`] report may have changed. See [`Engine::changes`].
    changes: tokio::sync::watch::Sender<u64>,
}

/// The Lua workflow engine. Cheap to clone.
///
/// Call [`Engine::shutdown`] to stop it: dropping the handles does not stop the
/// router, watcher and workflow tasks.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Starts the engine: creates the directory, loads skills and workflows,
    /// subscribes to `sekia.events.>`, starts the watcher if `hot_reload`.
    /// Files that fail to load are listed in [`Engine::load_errors`]; they do not
    /// stop the start.
    pub async fn start(
        bus: Arc<dyn Bus>,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine, EngineError> {
        let llm: Option<Arc<dyn Llm>> = match &config.ai {
            Some(ai) if ai.is_usable() => match HttpLlm::new(ai.clone()) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    tracing::error!("AI client not created: {e}");
                    None
                }
            },
            _ => None,
        };
        Self::start_with_llm(bus, config, clock, llm).await
    }

    /// [`Engine::start`] with a given LLM client (tests, custom providers).
    pub async fn start_with_llm(
        bus: Arc<dyn Bus>,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
        llm: Option<Arc<dyn Llm>>,
    ) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(&config.dir).map_err(|source| EngineError::Io {
            path: config.dir.clone(),
            source,
        })?;
        let persona =
            crate::ai::read_persona(config.ai.as_ref().and_then(|a| a.persona_path.as_deref()));
        let conversations = ConversationStore::new(config.conversation.clone(), clock.clone());
        let sink: Arc<dyn Sink> = Arc::new(BusSink { bus: bus.clone() });
        let inner = Arc::new(Inner {
            sink,
            llm,
            persona,
            conversations: conversations.clone(),
            services: RwLock::new(Arc::new(Services {
                llm: None,
                persona: String::new(),
                skills: Arc::default(),
                skills_index: String::new(),
                conversations: None,
                command_secret: String::new(),
                hop_limit: 0,
                clock: clock.clone(),
            })),
            skills: RwLock::new(Arc::default()),
            workflows: RwLock::new(Arc::default()),
            load_errors: Mutex::default(),
            load_lock: tokio::sync::Mutex::new(()),
            shutdown: CancellationToken::new(),
            tasks: Mutex::default(),
            decode_errors: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            changes: tokio::sync::watch::channel(0).0,
            skipped_paused: AtomicU64::new(0),
            loaded_from: Mutex::default(),
            config,
            clock,
        });
        let engine = Engine { inner };
        engine.refresh_services();
        let sub = bus
            .subscribe_with(
                EVENTS_ALL,
                SubscribeOptions::default().with_capacity(ROUTER_CAPACITY),
            )
            .await?;
        engine.load_everything().await;
        let router = tokio::spawn(route(engine.inner.clone(), sub));
        let cleanup = tokio::spawn(cleanup_conversations(
            conversations,
            engine.inner.shutdown.clone(),
        ));
        engine.push_task(router);
        engine.push_task(cleanup);
        if engine.inner.config.hot_reload {
            let watcher = crate::watcher::start(engine.clone())?;
            engine.push_task(watcher);
        }
        Ok(engine)
    }

    fn push_task(&self, t: JoinHandle<()>) {
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.push(t);
        }
    }

    /// Re-reads skills from disk and rebuilds what every newly loaded VM shares.
    fn refresh_services(&self) {
        let i = &self.inner;
        let skills = match &i.config.skills_dir {
            Some(dir) => {
                let (skills, errors) = load_skills(dir);
                for e in errors {
                    tracing::error!("skill not loaded: {e}");
                }
                skills
            }
            None => Vec::new(),
        };
        let skills = Arc::new(skills);
        let services = Services {
            llm: i.llm.clone(),
            persona: i.persona.clone(),
            skills_index: skills_index(&skills),
            skills: skills.clone(),
            conversations: Some(i.conversations.clone()),
            command_secret: i.config.command_secret.clone(),
            hop_limit: i.config.hop_limit,
            clock: i.clock.clone(),
        };
        if let Ok(mut s) = i.skills.write() {
            *s = skills;
        }
        if let Ok(mut s) = i.services.write() {
            *s = Arc::new(services);
        }
    }

    fn services(&self) -> Arc<Services> {
        match self.inner.services.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn list(&self) -> Arc<Vec<Arc<Workflow>>> {
        match self.inner.workflows.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Loads every file of the directory and every skill handler; unloads
    /// workflows whose file is gone.
    async fn load_everything(&self) {
        let dir = self.inner.config.dir.clone();
        let files = crate::manifest::lua_files(&dir).unwrap_or_default();
        let mut wanted: Vec<String> = Vec::new();
        for f in &files {
            if let Some(name) = workflow_name(f) {
                wanted.push(name);
            }
            let _ = self.load_file(f).await;
        }
        let skills = match self.inner.skills.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for s in skills.iter() {
            if let Some(h) = &s.handler {
                let name = format!("skill:{}", s.name);
                wanted.push(name.clone());
                let _ = self.load_skill_handler(&name, h).await;
            }
        }
        for w in self.list().iter() {
            if !wanted.contains(&w.name) {
                self.unload(&w.name).await;
            }
        }
    }

    /// Loads (or reloads) one workflow file from the workflow directory.
    ///
    /// On failure the previous version keeps running, except for integrity
    /// refusals, which unload it; the error is in [`Engine::load_errors`] and in
    /// the running version's `last_error`.
    pub async fn load_file(&self, path: &Path) -> Result<(), LoadError> {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(name) = workflow_name(path) else {
            return Err(LoadError::new(
                LoadErrorKind::Read,
                &file,
                "not a .lua file",
            ));
        };
        let manifest_dir = self.inner.config.dir.clone();
        self.load_named(&name, &file, &file, path, &manifest_dir)
            .await
    }

    async fn load_skill_handler(&self, name: &str, path: &Path) -> Result<(), LoadError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let skill_dir = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = format!("{skill_dir}/handler.lua");
        let manifest_dir = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
        self.load_named(name, &key, &key, path, &manifest_dir).await
    }

    async fn load_named(
        &self,
        name: &str,
        file: &str,
        manifest_key: &str,
        path: &Path,
        manifest_dir: &Path,
    ) -> Result<(), LoadError> {
        let _guard = self.inner.load_lock.lock().await;
        let result = self
            .load_locked(name, file, manifest_key, path, manifest_dir)
            .await;
        if let Err(e) = &result {
            tracing::error!(workflow = name, "workflow not loaded: {e}");
            let at = rfc3339(self.inner.clock.now());
            if let Ok(mut errs) = self.inner.load_errors.lock() {
                errs.insert(
                    name.to_owned(),
                    LoadFailure {
                        error: e.clone(),
                        at: at.clone(),
                    },
                );
            }
            if e.is_integrity() {
                self.remove(name).await;
            } else if let Some(w) = self.list().iter().find(|w| w.name == name) {
                w.ctx.stats.error(LastError {
                    message: format!("reload refused, previous version kept: {e}"),
                    line: e.line,
                    at,
                });
            }
        }
        self.changed();
        result
    }

    async fn load_locked(
        &self,
        name: &str,
        file: &str,
        manifest_key: &str,
        path: &Path,
        manifest_dir: &Path,
    ) -> Result<(), LoadError> {
        let cfg = &self.inner.config;
        // Read once: the bytes hashed are the bytes loaded (no TOCTOU).
        let source = std::fs::read(path)
            .map_err(|e| LoadError::new(LoadErrorKind::Read, file, e.to_string()))?;
        if cfg.verify_integrity {
            let manifest_file = if manifest_dir == cfg.dir.as_path() {
                MANIFEST_FILE
            } else {
                SKILLS_MANIFEST_FILE
            };
            let manifest = Manifest::load_file(&manifest_dir.join(manifest_file))
                .map_err(|e| LoadError::new(LoadErrorKind::Integrity, file, e.to_string()))?;
            manifest
                .verify(manifest_key, &source)
                .map_err(|e| LoadError::new(LoadErrorKind::Integrity, file, e))?;
        }
        let (vm, schedules) = Vm::load(LoadParams {
            name,
            file,
            source: &source,
            sink: self.inner.sink.clone(),
            services: self.services(),
            limits: Limits {
                timeout: cfg.handler_timeout,
                memory: cfg.memory_limit,
            },
        })
        .await?;
        let wf = Workflow::spawn(
            vm,
            schedules,
            path.to_path_buf(),
            self.inner.clock.now(),
            cfg.queue_capacity,
        );
        let old = self.swap(name, Some(wf));
        if let Ok(mut errs) = self.inner.load_errors.lock() {
            errs.remove(name);
        }
        if let Ok(mut hashes) = self.inner.loaded_from.lock() {
            hashes.insert(name.to_owned(), Sha256::digest(&source).into());
        }
        if let Some(old) = old {
            self.stop_in_background(&old);
        }
        tracing::info!(workflow = name, "workflow loaded");
        Ok(())
    }

    /// Puts `new` in place of the workflow called `name` (or just removes it) in the list the
    /// router reads, keeping it sorted by name; returns the old version.
    fn swap(&self, name: &str, new: Option<Arc<Workflow>>) -> Option<Arc<Workflow>> {
        let mut guard = match self.inner.workflows.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut list: Vec<Arc<Workflow>> = guard.iter().cloned().collect();
        let old = list
            .iter()
            .position(|w| w.name == name)
            .map(|i| list.remove(i));
        if let Some(wf) = new {
            list.push(wf);
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        *guard = Arc::new(list);
        old
    }

    /// Stops a replaced version: it finishes its queue, bounded by the grace.
    fn stop_in_background(&self, w: &Arc<Workflow>) {
        if let Some(task) = w.stop() {
            let grace = self.inner.config.shutdown_grace;
            tokio::spawn(async move {
                let abort = task.abort_handle();
                if tokio::time::timeout(grace, task).await.is_err() {
                    abort.abort();
                }
            });
        }
    }

    async fn remove(&self, name: &str) -> bool {
        let old = self.swap(name, None);
        if let Ok(mut hashes) = self.inner.loaded_from.lock() {
            hashes.remove(name);
        }
        match old {
            Some(w) => {
                self.stop_in_background(&w);
                tracing::info!(workflow = name, "workflow unloaded");
                true
            }
            None => false,
        }
    }

    /// Unloads a workflow (its queued events are still handled). Returns whether
    /// it was loaded.
    pub async fn unload(&self, name: &str) -> bool {
        let _guard = self.inner.load_lock.lock().await;
        if let Ok(mut errs) = self.inner.load_errors.lock() {
            errs.remove(name);
        }
        let removed = self.remove(name).await;
        self.changed();
        removed
    }

    /// Signals a change to what the engine reports (workflows loaded, unloaded or refused;
    /// pause and resume), so a status display can wait on it instead of polling. A handler's
    /// error comes with the event that caused it, so displays see it through the event feed.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Reloads skills, every workflow file and every skill handler (sekia's
    /// `ReloadAll`, without its gap: each file is swapped in place, and a file that
    /// no longer loads keeps its previous version unless refused for integrity).
    /// Returns the number of loaded workflows.
    pub async fn reload_all(&self) -> usize {
        self.refresh_services();
        self.load_everything().await;
        self.count()
    }

    /// Number of loaded workflows (skill handlers included).
    pub fn count(&self) -> usize {
        self.list().len()
    }

    /// The loaded workflows, sorted by name.
    pub fn workflows(&self) -> Vec<WorkflowStatus> {
        self.list()
            .iter()
            .map(|w| {
                let stats = &w.ctx.stats;
                let patterns: Vec<String> = match w.ctx.patterns.read() {
                    Ok(p) => p.iter().map(|p| p.as_str().to_owned()).collect(),
                    Err(_) => Vec::new(),
                };
                let (p50, p99) = stats.percentiles();
                WorkflowStatus {
                    info: WorkflowInfo {
                        name: w.name.clone(),
                        file_path: w.file_path.to_string_lossy().into_owned(),
                        handlers: patterns.len() as u64,
                        patterns,
                        loaded_at: rfc3339(w.loaded_at),
                        events: stats.events.load(Ordering::Relaxed),
                        errors: stats.errors.load(Ordering::Relaxed),
                    },
                    last_error: stats.last_error(),
                    handler_p50_us: p50,
                    handler_p99_us: p99,
                    dropped: stats.dropped.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// Files that are not running because their last load failed (a file whose
    /// previous version still runs is listed too), keyed by workflow name.
    pub fn load_errors(&self) -> Vec<LoadFailure> {
        self.inner
            .load_errors
            .lock()
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Bus messages on `sekia.events.>` that were not valid event JSON.
    pub fn decode_errors(&self) -> u64 {
        self.inner.decode_errors.load(Ordering::Relaxed)
    }

    /// Whether the workflow file at `path` holds exactly the bytes its running version was
    /// loaded from (so loading it again would change nothing).
    pub(crate) fn runs_current(&self, path: &Path) -> bool {
        let Some(name) = workflow_name(path) else {
            return false;
        };
        let Ok(source) = std::fs::read(path) else {
            return false;
        };
        let hash: [u8; 32] = Sha256::digest(&source).into();
        self.inner
            .loaded_from
            .lock()
            .is_ok_and(|h| h.get(&name) == Some(&hash))
    }

    /// Pauses or resumes every workflow. While paused, events are still delivered to history
    /// and other subscribers but no handler runs: they are skipped, not queued, so resuming does
    /// not replay a backlog of actions the user meant to stop. Returns the new state.
    pub fn set_paused(&self, paused: bool) -> bool {
        let was = self.inner.paused.swap(paused, Ordering::SeqCst);
        if was != paused {
            self.changed();
            tracing::info!(
                paused,
                "workflows {}",
                if paused { "paused" } else { "resumed" }
            );
        }
        paused
    }

    /// Whether workflows are paused (see [`Engine::set_paused`]).
    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    /// Events that reached no workflow because workflows were paused.
    pub fn skipped_while_paused(&self) -> u64 {
        self.inner.skipped_paused.load(Ordering::Relaxed)
    }

    /// The workflow directory.
    pub fn dir(&self) -> &Path {
        &self.inner.config.dir
    }

    /// Graceful stop: stops the watcher and the router, lets every workflow finish
    /// its queue within `shutdown_grace` (then aborts it), and empties the engine.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let _guard = self.inner.load_lock.lock().await;
        let list = {
            let mut guard = match self.inner.workflows.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            std::mem::take(&mut *guard)
        };
        let grace = self.inner.config.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        let handles: Vec<JoinHandle<()>> = list.iter().filter_map(|w| w.stop()).collect();
        for h in handles {
            let abort = h.abort_handle();
            if tokio::time::timeout_at(deadline, h).await.is_err() {
                abort.abort();
            }
        }
    }

    pub(crate) fn is_shut_down(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
}

/// `foo.lua` → `foo`.
pub(crate) fn workflow_name(path: &Path) -> Option<String> {
    if path.extension()? != "lua" {
        return None;
    }
    Some(path.file_stem()?.to_string_lossy().into_owned())
}

async fn route(inner: Arc<Inner>, mut sub: sekia_bus::Subscription) {
    loop {
        let msg = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => break,
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        if inner.paused.load(Ordering::Relaxed) {
            inner.skipped_paused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let inc = match crate::wire::decode_event(&msg.subject, &msg.payload) {
            Ok(i) => Arc::new(i),
            Err(e) => {
                let n = inner.decode_errors.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(1024) {
                    tracing::warn!(subject = %msg.subject, "invalid event JSON: {e}");
                }
                continue;
            }
        };
        let list = match inner.workflows.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for w in list.iter() {
            w.offer(&inc);
        }
    }
}

async fn cleanup_conversations(store: ConversationStore, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => { store.cleanup(); }
        }
    }
}
