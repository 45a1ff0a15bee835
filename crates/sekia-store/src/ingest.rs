//! Turning bus messages into rows, done by the forwarder tasks so the writer
//! thread spends its time in SQLite only.
//!
//! Decoding is as lenient as Go's (missing or `null` fields take their zero
//! value) and keeps the payload as the JSON text it arrived in, so the
//! stored text is what was published, byte for byte, up to the size cap.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use sekia_protocol::Command;

use crate::records::Outcome;

/// The subject command results are published on.
pub const RESULTS_SUBJECT: &str = "sekia.events.sekia";
/// Event type of a successful command result.
pub const COMMAND_SUCCEEDED: &str = "command.succeeded";
/// Event type of a failed command result.
pub const COMMAND_FAILED: &str = "command.failed";

const COMMANDS_PREFIX: &str = "sekia.commands.";

/// The correlation id of a command: lowercase hex SHA-256 of the message
/// bytes exactly as published on `sekia.commands.<agent>`.
///
/// A connector that executes a command puts this in the `command_id` field of
/// its `command.succeeded` / `command.failed` result so the store can set the
/// outcome on the command's row. It needs no change to the command wire format
/// (which Go peers share) and every party sees the same bytes. Two byte-equal
/// commands share an id; their results are applied to them oldest first.
pub fn command_id(message: &[u8]) -> String {
    hex::encode(Sha256::digest(message))
}

/// What the forwarders hand the writer.
#[derive(Debug)]
pub(crate) enum Inbound {
    Event(NewEvent),
    Command(NewCommand),
    Replay {
        original_id: String,
        new_id: String,
    },
    /// Answered once everything queued before it is committed.
    Barrier(oneshot::Sender<()>),
}

#[derive(Debug)]
pub(crate) struct NewEvent {
    pub subject: String,
    pub id: String,
    pub event_type: String,
    pub source: String,
    pub timestamp: i64,
    pub payload: String,
    pub truncated: bool,
    /// Set when this is a command result that names a command.
    pub outcome: Option<OutcomeUpdate>,
}

#[derive(Debug)]
pub(crate) struct OutcomeUpdate {
    pub command_id: String,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct NewCommand {
    pub subject: String,
    pub agent: String,
    pub command: String,
    pub source: String,
    pub signature: String,
    pub signature_valid: Option<bool>,
    pub payload: String,
    pub truncated: bool,
    pub command_id: String,
}

/// Why a message could not be stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("message on {subject} is not UTF-8")]
    NotUtf8 { subject: String },
    #[error("message on {subject} is not a valid envelope: {source}")]
    Json {
        subject: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "type")]
    event_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct WireResult {
    #[serde(default)]
    command_id: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(default)]
    duration: Option<f64>,
}

/// Decodes an event published on `subject`.
pub(crate) fn decode_event(
    subject: &str,
    bytes: &[u8],
    max_payload: usize,
) -> Result<NewEvent, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8 {
        subject: subject.to_owned(),
    })?;
    let wire: WireEvent<'_> = serde_json::from_str(text).map_err(|source| DecodeError::Json {
        subject: subject.to_owned(),
        source,
    })?;
    let raw_payload = wire.payload.map_or("{}", RawValue::get);
    let event_type = wire.event_type.unwrap_or_default().into_owned();
    let outcome = if subject == RESULTS_SUBJECT {
        result_outcome(&event_type, raw_payload)
    } else {
        None
    };
    let (payload, truncated) = cap(raw_payload, max_payload);
    Ok(NewEvent {
        subject: subject.to_owned(),
        id: wire.id.unwrap_or_default().into_owned(),
        event_type,
        source: wire.source.unwrap_or_default().into_owned(),
        timestamp: wire.timestamp.unwrap_or(0),
        payload,
        truncated,
        outcome,
    })
}

/// The outcome a `command.succeeded` / `command.failed` event reports, if it
/// names its command.
fn result_outcome(event_type: &str, payload: &str) -> Option<OutcomeUpdate> {
    let outcome = match event_type {
        COMMAND_SUCCEEDED => Outcome::Succeeded,
        COMMAND_FAILED => Outcome::Failed,
        _ => return None,
    };
    let fields: WireResult = serde_json::from_str(payload).unwrap_or_default();
    let command_id = fields.command_id.filter(|id| !id.is_empty())?;
    let duration_ms = fields
        .duration_ms
        .or(fields.duration)
        .filter(|d| d.is_finite())
        .map(|d| d.round() as i64);
    Some(OutcomeUpdate {
        command_id,
        outcome,
        error: fields.error.filter(|e| !e.is_empty()),
        duration_ms,
    })
}

/// Decodes a command published on `subject` (`sekia.commands.<agent>`) and
/// checks its signature under `secret` (empty: not checked).
pub(crate) fn decode_command(
    subject: &str,
    bytes: &[u8],
    secret: &str,
    max_payload: usize,
) -> Result<NewCommand, DecodeError> {
    let cmd: Command = serde_json::from_slice(bytes).map_err(|source| DecodeError::Json {
        subject: subject.to_owned(),
        source,
    })?;
    let signature_valid = if secret.is_empty() {
        None
    } else {
        Some(sekia_protocol::verify(&cmd, secret).is_ok())
    };
    let payload_json = match &cmd.payload {
        Some(map) => serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned()),
        None => "null".to_owned(),
    };
    let (payload, truncated) = cap(&payload_json, max_payload);
    Ok(NewCommand {
        subject: subject.to_owned(),
        agent: subject
            .strip_prefix(COMMANDS_PREFIX)
            .unwrap_or(subject)
            .to_owned(),
        command: cmd.command,
        source: cmd.source,
        signature: cmd.signature,
        signature_valid,
        payload,
        truncated,
        command_id: command_id(bytes),
    })
}

/// `text` cut to at most `max` bytes at a character boundary, and whether it was cut.
fn cap(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keeps_payload_text_and_defaults() {
        let e = decode_event(
            "sekia.events.github",
            br#"{"id":"evt_1","type":"t","source":"github","timestamp":5,"payload":{"a" : 1}}"#,
            100,
        )
        .unwrap();
        assert_eq!(
            (e.id.as_str(), e.timestamp, e.payload.as_str()),
            ("evt_1", 5, r#"{"a" : 1}"#)
        );
        let e = decode_event("sekia.events.x", br#"{"payload":null,"type":null}"#, 100).unwrap();
        assert_eq!((e.payload.as_str(), e.event_type.as_str()), ("{}", ""));
        assert!(decode_event("s", b"not json", 100).is_err());
        assert!(decode_event("s", b"\xff", 100).is_err());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(cap("héllo", 2), ("h".to_owned(), true));
        assert_eq!(cap("hé", 3), ("hé".to_owned(), false));
    }

    #[test]
    fn results_name_their_command() {
        let body = br#"{"id":"evt_r","type":"command.failed","source":"sekia","payload":{"command_id":"abc","error":"boom","duration_ms":12.4}}"#;
        let e = decode_event(RESULTS_SUBJECT, body, 1000).unwrap();
        let o = e.outcome.unwrap();
        assert_eq!(o.command_id, "abc");
        assert_eq!(o.outcome, Outcome::Failed);
        assert_eq!(o.error.as_deref(), Some("boom"));
        assert_eq!(o.duration_ms, Some(12));
        // Same body elsewhere is just an event.
        assert!(
            decode_event("sekia.events.github", body, 1000)
                .unwrap()
                .outcome
                .is_none()
        );
    }

    #[test]
    fn command_agent_signature_and_id() {
        let mut cmd = Command::new("add_label", serde_json::Map::new(), "workflow:w");
        sekia_protocol::sign(&mut cmd, "s3cret").unwrap();
        let bytes = serde_json::to_vec(&cmd).unwrap();
        let c = decode_command("sekia.commands.github-agent", &bytes, "s3cret", 100).unwrap();
        assert_eq!(c.agent, "github-agent");
        assert_eq!(c.signature_valid, Some(true));
        assert_eq!(c.command_id, command_id(&bytes));
        let c = decode_command("sekia.commands.a", &bytes, "other", 100).unwrap();
        assert_eq!(c.signature_valid, Some(false));
        let c = decode_command("sekia.commands.a", &bytes, "", 100).unwrap();
        assert_eq!(c.signature_valid, None);
    }
}
