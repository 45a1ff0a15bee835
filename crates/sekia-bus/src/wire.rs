//! The two wire types presence publishes, in the Go sekia's JSON shapes.
//!
//! A stop-gap: these move to `sekia-protocol` (which owns every wire type) once that
//! crate lands, and this module will re-export them from there.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Subject agents announce themselves on.
pub const REGISTRY_SUBJECT: &str = "sekia.registry";

/// Prefix of heartbeat subjects: `sekia.heartbeat.<agent name>`.
pub const HEARTBEAT_PREFIX: &str = "sekia.heartbeat";

/// Go's `time.Time{}` as `encoding/json` writes it: what `last_event` says before
/// the agent has processed anything.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An agent's announcement on `sekia.registry`:
/// `{"name","version","capabilities":[..],"commands":[..]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Agent name; also the last token of its heartbeat and command subjects.
    pub name: String,
    /// Agent version.
    pub version: String,
    /// What the agent can do, e.g. `github-api`.
    pub capabilities: Vec<String>,
    /// Commands it accepts on `sekia.commands.<name>`.
    pub commands: Vec<String>,
}

/// An agent's periodic liveness report on `sekia.heartbeat.<name>`:
/// `{"name","status":"running","last_event":"<RFC3339>","events_processed":N,"errors":N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Agent name.
    pub name: String,
    /// Always `"running"` in the Go sekia.
    pub status: String,
    /// When the agent last processed an event, Go RFC3339Nano; [`GO_ZERO_TIME`]
    /// if never.
    pub last_event: String,
    /// Events processed since start.
    pub events_processed: u64,
    /// Errors since start.
    pub errors: u64,
}

/// Formats a time the way Go's `time.Time` marshals to JSON (RFC3339Nano): UTC
/// with `Z`, fractional seconds with trailing zeros trimmed and no dot when whole.
/// `None` is Go's zero time.
pub fn format_go_time(t: Option<SystemTime>) -> String {
    let Some(t) = t else {
        return GO_ZERO_TIME.to_owned();
    };
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    let mut out = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = chrono::Timelike::nanosecond(&dt) % 1_000_000_000;
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn go_time_format() {
        assert_eq!(format_go_time(None), GO_ZERO_TIME);
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(format_go_time(Some(t)), "2023-11-14T22:13:20Z");
        let t = t + Duration::from_millis(500);
        assert_eq!(format_go_time(Some(t)), "2023-11-14T22:13:20.5Z");
        let t = t + Duration::from_nanos(123);
        assert_eq!(format_go_time(Some(t)), "2023-11-14T22:13:20.500000123Z");
    }

    #[test]
    fn json_shapes() {
        let r = Registration {
            name: "github-agent".into(),
            version: "0.2.3".into(),
            capabilities: vec!["github-api".into()],
            commands: vec!["add_label".into(), "close_issue".into()],
        };
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            r#"{"name":"github-agent","version":"0.2.3","capabilities":["github-api"],"commands":["add_label","close_issue"]}"#
        );
        let h = Heartbeat {
            name: "github-agent".into(),
            status: "running".into(),
            last_event: GO_ZERO_TIME.into(),
            events_processed: 3,
            errors: 1,
        };
        assert_eq!(
            serde_json::to_string(&h).expect("json"),
            r#"{"name":"github-agent","status":"running","last_event":"0001-01-01T00:00:00Z","events_processed":3,"errors":1}"#
        );
    }
}
