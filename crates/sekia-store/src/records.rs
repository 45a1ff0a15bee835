//! The rows the store hands out, and the queries that select them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use sekia_protocol::Event;

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StoredEvent {
    /// Store sequence number: increases with every row written, never reused.
    /// Pages and "indexed up to" are expressed in it.
    pub seq: i64,
    /// The bus subject it arrived on, e.g. `sekia.events.github`.
    pub subject: String,
    /// The event id (`evt_<uuid>`).
    pub id: String,
    /// The event type, e.g. `github.issue.opened`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The producer.
    pub source: String,
    /// The event's own time, Unix seconds.
    pub timestamp: i64,
    /// The payload as JSON text, exactly as received; cut to
    /// `max_payload_bytes` (and then not valid JSON) when `truncated`.
    pub payload: String,
    /// Whether `payload` was cut.
    pub truncated: bool,
    /// When the store received it, Unix milliseconds.
    pub received_at_ms: i64,
    /// The id of the event this one replays, when it was re-published by a
    /// replay (see [`crate::Store::record_replay`]).
    pub replayed_from: Option<String>,
}

impl StoredEvent {
    /// The wire event, when the payload was stored whole and is a JSON object.
    pub fn to_event(&self) -> Option<Event> {
        if self.truncated {
            return None;
        }
        let payload = serde_json::from_str(&self.payload).ok()?;
        Some(Event {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            source: self.source.clone(),
            timestamp: self.timestamp,
            payload,
        })
    }
}

/// What became of a command, once its agent reported back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// `command.succeeded` arrived.
    Succeeded,
    /// `command.failed` arrived.
    Failed,
}

impl Outcome {
    /// The text stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One stored command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StoredCommand {
    /// Store sequence number (commands have their own sequence).
    pub seq: i64,
    /// `sekia.commands.<agent>`.
    pub subject: String,
    /// The target agent, taken from the subject.
    pub agent: String,
    /// The command name.
    pub command: String,
    /// The issuer, e.g. `workflow:<name>`.
    pub source: String,
    /// The signature as sent (empty when unsigned).
    pub signature: String,
    /// Whether the signature verified under the configured command secret;
    /// `None` when no secret is configured.
    pub signature_valid: Option<bool>,
    /// The payload as JSON text (`null` for a nil payload); cut when `truncated`.
    pub payload: String,
    /// Whether `payload` was cut.
    pub truncated: bool,
    /// When the store received it, Unix milliseconds.
    pub received_at_ms: i64,
    /// The correlation id: [`crate::command_id`] of the message bytes.
    pub command_id: String,
    /// Set once a `command.succeeded` / `command.failed` result names this
    /// command; `None` while pending (or for agents that never report).
    pub outcome: Option<Outcome>,
    /// The error text of a failed command.
    pub outcome_error: Option<String>,
    /// How long the agent took, in milliseconds, if it said.
    pub outcome_duration_ms: Option<i64>,
    /// When the store received the result, Unix milliseconds.
    pub outcome_at_ms: Option<i64>,
}

/// Filters and paging for [`crate::Reader::list_events`]. All filters are
/// combined with AND; `Default` lists everything, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields = nullable)]
pub struct EventQuery {
    /// Exact source.
    pub source: Option<String>,
    /// Type glob: `*` matches any run of characters (dots included), `?` one
    /// character, e.g. `github.issue.*`. Matching is case-sensitive.
    pub event_type: Option<String>,
    /// Event `timestamp` ≥ this (Unix seconds).
    pub since: Option<i64>,
    /// Event `timestamp` < this (Unix seconds).
    pub until: Option<i64>,
    /// Full-text search over type, source and payload. Words are ANDed; a
    /// word ending in `*` is a prefix. Only finds indexed rows (see
    /// [`crate::Progress::indexed_upto`]).
    pub q: Option<String>,
    /// Page size; 0 means 50. At most 1000.
    #[ts(as = "Option<usize>", optional)]
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters and paging for [`crate::Reader::list_commands`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields = nullable)]
pub struct CommandQuery {
    /// Exact target agent.
    pub agent: Option<String>,
    /// Exact issuer, e.g. `workflow:auto-label`.
    pub source: Option<String>,
    /// Received at or after this (Unix seconds).
    pub since: Option<i64>,
    /// Received before this (Unix seconds).
    pub until: Option<i64>,
    /// Words that must all appear (case-insensitive) in the command name, issuer or payload.
    /// Commands are few next to events, so this is a scan, not an index.
    pub q: Option<String>,
    /// Exact command name.
    pub command: Option<String>,
    /// Outcome filter.
    pub outcome: Option<OutcomeFilter>,
    /// Page size; 0 means 50. At most 1000.
    #[ts(as = "Option<usize>", optional)]
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Which commands [`CommandQuery::outcome`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeFilter {
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// No result yet.
    Pending,
}

/// One page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next (older) page; `None` on the last page.
    /// Pages are keyed on `seq`, so rows inserted meanwhile never shift them.
    pub next_cursor: Option<String>,
}

/// Default and maximum page sizes.
pub(crate) const DEFAULT_LIMIT: usize = 50;
pub(crate) const MAX_LIMIT: usize = 1000;
