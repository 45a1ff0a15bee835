//! A fake Gmail v1 + Calendar v3 API (axum), answering with the documented JSON
//! shapes (history records, `format=full` messages with base64url parts,
//! Google's error bodies, sync tokens and 410 Gone) and recording every request.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: String,
    pub body: Value,
}

impl Recorded {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct FakeState {
    pub requests: Vec<Recorded>,
    pub email: String,
    // Gmail
    pub history_id: u64,
    pub messages: Vec<Value>,
    /// (record id, message id)
    pub history: Vec<(u64, String)>,
    /// `startHistoryId` below this → 404, as for an expired history id.
    pub history_expired_before: u64,
    pub labels: Vec<Value>,
    // Calendar
    pub events: BTreeMap<String, Value>,
    pub cal_seq: u64,
    /// (seq, event id) of every change.
    pub changes: Vec<(u64, String)>,
    /// `sync-N` tokens with N below this → 410.
    pub sync_expired_before: u64,
    /// Canned answers (status, body) for the next requests to "METHOD /path", before routing.
    pub scripted: BTreeMap<String, std::collections::VecDeque<(u16, Value)>>,
}

#[derive(Clone)]
pub struct FakeGoogle {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
}

pub fn google_error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status,
        "errors": [{"message": message, "domain": "global", "reason": "notFound"}]}})
}

impl FakeGoogle {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState {
            email: "me@example.com".into(),
            history_id: 1000,
            labels: vec![
                json!({"id": "INBOX", "name": "INBOX", "type": "system"}),
                json!({"id": "STARRED", "name": "STARRED", "type": "system"}),
                json!({"id": "Label_12", "name": "Work", "type": "user"}),
            ],
            ..FakeState::default()
        }));
        let s = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: axum::http::HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    handle(&s, method, uri, auth, body)
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calendar_url(&self) -> String {
        format!("http://{}/calendar/v3", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests_to(method, path).len()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Answers the next request to `method path` with `status` and `body` instead.
    pub fn script(&self, method: &str, path: &str, status: u16, body: Value) {
        self.with(|s| {
            s.scripted
                .entry(format!("{method} {path}"))
                .or_default()
                .push_back((status, body))
        });
    }

    /// Waits (up to 10 s) until `pred` holds for the fake's state.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&FakeState) -> bool) {
        let ok = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if pred(&self.state.lock().unwrap()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(ok.is_ok(), "timed out waiting for {what}");
    }
}

pub fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// A new message as Gmail's `format=full` shows it.
pub struct NewMail<'a> {
    pub id: &'a str,
    pub thread_id: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub plain: Option<&'a str>,
    pub html: Option<&'a str>,
    pub labels: &'a [&'a str],
    /// Unix seconds.
    pub date: i64,
}

impl FakeState {
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Adds a message and its `messageAdded` history record.
    pub fn add_mail(&mut self, m: NewMail<'_>) {
        let mut parts: Vec<Value> = Vec::new();
        if let Some(p) = m.plain {
            parts.push(
                json!({"partId": "0", "mimeType": "text/plain", "filename": "",
                "headers": [{"name": "Content-Type", "value": "text/plain; charset=\"UTF-8\""}],
                "body": {"size": p.len(), "data": b64(p)}}),
            );
        }
        if let Some(h) = m.html {
            parts.push(
                json!({"partId": "1", "mimeType": "text/html", "filename": "",
                "headers": [{"name": "Content-Type", "value": "text/html; charset=\"UTF-8\""}],
                "body": {"size": h.len(), "data": b64(h)}}),
            );
        }
        let attachment = json!({"partId": "2", "mimeType": "application/pdf", "filename": "a.pdf",
            "body": {"size": 10, "attachmentId": "ANGjdJ"}});
        let message = json!({
            "id": m.id, "threadId": m.thread_id, "labelIds": m.labels,
            "snippet": format!("snippet of {}", m.id), "historyId": (self.history_id + 1).to_string(),
            "internalDate": (m.date * 1000).to_string(), "sizeEstimate": 1234,
            "payload": {"partId": "", "mimeType": "multipart/mixed", "filename": "",
                "headers": [
                    {"name": "From", "value": m.from},
                    {"name": "To", "value": "me@example.com"},
                    {"name": "Subject", "value": m.subject},
                    {"name": "Date", "value": "Tue, 1 Jan 2030 09:00:00 +0000"},
                    {"name": "Message-Id", "value": format!("<{}@mail.example.com>", m.id)},
                    {"name": "References", "value": "<root@mail.example.com>"}
                ],
                "body": {"size": 0},
                "parts": [{"partId": "0", "mimeType": "multipart/alternative", "filename": "",
                    "headers": [], "body": {"size": 0}, "parts": parts},
                    attachment]}
        });
        self.messages.push(message);
        self.history_id += 1;
        self.history.push((self.history_id, m.id.to_owned()));
    }

    /// Adds or changes an event (new etag, `updated`), as a change for sync tokens.
    pub fn put_event(&mut self, id: &str, fields: Value) {
        self.cal_seq += 1;
        let mut e = self.events.get(id).cloned().unwrap_or_else(|| {
            json!({"kind": "calendar#event", "id": id, "status": "confirmed",
                "htmlLink": format!("https://www.google.com/calendar/event?eid={id}"),
                "created": "2029-12-01T00:00:00.000Z", "description": "", "location": "",
                "organizer": {"email": "boss@example.com"}, "attendees": []})
        });
        if let (Value::Object(e), Value::Object(f)) = (&mut e, fields) {
            e.extend(f);
        }
        e["etag"] = json!(format!("\"{}\"", self.cal_seq));
        e["updated"] = json!("2030-01-01T09:00:00.000Z");
        self.events.insert(id.to_owned(), e);
        self.changes.push((self.cal_seq, id.to_owned()));
    }

    pub fn cancel_event(&mut self, id: &str) {
        self.put_event(id, json!({"status": "cancelled"}));
    }
}

fn time_of(v: &Value) -> i64 {
    if let Some(t) = v.get("dateTime").and_then(Value::as_str) {
        return chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp())
            .unwrap_or(0);
    }
    v.get("date")
        .and_then(Value::as_str)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
        .unwrap_or(0)
}

fn rfc(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp())
        .unwrap_or(0)
}

fn header<'a>(m: &'a Value, name: &str) -> &'a str {
    m["payload"]["headers"]
        .as_array()
        .and_then(|hs| {
            hs.iter().find(|h| {
                h["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        })
        .and_then(|h| h["value"].as_str())
        .unwrap_or("")
}

/// A tiny Gmail search: `from:x` and `after:<unix secs>`, ANDed.
fn search_matches(m: &Value, q: &str) -> bool {
    q.replace(['(', ')'], " ")
        .split_whitespace()
        .all(|term| match term.split_once(':') {
            Some(("from", who)) => header(m, "From").contains(who),
            Some(("after", t)) => {
                let secs: i64 = t.parse().unwrap_or(0);
                m["internalDate"]
                    .as_str()
                    .and_then(|d| d.parse::<i64>().ok())
                    .is_some_and(|ms| ms / 1000 > secs)
            }
            _ => true,
        })
}

fn handle(
    state: &Arc<Mutex<FakeState>>,
    method: Method,
    uri: Uri,
    authorization: String,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x{uri}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = state.lock().unwrap();
    let rec = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query,
        authorization,
        body: body_json,
    };
    st.requests.push(rec.clone());
    let key = format!("{} {}", rec.method, rec.path);
    let scripted = st.scripted.get_mut(&key).and_then(|q| q.pop_front());
    let (status, answer) = match scripted {
        Some(s) => s,
        None => route(&mut st, &rec),
    };
    if status == 204 {
        return StatusCode::NO_CONTENT.into_response();
    }
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=UTF-8")],
        answer.to_string(),
    )
        .into_response()
}

fn route(st: &mut FakeState, r: &Recorded) -> (u16, Value) {
    let path = r.path.clone();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = || {
        (
            404,
            google_error(404, "NOT_FOUND", "Requested entity was not found."),
        )
    };
    match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["gmail", "v1", "users", "me", "profile"]) => (
            200,
            json!({"emailAddress": st.email, "messagesTotal": st.messages.len(),
                "threadsTotal": st.messages.len(), "historyId": st.history_id.to_string()}),
        ),
        ("GET", ["gmail", "v1", "users", "me", "history"]) => {
            let start: u64 = r
                .q("startHistoryId")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if start < st.history_expired_before {
                return not_found();
            }
            let per_page: usize = r
                .q("maxResults")
                .and_then(|s| s.parse().ok())
                .unwrap_or(100);
            let offset: usize = r.q("pageToken").and_then(|s| s.parse().ok()).unwrap_or(0);
            let all: Vec<&(u64, String)> = st.history.iter().filter(|(h, _)| *h > start).collect();
            let records: Vec<Value> = all
                .iter()
                .skip(offset)
                .take(per_page)
                .map(|(h, id)| {
                    let m = st.messages.iter().find(|m| m["id"] == id.as_str()).cloned().unwrap_or(Value::Null);
                    json!({"id": h.to_string(), "messages": [{"id": id, "threadId": m["threadId"]}],
                        "messagesAdded": [{"message": {"id": id, "threadId": m["threadId"], "labelIds": m["labelIds"]}}]})
                })
                .collect();
            let mut answer = json!({"historyId": st.history_id.to_string()});
            if !records.is_empty() {
                answer["history"] = Value::Array(records);
            }
            if offset + per_page < all.len() {
                answer["nextPageToken"] = json!((offset + per_page).to_string());
            }
            (200, answer)
        }
        ("GET", ["gmail", "v1", "users", "me", "messages"]) => {
            let q = r.q("q").unwrap_or("").to_owned();
            let mut found: Vec<Value> = st
                .messages
                .iter()
                .filter(|m| search_matches(m, &q))
                .map(|m| json!({"id": m["id"], "threadId": m["threadId"]}))
                .collect();
            found.reverse();
            let n = found.len();
            (200, json!({"messages": found, "resultSizeEstimate": n}))
        }
        ("GET", ["gmail", "v1", "users", "me", "messages", id]) => {
            match st.messages.iter().find(|m| m["id"] == *id) {
                Some(m) => (200, m.clone()),
                None => not_found(),
            }
        }
        ("GET", ["gmail", "v1", "users", "me", "labels"]) => (200, json!({"labels": st.labels})),
        ("GET", ["gmail", "v1", "users", "me", "threads", id]) => {
            let msgs: Vec<Value> = st
                .messages
                .iter()
                .filter(|m| m["threadId"] == *id)
                .cloned()
                .collect();
            if msgs.is_empty() {
                return not_found();
            }
            (
                200,
                json!({"id": id, "historyId": st.history_id.to_string(), "messages": msgs}),
            )
        }
        ("POST", ["gmail", "v1", "users", "me", "messages", "send"]) => (
            200,
            json!({"id": "sent-1", "threadId": r.body.get("threadId").cloned().unwrap_or(json!("sent-1")), "labelIds": ["SENT"]}),
        ),
        (
            "POST",
            [
                "gmail",
                "v1",
                "users",
                "me",
                "messages",
                id,
                "modify" | "trash" | "untrash",
            ],
        ) => {
            if !st.messages.iter().any(|m| m["id"] == *id) {
                return not_found();
            }
            (
                200,
                json!({"id": id, "threadId": "t1", "labelIds": ["INBOX"]}),
            )
        }
        ("DELETE", ["gmail", "v1", "users", "me", "messages", _id]) => (204, Value::Null),
        ("GET", ["calendar", "v3", "calendars", _cal, "events"]) => calendar_list(st, r),
        ("POST", ["calendar", "v3", "calendars", _cal, "events"]) => {
            let mut e = r.body.clone();
            e["id"] = json!("created-1");
            e["status"] = json!("confirmed");
            (200, e)
        }
        ("PATCH", ["calendar", "v3", "calendars", _cal, "events", id]) => {
            match st.events.get(*id) {
                Some(e) => (200, e.clone()),
                None => not_found(),
            }
        }
        ("DELETE", ["calendar", "v3", "calendars", _cal, "events", _id]) => (204, Value::Null),
        _ => not_found(),
    }
}

fn calendar_list(st: &FakeState, r: &Recorded) -> (u16, Value) {
    let next_sync = format!("sync-{}", st.cal_seq);
    if let Some(token) = r.q("syncToken") {
        let n: u64 = token.trim_start_matches("sync-").parse().unwrap_or(0);
        if n < st.sync_expired_before {
            return (
                410,
                json!({"error": {"code": 410, "message": "Sync token is no longer valid, a full sync is required.",
                    "errors": [{"domain": "global", "reason": "fullSyncRequired",
                        "message": "Sync token is no longer valid, a full sync is required."}]}}),
            );
        }
        let mut ids: Vec<&String> = st
            .changes
            .iter()
            .filter(|(seq, _)| *seq > n)
            .map(|(_, id)| id)
            .collect();
        ids.dedup();
        let items: Vec<Value> = ids
            .iter()
            .filter_map(|id| st.events.get(*id).cloned())
            .collect();
        return (
            200,
            json!({"kind": "calendar#events", "items": items, "nextSyncToken": next_sync}),
        );
    }
    let min = r.q("timeMin").map(rfc).unwrap_or(i64::MIN);
    if let Some(max) = r.q("timeMax").map(rfc) {
        let mut items: Vec<Value> = st
            .events
            .values()
            .filter(|e| e["status"] != "cancelled")
            .filter(|e| time_of(&e["start"]) < max && time_of(&e["end"]) > min)
            .cloned()
            .collect();
        items.sort_by_key(|e| time_of(&e["start"]));
        return (200, json!({"kind": "calendar#events", "items": items}));
    }
    let items: Vec<Value> = st
        .events
        .values()
        .filter(|e| e["status"] == "cancelled" || time_of(&e["end"]) > min)
        .cloned()
        .collect();
    (
        200,
        json!({"kind": "calendar#events", "items": items, "nextSyncToken": next_sync}),
    )
}
