//! New mail through Gmail's history API, with the history id kept in the
//! [`StateStore`], so that a restart continues where the last run stopped.
//!
//! - **First start** (no state): the mailbox's current history id
//!   (`users.getProfile`) becomes the watermark and nothing is announced. sekia
//!   announced the latest `max_messages` messages on every start instead.
//! - **Each poll**: `users.history.list(startHistoryId, historyTypes=messageAdded)`
//!   page by page; each added message is fetched (`format=full`) and announced as
//!   `gmail.message.received`. At most `gmail.max_messages` messages are handled
//!   per poll, whole history records at a time; the rest follow on the next poll.
//!   The watermark (last record handled + the ids already announced from the
//!   record under way) is saved after every message, so a restart neither repeats
//!   nor skips one.
//! - **`gmail.query`** applies here too (sekia only used it on start): Gmail's
//!   search cannot be evaluated locally, so the new messages are checked with one
//!   `messages.list?q=(<query>) after:<oldest new message − 1 s>` and only those
//!   it returns are announced.
//! - Drafts, and mail that was only sent (label `SENT` without `INBOX`), are not
//!   "received" and are skipped: sekia announced them, which let an auto-reply
//!   workflow answer its own mail.
//! - **Expired history id** (Gmail answers 404 after about a week): the current
//!   history id becomes the watermark again, without announcing old mail. Mail
//!   that arrived while the watermark was too old is not announced (logged).
//!   Other errors keep the watermark; the next poll retries (sekia reseeded on
//!   any error and re-announced).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::api::{GmailApi, Message};
use super::message::{self, MESSAGE_RECEIVED};
use crate::agent::EventSink;
use crate::http::HttpError;
use crate::state::{StateError, StateStore};

/// Most search pages read to check new messages against `gmail.query`.
const MAX_SEARCH_PAGES: usize = 20;

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum GmailPollError {
    #[error("gmail: {0}")]
    Http(#[from] HttpError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("publish: {0}")]
    Bus(#[from] sekia_bus::BusError),
}

/// The watermark.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
struct Mark {
    /// Records up to this history id are handled.
    history_id: String,
    /// Messages already handled from the record after `history_id` under way.
    #[serde(default)]
    seen: Vec<String>,
}

/// The Gmail poller of one agent.
pub struct GmailPoller {
    api: GmailApi,
    sink: EventSink,
    state: Arc<dyn StateStore>,
    query: String,
    budget: usize,
    interval: Duration,
    key: String,
}

impl std::fmt::Debug for GmailPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailPoller")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl GmailPoller {
    /// A poller whose state key is `google:<instance>:gmail:<user_id>:history`.
    pub fn new(
        api: GmailApi,
        sink: EventSink,
        state: Arc<dyn StateStore>,
        config: &crate::google::config::GmailConfig,
    ) -> Self {
        let key = format!("google:{}:gmail:{}:history", sink.account(), config.user_id);
        Self {
            api,
            sink,
            state,
            query: config.query.trim().to_owned(),
            budget: config.budget(),
            interval: config.poll_interval,
            key,
        }
    }

    /// Polls at once, then every `gmail.poll_interval`, until `cancel` fires. A
    /// poll under way is finished first (its requests skip retries once
    /// cancelled), so the watermark always matches what was announced.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            match self.tick().await {
                Ok(n) => {
                    tracing::debug!(agent = self.sink.account(), emitted = n, "gmail poll done")
                }
                Err(e) => {
                    self.sink.record_error();
                    tracing::warn!(agent = self.sink.account(), error = %e, "gmail poll failed; retrying next interval");
                }
            }
        }
    }

    async fn load(&self) -> Result<Option<Mark>, GmailPollError> {
        let Some(text) = self.state.get(&self.key).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<Mark>(&text) {
            Ok(m) if !m.history_id.is_empty() => Ok(Some(m)),
            Ok(_) | Err(_) => {
                tracing::warn!(key = %self.key, "unreadable gmail watermark; starting from now");
                Ok(None)
            }
        }
    }

    async fn save(&self, mark: &Mark) -> Result<(), GmailPollError> {
        let text = serde_json::to_string(mark).unwrap_or_default();
        self.state.put(&self.key, &text).await?;
        Ok(())
    }

    /// The mailbox's current history id becomes the watermark.
    async fn seed(&self) -> Result<(), GmailPollError> {
        let profile = self.api.profile().await?;
        self.save(&Mark {
            history_id: profile.history_id,
            seen: Vec::new(),
        })
        .await
    }

    /// One poll; returns how many messages were announced.
    pub async fn tick(&self) -> Result<usize, GmailPollError> {
        let Some(mut mark) = self.load().await? else {
            self.seed().await?;
            tracing::info!(
                agent = self.sink.account(),
                "gmail: watching for new mail from now on"
            );
            return Ok(0);
        };
        let mut handled = 0usize;
        let mut emitted = 0usize;
        let mut page_token: Option<String> = None;
        loop {
            let page = match self
                .api
                .history(&mark.history_id, page_token.as_deref())
                .await
            {
                Ok(p) => p,
                Err(e) if e.status() == Some(404) => {
                    tracing::warn!(
                        agent = self.sink.account(),
                        history_id = %mark.history_id,
                        "gmail history id expired; continuing from the current mailbox state (mail in between is not announced)"
                    );
                    self.seed().await?;
                    return Ok(emitted);
                }
                Err(e) => return Err(e.into()),
            };
            // Whole records, up to the budget (at least one, so a big record cannot stall).
            let mut records = Vec::new();
            let mut cut = false;
            for r in page.history {
                let n = r.messages_added.len();
                if handled > 0 && handled + n > self.budget {
                    cut = true;
                    break;
                }
                handled += n;
                records.push(r);
            }
            let candidates: Vec<String> = records
                .iter()
                .flat_map(|r| r.messages_added.iter().map(|a| a.message.id.clone()))
                .filter(|id| !mark.seen.contains(id))
                .collect();
            let fetched = self.fetch(&candidates).await?;
            let wanted = self.matching(&fetched).await?;
            for record in records {
                for added in &record.messages_added {
                    let id = &added.message.id;
                    if mark.seen.contains(id) {
                        continue;
                    }
                    if let (Some(m), true) = (fetched.get(id), wanted.contains(id)) {
                        self.sink
                            .publish(MESSAGE_RECEIVED, message::payload(m))
                            .await?;
                        emitted += 1;
                    }
                    mark.seen.push(id.clone());
                    self.save(&mark).await?;
                }
                mark.history_id = record.id;
                mark.seen.clear();
                self.save(&mark).await?;
            }
            if cut {
                return Ok(emitted);
            }
            match page.next_page_token {
                Some(t) => page_token = Some(t),
                None => {
                    if let Some(h) = page.history_id.filter(|h| *h != mark.history_id) {
                        mark.history_id = h;
                        mark.seen.clear();
                        self.save(&mark).await?;
                    }
                    return Ok(emitted);
                }
            }
        }
    }

    /// The messages worth announcing among `ids`, fetched whole. Gone ones are left out.
    async fn fetch(&self, ids: &[String]) -> Result<HashMap<String, Message>, GmailPollError> {
        let mut out = HashMap::new();
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            let Some(m) = self.api.message(id).await? else {
                continue;
            };
            let labels = &m.label_ids;
            let has = |l: &str| labels.iter().any(|x| x == l);
            if has("DRAFT") || (has("SENT") && !has("INBOX")) {
                continue;
            }
            out.insert(id.clone(), m);
        }
        Ok(out)
    }

    /// The ids among `messages` that `gmail.query` matches (all without a query).
    async fn matching(
        &self,
        messages: &HashMap<String, Message>,
    ) -> Result<HashSet<String>, GmailPollError> {
        let all: HashSet<String> = messages.keys().cloned().collect();
        if self.query.is_empty() || all.is_empty() {
            return Ok(all);
        }
        // Narrow the search to the new messages' time; `after:` takes Unix seconds.
        let mut q = format!("({})", self.query);
        if let Some(oldest) = messages.values().filter_map(Message::internal_secs).min() {
            q.push_str(&format!(" after:{}", oldest - 1));
        }
        let mut found = HashSet::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let page = self.api.search(&q, token.as_deref()).await?;
            found.extend(
                page.messages
                    .into_iter()
                    .map(|m| m.id)
                    .filter(|id| all.contains(id)),
            );
            if found.len() == all.len() {
                break;
            }
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(found)
    }
}
