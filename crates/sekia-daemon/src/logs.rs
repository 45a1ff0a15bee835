//! The daemon's recent log lines, kept in memory for the UI's Logs page: a `tracing` layer that
//! the binary (sekiad, the desktop shell) adds to its subscriber, and a bounded ring it fills.
//! Log lines are already free of secrets (nothing logs a secret's value), so the ring holds
//! exactly what the log file holds.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use ts_rs::TS;

/// Lines kept; older ones fall off.
pub const RECENT_LINES: usize = 2000;
/// Longest message kept, in bytes (a runaway debug line cannot eat the ring's memory).
const MAX_MESSAGE: usize = 4096;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LogLine {
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub at_ms: i64,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The part of sekia that logged it: `daemon`, `workflow`, `store`, `bus`, `server`, …
    pub component: String,
    /// The message and its fields (`key=value`).
    pub message: String,
}

/// Which lines [`recent`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct LogQuery {
    /// This level and more severe (`warn` gives warnings and errors).
    pub level: Option<String>,
    /// Exact component.
    pub component: Option<String>,
    /// Newest lines returned, 200 when absent, at most [`RECENT_LINES`].
    pub limit: Option<usize>,
}

fn ring() -> &'static Mutex<VecDeque<LogLine>> {
    static RING: OnceLock<Mutex<VecDeque<LogLine>>> = OnceLock::new();
    RING.get_or_init(|| Mutex::new(VecDeque::with_capacity(RECENT_LINES)))
}

/// The newest lines matching `query`, oldest first.
pub fn recent(query: &LogQuery) -> Vec<LogLine> {
    let min = query.level.as_deref().map(severity);
    let limit = query.limit.unwrap_or(200).clamp(1, RECENT_LINES);
    let lines = ring().lock().unwrap_or_else(|p| p.into_inner());
    let mut out: Vec<LogLine> = lines
        .iter()
        .rev()
        .filter(|l| min.is_none_or(|m| severity(&l.level) >= m))
        .filter(|l| {
            query
                .component
                .as_deref()
                .is_none_or(|c| c.is_empty() || l.component == c)
        })
        .take(limit)
        .cloned()
        .collect();
    out.reverse();
    out
}

/// Higher is more severe; unknown levels count as `info`.
fn severity(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "trace" => 0,
        "debug" => 1,
        "warn" | "warning" => 3,
        "error" => 4,
        _ => 2,
    }
}

/// The `tracing` layer that records into the ring. Add it next to the formatting layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentLogs;

impl<S: Subscriber> Layer<S> for RecentLogs {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut text = MessageText::default();
        event.record(&mut text);
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        push(LogLine {
            at_ms,
            level: level_name(*meta.level()).to_owned(),
            component: component(meta.target()),
            message: text.finish(),
        });
    }
}

fn push(line: LogLine) {
    let mut lines = ring().lock().unwrap_or_else(|p| p.into_inner());
    if lines.len() == RECENT_LINES {
        lines.pop_front();
    }
    lines.push_back(line);
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// `sekia_workflow::engine` → `workflow`; other crates keep their first path segment.
fn component(target: &str) -> String {
    let krate = target.split("::").next().unwrap_or(target);
    krate
        .strip_prefix("sekia_")
        .unwrap_or(krate)
        .replace('_', "-")
}

#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl MessageText {
    fn finish(self) -> String {
        let mut text = self.message;
        if !self.fields.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(self.fields.trim_start());
        }
        if text.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        text
    }
}

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn lines_are_recorded_filtered_and_bounded() {
        let subscriber = tracing_subscriber::registry().with(RecentLogs);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "sekia_workflow::engine", file = "a.lua", "loaded");
            tracing::warn!(target: "sekia_store::writer", "slow disk");
            tracing::error!(target: "sekia_bus", "gone");
        });
        let all = recent(&LogQuery::default());
        let mine: Vec<_> = all
            .iter()
            .filter(|l| ["loaded file=a.lua", "slow disk", "gone"].contains(&l.message.as_str()))
            .collect();
        assert_eq!(mine.len(), 3, "{all:?}");
        assert_eq!(mine[0].component, "workflow");
        assert_eq!(mine[0].level, "info");
        let warn = recent(&LogQuery {
            level: Some("warn".into()),
            ..LogQuery::default()
        });
        assert!(warn.iter().all(|l| l.level == "warn" || l.level == "error"));
        assert!(warn.iter().any(|l| l.message == "gone"));
        let store = recent(&LogQuery {
            component: Some("store".into()),
            ..LogQuery::default()
        });
        assert!(store.iter().all(|l| l.component == "store"));
        for i in 0..RECENT_LINES + 10 {
            push(LogLine {
                at_ms: i as i64,
                level: "debug".into(),
                component: "test".into(),
                message: "x".repeat(MAX_MESSAGE * 2),
            });
        }
        let n = recent(&LogQuery {
            limit: Some(usize::MAX),
            ..LogQuery::default()
        });
        assert_eq!(n.len(), RECENT_LINES);
    }

    #[test]
    fn long_messages_are_cut() {
        let t = MessageText {
            message: "é".repeat(MAX_MESSAGE),
            ..MessageText::default()
        };
        let s = t.finish();
        assert!(s.len() <= MAX_MESSAGE + '…'.len_utf8());
    }
}
