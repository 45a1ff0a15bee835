//! Event history on the `Daemon` handle: search, get, replay, publish a test event, and the
//! live feed. The store does the storing; this is the part the transports call.

use std::sync::Arc;

use bytes::Bytes;
use sekia_protocol::{Event, Payload, subjects};
use sekia_store::{CommandQuery, EventQuery, Page, StoredCommand, StoredEvent};
use tokio::sync::broadcast;

use crate::daemon::{Daemon, DaemonError};

/// A server-side filter for the live feed: exact source, type glob (`*` any run, `?` one
/// character), as in history search.
#[derive(Debug, Clone, Default)]
pub struct LiveFilter {
    pub source: Option<String>,
    pub event_type: Option<String>,
}

impl LiveFilter {
    pub fn matches(&self, e: &StoredEvent) -> bool {
        self.source.as_deref().is_none_or(|s| s == e.source)
            && self
                .event_type
                .as_deref()
                .is_none_or(|g| glob_matches(g, &e.event_type))
    }
}

/// `*` matches any run of characters (dots included), `?` exactly one.
fn glob_matches(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut gi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ti;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == '*')
}

impl Daemon {
    fn store(&self) -> Result<&sekia_store::Store, DaemonError> {
        self.inner()
            .store
            .as_ref()
            .ok_or(DaemonError::HistoryDisabled)
    }

    /// Events, newest first, filtered and paged.
    pub async fn events(&self, query: EventQuery) -> Result<Page<StoredEvent>, DaemonError> {
        Ok(self.store()?.list_events(query).await?)
    }

    pub async fn event(&self, id: &str) -> Result<StoredEvent, DaemonError> {
        self.store()?
            .get_event(id)
            .await?
            .ok_or_else(|| DaemonError::NotFound(format!("event {id}")))
    }

    /// Commands, newest first, filtered and paged.
    pub async fn commands(&self, query: CommandQuery) -> Result<Page<StoredCommand>, DaemonError> {
        Ok(self.store()?.list_commands(query).await?)
    }

    pub async fn command(&self, command_id: &str) -> Result<StoredCommand, DaemonError> {
        self.store()?
            .get_command(command_id)
            .await?
            .ok_or_else(|| DaemonError::NotFound(format!("command {command_id}")))
    }

    /// Re-publishes a stored event on its subject with a new id and the current time; the
    /// store records which event it replays. Returns the new event.
    pub async fn replay(&self, id: &str) -> Result<Event, DaemonError> {
        let stored = self.event(id).await?;
        let mut event = stored.to_event().ok_or_else(|| DaemonError::Invalid {
            field: "id".into(),
            message: format!("event {id} was stored truncated and cannot be replayed whole"),
        })?;
        event.id = sekia_protocol::new_event_id();
        event.timestamp = self.inner().clock.unix_secs();
        self.send_event(&stored.subject, &event).await?;
        self.store()?.record_replay(id, &event.id).await?;
        Ok(event)
    }

    /// Puts a well-formed event on `sekia.events.<source>`, so a user can try a workflow
    /// before connecting any account.
    pub async fn publish_event(
        &self,
        source: &str,
        event_type: &str,
        payload: Payload,
    ) -> Result<Event, DaemonError> {
        let subject = subjects::events(source).map_err(|e| DaemonError::Invalid {
            field: "source".into(),
            message: e.to_string(),
        })?;
        if event_type.trim().is_empty() {
            return Err(DaemonError::Invalid {
                field: "type".into(),
                message: "must not be empty".into(),
            });
        }
        let event = Event::new(event_type, source, payload, self.inner().clock.unix_secs());
        self.send_event(&subject, &event).await?;
        Ok(event)
    }

    async fn send_event(&self, subject: &str, event: &Event) -> Result<(), DaemonError> {
        let json = sekia_protocol::json::to_vec(event).map_err(|e| DaemonError::Invalid {
            field: "payload".into(),
            message: e.to_string(),
        })?;
        self.bus().publish(subject, Bytes::from(json)).await?;
        Ok(())
    }

    /// New events as they are committed to history, for live views. Filter with
    /// [`LiveFilter::matches`]; a receiver that falls behind skips (`Lagged`), history does not.
    pub fn live_events(&self) -> Result<broadcast::Receiver<Arc<StoredEvent>>, DaemonError> {
        Ok(self.store()?.subscribe_live())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("github.issue.*", "github.issue.opened"));
        assert!(glob_matches("*", "x"));
        assert!(glob_matches("*.opened", "github.pr.opened"));
        assert!(glob_matches("github.?r.opened", "github.pr.opened"));
        assert!(!glob_matches("github.issue.*", "github.pr.opened"));
        assert!(!glob_matches("a", "ab"));
    }
}
