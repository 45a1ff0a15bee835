//! The one conformance suite every `Bus` implementation must pass.
//!
//! Each case is an async fn taking a [`Harness`]; the `conformance!` macro at the
//! bottom runs every case twice, as `local::<case>` against LocalBus and as
//! `nats::<case>` against NatsBus on a `nats-server` this test starts itself.
//!
//! Subscribe-then-publish on NATS races unless the SUB has reached the server, so
//! after subscribing every case does a readiness handshake ([`ready`]): it publishes
//! numbered probes until one comes back, then reads up to the last one sent, which
//! also leaves no stray probe behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use sekia_bus::presence::{Clock, Presence};
use sekia_bus::testing::NatsServer;
use sekia_bus::wire::{GO_ZERO_TIME, Heartbeat, Registration};
use sekia_bus::{
    Backoff, Bus, BusError, Message, NatsBus, NatsConfig, Overflow, SubscribeOptions, Subscription,
};

/// Upper bound for anything a case waits for.
const T: Duration = Duration::from_secs(5);

enum Harness {
    Local,
    Nats(Mutex<NatsServer>),
}

/// A bus under test, with the concrete NatsBus when there is one (for checks the
/// trait does not expose, such as the client's own message count).
struct TestBus {
    bus: Arc<dyn Bus>,
    nats: Option<NatsBus>,
}

impl std::ops::Deref for TestBus {
    type Target = dyn Bus + 'static;
    fn deref(&self) -> &(dyn Bus + 'static) {
        &*self.bus
    }
}

impl TestBus {
    /// Messages the NATS client received from the server (all subscriptions).
    fn transport_in(&self) -> Option<u64> {
        self.nats
            .as_ref()
            .map(|n| n.client().statistics().in_messages.load(Ordering::Relaxed))
    }
}

impl Harness {
    fn local() -> Self {
        Harness::Local
    }

    fn nats() -> Self {
        Harness::Nats(Mutex::new(NatsServer::start().expect("start nats-server")))
    }

    fn is_nats(&self) -> bool {
        matches!(self, Harness::Nats(_))
    }

    async fn bus(&self) -> TestBus {
        self.bus_with_client_capacity(65_536).await
    }

    /// NatsBus buffers per subscription inside the client, with one client-wide
    /// size; LocalBus honours `SubscribeOptions::capacity` and ignores this.
    async fn bus_with_client_capacity(&self, capacity: usize) -> TestBus {
        match self {
            Harness::Local => TestBus {
                bus: Arc::new(sekia_bus::LocalBus::new()),
                nats: None,
            },
            Harness::Nats(server) => {
                let url = server.lock().expect("server lock").url();
                let config = NatsConfig {
                    subscription_capacity: capacity,
                    reconnect_backoff: Backoff {
                        initial: Duration::from_millis(20),
                        max: Duration::from_millis(100),
                    },
                    name: "sekia-bus-conformance".into(),
                    ..NatsConfig::new(url)
                };
                let nats = NatsBus::connect(config).await.expect("connect to nats");
                TestBus {
                    bus: Arc::new(nats.clone()),
                    nats: Some(nats),
                }
            }
        }
    }

    /// Kills the server and starts it again on the same port. False for LocalBus,
    /// which has no server.
    fn restart_server(&self) -> bool {
        self.restart_server_with(|| {})
    }

    /// [`Self::restart_server`], running `while_down` after the server is stopped
    /// and before it is started again.
    fn restart_server_with(&self, while_down: impl FnOnce()) -> bool {
        match self {
            Harness::Local => false,
            Harness::Nats(server) => {
                let mut server = server.lock().expect("server lock");
                server.stop().expect("stop nats-server");
                while_down();
                server.restart().expect("restart nats-server");
                true
            }
        }
    }
}

// ---------------------------------------------------------------------------
// helpers

const PROBE: &str = "__probe__:";
static PROBE_TAG: AtomicU64 = AtomicU64::new(0);

fn is_probe(m: &Message) -> bool {
    m.payload.starts_with(PROBE.as_bytes())
}

/// Reads the next probe of handshake `tag`, skipping other handshakes' probes.
async fn next_probe(sub: &mut Subscription, tag: u64) -> u64 {
    loop {
        let m = sub.next().await.expect("stream ended during handshake");
        let text = std::str::from_utf8(&m.payload).expect("utf8");
        let Some(rest) = text.strip_prefix(PROBE) else {
            panic!("unexpected message during handshake: {m:?}");
        };
        let (t, n) = rest.split_once(':').expect("probe format");
        if t.parse::<u64>().expect("tag") == tag {
            return n.parse().expect("probe number");
        }
    }
}

/// Readiness handshake: publish probes on `subject` (which `sub` must match) until
/// one arrives, then read up to the last one sent.
async fn ready(bus: &dyn Bus, sub: &mut Subscription, subject: &str) {
    let tag = PROBE_TAG.fetch_add(1, Ordering::Relaxed);
    let handshake = async {
        let mut sent = 0u64;
        loop {
            sent += 1;
            bus.publish(subject, Bytes::from(format!("{PROBE}{tag}:{sent}")))
                .await
                .expect("publish probe");
            if let Ok(mut got) =
                tokio::time::timeout(Duration::from_millis(25), next_probe(sub, tag)).await
            {
                while got < sent {
                    got = next_probe(sub, tag).await;
                }
                return;
            }
        }
    };
    tokio::time::timeout(T, handshake)
        .await
        .unwrap_or_else(|_| panic!("no handshake on {subject} within {T:?}"));
}

/// The next message that is not a probe.
async fn next(sub: &mut Subscription) -> Message {
    let read = async {
        loop {
            let m = sub.next().await.expect("stream ended");
            if !is_probe(&m) {
                return m;
            }
        }
    };
    tokio::time::timeout(T, read)
        .await
        .unwrap_or_else(|_| panic!("no message on {} within {T:?}", sub.pattern()))
}

/// Messages already queued, without waiting.
fn queued(sub: &mut Subscription) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(Some(m)) = sub.next().now_or_never() {
        if !is_probe(&m) {
            out.push(m);
        }
    }
    out
}

fn text(m: &Message) -> &str {
    std::str::from_utf8(&m.payload).expect("utf8 payload")
}

async fn publish(bus: &dyn Bus, subject: &str, payload: impl Into<String>) {
    bus.publish(subject, Bytes::from(payload.into()))
        .await
        .unwrap_or_else(|e| panic!("publish on {subject}: {e}"));
}

/// A subject the pattern matches, for probes and markers.
fn matching_subject(pattern: &str) -> String {
    pattern
        .split('.')
        .map(|t| if t == "*" || t == ">" { "m" } else { t })
        .collect::<Vec<_>>()
        .join(".")
}

// ---------------------------------------------------------------------------
// cases

mod cases {
    use super::*;

    pub async fn publish_subscribe_exact(h: Harness) {
        let bus = h.bus().await;
        let mut sub = bus.subscribe("conf.exact").await.expect("subscribe");
        assert_eq!(sub.pattern(), "conf.exact");
        ready(&*bus, &mut sub, "conf.exact").await;
        let before = bus.stats();
        publish(&*bus, "conf.exactly", "no").await;
        publish(&*bus, "conf.exact.more", "no").await;
        publish(&*bus, "conf.exact", "hello").await;
        let m = next(&mut sub).await;
        assert_eq!(m.subject, "conf.exact");
        assert_eq!(text(&m), "hello");
        let cloned = m.subject.clone();
        assert_eq!(cloned.as_str(), "conf.exact");
        let after = bus.stats();
        assert_eq!(after.published - before.published, 3);
        assert_eq!(after.delivered - before.delivered, 1);
        assert_eq!(after.subscriptions, 1);
        assert_eq!(after.dropped_slow_consumer, 0);
        assert!(after.connected, "a working bus reports itself connected");
    }

    pub async fn wildcard_table(h: Harness) {
        let table: &[(&str, &str, bool)] = &[
            ("a.b", "a.b", true),
            ("a.b", "a.c", false),
            ("a.b", "a.b.c", false),
            ("a.b", "a", false),
            ("a.*", "a.b", true),
            ("a.*", "a", false),
            ("a.*", "a.b.c", false),
            ("*.b", "a.b", true),
            ("*.b", "a.c", false),
            ("a.*.c", "a.x.c", true),
            ("a.*.c", "a.x.d", false),
            ("a.*.c", "a.c", false),
            ("a.>", "a.b", true),
            ("a.>", "a.b.c.d", true),
            ("a.>", "a", false), // '>' never matches zero tokens
            ("a.*.>", "a.x.y", true),
            ("a.*.>", "a.x.y.z", true),
            ("a.*.>", "a.x", false),
            ("*", "one", true),
            ("*", "one.two", false),
            ("*.*", "a.b", true),
            (">", "any.thing.at.all", true),
            ("sekia.events.*", "sekia.events.github", true),
            ("sekia.events.>", "sekia.events", false),
            ("sekia.events.>", "sekia.eventsx.a", false),
        ];
        let bus = h.bus().await;
        for &(pattern, subject, want) in table {
            let mut sub = bus.subscribe(pattern).await.expect("subscribe");
            let marker = matching_subject(pattern);
            ready(&*bus, &mut sub, &marker).await;
            publish(&*bus, subject, "test").await;
            publish(&*bus, &marker, "marker").await;
            let first = next(&mut sub).await;
            let matched = text(&first) == "test";
            assert_eq!(matched, want, "pattern {pattern:?} vs subject {subject:?}");
            if matched {
                assert_eq!(first.subject, subject);
                assert_eq!(text(&next(&mut sub).await), "marker");
            }
        }
        assert_eq!(
            bus.stats().subscriptions,
            0,
            "every row's subscription dropped"
        );
    }

    pub async fn multiple_subscribers_all_receive(h: Harness) {
        let bus = h.bus().await;
        let mut subs = Vec::new();
        for pattern in ["conf.multi.x", "conf.multi.x", "conf.multi.*", "conf.>"] {
            let mut sub = bus.subscribe(pattern).await.expect("subscribe");
            ready(&*bus, &mut sub, "conf.multi.x").await;
            subs.push(sub);
        }
        assert_eq!(bus.stats().subscriptions, 4);
        publish(&*bus, "conf.multi.x", "one").await;
        for sub in &mut subs {
            let m = next(sub).await;
            assert_eq!(text(&m), "one", "{}", sub.pattern());
            assert_eq!(m.subject, "conf.multi.x");
        }
    }

    pub async fn order_preserved(h: Harness) {
        const N: u32 = 5_000;
        let bus = h.bus().await;
        let mut sub = bus
            .subscribe_with("conf.order", SubscribeOptions::lossless())
            .await
            .expect("subscribe");
        ready(&*bus, &mut sub, "conf.order").await;
        let publisher = bus.bus.clone();
        let task = tokio::spawn(async move {
            for i in 0..N {
                publisher
                    .publish("conf.order", Bytes::copy_from_slice(&i.to_be_bytes()))
                    .await
                    .expect("publish");
            }
        });
        for want in 0..N {
            let m = next(&mut sub).await;
            let got = u32::from_be_bytes(m.payload[..].try_into().expect("4 bytes"));
            assert_eq!(got, want, "out of order");
        }
        task.await.expect("publisher");
        assert_eq!(sub.dropped(), 0);
    }

    pub async fn unsubscribe_on_drop(h: Harness) {
        let bus = h.bus().await;
        let mut a = bus.subscribe("conf.unsub.>").await.expect("subscribe a");
        ready(&*bus, &mut a, "conf.unsub.probe").await;
        let mut b = bus.subscribe("conf.unsub.>").await.expect("subscribe b");
        ready(&*bus, &mut b, "conf.unsub.probe").await;
        assert_eq!(bus.stats().subscriptions, 2);

        drop(a);
        assert_eq!(
            bus.stats().subscriptions,
            1,
            "stats show the subscription gone"
        );
        // After this round trip the unsubscribe has reached the server (same
        // connection, sent before the probes) and every message the server sent
        // for the old subscription has arrived.
        ready(&*bus, &mut b, "conf.unsub.probe").await;

        let before = bus.stats();
        let transport_before = bus.transport_in();
        const N: usize = 20;
        for i in 0..N {
            publish(&*bus, "conf.unsub.data", format!("{i}")).await;
        }
        publish(&*bus, "conf.unsub.end", "end").await;
        for i in 0..N {
            assert_eq!(text(&next(&mut b).await), i.to_string());
        }
        assert_eq!(text(&next(&mut b).await), "end");
        let after = bus.stats();
        assert_eq!(after.delivered - before.delivered, N as u64 + 1);
        assert_eq!(after.dropped_slow_consumer, 0);
        if let (Some(t0), Some(t1)) = (transport_before, bus.transport_in()) {
            assert_eq!(
                t1 - t0,
                N as u64 + 1,
                "the server still sends to the dropped subscription"
            );
        }
    }

    pub async fn invalid_subjects_rejected(h: Harness) {
        let bus = h.bus().await;
        let bad_publish = [
            "", "a..b", ".a", "a.", "a b", "a\tb", ">", "a.>", "a.*", "*", "*x", "a.b>",
        ];
        for subject in bad_publish {
            let err = bus
                .publish(subject, Bytes::from_static(b"x"))
                .await
                .expect_err(subject);
            match &err {
                BusError::InvalidSubject { subject: s, .. } => assert_eq!(s, subject),
                other => panic!("publish {subject:?}: wrong error {other:?}"),
            }
            assert!(err.to_string().contains(&format!("{subject:?}")), "{err}");
        }
        let bad_patterns = [
            "", "a..b", "a.>.b", ">.a", "a b", "*x", "a.b*", ">x", "a.", "a\nb",
        ];
        for pattern in bad_patterns {
            let err = bus.subscribe(pattern).await.expect_err(pattern);
            match &err {
                BusError::InvalidSubject { subject: s, .. } => assert_eq!(s, pattern),
                other => panic!("subscribe {pattern:?}: wrong error {other:?}"),
            }
            assert!(err.to_string().contains(&format!("{pattern:?}")), "{err}");
        }
        let err = bus
            .subscribe_with("ok", SubscribeOptions::default().with_capacity(0))
            .await
            .expect_err("zero capacity");
        assert!(matches!(err, BusError::InvalidConfig(_)), "{err}");
        let stats = bus.stats();
        assert_eq!(stats.published, 0, "nothing counted as published");
        assert_eq!(stats.subscriptions, 0);

        // The bus is unharmed.
        let mut sub = bus.subscribe("conf.valid").await.expect("subscribe");
        ready(&*bus, &mut sub, "conf.valid").await;
        publish(&*bus, "conf.valid", "ok").await;
        assert_eq!(text(&next(&mut sub).await), "ok");
    }

    pub async fn slow_subscriber_drop_new(h: Harness) {
        const CAP: usize = 64;
        const N: usize = 1_000;
        let bus = h.bus_with_client_capacity(CAP).await;
        let options = SubscribeOptions {
            capacity: CAP,
            overflow: Overflow::DropNew,
        };
        let mut slow = bus
            .subscribe_with("conf.slow", options)
            .await
            .expect("subscribe");
        ready(&*bus, &mut slow, "conf.slow").await;
        let mut done = bus.subscribe("conf.slow-done").await.expect("subscribe");
        ready(&*bus, &mut done, "conf.slow-done").await;

        for i in 0..N {
            publish(&*bus, "conf.slow", format!("{i}")).await;
        }
        publish(&*bus, "conf.slow-done", "done").await;
        // `done` arriving means every earlier message reached the slow queue or was
        // dropped (same publisher, same connection: ordered).
        assert_eq!(text(&next(&mut done).await), "done");

        if h.is_nats() {
            // async-nats reports drops through its event callback, asynchronously.
            tokio::time::timeout(T, async {
                while slow.dropped() == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .expect("slow-consumer drops reported");
        }
        let received = queued(&mut slow);
        let dropped = slow.dropped() as usize;
        let stats = bus.stats();
        assert!(
            received.len() <= CAP,
            "queue bounded: got {}",
            received.len()
        );
        for (i, m) in received.iter().enumerate() {
            assert_eq!(text(m), i.to_string(), "oldest messages kept, in order");
        }
        eprintln!(
            "slow subscriber: received {}, dropped {dropped} (bus-wide {}) of {N}",
            received.len(),
            stats.dropped_slow_consumer
        );
        assert!(stats.dropped_slow_consumer >= dropped as u64);
        if h.is_nats() {
            assert!(dropped >= 1);
            assert!(
                received.len() + dropped <= N,
                "{} + {dropped}",
                received.len()
            );
        } else {
            assert_eq!(received.len(), CAP);
            assert_eq!(dropped, N - CAP);
            assert_eq!(stats.dropped_slow_consumer, (N - CAP) as u64);
        }
        // A slow subscriber does not hold up the others.
        assert_eq!(done.dropped(), 0);
    }

    pub async fn wait_overflow_delivers_everything(h: Harness) {
        const N: u32 = 2_000;
        let bus = h.bus().await;
        let options = SubscribeOptions {
            capacity: 16,
            overflow: Overflow::Wait,
        };
        let mut sub = bus
            .subscribe_with("conf.wait", options)
            .await
            .expect("subscribe");
        ready(&*bus, &mut sub, "conf.wait").await;
        let publisher = bus.bus.clone();
        let task = tokio::spawn(async move {
            for i in 0..N {
                publisher
                    .publish("conf.wait", Bytes::copy_from_slice(&i.to_be_bytes()))
                    .await
                    .expect("publish");
            }
        });
        for want in 0..N {
            if want.is_multiple_of(100) {
                // Be a slow consumer now and then.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let m = next(&mut sub).await;
            assert_eq!(
                u32::from_be_bytes(m.payload[..].try_into().expect("4 bytes")),
                want
            );
        }
        tokio::time::timeout(T, task)
            .await
            .expect("publisher finishes")
            .expect("publisher task");
        assert_eq!(sub.dropped(), 0);
        assert_eq!(bus.stats().dropped_slow_consumer, 0);
    }

    pub async fn reconnect_keeps_subscriptions(h: Harness) {
        let bus = h.bus().await;
        let mut reconnects = bus.reconnects();
        assert_eq!(*reconnects.borrow_and_update(), 0);
        let mut sub = bus.subscribe("conf.reconnect").await.expect("subscribe");
        ready(&*bus, &mut sub, "conf.reconnect").await;
        assert!(bus.stats().connected, "connected before the restart");

        // While the server is down, stats say so (the client notices the closed
        // socket promptly; the server cannot come back before this returns).
        let restarted = h.restart_server_with(|| {
            let deadline = std::time::Instant::now() + T;
            while bus.stats().connected {
                assert!(
                    std::time::Instant::now() < deadline,
                    "still connected {T:?} after the server stopped"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        if !restarted {
            // LocalBus: nothing to restart, never reconnects, always connected.
            assert_eq!(bus.stats().reconnects, 0);
            assert!(bus.stats().connected);
            assert!(!reconnects.has_changed().expect("sender alive"));
            return;
        }
        tokio::time::timeout(T, reconnects.changed())
            .await
            .expect("reconnect noticed in time")
            .expect("watch alive");
        assert!(*reconnects.borrow_and_update() >= 1);
        assert!(bus.stats().reconnects >= 1);
        assert!(bus.stats().connected, "connected again after the reconnect");

        // Published after the restart, received on the subscription from before it.
        publish(&*bus, "conf.reconnect", "after").await;
        assert_eq!(text(&next(&mut sub).await), "after");
    }

    pub async fn presence_registration_and_heartbeats(h: Harness) {
        let bus = h.bus().await;
        let mut registry = bus.subscribe("sekia.registry").await.expect("subscribe");
        ready(&*bus, &mut registry, "sekia.registry").await;
        let mut beats = bus.subscribe("sekia.heartbeat.>").await.expect("subscribe");
        ready(&*bus, &mut beats, "sekia.heartbeat.probe").await;

        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(250);
        let manual = sekia_protocol::ManualClock::new(1_700_000_000);
        manual.advance(Duration::from_millis(250));
        let clock: Clock = Arc::new(manual);
        let registration = Registration {
            name: "test-agent".into(),
            version: "1.2.3".into(),
            capabilities: vec!["testing".into()],
            commands: vec!["poke".into(), "prod".into()],
            config_schema: None,
        };
        let interval = Duration::from_millis(50);
        let handle = Presence::start_with_clock(bus.bus.clone(), registration, interval, clock)
            .await
            .expect("presence");

        let reg = next(&mut registry).await;
        assert_eq!(
            text(&reg),
            r#"{"name":"test-agent","version":"1.2.3","capabilities":["testing"],"commands":["poke","prod"]}"#
        );
        let first = next(&mut beats).await;
        assert_eq!(first.subject, "sekia.heartbeat.test-agent");
        assert_eq!(
            text(&first),
            format!(
                r#"{{"name":"test-agent","status":"running","last_event":"{GO_ZERO_TIME}","events_processed":0,"errors":0}}"#
            )
        );

        handle.record_event();
        handle.record_event();
        handle.record_error();
        let beat = loop {
            let m = next(&mut beats).await;
            let hb: Heartbeat = serde_json::from_slice(&m.payload).expect("heartbeat json");
            if hb.events_processed == 2 {
                break hb;
            }
        };
        // Go's RFC3339Nano in the local offset, as a Go agent's time.Now() marshals.
        let local: chrono::DateTime<chrono::Local> = now.into();
        let offset = local.offset().local_minus_utc();
        let expected = sekia_protocol::gotime::format_system_time(now, offset).expect("time");
        assert_eq!(beat.last_event, expected);
        if offset == 0 {
            assert_eq!(beat.last_event, "2023-11-14T22:13:20.25Z");
        }
        assert_eq!(beat.errors, 1);
        assert_eq!(beat.status, "running");
        assert_eq!(handle.registrations_sent(), 1);

        handle.stop().await;
        // Everything up to here is read; after three intervals nothing new came.
        publish(&*bus, "sekia.heartbeat.marker", "m1").await;
        while text(&next(&mut beats).await) != "m1" {}
        tokio::time::sleep(interval * 3).await;
        publish(&*bus, "sekia.heartbeat.marker", "m2").await;
        assert_eq!(text(&next(&mut beats).await), "m2", "heartbeat after stop");
        assert!(queued(&mut registry).is_empty(), "no second registration");
    }

    pub async fn presence_resends_registration_after_reconnect(h: Harness) {
        let bus = h.bus().await;
        let mut registry = bus.subscribe("sekia.registry").await.expect("subscribe");
        ready(&*bus, &mut registry, "sekia.registry").await;
        let registration = Registration {
            name: "agent-r".into(),
            version: "0.1.0".into(),
            capabilities: vec![],
            commands: vec!["x".into()],
            config_schema: None,
        };
        let handle = Presence::start(
            bus.bus.clone(),
            registration.clone(),
            Duration::from_secs(60),
        )
        .await
        .expect("presence");
        let first: Registration =
            serde_json::from_slice(&next(&mut registry).await.payload).expect("json");
        assert_eq!(first, registration);

        if !h.restart_server() {
            assert_eq!(handle.registrations_sent(), 1, "LocalBus never reconnects");
            return;
        }
        let again: Registration =
            serde_json::from_slice(&next(&mut registry).await.payload).expect("json");
        assert_eq!(again, registration);
        assert_eq!(handle.registrations_sent(), 2);
        handle.stop().await;
    }

    pub async fn close_ends_subscriptions(h: Harness) {
        let bus = h.bus().await;
        let mut sub = bus.subscribe("conf.close").await.expect("subscribe");
        ready(&*bus, &mut sub, "conf.close").await;
        publish(&*bus, "conf.close", "last").await;
        assert_eq!(text(&next(&mut sub).await), "last");
        bus.flush().await.expect("flush");
        bus.close().await.expect("close");
        let end = tokio::time::timeout(T, async {
            while let Some(m) = sub.next().await {
                assert!(is_probe(&m), "unexpected {m:?}");
            }
        })
        .await;
        assert!(end.is_ok(), "stream ends after close");
        assert!(matches!(
            bus.publish("conf.close", Bytes::new()).await,
            Err(BusError::Closed)
        ));
        assert!(matches!(
            bus.subscribe("conf.close").await,
            Err(BusError::Closed)
        ));
        // Closing twice is fine.
        bus.close().await.expect("second close");
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::cases::$case(super::Harness::local()).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::cases::$case(super::Harness::nats()).await;
                }
            )*
        }
    };
}

conformance!(
    publish_subscribe_exact,
    wildcard_table,
    multiple_subscribers_all_receive,
    order_preserved,
    unsubscribe_on_drop,
    invalid_subjects_rejected,
    slow_subscriber_drop_new,
    wait_overflow_delivers_everything,
    reconnect_keeps_subscriptions,
    presence_registration_and_heartbeats,
    presence_resends_registration_after_reconnect,
    close_ends_subscriptions,
);
