//! Polling, for GitHub accounts that cannot receive webhooks: sekia's three
//! modes and event types, with state kept in a [`StateStore`] so that a restart
//! neither repeats nor skips anything.
//!
//! - **Time mode**: per repository, issues, then pull requests, then issue
//!   comments changed since the watermark → `github.issue.opened|closed|updated`,
//!   `github.pr.opened|merged|closed|updated`, `github.comment.created`, all with
//!   `polled: true`. Issues and comments are read oldest change first
//!   (`sort=updated&direction=asc&since=`), so at most `per_tick` items per phase
//!   are handled per poll and the next poll continues exactly where this one
//!   stopped. The watermark is the `updated_at` of the last item handled plus the
//!   ids handled at that same second (GitHub times have whole seconds), so
//!   nothing is handled twice and nothing updated later is skipped. Pull requests
//!   have no `since` filter: the newest are read until one older than the
//!   watermark (up to `per_tick`), then handled oldest first.
//! - **Label mode** (`poll.labels`, not `match_prs`): issues with any of the
//!   labels (one request per label) → `github.issue.matched`.
//! - **PR-match mode** (`poll.match_prs`): pull requests (with all of the labels,
//!   if any) → `github.pr.matched`.
//!
//! sekia re-emitted every match on every poll. Here a match is emitted when it
//! is new or changed (`updated_at` moved) since it was last emitted; the set of
//! emitted matches is part of the state.
//!
//! Every list request is conditional (ETag): when nothing changed GitHub answers
//! 304, which costs no rate limit. A first poll without state starts 5 minutes
//! back, as sekia's.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use sekia_protocol::{Clock, Payload};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::{GithubApi, Page};
use super::config::{PollConfig, PollMode};
use super::mapping;
use crate::agent::EventSink;
use crate::http::HttpError;
use crate::state::{StateError, StateStore};

/// How far back a poller without state starts (sekia: 5 minutes).
pub const INITIAL_LOOKBACK: Duration = Duration::from_secs(5 * 60);

/// Why (part of) a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{repo}: {source}")]
    Http {
        repo: String,
        #[source]
        source: HttpError,
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

/// A watermark: the newest `updated_at` handled and the ids handled at it.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
struct Watermark {
    /// Unix seconds.
    since: i64,
    seen: Vec<String>,
}

/// Emitted matches: item number → its `updated_at` when emitted.
type Matches = BTreeMap<i64, String>;

/// The poller of one GitHub agent.
pub struct Poller {
    api: Arc<GithubApi>,
    sink: EventSink,
    state: Arc<dyn StateStore>,
    config: PollConfig,
    clock: Arc<dyn Clock>,
    key_prefix: String,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("key_prefix", &self.key_prefix)
            .field("mode", &self.config.mode())
            .finish_non_exhaustive()
    }
}

fn parse_time(item: &Value, key: &str) -> Option<i64> {
    let text = item.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

fn format_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn id_of(item: &Value) -> String {
    item.get("id").map(|v| v.to_string()).unwrap_or_default()
}

/// Which list a time-mode phase reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Issues,
    Pulls,
    Comments,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Issues => "issues",
            Phase::Pulls => "pulls",
            Phase::Comments => "comments",
        }
    }
}

impl Poller {
    /// A poller whose state keys start with `github:<instance>:`.
    pub fn new(
        api: Arc<GithubApi>,
        sink: EventSink,
        state: Arc<dyn StateStore>,
        config: PollConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let key_prefix = format!("github:{}", sink.account());
        Self {
            api,
            sink,
            state,
            config,
            clock,
            key_prefix,
        }
    }

    /// Polls at once, then every `poll.interval`, until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let calls_per_hour =
            self.config.repos.len() as u64 * 3 * (3600 / self.config.interval.as_secs().max(1));
        if calls_per_hour > 4000 {
            tracing::warn!(
                calls_per_hour,
                "polling may exceed GitHub's 5000 requests/hour (304 answers do not count)"
            );
        }
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

    /// One poll over every repository.
    pub async fn tick(&self) -> TickSummary {
        let mut summary = TickSummary::default();
        for (owner, repo) in self.config.repo_pairs() {
            let result = match self.config.mode() {
                PollMode::Time => self.poll_time(&owner, &repo).await,
                PollMode::Label => self.poll_labels(&owner, &repo).await,
                PollMode::PrMatch => self.poll_pr_matches(&owner, &repo).await,
            };
            match result {
                Ok(n) => summary.emitted += n,
                Err(e) => summary.errors.push(e.to_string()),
            }
        }
        summary
    }

    fn key(&self, owner: &str, repo: &str, what: &str) -> String {
        format!("{}:{owner}/{repo}:{what}", self.key_prefix)
    }

    async fn load<T: for<'de> Deserialize<'de> + Default>(
        &self,
        key: &str,
    ) -> Result<Option<T>, PollError> {
        let Some(text) = self.state.get(key).await? else {
            return Ok(None);
        };
        match serde_json::from_str(&text) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                tracing::warn!(key, error = %e, "unreadable poller state; starting over");
                Ok(None)
            }
        }
    }

    async fn save<T: Serialize>(&self, key: &str, value: &T) -> Result<(), PollError> {
        let text = serde_json::to_string(value).unwrap_or_default();
        self.state.put(key, &text).await?;
        Ok(())
    }

    fn per_page(&self) -> String {
        self.config.per_tick.clamp(1, 100).to_string()
    }

    fn http(repo: &str) -> impl Fn(HttpError) -> PollError + '_ {
        move |source| PollError::Http {
            repo: repo.to_owned(),
            source,
        }
    }

    async fn emit(&self, (event_type, payload): (String, Payload)) -> Result<(), PollError> {
        self.sink.publish(&event_type, payload).await?;
        Ok(())
    }

    async fn poll_time(&self, owner: &str, repo: &str) -> Result<usize, PollError> {
        let mut emitted = 0;
        for phase in [Phase::Issues, Phase::Pulls, Phase::Comments] {
            emitted += self.poll_phase(owner, repo, phase).await?;
        }
        Ok(emitted)
    }

    async fn poll_phase(&self, owner: &str, repo: &str, phase: Phase) -> Result<usize, PollError> {
        let full = format!("{owner}/{repo}");
        let key = self.key(owner, repo, phase.name());
        let mut mark = match self.load::<Watermark>(&key).await? {
            Some(m) => m,
            None => Watermark {
                since: self.clock.unix_secs() - INITIAL_LOOKBACK.as_secs() as i64,
                seen: Vec::new(),
            },
        };
        let opened_after = mark.since;
        // Ascending lists start with the items already handled at the watermark's
        // second (`since` is inclusive); they do not count against the budget.
        let budget = self.config.per_tick as usize + mark.seen.len();
        let items = match phase {
            Phase::Issues | Phase::Comments => {
                let path: &[&str] = if phase == Phase::Issues {
                    &["repos", owner, repo, "issues"]
                } else {
                    &["repos", owner, repo, "issues", "comments"]
                };
                let mut url = self.api.url(path);
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("since", &format_time(mark.since));
                    if phase == Phase::Issues {
                        q.append_pair("state", "all");
                    }
                    q.append_pair("sort", "updated");
                    q.append_pair("direction", "asc");
                    q.append_pair("per_page", &self.per_page());
                }
                self.collect(url, budget, |_| true)
                    .await
                    .map_err(Self::http(&full))?
                    .unwrap_or_default()
            }
            Phase::Pulls => {
                let mut url = self.api.url(&["repos", owner, repo, "pulls"]);
                url.query_pairs_mut()
                    .append_pair("state", "all")
                    .append_pair("sort", "updated")
                    .append_pair("direction", "desc")
                    .append_pair("per_page", &self.per_page());
                let since = mark.since;
                let mut items = self
                    .collect(url, budget, |item| {
                        parse_time(item, "updated_at").is_some_and(|t| t >= since)
                    })
                    .await
                    .map_err(Self::http(&full))?
                    .unwrap_or_default();
                if items.len() >= self.config.per_tick as usize {
                    tracing::warn!(repo = %full, budget, "more pull requests changed than poll.per_tick; older changes in this window are skipped");
                }
                items.reverse();
                items
            }
        };
        let mut emitted = 0;
        let original = mark.clone();
        for item in &items {
            let Some(updated) = parse_time(item, "updated_at") else {
                continue;
            };
            let id = id_of(item);
            if updated < mark.since || (updated == mark.since && mark.seen.contains(&id)) {
                continue;
            }
            let created_after = parse_time(item, "created_at").is_some_and(|c| c > opened_after);
            let event = match phase {
                // Pull requests come back from the issues list too; the pulls phase has them.
                Phase::Issues if item.get("pull_request").is_some_and(|p| !p.is_null()) => None,
                Phase::Issues => Some(mapping::polled_issue(owner, repo, item, created_after)),
                Phase::Pulls => Some(mapping::polled_pr(owner, repo, item, created_after)),
                Phase::Comments => Some(mapping::polled_comment(owner, repo, item)),
            };
            if let Some(event) = event {
                self.emit(event).await?;
                emitted += 1;
            }
            if updated > mark.since {
                mark.since = updated;
                mark.seen.clear();
            }
            mark.seen.push(id);
            // Saved per item: a crash after this publish does not repeat it.
            self.save(&key, &mark).await?;
        }
        if mark == original && self.state.get(&key).await?.is_none() {
            // First poll, nothing found: keep the start so the window does not slide.
            self.save(&key, &mark).await?;
        }
        Ok(emitted)
    }

    /// Reads pages from `url` while `keep` holds, up to `budget` items. `None`:
    /// the first page was a 304, nothing changed since the last poll.
    async fn collect(
        &self,
        url: Url,
        budget: usize,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Option<Vec<Value>>, HttpError> {
        let mut out = Vec::new();
        let mut next = Some(url);
        let mut first = true;
        while let Some(u) = next.take() {
            match self.api.list_page(u).await? {
                Page::NotModified if first => return Ok(None),
                // A later page unchanged since it was last read: its items were handled.
                Page::NotModified => break,
                Page::Items { items, next: n } => {
                    for item in items {
                        if !keep(&item) {
                            return Ok(Some(out));
                        }
                        out.push(item);
                        if out.len() >= budget {
                            return Ok(Some(out));
                        }
                    }
                    next = n;
                }
            }
            first = false;
        }
        Ok(Some(out))
    }

    async fn poll_labels(&self, owner: &str, repo: &str) -> Result<usize, PollError> {
        let full = format!("{owner}/{repo}");
        let key = self.key(owner, repo, "label-matches");
        let mut all: BTreeMap<String, Matches> = self.load(&key).await?.unwrap_or_default();
        let mut emitted_now: HashSet<i64> = HashSet::new();
        let mut emitted = 0;
        for label in &self.config.labels {
            let mut url = self.api.url(&["repos", owner, repo, "issues"]);
            url.query_pairs_mut()
                .append_pair("labels", label)
                .append_pair("state", &self.config.state)
                .append_pair("sort", "updated")
                .append_pair("direction", "desc")
                .append_pair("per_page", &self.per_page());
            let Some(items) = self
                .collect(url, self.config.per_tick as usize, |_| true)
                .await
                .map_err(Self::http(&full))?
            else {
                continue;
            };
            let previous = all.remove(label).unwrap_or_default();
            let mut current = Matches::new();
            for item in items
                .iter()
                .filter(|i| i.get("pull_request").is_none_or(Value::is_null))
            {
                let number = item.get("number").and_then(Value::as_i64).unwrap_or(0);
                let updated = item
                    .get("updated_at")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let changed = previous.get(&number) != Some(&updated);
                current.insert(number, updated);
                if changed && emitted_now.insert(number) {
                    self.emit(mapping::label_matched_issue(owner, repo, item))
                        .await?;
                    emitted += 1;
                }
            }
            all.insert(label.clone(), current);
            self.save(&key, &all).await?;
        }
        Ok(emitted)
    }

    async fn poll_pr_matches(&self, owner: &str, repo: &str) -> Result<usize, PollError> {
        let full = format!("{owner}/{repo}");
        let key = self.key(owner, repo, "pr-matches");
        let previous: Matches = self.load(&key).await?.unwrap_or_default();
        let budget = self.config.per_tick as usize;
        let with_labels = !self.config.labels.is_empty();
        let mut url = if with_labels {
            self.api.url(&["repos", owner, repo, "issues"])
        } else {
            self.api.url(&["repos", owner, repo, "pulls"])
        };
        {
            let mut q = url.query_pairs_mut();
            if with_labels {
                // A comma-separated list: GitHub returns items with all of them.
                q.append_pair("labels", &self.config.labels.join(","));
            }
            q.append_pair("state", &self.config.state);
            q.append_pair("sort", "updated");
            q.append_pair("direction", "desc");
            q.append_pair("per_page", &self.per_page());
        }
        let Some(items) = self
            .collect(url, budget, |_| true)
            .await
            .map_err(Self::http(&full))?
        else {
            return Ok(0);
        };
        let mut current = Matches::new();
        let mut emitted = 0;
        for item in &items {
            if with_labels && item.get("pull_request").is_none_or(Value::is_null) {
                continue;
            }
            let number = item.get("number").and_then(Value::as_i64).unwrap_or(0);
            let updated = item
                .get("updated_at")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let changed = previous.get(&number) != Some(&updated);
            current.insert(number, updated);
            if !changed {
                continue;
            }
            let pr = if with_labels {
                // The issues list lacks head/base/draft: fetch the pull request itself.
                let url = self
                    .api
                    .url(&["repos", owner, repo, "pulls", &number.to_string()]);
                self.api
                    .call(reqwest::Method::GET, url, None)
                    .await
                    .and_then(|r| r.json::<Value>())
                    .map_err(Self::http(&full))?
            } else {
                item.clone()
            };
            self.emit(mapping::pr_matched(owner, repo, &pr)).await?;
            emitted += 1;
            let mut partial = previous.clone();
            partial.extend(current.clone());
            self.save(&key, &partial).await?;
        }
        self.save(&key, &current).await?;
        Ok(emitted)
    }
}
