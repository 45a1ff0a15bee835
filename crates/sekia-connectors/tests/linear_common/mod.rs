//! A fake Linear GraphQL API (axum): `POST /graphql` answering the connector's
//! queries and mutations with Linear's documented response shapes (`{"data": …}`,
//! `{"errors": [{"message", "extensions"}]}`, Relay `nodes` + `pageInfo`),
//! recording every request, plus bus helpers.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sekia_bus::Subscription;
use sekia_protocol::{Command, Event, Payload};
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The operation name in the document (`SekiaIssues`, `IssueCreate`, …).
    pub operation: String,
    pub headers: HashMap<String, String>,
    /// `{"query", "variables"}` as sent.
    pub body: Value,
    pub status: u16,
}

/// A canned answer for the next request(s) of an operation.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

#[derive(Default)]
pub struct FakeState {
    pub requests: Vec<Recorded>,
    /// Issue nodes, in the shape the connector's query asks for.
    pub issues: Vec<Value>,
    /// Comment nodes.
    pub comments: Vec<Value>,
    /// Team id → key.
    pub teams: HashMap<String, String>,
    pub scripted: HashMap<String, VecDeque<Scripted>>,
    last_ms: i64,
    next_id: u64,
}

impl FakeState {
    /// A timestamp that is now and later than every one handed out before.
    pub fn stamp(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        self.last_ms = now.max(self.last_ms + 1);
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(self.last_ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    fn uuid(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012}", self.next_id)
    }

    /// Adds an issue as a user creating it in Linear would; returns its id.
    pub fn add_issue(&mut self, team_key: &str, title: &str) -> String {
        let id = self.uuid();
        let team_id = format!("team-{}", team_key.to_lowercase());
        self.teams.insert(team_id.clone(), team_key.to_owned());
        let number = self
            .issues
            .iter()
            .filter(|i| i["team"]["key"] == team_key)
            .count()
            + 1;
        let identifier = format!("{team_key}-{number}");
        let now = self.stamp();
        self.issues.push(json!({
            "id": id,
            "identifier": identifier,
            "title": title,
            "description": format!("About {title}"),
            "priority": 2,
            "url": format!("https://linear.app/acme/issue/{identifier}"),
            "createdAt": now,
            "updatedAt": now,
            "state": {"name": "Todo", "type": "unstarted"},
            "team": {"id": team_id, "key": team_key},
            "assignee": {"name": "Ann"},
            "labels": {"nodes": [{"name": "bug"}]},
        }));
        id
    }

    /// Changes an issue (bumping `updatedAt`).
    pub fn edit_issue(&mut self, id: &str, f: impl FnOnce(&mut Value)) {
        let now = self.stamp();
        let issue = self
            .issues
            .iter_mut()
            .find(|i| i["id"] == id)
            .expect("no such issue");
        f(issue);
        issue["updatedAt"] = Value::String(now);
    }

    /// Adds a comment to an issue; returns its id.
    pub fn add_comment(&mut self, issue_id: &str, body: &str) -> String {
        let id = self.uuid();
        let identifier = self
            .issues
            .iter()
            .find(|i| i["id"] == issue_id)
            .map(|i| i["identifier"].clone())
            .expect("no such issue");
        let now = self.stamp();
        self.comments.push(json!({
            "id": id,
            "body": body,
            "createdAt": now,
            "user": {"name": "Bob"},
            "issue": {"id": issue_id, "identifier": identifier},
        }));
        id
    }

    fn issue_team(&self, issue_id: &Value) -> Option<Value> {
        self.issues
            .iter()
            .find(|i| &i["id"] == issue_id)
            .map(|i| i["team"].clone())
    }
}

#[derive(Clone)]
pub struct FakeLinear {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeLinear {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let s = state.clone();
        let app = Router::new().route(
            "/graphql",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move { handle(&s, &headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    pub fn requests(&self, operation: &str) -> Vec<Recorded> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.operation == operation)
                .cloned()
                .collect()
        })
    }

    pub fn script(&self, operation: &str, answer: Scripted) {
        self.with(|s| {
            s.scripted
                .entry(operation.to_owned())
                .or_default()
                .push_back(answer)
        });
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Waits until `n` more polls have started than had when called: every event
    /// of the polls before them has been published by then.
    pub async fn wait_polls(&self, n: usize) {
        let start = self.requests("SekiaIssues").len();
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.requests("SekiaIssues").len() < start + n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the poller did not poll within 10 s");
    }
}

/// The operation name of a GraphQL document: `query Name(` / `mutation Name {`.
fn operation_name(query: &str) -> String {
    let rest = query
        .trim_start()
        .strip_prefix("query")
        .or_else(|| query.trim_start().strip_prefix("mutation"))
        .unwrap_or("");
    rest.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn graphql_error(message: &str, code: &str) -> Value {
    json!({
        "errors": [{
            "message": message,
            "extensions": {"type": "invalid input", "code": code, "userError": true,
                           "userPresentableMessage": message},
        }],
        "data": null,
    })
}

fn handle(state: &Arc<Mutex<FakeState>>, headers: &HeaderMap, body: &[u8]) -> Response {
    let hdrs: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let query = body["query"].as_str().unwrap_or("").to_owned();
    let operation = operation_name(&query);
    let vars = body["variables"].clone();
    let mut st = state.lock().unwrap();
    let (status, extra, answer) = if let Some(s) = st
        .scripted
        .get_mut(&operation)
        .and_then(VecDeque::pop_front)
    {
        (s.status, s.headers, s.body)
    } else if !hdrs.contains_key("authorization") {
        (
            400,
            Vec::new(),
            graphql_error(
                "Authentication required, not authenticated",
                "AUTHENTICATION_ERROR",
            ),
        )
    } else {
        (200, Vec::new(), route(&mut st, &operation, &vars))
    };
    st.requests.push(Recorded {
        operation,
        headers: hdrs,
        body,
        status,
    });
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=utf-8")],
        answer.to_string(),
    )
        .into_response();
    for (k, v) in extra {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

fn team_matches(team: &Value, filter: &Value) -> bool {
    if filter.is_null() {
        return true;
    }
    let id_ok = filter["id"]["eq"].is_null() || filter["id"]["eq"] == team["id"];
    let key_ok = filter["key"]["eq"].is_null() || filter["key"]["eq"] == team["key"];
    id_ok && key_ok
}

fn ms(v: &Value) -> i64 {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// One page of `items` (already filtered and ordered): cursors are offsets.
fn page(items: Vec<Value>, vars: &Value) -> Value {
    let first = vars["first"].as_u64().unwrap_or(50) as usize;
    let start: usize = vars["after"]
        .as_str()
        .and_then(|c| c.strip_prefix("cursor-"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let end = (start + first).min(items.len());
    let nodes: Vec<Value> = items.get(start..end).unwrap_or(&[]).to_vec();
    json!({
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": end < items.len(),
            "endCursor": if nodes.is_empty() { Value::Null } else { Value::String(format!("cursor-{end}")) },
        },
    })
}

fn route(st: &mut FakeState, operation: &str, vars: &Value) -> Value {
    match operation {
        "SekiaIssues" => {
            let filter = &vars["filter"];
            let since = ms(&filter["updatedAt"]["gte"]);
            let mut items: Vec<Value> = st
                .issues
                .iter()
                .filter(|i| ms(&i["updatedAt"]) >= since)
                .filter(|i| team_matches(&i["team"], &filter["team"]))
                .cloned()
                .collect();
            // orderBy: updatedAt — most recently updated first.
            items.sort_by_key(|i| std::cmp::Reverse(ms(&i["updatedAt"])));
            json!({"data": {"issues": page(items, vars)}})
        }
        "SekiaComments" => {
            let filter = &vars["filter"];
            let since = ms(&filter["createdAt"]["gte"]);
            let mut items: Vec<Value> = st
                .comments
                .iter()
                .filter(|c| ms(&c["createdAt"]) >= since)
                .filter(|c| {
                    let team = st.issue_team(&c["issue"]["id"]).unwrap_or(Value::Null);
                    team_matches(&team, &filter["issue"]["team"])
                })
                .cloned()
                .collect();
            items.sort_by_key(|c| std::cmp::Reverse(ms(&c["createdAt"])));
            json!({"data": {"comments": page(items, vars)}})
        }
        "IssueCreate" => {
            let input = &vars["input"];
            let Some(key) = input["teamId"]
                .as_str()
                .and_then(|t| st.teams.get(t).cloned())
            else {
                return graphql_error("Entity not found: Team", "INVALID_INPUT");
            };
            let id = st.add_issue(&key, input["title"].as_str().unwrap_or(""));
            let issue = st.issues.iter().find(|i| i["id"] == id).unwrap().clone();
            json!({"data": {"issueCreate": {"success": true, "issue": {
                "id": id, "identifier": issue["identifier"], "url": issue["url"]}}}})
        }
        "IssueUpdate" | "IssueAddLabel" => {
            let id = vars["id"].as_str().unwrap_or("").to_owned();
            if !st.issues.iter().any(|i| i["id"] == id) {
                return graphql_error("Entity not found: Issue", "INVALID_INPUT");
            }
            st.edit_issue(&id, |_| {});
            let field = if operation == "IssueUpdate" {
                "issueUpdate"
            } else {
                "issueAddLabel"
            };
            json!({"data": {field: {"success": true, "issue": {"id": id}}}})
        }
        "CommentCreate" => {
            let input = &vars["input"];
            let issue_id = input["issueId"].as_str().unwrap_or("").to_owned();
            if !st.issues.iter().any(|i| i["id"] == issue_id) {
                return graphql_error("Entity not found: Issue", "INVALID_INPUT");
            }
            let id = st.add_comment(&issue_id, input["body"].as_str().unwrap_or(""));
            json!({"data": {"commentCreate": {"success": true, "comment": {"id": id}}}})
        }
        other => graphql_error(
            &format!("Cannot query operation {other:?} on the fake"),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    }
}

pub fn payload(v: Value) -> Payload {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// A command signed with `secret`, as the bytes a workflow would publish.
pub fn signed_command(name: &str, args: Value, secret: &str) -> Vec<u8> {
    let mut cmd = Command::new(name, payload(args), "workflow:test");
    sekia_protocol::sign(&mut cmd, secret).unwrap();
    serde_json::to_vec(&cmd).unwrap()
}

/// The next event on `sub` for which `pred` holds, within 10 s.
pub async fn next_event(sub: &mut Subscription, pred: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = sub.next().await.expect("subscription ended");
            let e: Event = serde_json::from_slice(&m.payload).unwrap();
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("no matching event within 10 s")
}

/// Whatever events arrive on `sub` within `wait`.
pub async fn drain(sub: &mut Subscription, wait: Duration) -> Vec<Event> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        while let Some(m) = sub.next().await {
            out.push(serde_json::from_slice(&m.payload).unwrap());
        }
    })
    .await;
    out
}
