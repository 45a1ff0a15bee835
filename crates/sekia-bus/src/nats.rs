//! NatsBus: the bus on a real NATS server or cluster, through async-nats.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Event, ServerAddr, Statistics};
use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use tokio::sync::watch;

use crate::bus::{Bus, Publish};
use crate::error::BusError;
use crate::message::{Message, Subject};
use crate::stats::{BusStats, Counters, DropTracker};
use crate::subscription::{Inner, SubscribeOptions, Subscription};
use sekia_protocol::subjects::{validate_pattern, validate_subject};

/// TLS settings for [`NatsConfig`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Refuse to talk to the server without TLS. (A `tls://` URL also turns TLS on.)
    pub required: bool,
    /// PEM file of the CA(s) that signed the server's certificate, if it is not one
    /// the system trusts.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that verify clients (mutual TLS).
    /// Requires `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// Capped exponential backoff between reconnect attempts: the first retry is
/// immediate, then `initial`, doubling up to `max`, for ever. Forever, because an
/// agent that gives up on the server is a silent outage; the cap keeps a restarted
/// server from waiting minutes for its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the second attempt.
    pub initial: Duration,
    /// Longest delay between attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// Delay before reconnect attempt number `attempt` (1-based, consecutive failures).
    pub fn delay(&self, attempt: usize) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(attempt - 2).unwrap_or(u32::MAX).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// How to reach NATS. `Default` is a local server on the standard port.
#[derive(Clone)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated: `nats://a:4222,nats://b:4222`. `tls://` turns
    /// TLS on for that server.
    pub url: String,
    /// Token authentication (the Go sekia's `nats.token`).
    pub token: Option<String>,
    /// User for user/password authentication; requires `password`.
    pub user: Option<String>,
    /// Password for `user`.
    pub password: Option<String>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Connection name shown by the server's monitoring (`connz`).
    pub name: String,
    /// Messages buffered per subscription inside the client before it drops them
    /// as a slow consumer. Client-wide: async-nats has no per-subscription size.
    pub subscription_capacity: usize,
    /// Delay between reconnect attempts.
    pub reconnect_backoff: Backoff,
    /// Keep retrying the first connection in the background instead of failing
    /// `connect` (for agents started before their server).
    pub retry_on_initial_connect: bool,
    /// Timeout of one TCP/TLS connection attempt.
    pub connect_timeout: Duration,
    /// How long `publish` and `flush` may wait for room in the client's outgoing
    /// queue. While the server is unreachable that queue fills up; without a limit a
    /// publisher would hang for the whole outage instead of hearing about it.
    /// `None` waits for ever.
    pub publish_timeout: Option<Duration>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            token: None,
            user: None,
            password: None,
            tls: TlsConfig::default(),
            name: "sekia".into(),
            subscription_capacity: 65_536,
            reconnect_backoff: Backoff::default(),
            retry_on_initial_connect: false,
            connect_timeout: Duration::from_secs(5),
            publish_timeout: Some(Duration::from_secs(5)),
        }
    }
}

impl NatsConfig {
    /// Default settings for the given server URL(s).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    fn servers(&self) -> Result<Vec<ServerAddr>, BusError> {
        let servers = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ServerAddr>()
                    .map_err(|e| BusError::InvalidConfig(format!("bad NATS server URL {s:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(BusError::InvalidConfig("no NATS server URL given".into()));
        }
        Ok(servers)
    }

    fn options(&self) -> Result<async_nats::ConnectOptions, BusError> {
        if self.subscription_capacity == 0 {
            return Err(BusError::InvalidConfig(
                "subscription_capacity must be at least 1".into(),
            ));
        }
        let mut opts = async_nats::ConnectOptions::new();
        match (&self.token, &self.user, &self.password) {
            (Some(_), Some(_), _) => {
                return Err(BusError::InvalidConfig(
                    "set either a token or a user/password, not both".into(),
                ));
            }
            (Some(token), None, _) => opts = opts.token(token.clone()),
            (None, Some(user), Some(password)) => {
                opts = opts.user_and_password(user.clone(), password.clone());
            }
            (None, Some(_), None) => {
                return Err(BusError::InvalidConfig(
                    "a NATS user needs a password".into(),
                ));
            }
            (None, None, Some(_)) => {
                return Err(BusError::InvalidConfig(
                    "a NATS password needs a user".into(),
                ));
            }
            (None, None, None) => {}
        }
        if self.tls.required {
            opts = opts.require_tls(true);
        }
        if let Some(ca) = &self.tls.ca_file {
            opts = opts.add_root_certificates(ca.clone());
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(cert), Some(key)) => {
                opts = opts.add_client_certificate(cert.clone(), key.clone());
            }
            (None, None) => {}
            _ => {
                return Err(BusError::InvalidConfig(
                    "a TLS client certificate needs both cert_file and key_file".into(),
                ));
            }
        }
        let backoff = self.reconnect_backoff;
        opts = opts
            .name(&self.name)
            .subscription_capacity(self.subscription_capacity)
            .connection_timeout(self.connect_timeout)
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempt| backoff.delay(attempt))
            // We validate subjects ourselves (stricter) before they reach the client.
            .skip_subject_validation(true);
        if self.retry_on_initial_connect {
            opts = opts.retry_on_initial_connect();
        }
        Ok(opts)
    }
}

impl fmt::Debug for NatsConfig {
    /// Secrets are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("NatsConfig")
            .field("url", &self.url)
            .field("token", &redact(&self.token))
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("tls", &self.tls)
            .field("name", &self.name)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("retry_on_initial_connect", &self.retry_on_initial_connect)
            .field("connect_timeout", &self.connect_timeout)
            .field("publish_timeout", &self.publish_timeout)
            .finish()
    }
}

/// State shared between the bus, its subscriptions and the client's event callback.
struct Shared {
    counters: Arc<Counters>,
    reconnects: watch::Sender<u64>,
    /// Set once `connect` returns; the callback may run before that.
    statistics: OnceLock<Arc<Statistics>>,
    /// Per-subscription drop trackers by async-nats subscription id, so that a
    /// `SlowConsumer(sid)` event is charged to the right subscription.
    slow: Mutex<HashMap<u64, Arc<DropTracker>>>,
    /// For slow-consumer events whose subscription is already gone.
    unknown_drops: DropTracker,
    closed_tx: watch::Sender<bool>,
}

impl Shared {
    /// Brings the reconnect counter up to the client's own count of connections
    /// (minus the first). Driven by `Connected` events, and re-checked by a timer
    /// because async-nats delivers events through a bounded queue that a burst of
    /// slow-consumer events can overflow.
    fn sync_reconnects(&self) -> Option<u64> {
        let connects = self.statistics.get()?.connects.load(Ordering::Relaxed);
        let reconnects = connects.saturating_sub(1);
        let bumped = self.reconnects.send_if_modified(|current| {
            if reconnects > *current {
                *current = reconnects;
                true
            } else {
                false
            }
        });
        bumped.then_some(reconnects)
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Connected => {
                let connects = self
                    .statistics
                    .get()
                    .map_or(1, |s| s.connects.load(Ordering::Relaxed));
                if connects <= 1 {
                    tracing::info!("connected to NATS");
                } else if let Some(n) = self.sync_reconnects() {
                    tracing::info!(reconnects = n, "NATS connection re-established");
                }
            }
            Event::Disconnected => {
                tracing::warn!("NATS connection lost; reconnecting with backoff")
            }
            Event::LameDuckMode => {
                tracing::warn!("NATS server entering lame duck mode; will move to another")
            }
            Event::Draining => tracing::debug!("NATS connection draining"),
            Event::Closed => {
                tracing::info!("NATS connection closed");
                self.closed_tx.send_replace(true);
            }
            Event::SlowConsumer(sid) => {
                let tracker = self
                    .slow
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&sid)
                    .cloned();
                match tracker {
                    Some(t) => t.record(1, &self.counters),
                    None => self.unknown_drops.record(1, &self.counters),
                }
            }
            Event::ServerError(err) => tracing::warn!(error = %err, "NATS server error"),
            Event::ClientError(err) => tracing::warn!(error = %err, "NATS client error"),
        }
    }
}

/// The bus on NATS. Cloning gives another handle to the same connection.
///
/// Reconnects for ever with capped exponential backoff ([`Backoff`]); subscriptions
/// are restored by the client and [`Bus::reconnects`] ticks, so agents can re-send
/// their registration. Delivery is NATS core: at-most-once, in order per publisher.
#[derive(Clone)]
pub struct NatsBus {
    inner: Arc<NatsInner>,
}

struct NatsInner {
    client: async_nats::Client,
    shared: Arc<Shared>,
    publish_timeout: Option<Duration>,
    closed: AtomicBool,
    /// The last publish found the client's outgoing queue full.
    congested: AtomicBool,
    url: String,
}

impl fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsBus")
            .field("url", &self.inner.url)
            .field("state", &self.inner.client.connection_state())
            .field("stats", &self.stats())
            .finish()
    }
}

/// How often the reconnect counter is re-checked against the client's statistics.
const RECONNECT_RECHECK: Duration = Duration::from_millis(500);

impl NatsBus {
    /// Connects to NATS. Fails if the first connection fails, unless
    /// [`NatsConfig::retry_on_initial_connect`] is set.
    pub async fn connect(config: NatsConfig) -> Result<Self, BusError> {
        let servers = config.servers()?;
        let (reconnects, _) = watch::channel(0);
        let (closed_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            counters: Arc::new(Counters::default()),
            reconnects,
            statistics: OnceLock::new(),
            slow: Mutex::new(HashMap::new()),
            unknown_drops: DropTracker::new("<unsubscribed>".into()),
            closed_tx,
        });
        let callback_shared = shared.clone();
        let options = config.options()?.event_callback(move |event| {
            callback_shared.on_event(event);
            std::future::ready(())
        });
        let client = options
            .connect(servers)
            .await
            .map_err(|source| BusError::Connect {
                url: config.url.clone(),
                source,
            })?;
        // First and only set; cannot fail.
        let _ = shared.statistics.set(client.statistics());
        spawn_reconnect_recheck(Arc::downgrade(&shared));
        Ok(Self {
            inner: Arc::new(NatsInner {
                client,
                shared,
                publish_timeout: config.publish_timeout,
                closed: AtomicBool::new(false),
                congested: AtomicBool::new(false),
                url: config.url,
            }),
        })
    }

    /// The underlying async-nats client, for what the Bus trait does not cover
    /// (JetStream streams for durable history, request/reply).
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    fn published(&self, result: Result<(), async_nats::PublishError>) -> Result<(), BusError> {
        result.map_err(|e| BusError::nats("publish", e))?;
        self.inner.shared.counters.published.add(1);
        Ok(())
    }

    /// Finishes a client operation that did not complete on its first poll, under
    /// the publish timeout.
    ///
    /// Only this slow path (the client's queue is full) arms a timer, and it is
    /// boxed: a tokio timeout is large, and inline it would more than double the
    /// size of the futures that hold it (each allocated and copied per call). The
    /// operation itself stays pinned in the caller's frame.
    fn finish_bounded<'a, F, T, E>(
        &'a self,
        fut: Pin<&'a mut F>,
        what: impl FnOnce() -> String + Send + 'a,
    ) -> futures::future::BoxFuture<'a, Result<Result<T, E>, BusError>>
    where
        F: Future<Output = Result<T, E>> + Send,
        T: Send + 'a,
        E: Send + 'a,
    {
        let limit = self.inner.publish_timeout;
        Box::pin(async move {
            match limit {
                Some(after) => {
                    tokio::time::timeout(after, fut)
                        .await
                        .map_err(|_| BusError::Timeout {
                            what: what(),
                            after,
                        })
                }
                None => Ok(fut.await),
            }
        })
    }
}

fn spawn_reconnect_recheck(shared: Weak<Shared>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECONNECT_RECHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(shared) = shared.upgrade() else {
                break;
            };
            if *shared.closed_tx.borrow() {
                break;
            }
            if let Some(n) = shared.sync_reconnects() {
                tracing::info!(reconnects = n, "NATS connection re-established");
            }
        }
    });
}

/// Extracts async-nats' subscription id, which it does not expose, from the
/// subscriber's derived `Debug` output (`Subscriber { sid: 7, .. }`). The id is
/// what `Event::SlowConsumer` carries; without it drops can still be counted
/// bus-wide, just not per subscription. Pinned by the conformance tests.
fn subscriber_sid(subscriber: &async_nats::Subscriber) -> Option<u64> {
    let text = format!("{subscriber:?}");
    let rest = text.split_once("sid: ")?.1;
    let digits: &str = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

#[async_trait]
impl Bus for NatsBus {
    fn publish<'a>(&'a self, subject: &'a str, payload: Bytes) -> Publish<'a> {
        if let Err(reason) = validate_subject(subject) {
            return Publish::ready(Err(BusError::invalid(subject, reason)));
        }
        if self.inner.closed.load(Ordering::Acquire) {
            return Publish::ready(Err(BusError::Closed));
        }
        // Fast path: try once, right here. If the client's queue has room this
        // completes at once and nothing is allocated. If not, the attempt is dropped
        // before it sent anything (tokio's `send` is cancel-safe) and a boxed
        // publish takes over, with the publish timeout. While publishes keep finding
        // the queue full (a publisher outrunning the connection), skip the attempt:
        // it would only be wasted work.
        if !self.inner.congested.load(Ordering::Relaxed) {
            let attempt = std::pin::pin!(
                self.inner
                    .client
                    .publish(async_nats::Subject::from(subject), payload.clone())
            );
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(result) = attempt.poll(&mut cx) {
                return Publish::ready(self.published(result));
            }
            self.inner.congested.store(true, Ordering::Relaxed);
        }
        Publish::new(async move {
            let mut fut = std::pin::pin!(
                self.inner
                    .client
                    .publish(async_nats::Subject::from(subject), payload)
            );
            let result = match futures::poll!(fut.as_mut()) {
                Poll::Ready(result) => {
                    self.inner.congested.store(false, Ordering::Relaxed);
                    result
                }
                Poll::Pending => {
                    self.finish_bounded(fut, || format!("publish on {subject:?}"))
                        .await?
                }
            };
            self.published(result)
        })
    }

    async fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, BusError> {
        validate_pattern(pattern).map_err(|reason| BusError::invalid(pattern, reason))?;
        if options.capacity == 0 {
            return Err(BusError::InvalidConfig(
                "subscription capacity must be at least 1".into(),
            ));
        }
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        let subscriber = self
            .inner
            .client
            .subscribe(pattern.to_owned())
            .await
            .map_err(|e| BusError::nats("subscribe", e))?;
        let drops = Arc::new(DropTracker::new(pattern.to_owned()));
        let sid = subscriber_sid(&subscriber);
        match sid {
            Some(sid) => {
                self.inner
                    .shared
                    .slow
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(sid, drops.clone());
            }
            None => tracing::debug!(
                pattern,
                "cannot read the async-nats subscription id; slow-consumer drops will \
                 only be counted bus-wide"
            ),
        }
        let receiver = NatsReceiver {
            subscriber,
            sid,
            shared: self.inner.shared.clone(),
        };
        Ok(Subscription::new(
            pattern,
            Inner::Nats(receiver),
            drops,
            self.inner.shared.counters.clone(),
        ))
    }

    fn reconnects(&self) -> watch::Receiver<u64> {
        self.inner.shared.reconnects.subscribe()
    }

    fn stats(&self) -> BusStats {
        let reconnects = self
            .inner
            .shared
            .statistics
            .get()
            .map_or(0, |s| s.connects.load(Ordering::Relaxed).saturating_sub(1));
        let connected = self.inner.client.connection_state() == State::Connected;
        self.inner.shared.counters.snapshot(reconnects, connected)
    }

    async fn flush(&self) -> Result<(), BusError> {
        let fut = std::pin::pin!(self.inner.client.flush());
        self.finish_bounded(fut, || "flush".to_owned())
            .await?
            .map_err(|e| BusError::nats("flush", e))
    }

    async fn close(&self) -> Result<(), BusError> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut closed = self.inner.shared.closed_tx.subscribe();
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "flush before closing NATS failed; closing anyway");
        }
        // Bounded too: while the server is unreachable the client's queue may be
        // full, and close must not hang for the outage.
        let drain = std::pin::pin!(self.inner.client.drain());
        self.finish_bounded(drain, || "drain".to_owned())
            .await?
            .map_err(|e| BusError::nats("drain", e))?;
        // Drain unsubscribes, delivers what is in flight, flushes and closes; wait
        // for that, but not for ever if the server is gone.
        let wait = self
            .inner
            .publish_timeout
            .unwrap_or(Duration::from_secs(30));
        let _ = tokio::time::timeout(wait, closed.wait_for(|c| *c)).await;
        Ok(())
    }
}

/// The receiving half of a NatsBus subscription: the async-nats subscriber itself,
/// with no task or channel in between.
pub(crate) struct NatsReceiver {
    subscriber: async_nats::Subscriber,
    sid: Option<u64>,
    shared: Arc<Shared>,
}

impl NatsReceiver {
    #[inline]
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        match Pin::new(&mut self.subscriber).poll_next(cx) {
            Poll::Ready(Some(m)) => Poll::Ready(Some(Message {
                subject: Subject::from_nats(m.subject),
                payload: m.payload,
            })),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for NatsReceiver {
    fn drop(&mut self) {
        // The subscriber's own Drop sends UNSUB right after this.
        if let Some(sid) = self.sid {
            self.shared
                .slow
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&sid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_exponential() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        };
        assert_eq!(b.delay(0), Duration::ZERO);
        assert_eq!(b.delay(1), Duration::ZERO);
        assert_eq!(b.delay(2), Duration::from_millis(100));
        assert_eq!(b.delay(3), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(400));
        assert_eq!(b.delay(8), Duration::from_millis(5000));
        assert_eq!(b.delay(usize::MAX), Duration::from_secs(5));
    }

    #[test]
    fn config_is_validated() {
        let bad = [
            NatsConfig::new(""),
            NatsConfig::new(" , "),
            NatsConfig {
                token: Some("t".into()),
                user: Some("u".into()),
                password: Some("p".into()),
                ..NatsConfig::default()
            },
            NatsConfig {
                user: Some("u".into()),
                ..NatsConfig::default()
            },
            NatsConfig {
                tls: TlsConfig {
                    cert_file: Some("c.pem".into()),
                    ..TlsConfig::default()
                },
                ..NatsConfig::default()
            },
            NatsConfig {
                subscription_capacity: 0,
                ..NatsConfig::default()
            },
        ];
        for config in bad {
            let result = config.servers().and_then(|_| config.options().map(|_| ()));
            assert!(
                matches!(result, Err(BusError::InvalidConfig(_))),
                "{config:?} should be rejected"
            );
        }
        let servers = NatsConfig::new("nats://a:1, tls://b:2")
            .servers()
            .expect("two servers");
        assert_eq!(servers.len(), 2);
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = NatsConfig {
            token: Some("s3cret-token".into()),
            user: None,
            password: None,
            ..NatsConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret"), "{text}");
        let config = NatsConfig {
            token: None,
            user: Some("bob".into()),
            password: Some("hunter2".into()),
            ..NatsConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
