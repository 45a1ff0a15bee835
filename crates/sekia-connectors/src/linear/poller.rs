//! Polling Linear: issues changed and comments created since a watermark kept in
//! the [`StateStore`], so a restart neither repeats nor skips anything.
//!
//! Each poll reads every page of `issues(filter: {updatedAt: {gte: since}})`
//! and `comments(filter: {createdAt: {gte: since}})` (Linear lists newest
//! first, so a poll must read to the end before it can handle anything oldest
//! first), then handles the items oldest first, saving the watermark after each
//! published event. The watermark is the newest timestamp handled (Linear's
//! times have milliseconds) plus the ids handled at that same millisecond:
//! `gte` returns those again, and they are skipped, which fixes sekia's
//! duplicates at the boundary; an issue that did not change since it was
//! emitted is never emitted again.
//!
//! Issues and comments have separate watermarks, so a failed comment read is
//! retried next poll (sekia moved on and lost those comments). A poller without
//! state starts 5 minutes back, as sekia's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sekia_protocol::{Clock, Payload};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::api::{LinearApi, TeamFilter};
use super::mapping;
use crate::agent::EventSink;
use crate::graphql::GraphqlError;
use crate::state::{StateError, StateStore};

/// How far back a poller without state starts (sekia: 5 minutes).
pub const INITIAL_LOOKBACK: Duration = Duration::from_secs(5 * 60);

/// Why (part of) a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{what}: {source}")]
    Api {
        what: &'static str,
        #[source]
        source: GraphqlError,
    },
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("publish: {0}")]
    Bus(#[from] sekia_bus::BusError),
}

/// What one poll did.
#[derive(Debug, Default)]
pub struct TickSummary {
    pub emitted: usize,
    pub errors: Vec<String>,
}

/// Where a list was read up to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Watermark {
    /// Unix milliseconds of the newest item handled.
    since: i64,
    /// Ids handled at `since`.
    seen: Vec<String>,
    /// Issues created after this (Unix ms) are "created": the watermark when the
    /// poll under way began. Kept apart from `since` so that a restart in the
    /// middle of a poll decides created/updated as the whole poll would have.
    created_after: i64,
}

impl Watermark {
    fn start(now_ms: i64) -> Self {
        let since = now_ms - INITIAL_LOOKBACK.as_millis() as i64;
        Self {
            since,
            seen: Vec::new(),
            created_after: since,
        }
    }

    fn is_new(&self, at: i64, id: &str) -> bool {
        at > self.since || (at == self.since && !self.seen.iter().any(|s| s == id))
    }

    fn advance(&mut self, at: i64, id: &str) {
        if at > self.since {
            self.since = at;
            self.seen.clear();
        }
        self.seen.push(id.to_owned());
    }
}

fn parse_ms(text: Option<&str>) -> Option<i64> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Items with their timestamp, oldest first; one entry per id (the newest, if
/// an item moved between pages while they were read); items without a readable
/// time are dropped with a warning.
fn oldest_first<T>(items: Vec<T>, at: impl Fn(&T) -> (Option<i64>, String)) -> Vec<(i64, T)> {
    let mut by_id: HashMap<String, (i64, T)> = HashMap::new();
    for item in items {
        let (time, id) = at(&item);
        let Some(time) = time else {
            tracing::warn!(id, "Linear item without a readable timestamp; skipped");
            continue;
        };
        match by_id.get(&id) {
            Some((t, _)) if *t >= time => {}
            _ => {
                by_id.insert(id, (time, item));
            }
        }
    }
    let mut out: Vec<(String, (i64, T))> = by_id.into_iter().collect();
    out.sort_by(|a, b| (a.1.0, &a.0).cmp(&(b.1.0, &b.0)));
    out.into_iter().map(|(_, v)| v).collect()
}

/// The poller of one Linear agent.
pub struct Poller {
    api: Arc<LinearApi>,
    sink: EventSink,
    state: Arc<dyn StateStore>,
    team: TeamFilter,
    interval: Duration,
    clock: Arc<dyn Clock>,
    key_prefix: String,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("key_prefix", &self.key_prefix)
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller whose state keys start with `linear:<instance>:`.
    pub fn new(
        api: Arc<LinearApi>,
        sink: EventSink,
        state: Arc<dyn StateStore>,
        team: TeamFilter,
        interval: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let key_prefix = format!("linear:{}", sink.account());
        Self {
            api,
            sink,
            state,
            team,
            interval,
            clock,
            key_prefix,
        }
    }

    /// Polls at once, then every `interval`, until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let summary = tokio::select! {
                () = cancel.cancelled() => break,
                s = self.tick() => s,
            };
            for e in &summary.errors {
                self.sink.record_error();
                tracing::warn!(agent = self.sink.account(), error = %e, "poll failed; retrying next interval");
            }
            tracing::debug!(
                agent = self.sink.account(),
                emitted = summary.emitted,
                "poll done"
            );
        }
    }

    /// One poll: issues, then comments.
    pub async fn tick(&self) -> TickSummary {
        let mut summary = TickSummary::default();
        for result in [self.poll_issues().await, self.poll_comments().await] {
            match result {
                Ok(n) => summary.emitted += n,
                Err(e) => summary.errors.push(e.to_string()),
            }
        }
        summary
    }

    async fn load(&self, key: &str) -> Result<Watermark, PollError> {
        if let Some(text) = self.state.get(key).await? {
            match serde_json::from_str(&text) {
                Ok(m) => return Ok(m),
                Err(e) => tracing::warn!(key, error = %e, "unreadable poller state; starting over"),
            }
        }
        // Saved at once, so that the window of a first poll that fails does not slide.
        let mark = Watermark::start(self.clock.now_ms());
        self.save(key, &mark).await?;
        Ok(mark)
    }

    async fn save(&self, key: &str, mark: &Watermark) -> Result<(), PollError> {
        let text = serde_json::to_string(mark).unwrap_or_default();
        self.state.put(key, &text).await?;
        Ok(())
    }

    async fn emit(&self, (event_type, payload): (&str, Payload)) -> Result<(), PollError> {
        self.sink.publish(event_type, payload).await?;
        Ok(())
    }

    async fn poll_issues(&self) -> Result<usize, PollError> {
        let key = format!("{}:issues", self.key_prefix);
        let mut mark = self.load(&key).await?;
        let created_after = mark.created_after;
        let issues = self
            .api
            .issues_since(&format_ms(mark.since), &self.team)
            .await
            .map_err(|source| PollError::Api {
                what: "issues",
                source,
            })?;
        let mut emitted = 0;
        for (updated, issue) in oldest_first(issues, |i| {
            (parse_ms(i.updated_at.as_deref()), i.id.clone())
        }) {
            if !mark.is_new(updated, &issue.id) {
                continue;
            }
            let created = parse_ms(issue.created_at.as_deref()).is_some_and(|c| c > created_after);
            self.emit(mapping::issue_event(&issue, created)).await?;
            emitted += 1;
            mark.advance(updated, &issue.id);
            // Saved per item: a crash after this publish does not repeat it.
            self.save(&key, &mark).await?;
        }
        if mark.created_after != mark.since {
            mark.created_after = mark.since;
            self.save(&key, &mark).await?;
        }
        Ok(emitted)
    }

    async fn poll_comments(&self) -> Result<usize, PollError> {
        let key = format!("{}:comments", self.key_prefix);
        let mut mark = self.load(&key).await?;
        let comments = self
            .api
            .comments_since(&format_ms(mark.since), &self.team)
            .await
            .map_err(|source| PollError::Api {
                what: "comments",
                source,
            })?;
        let mut emitted = 0;
        for (created, comment) in oldest_first(comments, |c| {
            (parse_ms(c.created_at.as_deref()), c.id.clone())
        }) {
            if !mark.is_new(created, &comment.id) {
                continue;
            }
            self.emit(mapping::comment_event(&comment)).await?;
            emitted += 1;
            mark.advance(created, &comment.id);
            self.save(&key, &mark).await?;
        }
        Ok(emitted)
    }
}

/// Unix milliseconds from a [`Clock`].
trait NowMs {
    fn now_ms(&self) -> i64;
}

impl<C: Clock + ?Sized> NowMs for C {
    fn now_ms(&self) -> i64 {
        match self.now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_skips_what_was_handled_at_the_same_millisecond() {
        let mut m = Watermark::start(10 * 60 * 1000);
        assert_eq!(m.since, 5 * 60 * 1000);
        assert!(m.is_new(m.since, "a"));
        m.advance(400_000, "a");
        assert!(!m.is_new(400_000, "a"));
        assert!(m.is_new(400_000, "b"));
        assert!(!m.is_new(399_999, "c"));
        m.advance(400_001, "c");
        assert_eq!(m.seen, vec!["c".to_owned()]);
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_ms(Some("2023-11-14T22:13:20.123Z")),
            Some(1_700_000_000_123)
        );
    }

    #[test]
    fn oldest_first_keeps_the_newest_copy_of_an_item() {
        let items = vec![(3, "a"), (1, "b"), (2, "a"), (5, "c")];
        let out = oldest_first(items, |(t, id)| (Some(*t), (*id).to_owned()));
        let ids: Vec<_> = out.iter().map(|(t, (_, id))| (*t, *id)).collect();
        assert_eq!(ids, vec![(1, "b"), (3, "a"), (5, "c")]);
    }
}
