//! Calendar changes through sync tokens, with the token and a fingerprint (etag)
//! of every event seen kept in the [`StateStore`].
//!
//! - **First start** (no state): a full listing (events ending after now − 24 h,
//!   as sekia's window) records every event's fingerprint and the sync token, and
//!   announces nothing. sekia announced the whole window on every start.
//! - **Each poll**: `events.list(syncToken)` returns what changed. An event whose
//!   fingerprint is the one stored is skipped (a replay after a crash); a
//!   cancelled one → `google.calendar.event.deleted`; one not seen before and
//!   created since the last poll → `.created`; otherwise → `.updated`.
//! - **410 Gone** (the token expired): a full listing again, compared with the
//!   fingerprints, so only what really changed is announced; events that left the
//!   window are forgotten, not announced as deleted.
//! - **Upcoming** (`calendar.upcoming_mins` > 0): events starting within that
//!   many minutes of the injected clock's now → `google.calendar.event.upcoming`,
//!   once per event and start time (a moved event is announced again for its new
//!   time); events already started are not announced.
//!
//! State is saved after every announcement, so a restart repeats nothing; the
//! sync token only moves once a sync has been read to its end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sekia_protocol::Clock;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::api::{CalEvent, CalendarApi};
use super::mapping::{self, EVENT_CREATED, EVENT_DELETED, EVENT_UPCOMING, EVENT_UPDATED};
use crate::agent::EventSink;
use crate::http::HttpError;
use crate::state::{StateError, StateStore};

/// How far back a full listing reaches (sekia: 24 h).
pub const LOOKBACK: Duration = Duration::from_secs(24 * 3600);
/// Fingerprints of events that ended (or were deleted) longer ago are dropped.
const FORGET_AFTER: i64 = 7 * 24 * 3600;

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum CalendarPollError {
    #[error("calendar: {0}")]
    Http(#[from] HttpError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("publish: {0}")]
    Bus(#[from] sekia_bus::BusError),
}

/// What is known of one event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Seen {
    fp: String,
    /// Unix seconds after which it may be forgotten.
    until: i64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
struct SyncState {
    sync_token: Option<String>,
    /// Unix seconds of the last finished sync.
    last_sync: i64,
    events: BTreeMap<String, Seen>,
}

/// How a sync treats what it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// First start: remember, announce nothing.
    Baseline,
    /// A full listing compared with what is known (after 410).
    Resync,
    /// Changes since the sync token.
    Incremental,
}

/// The Calendar poller of one agent.
pub struct CalendarPoller {
    api: CalendarApi,
    sink: EventSink,
    state: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    upcoming_mins: u32,
    sync_key: String,
    upcoming_key: String,
}

impl std::fmt::Debug for CalendarPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarPoller")
            .field("sync_key", &self.sync_key)
            .finish_non_exhaustive()
    }
}

fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl CalendarPoller {
    /// A poller whose state keys start with `google:<instance>:calendar:<calendar_id>:`.
    pub fn new(
        api: CalendarApi,
        sink: EventSink,
        state: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        config: &crate::google::config::CalendarConfig,
    ) -> Self {
        let prefix = format!("google:{}:calendar:{}", sink.account(), config.calendar_id);
        Self {
            api,
            sink,
            state,
            clock,
            interval: config.poll_interval,
            upcoming_mins: config.upcoming_mins,
            sync_key: format!("{prefix}:sync"),
            upcoming_key: format!("{prefix}:upcoming"),
        }
    }

    /// Polls at once, then every `calendar.poll_interval`, until `cancel` fires; a
    /// poll under way is finished first.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            match self.tick().await {
                Ok(n) => tracing::debug!(
                    agent = self.sink.account(),
                    emitted = n,
                    "calendar poll done"
                ),
                Err(e) => {
                    self.sink.record_error();
                    tracing::warn!(agent = self.sink.account(), error = %e, "calendar poll failed; retrying next interval");
                }
            }
        }
    }

    async fn load<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, CalendarPollError> {
        let Some(text) = self.state.get(key).await? else {
            return Ok(None);
        };
        match serde_json::from_str(&text) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                tracing::warn!(key, error = %e, "unreadable calendar state; starting over");
                Ok(None)
            }
        }
    }

    async fn save<T: Serialize>(&self, key: &str, value: &T) -> Result<(), CalendarPollError> {
        let text = serde_json::to_string(value).unwrap_or_default();
        self.state.put(key, &text).await?;
        Ok(())
    }

    /// One poll (changes, then upcoming); returns how many events were announced.
    pub async fn tick(&self) -> Result<usize, CalendarPollError> {
        let now = self.clock.unix_secs();
        let loaded: Option<SyncState> = self.load(&self.sync_key).await?;
        let mut emitted = 0;
        let mut st = match loaded {
            None => {
                let mut st = SyncState::default();
                self.sync(&mut st, Mode::Baseline, now).await?;
                st
            }
            Some(mut st) if st.sync_token.is_some() => {
                match self.sync(&mut st, Mode::Incremental, now).await {
                    Ok(n) => emitted += n,
                    Err(CalendarPollError::Http(e)) if e.status() == Some(410) => {
                        tracing::info!(
                            agent = self.sink.account(),
                            "calendar sync token expired; full resync"
                        );
                        st.sync_token = None;
                        self.save(&self.sync_key, &st).await?;
                        emitted += self.sync(&mut st, Mode::Resync, now).await?;
                    }
                    Err(e) => return Err(e),
                }
                st
            }
            Some(mut st) => {
                emitted += self.sync(&mut st, Mode::Resync, now).await?;
                st
            }
        };
        st.last_sync = now;
        st.events.retain(|_, seen| seen.until + FORGET_AFTER >= now);
        self.save(&self.sync_key, &st).await?;
        if self.upcoming_mins > 0 {
            emitted += self.upcoming(now).await?;
        }
        Ok(emitted)
    }

    async fn sync(
        &self,
        st: &mut SyncState,
        mode: Mode,
        now: i64,
    ) -> Result<usize, CalendarPollError> {
        let lookback = now - LOOKBACK.as_secs() as i64;
        let time_min = rfc3339(lookback);
        // "Created since the last poll": sekia's rule, for events not seen before.
        let created_after = if st.last_sync > 0 {
            st.last_sync
        } else {
            lookback
        };
        let token = if mode == Mode::Incremental {
            st.sync_token.clone()
        } else {
            None
        };
        let calendar_id = self.api.calendar_id().to_owned();
        let mut emitted = 0;
        let mut page_token: Option<String> = None;
        loop {
            let page = self
                .api
                .sync_page(token.as_deref(), &time_min, page_token.as_deref())
                .await?;
            for e in &page.items {
                if e.id.is_empty() {
                    continue;
                }
                let fp = e.fingerprint();
                let known = st.events.get(&e.id);
                if known.is_some_and(|s| s.fp == fp) {
                    continue;
                }
                let event_type = self.classify(e, known.is_some(), mode, created_after);
                let until = if e.is_cancelled() {
                    now
                } else {
                    mapping::unix(e.end.as_ref()).unwrap_or(now)
                };
                st.events.insert(e.id.clone(), Seen { fp, until });
                if let Some(t) = event_type {
                    self.sink
                        .publish(t, mapping::change_payload(e, &calendar_id))
                        .await?;
                    emitted += 1;
                    self.save(&self.sync_key, &*st).await?;
                }
            }
            match page.next_page_token {
                Some(t) => page_token = Some(t),
                None => {
                    st.sync_token = page.next_sync_token;
                    return Ok(emitted);
                }
            }
        }
    }

    /// What a changed event is announced as, if anything.
    fn classify(
        &self,
        e: &CalEvent,
        known: bool,
        mode: Mode,
        created_after: i64,
    ) -> Option<&'static str> {
        if mode == Mode::Baseline {
            return None;
        }
        if e.is_cancelled() {
            // In a full listing, a cancelled event never seen was deleted before
            // we knew it: nothing to announce.
            return (known || mode == Mode::Incremental).then_some(EVENT_DELETED);
        }
        let new = !known && mapping::created_unix(e).is_some_and(|c| c > created_after);
        Some(if new { EVENT_CREATED } else { EVENT_UPDATED })
    }

    async fn upcoming(&self, now: i64) -> Result<usize, CalendarPollError> {
        let horizon = now + i64::from(self.upcoming_mins) * 60;
        // Announced: "<id>@<start>" → start, kept until the start has passed.
        let mut announced: BTreeMap<String, i64> =
            self.load(&self.upcoming_key).await?.unwrap_or_default();
        let before = announced.len();
        announced.retain(|_, start| *start >= now);
        let mut changed = announced.len() != before;
        let calendar_id = self.api.calendar_id().to_owned();
        let mut emitted = 0;
        let mut page_token: Option<String> = None;
        loop {
            let page = self
                .api
                .window(&rfc3339(now), &rfc3339(horizon), page_token.as_deref())
                .await?;
            for e in page.items.iter().filter(|e| !e.is_cancelled()) {
                let Some(start) = mapping::unix(e.start.as_ref()) else {
                    continue;
                };
                // Started already (or a long all-day event overlapping the window).
                if start < now || start > horizon {
                    continue;
                }
                let key = format!("{}@{start}", e.id);
                if announced.contains_key(&key) {
                    continue;
                }
                self.sink
                    .publish(
                        EVENT_UPCOMING,
                        mapping::upcoming_payload(e, &calendar_id, now),
                    )
                    .await?;
                emitted += 1;
                announced.insert(key, start);
                self.save(&self.upcoming_key, &announced).await?;
                changed = false;
            }
            match page.next_page_token {
                Some(t) => page_token = Some(t),
                None => break,
            }
        }
        if changed {
            self.save(&self.upcoming_key, &announced).await?;
        }
        Ok(emitted)
    }
}
