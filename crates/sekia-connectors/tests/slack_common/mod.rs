//! A fake Slack: the Web API (axum, answering with Slack's documented JSON,
//! `ok: false` + error codes with HTTP 200, and recording every request) and a
//! Socket Mode WebSocket server speaking the envelope protocol (hello first,
//! then whatever the test sends; acks come back to the test).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const BOT_TOKEN: &str = "xoxb-test-bot";
pub const APP_TOKEN: &str = "xapp-test-app";
pub const BOT_USER: &str = "UBOT";
pub const BOT_ID: &str = "BBOT";

/// One Web API request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// `/api/chat.postMessage`
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The JSON body, or `null` for an empty one.
    pub body: Value,
    pub status: u16,
}

/// A canned answer for the next request(s) to a method.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

#[derive(Default)]
pub struct FakeState {
    pub requests: Vec<Recorded>,
    pub scripted: HashMap<String, VecDeque<Scripted>>,
    /// `apps.connections.open` answers so far (numbers the tickets).
    pub opens: usize,
}

/// What the test does with one Socket Mode connection.
enum Out {
    Frame(WsMessage),
    /// Cut the TCP connection without a close frame.
    Drop,
}

/// The server side of one Socket Mode connection.
pub struct SocketConn {
    /// The `ticket` of the URL the client connected to.
    pub ticket: String,
    out: mpsc::UnboundedSender<Out>,
    acks: mpsc::UnboundedReceiver<Value>,
}

impl SocketConn {
    /// Sends a JSON text frame.
    pub fn send(&self, v: Value) {
        let _ = self
            .out
            .send(Out::Frame(WsMessage::Text(v.to_string().into())));
    }

    /// Cuts the connection as a network failure would.
    pub fn drop_link(&self) {
        let _ = self.out.send(Out::Drop);
    }

    /// The next JSON frame from the client, within 10 s.
    pub async fn recv(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(10), self.acks.recv())
            .await
            .expect("a frame from the client within 10 s")
            .expect("connection open")
    }

    /// Sends an envelope and waits for its ack.
    pub async fn deliver(&mut self, envelope: Value) {
        let id = envelope["envelope_id"].clone();
        self.send(envelope);
        let ack = self.recv().await;
        assert_eq!(
            ack,
            json!({"envelope_id": id}),
            "the ack names the envelope"
        );
    }
}

pub struct FakeSlack {
    pub web: SocketAddr,
    pub ws: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
    conns: tokio::sync::Mutex<mpsc::UnboundedReceiver<SocketConn>>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = ws_listener.local_addr().unwrap();
        let s = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move { handle(&s, ws, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(accept_loop(ws_listener, tx));
        Self {
            web,
            ws,
            state,
            conns: tokio::sync::Mutex::new(rx),
        }
    }

    /// `slack.api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.web)
    }

    /// The next Socket Mode connection the client opens (hello already sent), within 10 s.
    pub async fn next_connection(&self) -> SocketConn {
        tokio::time::timeout(Duration::from_secs(10), self.conns.lock().await.recv())
            .await
            .expect("a Socket Mode connection within 10 s")
            .expect("ws server running")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests to one Web API method (`chat.postMessage`).
    pub fn requests_to(&self, method: &str) -> Vec<Recorded> {
        let path = format!("/api/{method}");
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn script(&self, method: &str, answer: Scripted) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .entry(format!("/api/{method}"))
            .or_default()
            .push_back(answer);
    }
}

// The handshake callback's error type is tungstenite's, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn accept_loop(listener: tokio::net::TcpListener, conns: mpsc::UnboundedSender<SocketConn>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let conns = conns.clone();
        tokio::spawn(async move {
            let ticket = Arc::new(Mutex::new(String::new()));
            let t = ticket.clone();
            let callback =
                move |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                    let q = req.uri().query().unwrap_or_default();
                    if let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("ticket=")) {
                        *t.lock().unwrap() = v.to_owned();
                    }
                    Ok(resp)
                };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                return;
            };
            // Slack's first frame on every connection.
            let hello = json!({
                "type": "hello", "num_connections": 1,
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A1"}
            });
            if socket
                .send(WsMessage::Text(hello.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
            let (out_tx, mut out_rx) = mpsc::unbounded_channel();
            let (ack_tx, ack_rx) = mpsc::unbounded_channel();
            let ticket = ticket.lock().unwrap().clone();
            if conns
                .send(SocketConn {
                    ticket,
                    out: out_tx,
                    acks: ack_rx,
                })
                .is_err()
            {
                return;
            }
            loop {
                tokio::select! {
                    out = out_rx.recv() => match out {
                        Some(Out::Frame(m)) => {
                            if socket.send(m).await.is_err() {
                                return;
                            }
                        }
                        // Dropping the socket closes TCP without a close frame.
                        Some(Out::Drop) | None => return,
                    },
                    frame = socket.next() => match frame {
                        Some(Ok(WsMessage::Text(t))) => {
                            let v = serde_json::from_str(t.as_str()).unwrap_or(Value::String(t.to_string()));
                            let _ = ack_tx.send(v);
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
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

fn handle(
    state: &Arc<Mutex<FakeState>>,
    ws: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let hdrs: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let json_body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()))
    };
    let mut st = state.lock().unwrap();
    let scripted = st.scripted.get_mut(&path).and_then(VecDeque::pop_front);
    let (status, extra, answer) = match scripted {
        Some(s) => (s.status, s.headers, s.body),
        None => {
            let (status, answer) = answer(&mut st, ws, &method, &path, &hdrs, &json_body);
            (status, Vec::new(), answer)
        }
    };
    st.requests.push(Recorded {
        method: method.to_string(),
        path,
        headers: hdrs,
        body: json_body,
        status,
    });
    json_response(status, &extra, &answer)
}

/// Slack's answers, including its token checks: bot methods want `xoxb-`,
/// `apps.connections.open` wants `xapp-`.
fn answer(
    st: &mut FakeState,
    ws: SocketAddr,
    method: &Method,
    path: &str,
    headers: &HashMap<String, String>,
    body: &Value,
) -> (u16, Value) {
    if method != Method::POST {
        return (
            200,
            json!({"ok": false, "error": "method_not_supported_for_channel_type"}),
        );
    }
    let token = headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.is_empty() {
        return (200, json!({"ok": false, "error": "not_authed"}));
    }
    let Some(name) = path.strip_prefix("/api/") else {
        return (404, json!({"ok": false, "error": "unknown_method"}));
    };
    if name == "apps.connections.open" {
        if token != APP_TOKEN {
            return (
                200,
                json!({"ok": false, "error": if token.starts_with("xapp-") { "invalid_auth" } else { "not_allowed_token_type" }}),
            );
        }
        st.opens += 1;
        return (
            200,
            json!({"ok": true, "url": format!("ws://{ws}/link/?ticket=t{}&app_id=A1", st.opens)}),
        );
    }
    if token != BOT_TOKEN {
        return (
            200,
            json!({"ok": false, "error": if token.starts_with("xoxb-") { "invalid_auth" } else { "not_allowed_token_type" }}),
        );
    }
    let s = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
    match name {
        "auth.test" => (
            200,
            json!({"ok": true, "url": "https://fake.slack.com/", "team": "Fake Team", "user": "sekia",
                   "team_id": "T1", "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false}),
        ),
        "chat.postMessage" => {
            if s("channel") == json!("CMISSING") {
                return (200, json!({"ok": false, "error": "channel_not_found"}));
            }
            (
                200,
                json!({"ok": true, "channel": s("channel"), "ts": "1700000000.000200",
                       "message": {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": s("text"), "ts": "1700000000.000200"}}),
            )
        }
        "chat.update" => (
            200,
            json!({"ok": true, "channel": s("channel"), "ts": s("ts"), "text": s("text")}),
        ),
        "reactions.add" => (200, json!({"ok": true})),
        _ => (200, json!({"ok": false, "error": "unknown_method"})),
    }
}

/// An `events_api` envelope around `event`.
pub fn events_api(envelope_id: &str, event_id: &str, event: Value) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {
            "token": "verification-token",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000000,
            "event": event
        }
    })
}
