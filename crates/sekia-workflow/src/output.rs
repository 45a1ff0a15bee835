//! Where a workflow's effects go: the bus in the engine, a recorder in dry runs.

use std::sync::{Arc, Mutex};
use ts_rs::TS;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

use sekia_bus::Bus;
use sekia_protocol::{Command, Event};

/// Level of a `sekia.log` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info` (also anything unknown, as in sekia)
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl LogLevel {
    /// sekia's rule: case-insensitive, unknown → info.
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Self::Debug,
            "warn" | "warning" => Self::Warn,
            "error" => Self::Error,
            _ => Self::Info,
        }
    }
}

/// One effect of a workflow, as recorded by a dry run (one JSON line each).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// `sekia.publish`
    Publish {
        /// Subject it would be published on.
        subject: String,
        /// The event.
        event: Event,
    },
    /// `sekia.command`
    Command {
        /// Target agent.
        agent: String,
        /// `sekia.commands.<agent>`.
        subject: String,
        /// The (signed, if a secret is set) command.
        command: Command,
    },
    /// `sekia.log` / `print`
    Log {
        /// Level.
        level: LogLevel,
        /// Text.
        message: String,
    },
}

/// Destination of a workflow's effects.
#[async_trait]
pub(crate) trait Sink: Send + Sync {
    async fn publish_event(&self, subject: &str, event: Event, hops: u32) -> Result<(), String>;
    async fn send_command(
        &self,
        agent: &str,
        subject: &str,
        command: Command,
    ) -> Result<(), String>;
    fn log(&self, workflow: &str, level: LogLevel, message: &str);
    /// Whether `sekia.command` may hand over the encoded bytes
    /// ([`Sink::send_encoded_command`]) instead of a [`Command`].
    fn takes_encoded_commands(&self) -> bool {
        false
    }
    /// Sends a command already encoded as Go would encode it.
    async fn send_encoded_command(&self, subject: &str, bytes: Vec<u8>) -> Result<(), String> {
        let _ = (subject, bytes);
        Err("this sink takes commands, not bytes".to_owned())
    }
}

/// Publishes on the bus and logs through `tracing`.
pub(crate) struct BusSink {
    pub bus: Arc<dyn Bus>,
}

#[async_trait]
impl Sink for BusSink {
    async fn publish_event(&self, subject: &str, event: Event, hops: u32) -> Result<(), String> {
        let bytes = crate::wire::encode_event(&event, hops).map_err(|e| e.to_string())?;
        self.bus
            .publish(subject, Bytes::from(bytes))
            .await
            .map_err(|e| e.to_string())
    }

    async fn send_command(
        &self,
        _agent: &str,
        subject: &str,
        command: Command,
    ) -> Result<(), String> {
        let bytes = sekia_protocol::json::to_vec(&command).map_err(|e| e.to_string())?;
        self.bus
            .publish(subject, Bytes::from(bytes))
            .await
            .map_err(|e| e.to_string())
    }

    fn takes_encoded_commands(&self) -> bool {
        true
    }

    async fn send_encoded_command(&self, subject: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.bus
            .publish(subject, Bytes::from(bytes))
            .await
            .map_err(|e| e.to_string())
    }

    fn log(&self, workflow: &str, level: LogLevel, message: &str) {
        match level {
            LogLevel::Debug => tracing::debug!(workflow, "{message}"),
            LogLevel::Info => tracing::info!(workflow, "{message}"),
            LogLevel::Warn => tracing::warn!(workflow, "{message}"),
            LogLevel::Error => tracing::error!(workflow, "{message}"),
        }
    }
}

/// Records everything and sends nothing (dry runs).
#[derive(Default)]
pub(crate) struct RecordingSink {
    pub outputs: Mutex<Vec<Output>>,
}

impl RecordingSink {
    fn push(&self, o: Output) {
        if let Ok(mut v) = self.outputs.lock() {
            // Bounded: a runaway script cannot grow the report without limit.
            if v.len() < 100_000 {
                v.push(o);
            }
        }
    }
}

#[async_trait]
impl Sink for RecordingSink {
    async fn publish_event(&self, subject: &str, event: Event, _hops: u32) -> Result<(), String> {
        sekia_protocol::subjects::validate_subject(subject).map_err(|e| e.to_string())?;
        self.push(Output::Publish {
            subject: subject.to_owned(),
            event,
        });
        Ok(())
    }

    async fn send_command(
        &self,
        agent: &str,
        subject: &str,
        command: Command,
    ) -> Result<(), String> {
        self.push(Output::Command {
            agent: agent.to_owned(),
            subject: subject.to_owned(),
            command,
        });
        Ok(())
    }

    fn log(&self, _workflow: &str, level: LogLevel, message: &str) {
        self.push(Output::Log {
            level,
            message: message.to_owned(),
        });
    }
}
