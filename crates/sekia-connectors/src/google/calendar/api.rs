//! The Calendar v3 calls the connector makes, and the documented shape of an
//! event (only the fields read here).

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::google::api::{GoogleApi, join};
use crate::http::HttpError;

/// `events.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventList {
    pub items: Vec<CalEvent>,
    pub next_page_token: Option<String>,
    /// On the last page only.
    pub next_sync_token: Option<String>,
}

/// An event resource.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CalEvent {
    pub id: String,
    pub etag: String,
    pub status: String,
    pub summary: String,
    pub description: String,
    pub location: String,
    pub html_link: String,
    /// RFC 3339.
    pub created: String,
    pub updated: String,
    pub start: Option<EventTime>,
    pub end: Option<EventTime>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Person>,
}

impl CalEvent {
    pub fn is_cancelled(&self) -> bool {
        self.status == "cancelled"
    }

    /// What changes whenever the event does: the etag, else `updated`.
    pub fn fingerprint(&self) -> String {
        if self.etag.is_empty() {
            self.updated.clone()
        } else {
            self.etag.clone()
        }
    }
}

/// `start` / `end`: `date` for all-day events, else `dateTime`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventTime {
    pub date: Option<String>,
    pub date_time: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Person {
    pub email: String,
}

/// Calendar calls for one calendar (`calendar.calendar_id`).
#[derive(Debug, Clone)]
pub struct CalendarApi {
    api: GoogleApi,
    base: Url,
    calendar_id: String,
}

impl CalendarApi {
    pub fn new(api: GoogleApi, base: Url, calendar_id: &str) -> Self {
        Self {
            api,
            base,
            calendar_id: calendar_id.to_owned(),
        }
    }

    pub fn calendar_id(&self) -> &str {
        &self.calendar_id
    }

    fn events_url(&self, rest: &[&str]) -> Url {
        let mut segs = vec!["calendars", self.calendar_id.as_str(), "events"];
        segs.extend_from_slice(rest);
        join(&self.base, &segs)
    }

    /// One page of a sync: incremental with `sync_token`, else a full listing of
    /// the events ending after `time_min` (deleted ones included).
    pub async fn sync_page(
        &self,
        sync_token: Option<&str>,
        time_min: &str,
        page_token: Option<&str>,
    ) -> Result<EventList, HttpError> {
        let mut url = self.events_url(&[]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("singleEvents", "true");
            q.append_pair("showDeleted", "true");
            q.append_pair("maxResults", "250");
            match sync_token {
                // Google refuses timeMin and friends together with a sync token.
                Some(t) => {
                    q.append_pair("syncToken", t);
                }
                None => {
                    q.append_pair("timeMin", time_min);
                }
            }
            if let Some(p) = page_token {
                q.append_pair("pageToken", p);
            }
        }
        self.api.get(url).await
    }

    /// One page of the events overlapping `[time_min, time_max)`, by start time.
    pub async fn window(
        &self,
        time_min: &str,
        time_max: &str,
        page_token: Option<&str>,
    ) -> Result<EventList, HttpError> {
        let mut url = self.events_url(&[]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("singleEvents", "true");
            q.append_pair("orderBy", "startTime");
            q.append_pair("timeMin", time_min);
            q.append_pair("timeMax", time_max);
            q.append_pair("maxResults", "250");
            if let Some(p) = page_token {
                q.append_pair("pageToken", p);
            }
        }
        self.api.get(url).await
    }

    pub async fn insert(&self, body: Value) -> Result<(), HttpError> {
        self.api
            .call_at_most_once(Method::POST, self.events_url(&[]), Some(body))
            .await?;
        Ok(())
    }

    pub async fn patch(&self, event_id: &str, body: Value) -> Result<(), HttpError> {
        self.api
            .call(Method::PATCH, self.events_url(&[event_id]), Some(body))
            .await?;
        Ok(())
    }

    pub async fn delete(&self, event_id: &str) -> Result<(), HttpError> {
        self.api
            .call(Method::DELETE, self.events_url(&[event_id]), None)
            .await?;
        Ok(())
    }
}
