//! Shared test harness: a LocalBus, a temp workflow dir, and helpers to publish
//! events and await commands with bounded timeouts.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use sekia_bus::{Bus, LocalBus, Subscription};
use sekia_protocol::{Command, Event, Payload};
use sekia_workflow::{Engine, EngineConfig, SystemClock, WorkflowStatus};

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Harness {
    pub engine: Engine,
    pub bus: LocalBus,
    pub dir: tempfile::TempDir,
    pub commands: Subscription,
}

pub fn config(dir: &std::path::Path) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.hot_reload = false;
    c.handler_timeout = Duration::from_millis(300);
    c.memory_limit = 16 << 20;
    c.shutdown_grace = Duration::from_secs(2);
    c
}

pub fn write(dir: &std::path::Path, file: &str, src: &str) {
    std::fs::write(dir.join(file), src).unwrap();
}

impl Harness {
    /// Writes `files` then starts an engine with `tweak` applied to the config.
    pub async fn start(files: &[(&str, &str)], tweak: impl FnOnce(&mut EngineConfig)) -> Self {
        Self::start_with_llm(files, tweak, None).await
    }

    pub async fn start_with_llm(
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut EngineConfig),
        llm: Option<Arc<dyn sekia_workflow::ai::Llm>>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (f, s) in files {
            write(dir.path(), f, s);
        }
        let mut cfg = config(dir.path());
        tweak(&mut cfg);
        let bus = LocalBus::new();
        let commands = bus.subscribe("sekia.commands.>").await.unwrap();
        let b: Arc<dyn Bus> = Arc::new(bus.clone());
        let engine = match llm {
            Some(llm) => Engine::start_with_llm(b, cfg, Arc::new(SystemClock), Some(llm)).await,
            None => Engine::start(b, cfg, Arc::new(SystemClock)).await,
        }
        .unwrap();
        Self {
            engine,
            bus,
            dir,
            commands,
        }
    }

    pub async fn publish(&self, subject: &str, payload: Value) {
        self.publish_from(subject, "test", payload).await;
    }

    pub async fn publish_from(&self, subject: &str, source: &str, payload: Value) {
        let payload: Payload = match payload {
            Value::Object(m) => m,
            _ => Payload::new(),
        };
        let e = Event::new("test.event", source, payload, 1_700_000_000);
        let bytes = sekia_protocol::json::to_vec(&e).unwrap();
        self.bus.publish(subject, Bytes::from(bytes)).await.unwrap();
    }

    /// Next command on `sekia.commands.>`, with its subject.
    pub async fn next_command(&mut self) -> (String, Command) {
        let m = tokio::time::timeout(WAIT, self.commands.next())
            .await
            .expect("no command in time")
            .expect("bus closed");
        (
            m.subject.to_string(),
            serde_json::from_slice(&m.payload).unwrap(),
        )
    }

    /// Asserts that no command arrives within `d`.
    pub async fn no_command(&mut self, d: Duration) {
        if let Ok(Some(m)) = tokio::time::timeout(d, self.commands.next()).await {
            panic!(
                "unexpected command on {}: {}",
                m.subject,
                String::from_utf8_lossy(&m.payload)
            );
        }
    }

    pub fn status(&self, name: &str) -> Option<WorkflowStatus> {
        self.engine
            .workflows()
            .into_iter()
            .find(|w| w.info.name == name)
    }

    /// Waits until `f` holds for the workflow's status.
    pub async fn wait_status(
        &self,
        name: &str,
        f: impl Fn(&WorkflowStatus) -> bool,
    ) -> WorkflowStatus {
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(s) = self.status(name)
                && f(&s)
            {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "status of {name} never matched: {:?}",
                self.status(name)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Pings workflow `name` (which must echo `sekia.events.ping.<name>` as a
    /// `pong` command) and asserts the answer.
    pub async fn assert_alive(&mut self, name: &str) {
        self.publish(&format!("sekia.events.ping.{name}"), json!({"n": 1}))
            .await;
        loop {
            let (_, c) = self.next_command().await;
            if c.command == "pong"
                && c.payload.as_ref().and_then(|p| p.get("w")) == Some(&json!(name))
            {
                return;
            }
            assert_ne!(c.command, "escaped", "escape succeeded: {c:?}");
        }
    }
}

/// Lua that answers pings for workflow `name`.
pub fn ponger(name: &str) -> String {
    format!(
        "sekia.on('sekia.events.ping.{name}', function(ev) sekia.command('test', 'pong', {{w = '{name}', n = ev.payload.n}}) end)\n"
    )
}
