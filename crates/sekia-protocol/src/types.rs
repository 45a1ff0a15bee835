//! The JSON envelopes exchanged on the bus and over the HTTP API.
//!
//! Field names, field order and omission rules are those of the Go structs
//! in `pkg/protocol`, so serialising with serde_json (or with
//! [`crate::json::to_string`] for byte-exact Go output) yields what Go's
//! `json.Marshal` yields.
//!
//! Decoding follows Go's `json.Unmarshal` leniency, because Go peers rely on
//! it: a missing field or a JSON `null` leaves the zero value (empty string,
//! 0, empty list/map, [`GO_ZERO_TIME`] for times); unknown fields are
//! ignored. (Go's case-insensitive key matching is not reproduced; Go peers
//! always send the exact names.)
//!
//! What we emit where Go could emit `null`: Go writes a nil slice as `null`
//! and a nil map as `null`. We decode both, but emit `[]` / `{}` for the
//! lists and for `Event::payload` (consumers treat them alike and `[]` is
//! friendlier to JavaScript). The one place where `null` and `{}` differ in
//! meaning is `Command::payload`: it is covered by the signature, so it stays
//! an `Option` and round-trips exactly.
//!
//! Time fields are `String`s holding Go's RFC3339Nano text; produce them
//! with [`crate::gotime::format_go_time`].

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::gotime::GO_ZERO_TIME;

/// A JSON object, the payload type of events and commands
/// (Go `map[string]any`).
pub type Payload = Map<String, Value>;

/// `Heartbeat::status` of a live agent (the only value Go sends).
pub const STATUS_RUNNING: &str = "running";
/// `AgentInfo::status` of an agent that registered but never sent a heartbeat.
pub const STATUS_UNKNOWN: &str = "unknown";
/// `StatusResponse::status`.
pub const STATUS_OK: &str = "ok";
/// `ConfigReloadResponse::status`.
pub const STATUS_RELOAD_REQUESTED: &str = "reload_requested";

/// An event, published on `sekia.events.<source>`.
///
/// ```json
/// {"id":"evt_<uuid-v4>","type":"github.issue.opened","source":"github","timestamp":1700000000,"payload":{…}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Event {
    /// `evt_` followed by a random UUID v4.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Dotted event type, e.g. `github.issue.opened`.
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub event_type: String,
    /// Producer, e.g. `github`, `workflow:<name>`, `mcp:<source>`.
    #[serde(deserialize_with = "null_default")]
    pub source: String,
    /// Unix seconds.
    #[serde(deserialize_with = "null_default")]
    pub timestamp: i64,
    /// Event data; `null` on the wire decodes to an empty map, and an empty
    /// map is emitted as `{}`.
    #[serde(deserialize_with = "null_default")]
    pub payload: Payload,
}

impl Event {
    /// Creates an event with a fresh id. The timestamp (Unix seconds) is
    /// passed in so that logic stays testable without a clock.
    pub fn new(
        event_type: impl Into<String>,
        source: impl Into<String>,
        payload: Payload,
        timestamp_secs: i64,
    ) -> Self {
        Self {
            id: new_event_id(),
            event_type: event_type.into(),
            source: source.into(),
            timestamp: timestamp_secs,
            payload,
        }
    }

    /// [`Event::new`] stamped with the current system time, like Go's
    /// `NewEvent`.
    pub fn new_now(
        event_type: impl Into<String>,
        source: impl Into<String>,
        payload: Payload,
    ) -> Self {
        let (secs, _) = crate::gotime::unix_parts(std::time::SystemTime::now());
        Self::new(event_type, source, payload, secs)
    }
}

/// A fresh event id: `evt_` + a random UUID v4 (Go: `"evt_"+uuid.NewString()`).
pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4())
}

/// A command for one agent, published on `sekia.commands.<agent>`.
///
/// ```json
/// {"command":"add_label","payload":{…},"source":"workflow:auto-label","signature":"<64 hex>"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Command {
    /// Command name, e.g. `add_label`.
    #[serde(deserialize_with = "null_default")]
    pub command: String,
    /// Arguments. `None` is Go's nil map (`"payload":null`), `Some(empty)`
    /// is `{}`; they are kept apart because the signature covers the
    /// difference. Serialised as `null` when `None` (no `omitempty` in Go).
    pub payload: Option<Payload>,
    /// Issuer, e.g. `workflow:<name>` or `mcp`.
    #[serde(deserialize_with = "null_default")]
    pub source: String,
    /// Lowercase hex HMAC-SHA256 (see [`crate::signing`]); omitted when
    /// empty, like Go's `omitempty`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    #[ts(as = "Option<String>", optional)]
    pub signature: String,
}

impl Command {
    /// An unsigned command with a (non-nil) payload.
    pub fn new(command: impl Into<String>, payload: Payload, source: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            payload: Some(payload),
            source: source.into(),
            signature: String::new(),
        }
    }
}

/// Sent once by an agent at start on `sekia.registry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Registration {
    /// Agent (instance) name; also the token of its command subject.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Agent version.
    #[serde(deserialize_with = "null_default")]
    pub version: String,
    /// What the agent can do (free-form labels).
    #[serde(deserialize_with = "null_default")]
    pub capabilities: Vec<String>,
    /// Command names the agent accepts.
    #[serde(deserialize_with = "null_default")]
    pub commands: Vec<String>,
    /// Never set by Go agents. Omitted when `None` or empty (Go
    /// `omitempty` omits empty maps too).
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub config_schema: Option<Payload>,
}

/// Sent by each agent every 30 s on `sekia.heartbeat.<agent>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Heartbeat {
    /// Agent name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Always [`STATUS_RUNNING`] from Go agents.
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    /// Time of the agent's last event, RFC3339Nano; [`GO_ZERO_TIME`] if none.
    #[serde(deserialize_with = "null_zero_time")]
    pub last_event: String,
    /// Events handled so far.
    #[serde(deserialize_with = "null_default")]
    pub events_processed: u64,
    /// Errors so far.
    #[serde(deserialize_with = "null_default")]
    pub errors: u64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            name: String::new(),
            status: String::new(),
            last_event: GO_ZERO_TIME.to_owned(),
            events_processed: 0,
            errors: 0,
        }
    }
}

/// `GET /api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct StatusResponse {
    /// [`STATUS_OK`].
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    /// Go `Duration.String()` truncated to seconds, e.g. `1h2m3s`
    /// (see [`crate::gotime::format_go_duration_secs`]).
    #[serde(deserialize_with = "null_default")]
    pub uptime: String,
    /// Whether the bus is up (Go hard-codes `true`).
    #[serde(deserialize_with = "null_default")]
    pub nats_running: bool,
    /// Daemon start time, RFC3339Nano.
    #[serde(deserialize_with = "null_zero_time")]
    pub started_at: String,
    /// Registered agents.
    #[serde(deserialize_with = "null_default")]
    pub agent_count: u64,
    /// Loaded workflows.
    #[serde(deserialize_with = "null_default")]
    pub workflow_count: u64,
}

impl Default for StatusResponse {
    fn default() -> Self {
        Self {
            status: String::new(),
            uptime: String::new(),
            nats_running: false,
            started_at: GO_ZERO_TIME.to_owned(),
            agent_count: 0,
            workflow_count: 0,
        }
    }
}

/// One agent in [`AgentsResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AgentInfo {
    /// Agent name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Registered version (empty if only heartbeats were seen).
    #[serde(deserialize_with = "null_default")]
    pub version: String,
    /// Last heartbeat status, or [`STATUS_UNKNOWN`].
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    /// From the registration.
    #[serde(deserialize_with = "null_default")]
    pub capabilities: Vec<String>,
    /// From the registration.
    #[serde(deserialize_with = "null_default")]
    pub commands: Vec<String>,
    /// First registration time, RFC3339Nano.
    #[serde(deserialize_with = "null_zero_time")]
    pub registered_at: String,
    /// Time the agent was last heard from (registration or heartbeat),
    /// RFC3339Nano.
    #[serde(deserialize_with = "null_zero_time")]
    pub last_heartbeat: String,
    /// From the last heartbeat.
    #[serde(deserialize_with = "null_default")]
    pub events_processed: u64,
    /// From the last heartbeat.
    #[serde(deserialize_with = "null_default")]
    pub errors: u64,
}

impl Default for AgentInfo {
    fn default() -> Self {
        Self {
            name: String::new(),
            version: String::new(),
            status: String::new(),
            capabilities: Vec::new(),
            commands: Vec::new(),
            registered_at: GO_ZERO_TIME.to_owned(),
            last_heartbeat: GO_ZERO_TIME.to_owned(),
            events_processed: 0,
            errors: 0,
        }
    }
}

/// `GET /api/v1/agents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AgentsResponse {
    /// Known agents (never removed).
    #[serde(deserialize_with = "null_default")]
    pub agents: Vec<AgentInfo>,
}

/// One workflow in [`WorkflowsResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct WorkflowInfo {
    /// Workflow name (file stem).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Path of the Lua file.
    #[serde(deserialize_with = "null_default")]
    pub file_path: String,
    /// Number of registered handlers.
    #[serde(deserialize_with = "null_default")]
    pub handlers: u64,
    /// Subject patterns of the handlers.
    #[serde(deserialize_with = "null_default")]
    pub patterns: Vec<String>,
    /// Load time, RFC3339Nano.
    #[serde(deserialize_with = "null_zero_time")]
    pub loaded_at: String,
    /// Events handled.
    #[serde(deserialize_with = "null_default")]
    pub events: u64,
    /// Handler errors.
    #[serde(deserialize_with = "null_default")]
    pub errors: u64,
}

impl Default for WorkflowInfo {
    fn default() -> Self {
        Self {
            name: String::new(),
            file_path: String::new(),
            handlers: 0,
            patterns: Vec::new(),
            loaded_at: GO_ZERO_TIME.to_owned(),
            events: 0,
            errors: 0,
        }
    }
}

/// `GET /api/v1/workflows`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowsResponse {
    /// Loaded workflows.
    #[serde(deserialize_with = "null_default")]
    pub workflows: Vec<WorkflowInfo>,
}

/// `POST /api/v1/config/reload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct ConfigReloadResponse {
    /// [`STATUS_RELOAD_REQUESTED`].
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    /// `*` for everyone, else the agent or daemon name.
    #[serde(deserialize_with = "null_default")]
    pub target: String,
}

/// Go leaves a field at its zero value for JSON `null`.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Like [`null_default`] for time fields, whose Go zero value is
/// [`GO_ZERO_TIME`].
fn null_zero_time<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_else(|| GO_ZERO_TIME.to_owned()))
}

fn is_none_or_empty(map: &Option<Payload>) -> bool {
    map.as_ref().is_none_or(Map::is_empty)
}
