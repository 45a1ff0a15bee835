//! The Socket Mode client: Slack's events over a WebSocket the agent opens, so
//! no public URL is needed.
//!
//! One session: `auth.test` once (the bot's own user id, so its messages are
//! not events) → `apps.connections.open` with the app-level token → connect to
//! the single-use `wss://` URL → `hello` → envelopes. Every envelope with an
//! `envelope_id` is acknowledged at once (`{"envelope_id": …}`), before its
//! events are published: Slack redelivers what is not acked within 3 s.
//!
//! A session ends when Slack asks (`disconnect`: `refresh_requested`,
//! `warning`, …; a new connection is opened at once), when the link drops or goes
//! quiet for `socket_mode.idle_timeout` (we ping every `ping_interval`), or when
//! a step fails. Failures are retried with exponential backoff and jitter
//! (`reconnect_base_delay` … `reconnect_max_delay`); a token Slack refuses
//! waits the longest. Each failure counts as an error in the heartbeat.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sekia_accounts::TokenSource;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

use super::api::{SlackApi, SlackError};
use super::config::SocketModeConfig;
use super::mapping::{Mapped, Mapper};
use crate::agent::EventSink;

/// Longest wait for the WebSocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot identify the bot (auth.test): {0}")]
    Identity(#[source] SlackError),
    #[error("cannot open a Socket Mode connection: {0}")]
    Open(#[source] SlackError),
    /// The handshake failed; the URL (it carries a ticket) is not in the message.
    #[error("WebSocket connection failed: {0}")]
    Connect(String),
    #[error("WebSocket handshake timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("the connection closed before Slack said hello")]
    NoHello,
    #[error("Socket Mode is disabled for this app (disconnect: link_disabled)")]
    LinkDisabled,
    /// A `disconnect` before `hello`: reconnecting at once could loop.
    #[error("Slack disconnected before hello ({0})")]
    EarlyDisconnect(String),
}

impl SocketError {
    /// Retrying soon cannot help: wait the longest.
    fn is_lasting(&self) -> bool {
        match self {
            Self::Identity(e) | Self::Open(e) => e.is_auth(),
            Self::LinkDisabled => true,
            _ => false,
        }
    }
}

/// How a session ended.
#[derive(Debug)]
enum Ended {
    /// The agent is stopping.
    Cancelled,
    /// Slack asked us to reconnect (`disconnect`): a new connection at once.
    Refresh,
    /// A connection that worked dropped or went quiet: reconnect after a short wait.
    Dropped(String),
    Failed(SocketError),
}

/// The Socket Mode client of one workspace.
pub struct SocketClient {
    api: Arc<SlackApi>,
    bot_token: Arc<dyn TokenSource>,
    app_token: Arc<dyn TokenSource>,
    sink: EventSink,
    config: SocketModeConfig,
    mapper: Option<Mapper>,
}

impl std::fmt::Debug for SocketClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketClient")
            .field("account", &self.sink.account())
            .finish_non_exhaustive()
    }
}

/// `fut`, or `None` when `cancel` fires first.
async fn unless_cancelled<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        () = cancel.cancelled() => None,
        v = fut => Some(v),
    }
}

/// The host of a Socket Mode URL, for logs (the query has the ticket).
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

impl SocketClient {
    /// `mapper`: the bot identity when `start` already knows it, else `auth.test`
    /// runs before the first connection.
    pub fn new(
        api: Arc<SlackApi>,
        bot_token: Arc<dyn TokenSource>,
        app_token: Arc<dyn TokenSource>,
        sink: EventSink,
        config: SocketModeConfig,
        mapper: Option<Mapper>,
    ) -> Self {
        Self {
            api,
            bot_token,
            app_token,
            sink,
            config,
            mapper,
        }
    }

    /// Runs sessions until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        let backoff = self.config.backoff_policy();
        let mut failures = 0u32;
        loop {
            let wait = match self.session(&cancel).await {
                Ended::Cancelled => break,
                Ended::Refresh => {
                    failures = 0;
                    Duration::ZERO
                }
                Ended::Dropped(why) => {
                    failures = 0;
                    tracing::info!(agent = %self.sink.account(), reason = %why, "Socket Mode connection lost; reconnecting");
                    backoff.backoff(0)
                }
                Ended::Failed(e) => {
                    self.sink.record_error();
                    let wait = if e.is_lasting() {
                        self.config.reconnect_max_delay
                    } else {
                        backoff.backoff(failures)
                    };
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        agent = %self.sink.account(),
                        error = %e,
                        retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "Socket Mode"
                    );
                    wait
                }
            };
            if unless_cancelled(&cancel, tokio::time::sleep(wait))
                .await
                .is_none()
            {
                break;
            }
        }
        tracing::debug!(agent = %self.sink.account(), "Socket Mode client stopped");
    }

    async fn session(&mut self, cancel: &CancellationToken) -> Ended {
        if self.mapper.is_none() {
            match unless_cancelled(cancel, self.api.auth_test(self.bot_token.as_ref())).await {
                None => return Ended::Cancelled,
                Some(Err(e)) => return Ended::Failed(SocketError::Identity(e)),
                Some(Ok(bot)) => {
                    tracing::info!(agent = %self.sink.account(), bot_user = %bot.user_id, team = %bot.team, "Slack bot identified");
                    self.mapper = Some(Mapper::new(bot));
                }
            }
        }
        let url = match unless_cancelled(cancel, self.api.open_connection(self.app_token.as_ref()))
            .await
        {
            None => return Ended::Cancelled,
            Some(Err(e)) => return Ended::Failed(SocketError::Open(e)),
            Some(Ok(u)) => u,
        };
        let connect = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async(url.as_str()),
        );
        let mut ws = match unless_cancelled(cancel, connect).await {
            None => return Ended::Cancelled,
            Some(Err(_)) => return Ended::Failed(SocketError::ConnectTimeout(CONNECT_TIMEOUT)),
            Some(Ok(Err(e))) => return Ended::Failed(SocketError::Connect(e.to_string())),
            Some(Ok(Ok((ws, _response)))) => ws,
        };
        tracing::debug!(agent = %self.sink.account(), host = %host_of(&url), "Socket Mode connected");

        let mut hello = false;
        let mut ping = tokio::time::interval_at(
            Instant::now() + self.config.ping_interval,
            self.config.ping_interval,
        );
        let idle = tokio::time::sleep(self.config.idle_timeout);
        tokio::pin!(idle);
        let ended = loop {
            let frame = tokio::select! {
                () = cancel.cancelled() => break Ended::Cancelled,
                () = &mut idle => break Ended::Dropped(format!("nothing received for {:?}", self.config.idle_timeout)),
                _ = ping.tick() => {
                    if let Err(e) = ws.send(WsMessage::Ping(Vec::new().into())).await {
                        break Ended::Dropped(format!("ping failed: {e}"));
                    }
                    continue;
                }
                f = ws.next() => f,
            };
            idle.as_mut()
                .reset(Instant::now() + self.config.idle_timeout);
            let text = match frame {
                None => break Ended::Dropped("the connection closed".into()),
                Some(Err(e)) => break Ended::Dropped(e.to_string()),
                Some(Ok(WsMessage::Text(t))) => t,
                Some(Ok(WsMessage::Close(frame))) => {
                    break Ended::Dropped(match frame {
                        Some(f) => format!("closed by Slack ({} {})", f.code, f.reason),
                        None => "closed by Slack".into(),
                    });
                }
                // Pings are answered by tungstenite; pongs only prove the link is alive.
                Some(Ok(_)) => continue,
            };
            let envelope: Value = match serde_json::from_str(text.as_str()) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(agent = %self.sink.account(), error = %e, "Socket Mode frame is not JSON; ignored");
                    continue;
                }
            };
            // Ack first: Slack retries an envelope that is not acked within 3 s.
            if let Some(id) = envelope.get("envelope_id").and_then(Value::as_str) {
                let ack = json!({"envelope_id": id}).to_string();
                if let Err(e) = ws.send(WsMessage::Text(ack.into())).await {
                    break Ended::Dropped(format!("ack failed: {e}"));
                }
            }
            let kind = envelope
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let payload = envelope.get("payload").unwrap_or(&Value::Null);
            let mapped = match kind {
                "hello" => {
                    hello = true;
                    tracing::info!(agent = %self.sink.account(), host = %host_of(&url), "Socket Mode connection ready");
                    continue;
                }
                "disconnect" => {
                    let reason = envelope
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if reason == "link_disabled" {
                        break Ended::Failed(SocketError::LinkDisabled);
                    }
                    if !hello {
                        break Ended::Failed(SocketError::EarlyDisconnect(reason.to_owned()));
                    }
                    tracing::info!(agent = %self.sink.account(), reason, "Slack asked to reconnect");
                    break Ended::Refresh;
                }
                "events_api" => match self.mapper.as_mut() {
                    Some(m) => m.events_api(payload),
                    None => Vec::new(),
                },
                "interactive" => match self.mapper.as_ref() {
                    Some(m) => m.interactive(payload),
                    None => Vec::new(),
                },
                other => {
                    tracing::debug!(agent = %self.sink.account(), kind = other, "Socket Mode envelope not mapped");
                    continue;
                }
            };
            self.publish(mapped).await;
        };
        // Best effort: a clean close tells Slack to stop routing to this link.
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        match ended {
            Ended::Dropped(_) if !hello => Ended::Failed(SocketError::NoHello),
            other => other,
        }
    }

    async fn publish(&self, events: Vec<Mapped>) {
        for m in events {
            if let Err(e) = self.sink.publish(&m.event_type, m.payload).await {
                tracing::warn!(agent = %self.sink.account(), event_type = %m.event_type, error = %e, "event not published");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `wss://` builds a rustls client config; with one crypto provider compiled in
    /// (ring, as reqwest's) that must not panic, only fail on a non-TLS peer.
    #[tokio::test]
    async fn wss_handshake_fails_cleanly_on_a_plain_peer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut tcp, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let url = format!("wss://localhost:{}/link/?ticket=x", addr.port());
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .expect("no hang");
        assert!(result.is_err());
    }

    #[test]
    fn logs_only_the_host() {
        assert_eq!(
            host_of("wss://wss-primary.slack.com/link/?ticket=secret&app_id=A1"),
            "wss-primary.slack.com"
        );
    }
}
