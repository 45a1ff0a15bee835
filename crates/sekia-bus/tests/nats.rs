//! NatsBus behaviour that has no LocalBus counterpart: connecting, authentication,
//! starting before the server, publishing during an outage. Against a real
//! `nats-server` started per test.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sekia_bus::testing::{NatsServer, free_port};
use sekia_bus::{Backoff, Bus, BusError, NatsBus, NatsConfig};

const T: Duration = Duration::from_secs(5);

fn fast(url: String) -> NatsConfig {
    NatsConfig {
        reconnect_backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        connect_timeout: Duration::from_secs(1),
        ..NatsConfig::new(url)
    }
}

/// Publishes on `subject` until `sub` receives something (the SUB has reached the
/// server), then returns what arrived.
async fn round_trip(bus: &NatsBus, sub: &mut sekia_bus::Subscription, subject: &str) -> Bytes {
    tokio::time::timeout(T, async {
        loop {
            bus.publish(subject, Bytes::from_static(b"ping"))
                .await
                .expect("publish");
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(25), sub.next()).await {
                return m.payload;
            }
        }
    })
    .await
    .expect("round trip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_names_the_server() {
    let url = format!("nats://127.0.0.1:{}", free_port().expect("port"));
    let err = NatsBus::connect(fast(url.clone()))
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_config_errors() {
    for url in ["", " , ", "nats://host:notaport"] {
        let err = NatsBus::connect(fast(url.into())).await.expect_err(url);
        assert!(
            matches!(err, BusError::InvalidConfig(_)),
            "{url:?}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth() {
    let server = NatsServer::start_with_args(["--auth", "s3cret"]).expect("server");
    let ok = NatsBus::connect(NatsConfig {
        token: Some("s3cret".into()),
        ..fast(server.url())
    })
    .await
    .expect("right token");
    let mut sub = ok.subscribe("auth.t").await.expect("subscribe");
    assert_eq!(&round_trip(&ok, &mut sub, "auth.t").await[..], b"ping");

    for token in [None, Some("wrong".to_string())] {
        let err = NatsBus::connect(NatsConfig {
            token,
            ..fast(server.url())
        })
        .await
        .expect_err("must be refused");
        assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_password_auth() {
    let server = NatsServer::start_with_args(["--user", "agent", "--pass", "pw"]).expect("server");
    let ok = NatsBus::connect(NatsConfig {
        user: Some("agent".into()),
        password: Some("pw".into()),
        ..fast(server.url())
    })
    .await
    .expect("right password");
    let mut sub = ok.subscribe("auth.u").await.expect("subscribe");
    assert_eq!(&round_trip(&ok, &mut sub, "auth.u").await[..], b"ping");

    let err = NatsBus::connect(NatsConfig {
        user: Some("agent".into()),
        password: Some("nope".into()),
        ..fast(server.url())
    })
    .await
    .expect_err("wrong password");
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_servers_in_url_first_one_down() {
    let server = NatsServer::start().expect("server");
    let down = format!("nats://127.0.0.1:{}", free_port().expect("port"));
    let bus = NatsBus::connect(fast(format!("{down},{}", server.url())))
        .await
        .expect("connects to the live server");
    let mut sub = bus.subscribe("multi.url").await.expect("subscribe");
    assert_eq!(&round_trip(&bus, &mut sub, "multi.url").await[..], b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_on_initial_connect_waits_for_the_server() {
    let port = free_port().expect("port");
    let bus = NatsBus::connect(NatsConfig {
        retry_on_initial_connect: true,
        ..fast(format!("nats://127.0.0.1:{port}"))
    })
    .await
    .expect("returns at once, connects in the background");
    let mut sub = bus.subscribe("late.server").await.expect("subscribe");

    let _server = NatsServer::start_on_port(port, Vec::<String>::new()).expect("server");
    assert_eq!(
        &round_trip(&bus, &mut sub, "late.server").await[..],
        b"ping"
    );
    assert_eq!(
        bus.stats().reconnects,
        0,
        "the first connection is not a reconnect"
    );
    assert_eq!(*bus.reconnects().borrow(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_during_outage_times_out_instead_of_hanging() {
    let mut server = NatsServer::start().expect("server");
    let bus = NatsBus::connect(NatsConfig {
        publish_timeout: Some(Duration::from_millis(200)),
        ..fast(server.url())
    })
    .await
    .expect("connect");
    server.stop().expect("stop");

    // The client buffers while disconnected; once its queue is full, publish must
    // report the outage rather than wait for ever.
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        for i in 0..1_000_000u32 {
            if let Err(e) = bus.publish("outage", Bytes::from(i.to_string())).await {
                return e;
            }
        }
        panic!("a million publishes were accepted during the outage");
    })
    .await
    .expect("publish reports the outage in time");
    assert!(matches!(outcome, BusError::Timeout { .. }), "{outcome:?}");
    assert!(outcome.to_string().contains("outage"), "{outcome}");

    // And it recovers once the server is back.
    server.restart().expect("restart");
    let mut sub = bus.subscribe("after.outage").await.expect("subscribe");
    assert_eq!(
        &round_trip(&bus, &mut sub, "after.outage").await[..],
        b"ping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_during_outage_does_not_hang() {
    let mut server = NatsServer::start().expect("server");
    let bus = NatsBus::connect(NatsConfig {
        publish_timeout: Some(Duration::from_millis(200)),
        ..fast(server.url())
    })
    .await
    .expect("connect");
    let _sub = bus.subscribe("x").await.expect("subscribe");
    server.stop().expect("stop");
    // Fill the client's queue, as an agent publishing through the outage would.
    while bus.publish("x", Bytes::from_static(b"x")).await.is_ok() {}
    let closed = tokio::time::timeout(Duration::from_secs(5), bus.close()).await;
    assert!(closed.is_ok(), "close returned within its timeouts");
    assert!(matches!(
        bus.publish("x", Bytes::new()).await,
        Err(BusError::Closed)
    ));
}
