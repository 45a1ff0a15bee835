//! An agent on the bus, the part every connector shares.
//!
//! [`start_agent`] subscribes to `sekia.commands.<name>`, announces the agent
//! (registration + heartbeats through [`Presence`]) and runs two tasks:
//!
//! - **intake** reads command messages, decodes them, checks the signature
//!   when a secret is set, and queues them. A message that is not a command, a
//!   bad signature or a full queue is answered at once with `command.failed`.
//! - **worker** runs the queued commands one at a time, in arrival order, through
//!   the connector's [`CommandHandler`], and publishes a `command.succeeded` or
//!   `command.failed` result on `sekia.events.sekia`.
//!
//! One queue per agent: commands to one account keep their order, and a slow
//! service only delays its own agent. Results carry `command_id`, the SHA-256
//! of the command message bytes (see sekia-store), so the store can attach the
//! outcome to the command.
//!
//! The connector publishes its own events through the [`EventSink`]: source
//! and subject are the service's (`github`, `sekia.events.github`) as in sekia,
//! and the payload gets `account` = the instance name so that two accounts of
//! one service can be told apart.
//!
//! Stopping: cancel the token given to [`start_agent`]. Intake stops taking
//! commands. The command under way finishes its current request (retries are
//! skipped, so a dead service does not hold the stop); commands still queued are
//! not started and get `command.failed` ("the agent stopped before running
//! it"), so every accepted command has a result. Then presence stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use sekia_bus::{Bus, BusError, Message, Presence, PresenceHandle};
use sekia_protocol::{Clock, Command, Event, Payload, Registration, Secret, subjects};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::command::{Args, CommandError};
use crate::error::ConnectorError;

/// The subject of command results.
pub const RESULTS_SUBJECT: &str = "sekia.events.sekia";
/// The `source` of command result events (their subject's last token).
pub const RESULTS_SOURCE: &str = "sekia";
/// Event type of a successful command.
pub const COMMAND_SUCCEEDED: &str = "command.succeeded";
/// Event type of a failed or rejected command.
pub const COMMAND_FAILED: &str = "command.failed";

/// Who the agent is and how it takes commands.
#[derive(Clone, Debug)]
pub struct AgentSpec {
    /// Instance name: registry name, `sekia.commands.<name>`, and `account` in events.
    pub name: String,
    /// Service: event subject `sekia.events.<service>` and event `source`.
    pub service: String,
    pub version: String,
    pub capabilities: Vec<String>,
    pub commands: Vec<String>,
    /// `security.command_secret`; empty: commands are not checked (as in sekia).
    pub command_secret: Secret,
    /// sekia agents heartbeat every 30 s.
    pub heartbeat_interval: Duration,
    /// Commands that may wait; more are refused with `command.failed`.
    pub queue_capacity: usize,
    /// Time limit of one command, retries included.
    pub command_timeout: Duration,
}

impl AgentSpec {
    /// Defaults for everything but the identity.
    pub fn new(name: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            service: service.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Vec::new(),
            commands: Vec::new(),
            command_secret: Secret::default(),
            heartbeat_interval: Duration::from_secs(30),
            queue_capacity: 256,
            command_timeout: Duration::from_secs(300),
        }
    }
}

/// What a connector does with a command.
#[async_trait]
pub trait CommandHandler: Send + Sync + 'static {
    /// Runs `command` with its checked-out payload. `Err` becomes `command.failed`
    /// with the error's text.
    async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError>;

    /// The answer to a command not in the registration's list. A connector whose
    /// commands depend on its config (Google: Gmail and/or Calendar) can say why
    /// one is unavailable instead of "unknown command".
    fn unlisted(&self, command: &str) -> CommandError {
        CommandError::Unknown(command.to_owned())
    }
}

/// Publishes the connector's events. Cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    bus: Arc<dyn Bus>,
    subject: String,
    service: String,
    account: String,
    presence: Arc<PresenceHandle>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("subject", &self.subject)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl EventSink {
    /// Publishes an event of `event_type` with `payload` plus `account`.
    pub async fn publish(&self, event_type: &str, mut payload: Payload) -> Result<(), BusError> {
        payload.insert("account".into(), Value::String(self.account.clone()));
        let event = Event::new(
            event_type,
            self.service.clone(),
            payload,
            self.clock.unix_secs(),
        );
        let bytes = sekia_protocol::json::to_vec(&event)
            .map_err(|e| BusError::InvalidConfig(format!("cannot encode event: {e}")))?;
        match self.bus.publish(&self.subject, Bytes::from(bytes)).await {
            Ok(()) => {
                self.presence.record_event();
                Ok(())
            }
            Err(e) => {
                self.presence.record_error();
                Err(e)
            }
        }
    }

    /// Counts an ingest error (a failed poll) in the heartbeat.
    pub fn record_error(&self) {
        self.presence.record_error();
    }

    /// The instance name.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// What [`start_agent`] hands back.
#[derive(Debug)]
pub struct AgentContext {
    sink: EventSink,
    tasks: Vec<JoinHandle<()>>,
}

impl AgentContext {
    pub fn sink(&self) -> &EventSink {
        &self.sink
    }

    /// Waits for intake and worker to end (after the cancel token fired).
    pub async fn join(self) {
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "agent task failed");
            }
        }
        // The last clone of the presence handle goes with the sink: heartbeats stop.
    }
}

struct Job {
    cmd: Command,
    command_id: String,
}

struct Shared {
    bus: Arc<dyn Bus>,
    spec: AgentSpec,
    presence: Arc<PresenceHandle>,
    clock: Arc<dyn Clock>,
}

/// Starts the agent: see the module docs. Returns once the command subscription
/// is live and the registration is published.
pub async fn start_agent(
    bus: Arc<dyn Bus>,
    spec: AgentSpec,
    handler: Arc<dyn CommandHandler>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
) -> Result<AgentContext, ConnectorError> {
    let commands_subject = subjects::commands(&spec.name).map_err(|e| {
        ConnectorError::config(format!("agent name {:?} cannot be used: {e}", spec.name))
    })?;
    let events_subject = subjects::events(&spec.service)
        .map_err(|e| ConnectorError::config(format!("service {:?}: {e}", spec.service)))?;
    if spec.queue_capacity == 0 {
        return Err(ConnectorError::config("queue capacity must be at least 1"));
    }
    // Subscribe before announcing: a workflow that sees the registration can send at once.
    let mut subscription = bus.subscribe(&commands_subject).await?;
    let registration = Registration {
        name: spec.name.clone(),
        version: spec.version.clone(),
        capabilities: spec.capabilities.clone(),
        commands: spec.commands.clone(),
        config_schema: None,
    };
    let presence = Arc::new(
        Presence::start_with_clock(
            bus.clone(),
            registration,
            spec.heartbeat_interval,
            clock.clone(),
        )
        .await?,
    );
    let sink = EventSink {
        bus: bus.clone(),
        subject: events_subject,
        service: spec.service.clone(),
        account: spec.name.clone(),
        presence: presence.clone(),
        clock: clock.clone(),
    };
    let shared = Arc::new(Shared {
        bus,
        spec,
        presence,
        clock,
    });
    let (tx, mut rx) = mpsc::channel::<Job>(shared.spec.queue_capacity);
    let stopping = cancel.clone();

    let intake_shared = shared.clone();
    let intake = tokio::spawn(async move {
        let shared = intake_shared;
        loop {
            let message = tokio::select! {
                () = cancel.cancelled() => break,
                m = subscription.next() => m,
            };
            let Some(message) = message else { break };
            shared.intake(message, &tx).await;
        }
        tracing::debug!(agent = %shared.spec.name, "command intake stopped");
        // Dropping `tx` lets the worker finish the queue and end.
    });

    let worker_shared = shared.clone();
    let worker = tokio::spawn(async move {
        let shared = worker_shared;
        while let Some(job) = rx.recv().await {
            if stopping.is_cancelled() {
                let err = CommandError::Stopped;
                shared
                    .report(&job.cmd, &job.command_id, Duration::ZERO, Err(&err))
                    .await;
                continue;
            }
            shared.execute(job, handler.as_ref()).await;
        }
        tracing::debug!(agent = %shared.spec.name, "command worker stopped");
    });

    tracing::info!(agent = %shared.spec.name, subject = %commands_subject, "agent started");
    Ok(AgentContext {
        sink,
        tasks: vec![intake, worker],
    })
}

impl Shared {
    async fn intake(&self, message: Message, tx: &mpsc::Sender<Job>) {
        let command_id = hex::encode(Sha256::digest(&message.payload));
        let cmd: Command = match serde_json::from_slice(&message.payload) {
            Ok(c) => c,
            Err(e) => {
                let err = CommandError::Decode(e.to_string());
                self.report(&Command::default(), &command_id, Duration::ZERO, Err(&err))
                    .await;
                return;
            }
        };
        if let Err(e) = sekia_protocol::verify(&cmd, self.spec.command_secret.expose()) {
            let err = CommandError::Signature(e);
            self.report(&cmd, &command_id, Duration::ZERO, Err(&err))
                .await;
            return;
        }
        match tx.try_send(Job { cmd, command_id }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => {
                let err = CommandError::QueueFull(self.spec.queue_capacity);
                self.report(&job.cmd, &job.command_id, Duration::ZERO, Err(&err))
                    .await;
            }
            // The worker is gone only while stopping.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    async fn execute(&self, job: Job, handler: &dyn CommandHandler) {
        let started = Instant::now();
        let args = Args::new(job.cmd.payload.as_ref());
        let result = if self.spec.commands.iter().any(|c| c == &job.cmd.command) {
            match tokio::time::timeout(
                self.spec.command_timeout,
                handler.handle(&job.cmd.command, args),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(CommandError::Service(format!(
                    "timed out after {}s",
                    self.spec.command_timeout.as_secs()
                ))),
            }
        } else {
            Err(handler.unlisted(&job.cmd.command))
        };
        self.report(
            &job.cmd,
            &job.command_id,
            started.elapsed(),
            result.as_ref().map(|_| ()),
        )
        .await;
    }

    /// Logs, counts and publishes the outcome of one command.
    async fn report(
        &self,
        cmd: &Command,
        command_id: &str,
        took: Duration,
        result: Result<(), &CommandError>,
    ) {
        let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        let mut payload = Payload::new();
        payload.insert("command_id".into(), command_id.into());
        payload.insert("agent".into(), self.spec.name.clone().into());
        payload.insert("command".into(), cmd.command.clone().into());
        payload.insert("source".into(), cmd.source.clone().into());
        payload.insert("duration_ms".into(), duration_ms.into());
        payload.insert("account".into(), self.spec.name.clone().into());
        let event_type = match result {
            Ok(()) => {
                self.presence.record_event();
                tracing::info!(agent = %self.spec.name, command = %cmd.command, source = %cmd.source, duration_ms, "command succeeded");
                COMMAND_SUCCEEDED
            }
            Err(e) => {
                self.presence.record_error();
                tracing::warn!(agent = %self.spec.name, command = %cmd.command, source = %cmd.source, duration_ms, error = %e, "command failed");
                payload.insert("error".into(), e.to_string().into());
                COMMAND_FAILED
            }
        };
        let event = Event::new(event_type, RESULTS_SOURCE, payload, self.clock.unix_secs());
        let bytes = match sekia_protocol::json::to_vec(&event) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode command result");
                return;
            }
        };
        if let Err(e) = self.bus.publish(RESULTS_SUBJECT, Bytes::from(bytes)).await {
            tracing::warn!(agent = %self.spec.name, error = %e, "command result not published");
        }
    }
}

/// A connector agent that is running: its command intake (an [`AgentContext`]) plus the
/// connector's own tasks (webhook server, pollers, Socket Mode client). Every connector's
/// `start` returns one, so the daemon and `sekia-agent` stop them all the same way.
#[derive(Debug)]
pub struct RunningAgent {
    name: String,
    cancel: CancellationToken,
    agent: AgentContext,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningAgent {
    pub fn new(
        name: String,
        cancel: CancellationToken,
        agent: AgentContext,
        tasks: Vec<JoinHandle<()>>,
    ) -> Self {
        Self {
            name,
            cancel,
            agent,
            tasks,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Publishes events as this agent.
    pub fn sink(&self) -> &EventSink {
        self.agent.sink()
    }

    /// Stops the agent and waits until it has: no new commands are taken, queued ones
    /// finish (without further retries), the connector's tasks end.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.join().await;
    }

    /// Waits for the agent to end (after its cancel token fired).
    pub async fn join(self) {
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::error!(agent = %self.name, error = %e, "connector task failed");
            }
        }
        self.agent.join().await;
        tracing::info!(agent = %self.name, "agent stopped");
    }
}
