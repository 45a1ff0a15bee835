//! A fake GitHub REST + GraphQL API (axum), answering with the documented JSON
//! shapes and recording every request, plus bus helpers.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sekia_bus::Subscription;
use sekia_protocol::{Command, Event, Payload};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// Status the fake answered with.
    pub status: u16,
}

/// A canned answer for the next request(s) to `METHOD /path`.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

#[derive(Default)]
pub struct FakeState {
    pub requests: Vec<Recorded>,
    pub issues: Vec<Value>,
    pub pulls: Vec<Value>,
    pub comments: Vec<Value>,
    pub reviews: Vec<Value>,
    pub login: String,
    /// Every answer waits this long (a slow service).
    pub delay: Duration,
    pub scripted: HashMap<String, VecDeque<Scripted>>,
}

#[derive(Clone)]
pub struct FakeGithub {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeGithub {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState {
            login: "sekia-bot".into(),
            ..FakeState::default()
        }));
        let s = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    let delay = s.lock().unwrap().delay;
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    handle(&s, method, uri, headers, body)
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

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests other than reads of lists (what commands did).
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    pub fn script(&self, method: &str, path: &str, answer: Scripted) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .entry(format!("{method} {path}"))
            .or_default()
            .push_back(answer);
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

fn json_response(status: u16, headers: &[(String, String)], body: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    for (k, v) in headers {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

fn time_of(v: &Value, key: &str) -> i64 {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn handle(
    state: &Arc<Mutex<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: HashMap<String, String> = reqwest::Url::parse(&format!("http://x{uri}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let hdrs: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = state.lock().unwrap();
    let key = format!("{method} {path}");
    let scripted = st.scripted.get_mut(&key).and_then(VecDeque::pop_front);
    let (status, extra, answer) = if let Some(s) = scripted {
        (s.status, s.headers, s.body)
    } else {
        let (status, answer, list) = route(&mut st, &method, &path, &query, &body_json);
        let mut extra = Vec::new();
        // Pagination: the list's page `page` of `per_page`, with a `Link` to the next.
        let answer = match answer {
            Value::Array(all) if list => {
                let per_page: usize = query
                    .get("per_page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(30);
                let page: usize = query
                    .get("page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1)
                    .max(1);
                let start = (page - 1) * per_page;
                if start + per_page < all.len() {
                    let mut next = reqwest::Url::parse(&format!(
                        "http://{}{uri}",
                        hdrs.get("host").cloned().unwrap_or_default()
                    ))
                    .unwrap();
                    let pairs: Vec<(String, String)> = next
                        .query_pairs()
                        .filter(|(k, _)| k != "page")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    next.query_pairs_mut()
                        .clear()
                        .extend_pairs(pairs)
                        .append_pair("page", &(page + 1).to_string());
                    extra.push(("link".to_owned(), format!("<{next}>; rel=\"next\"")));
                }
                Value::Array(all.into_iter().skip(start).take(per_page).collect())
            }
            other => other,
        };
        if list {
            let etag = format!("\"{}\"", hex::encode(Sha256::digest(answer.to_string())));
            if hdrs.get("if-none-match") == Some(&etag) {
                st.requests.push(Recorded {
                    method: method.to_string(),
                    path,
                    query,
                    headers: hdrs,
                    body: body_json,
                    status: 304,
                });
                return StatusCode::NOT_MODIFIED.into_response();
            }
            extra.push(("etag".to_owned(), etag));
        }
        (status, extra, answer)
    };
    st.requests.push(Recorded {
        method: method.to_string(),
        path,
        query,
        headers: hdrs,
        body: body_json,
        status,
    });
    json_response(status, &extra, &answer)
}

/// `(status, body, is_a_list)` for the built-in routes. Only `octo/hello` exists.
fn route(
    st: &mut FakeState,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    body: &Value,
) -> (u16, Value, bool) {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segs == ["graphql"] && method == Method::POST {
        let query = body["query"].as_str().unwrap_or("");
        let data = if query.contains("issueOrPullRequest") {
            json!({"repository": {"issueOrPullRequest": {"id": "PR_kwDOnode"}}})
        } else if query.contains("addProjectV2ItemById") {
            json!({"addProjectV2ItemById": {"item": {"id": "PVTI_item1"}}})
        } else if query.contains("updateProjectV2ItemFieldValue") {
            json!({"updateProjectV2ItemFieldValue": {"projectV2Item": {"id": "PVTI_item1"}}})
        } else {
            return (
                200,
                json!({"errors": [{"message": "unknown query"}]}),
                false,
            );
        };
        return (200, json!({"data": data}), false);
    }
    if segs == ["user"] {
        return (
            200,
            json!({"login": st.login, "id": 1, "type": "User"}),
            false,
        );
    }
    if segs.len() < 3 || segs[0] != "repos" || segs[1] != "octo" || segs[2] != "hello" {
        let (s, b) = not_found();
        return (s, b, false);
    }
    let rest = &segs[3..];
    let m = method.as_str();
    let sort_list = |mut items: Vec<Value>| -> Vec<Value> {
        items.sort_by_key(|i| time_of(i, "updated_at"));
        if q.get("direction").map(String::as_str) != Some("asc") {
            items.reverse();
        }
        items
    };
    let since = q
        .get("since")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    let state_ok = |i: &Value| match q.get("state").map(String::as_str) {
        None | Some("open") => i["state"] == "open",
        Some("closed") => i["state"] == "closed",
        _ => true,
    };
    match (m, rest) {
        ("GET", ["issues"]) => {
            let labels: Vec<&str> = q
                .get("labels")
                .map(|l| l.split(',').collect())
                .unwrap_or_default();
            let items = st
                .issues
                .iter()
                .filter(|i| since.is_none_or(|s| time_of(i, "updated_at") >= s))
                .filter(|i| state_ok(i))
                .filter(|i| {
                    labels.iter().all(|l| {
                        i["labels"]
                            .as_array()
                            .is_some_and(|ls| ls.iter().any(|x| x["name"] == *l))
                    })
                })
                .cloned()
                .collect();
            (200, Value::Array(sort_list(items)), true)
        }
        ("GET", ["pulls"]) => {
            let items = st.pulls.iter().filter(|i| state_ok(i)).cloned().collect();
            (200, Value::Array(sort_list(items)), true)
        }
        ("GET", ["issues", "comments"]) => {
            let items = st
                .comments
                .iter()
                .filter(|i| since.is_none_or(|s| time_of(i, "updated_at") >= s))
                .cloned()
                .collect();
            (200, Value::Array(sort_list(items)), true)
        }
        ("GET", ["pulls", _n, "reviews"]) => (200, Value::Array(st.reviews.clone()), false),
        ("GET", ["pulls", n]) => match st
            .pulls
            .iter()
            .find(|p| p["number"].as_i64() == n.parse::<i64>().ok())
        {
            Some(p) => (200, p.clone(), false),
            None => {
                let (s, b) = not_found();
                (s, b, false)
            }
        },
        ("POST", ["pulls", _n, "reviews"]) => {
            let review = json!({"id": 80, "user": {"login": st.login}, "body": body.get("body").cloned().unwrap_or(json!("")), "state": "APPROVED"});
            st.reviews.push(review.clone());
            (200, review, false)
        }
        ("POST", ["issues", _n, "labels"]) => {
            let names: Vec<Value> = body
                .as_array()
                .map(|a| a.iter().map(|l| json!({"id": 1, "name": l})).collect())
                .unwrap_or_default();
            (200, Value::Array(names), false)
        }
        ("DELETE", ["issues", _n, "labels", _label]) => (200, json!([]), false),
        ("POST", ["issues", n, "comments"]) => (
            201,
            json!({"id": 1, "body": body["body"], "html_url": format!("https://github.com/octo/hello/issues/{n}#issuecomment-1")}),
            false,
        ),
        ("PATCH", ["issues", n]) => (
            200,
            json!({"number": n.parse::<i64>().unwrap_or(0), "state": body["state"]}),
            false,
        ),
        _ => {
            let (s, b) = not_found();
            (s, b, false)
        }
    }
}

/// `sha256=<hex>` of `body` under `secret`, as GitHub signs deliveries.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
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

pub fn issue(number: i64, title: &str, created: &str, updated: &str, labels: &[&str]) -> Value {
    json!({
        "id": 1000 + number,
        "node_id": format!("I_{number}"),
        "number": number,
        "title": title,
        "body": format!("body of {number}"),
        "user": {"login": "alice", "id": 5},
        "labels": labels.iter().map(|l| json!({"id": 1, "name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "state": "open",
        "html_url": format!("https://github.com/octo/hello/issues/{number}"),
        "created_at": created,
        "updated_at": updated,
        "closed_at": null,
    })
}

pub fn pull(number: i64, created: &str, updated: &str, labels: &[&str]) -> Value {
    json!({
        "id": 2000 + number,
        "number": number,
        "title": format!("PR {number}"),
        "body": "pr body",
        "user": {"login": "bob", "id": 6},
        "labels": labels.iter().map(|l| json!({"id": 1, "name": l})).collect::<Vec<_>>(),
        "state": "open",
        "draft": false,
        "html_url": format!("https://github.com/octo/hello/pull/{number}"),
        "head": {"ref": "feature", "sha": "abc"},
        "base": {"ref": "main", "sha": "def"},
        "merged_at": null,
        "merge_commit_sha": "m123",
        "created_at": created,
        "updated_at": updated,
    })
}

pub fn comment(id: i64, issue: i64, updated: &str) -> Value {
    json!({
        "id": id,
        "body": format!("comment {id}"),
        "user": {"login": "carol"},
        "html_url": format!("https://github.com/octo/hello/issues/{issue}#issuecomment-{id}"),
        "issue_url": format!("https://api.github.com/repos/octo/hello/issues/{issue}"),
        "created_at": updated,
        "updated_at": updated,
    })
}
