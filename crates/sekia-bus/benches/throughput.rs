//! Publish → subscribe throughput, 200-byte payloads, one publisher and one
//! subscriber in this process.
//!
//! 1. LocalBus (lossless subscription, so every message is counted).
//! 2. NatsBus against raw async-nats on the same nats-server (started here), same
//!    message count, alternating rounds; reports the median rate of each, the median
//!    of the per-round ratios NatsBus / raw, and the same for the process's CPU time
//!    per message (steadier than wall-clock rates on a shared machine).
//!
//! `SEKIA_BENCH_MESSAGES` sets the message count (default 2,000,000 for LocalBus; NATS
//! rounds use a quarter of it, at least 10,000); `SEKIA_BENCH_ROUNDS` the NATS rounds
//! (default 7). CI can run `SEKIA_BENCH_MESSAGES=100000 cargo bench -p sekia-bus
//! --bench throughput`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use sekia_bus::testing::NatsServer;
use sekia_bus::{Bus, LocalBus, NatsBus, NatsConfig, SubscribeOptions};
use tokio::sync::Notify;

const PAYLOAD_SIZE: usize = 200;
/// Most messages in flight on NATS before the publisher waits for the subscriber,
/// so that neither the server nor the client drops anything as a slow consumer.
/// The same for both NATS variants.
const WINDOW: u64 = 20_000;
/// Give up on a NATS round after this long (messages lost).
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// CPU time this process has used (user + system), from /proc on Linux: the
/// machine is shared, and CPU per message is steadier than wall-clock rates.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// Sorts the values and returns the median.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn fmt_rate(r: f64) -> String {
    let s = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let n = env_u64("SEKIA_BENCH_MESSAGES", 2_000_000).max(1);
    let rounds = env_u64("SEKIA_BENCH_ROUNDS", 7).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let payload = Bytes::from(vec![b'x'; PAYLOAD_SIZE]);

        // Warm-up, then the measured LocalBus run.
        local_round(n / 10 + 1, payload.clone()).await;
        let local = local_round(n, payload.clone()).await;
        println!(
            "LocalBus          {:>12} events/s  ({n} messages of {PAYLOAD_SIZE} B in {:.3} s)",
            fmt_rate(rate(n, local)),
            local.as_secs_f64()
        );

        let server = NatsServer::start().expect("start nats-server");
        let nats_n = (n / 4).max(10_000);
        // Warm-up both paths once.
        raw_round(&server, nats_n / 10, payload.clone()).await;
        bus_round(&server, nats_n / 10, payload.clone()).await;
        let mut raw_rates = Vec::new();
        let mut bus_rates = Vec::new();
        let mut ratios = Vec::new();
        let mut cpu_ratios = Vec::new();
        for round in 1..=rounds {
            // Alternate which goes first, so neither always runs on a warmer server.
            let (raw, bus) = if !round.is_multiple_of(2) {
                let raw = raw_round(&server, nats_n, payload.clone()).await;
                (raw, bus_round(&server, nats_n, payload.clone()).await)
            } else {
                let bus = bus_round(&server, nats_n, payload.clone()).await;
                (raw_round(&server, nats_n, payload.clone()).await, bus)
            };
            // Within a round both ran back to back, under much the same background
            // load (this machine is shared), so their ratio is steadier than either rate.
            let (raw_rate, bus_rate) = (rate(nats_n, raw.wall), rate(nats_n, bus.wall));
            let ratio = bus_rate / raw_rate;
            let cpu = match (raw.cpu_ns_per_msg(nats_n), bus.cpu_ns_per_msg(nats_n)) {
                (Some(r), Some(b)) => {
                    cpu_ratios.push(r / b);
                    format!("   CPU ns/msg raw {r:.0}, NatsBus {b:.0}")
                }
                _ => String::new(),
            };
            println!(
                "  round {round}: raw async-nats {:>10} events/s   NatsBus {:>10} events/s   ratio {ratio:.3}{cpu}",
                fmt_rate(raw_rate),
                fmt_rate(bus_rate)
            );
            raw_rates.push(raw_rate);
            bus_rates.push(bus_rate);
            ratios.push(ratio);
        }
        println!(
            "raw async-nats    {:>12} events/s  (median of {rounds} rounds of {nats_n})",
            fmt_rate(median(&mut raw_rates))
        );
        println!(
            "NatsBus           {:>12} events/s  (median of {rounds} rounds of {nats_n})",
            fmt_rate(median(&mut bus_rates))
        );
        println!(
            "NatsBus / raw     {:>12.3}  (median of the per-round ratios of events/s)",
            median(&mut ratios)
        );
        if !cpu_ratios.is_empty() {
            println!(
                "NatsBus / raw     {:>12.3}  (median per-round ratio of CPU per message, raw/NatsBus: \
                 1.0 = same cost)",
                median(&mut cpu_ratios)
            );
        }
    });
}

async fn local_round(n: u64, payload: Bytes) -> Duration {
    let bus = Arc::new(LocalBus::new());
    let mut sub = bus
        .subscribe_with("bench.local", SubscribeOptions::lossless())
        .await
        .expect("subscribe");
    let consumer = tokio::spawn(async move {
        let mut got = 0u64;
        let mut bytes = 0usize;
        while got < n {
            match sub.next().await {
                Some(m) => {
                    bytes += m.payload.len();
                    got += 1;
                }
                None => break,
            }
        }
        (got, bytes)
    });
    let publisher_bus = bus.clone();
    let start = Instant::now();
    let publisher = tokio::spawn(async move {
        for _ in 0..n {
            publisher_bus
                .publish("bench.local", payload.clone())
                .await
                .expect("publish");
        }
    });
    publisher.await.expect("publisher");
    let (got, bytes) = consumer.await.expect("consumer");
    let elapsed = start.elapsed();
    assert_eq!(got, n, "LocalBus lost messages");
    assert_eq!(bytes, n as usize * PAYLOAD_SIZE);
    elapsed
}

/// Flow control shared by a round's publisher and consumer: the consumer publishes
/// its count every [`REPORT_EVERY`] messages and wakes the publisher, which sleeps
/// (rather than spins, which would steal a core on a 2-core machine) while more
/// than [`WINDOW`] messages are in flight.
#[derive(Default)]
struct Flow {
    received: AtomicU64,
    progress: Notify,
}

const REPORT_EVERY: u64 = 1024;

impl Flow {
    async fn wait_for_room(&self, sent: u64) {
        while sent.saturating_sub(self.received.load(Ordering::Acquire)) > WINDOW {
            self.progress.notified().await;
        }
    }

    fn report(&self, got: u64) {
        self.received.store(got, Ordering::Release);
        // notify_one keeps a permit if the publisher is not waiting yet, so a
        // report made just before it starts waiting is not lost.
        self.progress.notify_one();
    }
}

/// Runs a publisher and a consumer, the same way for both NATS variants.
/// `publish_all(flow)` publishes `n` messages, calling `flow.wait_for_room` before each.
async fn timed_round<S, P, PF>(n: u64, mut stream: S, publish_all: P, label: &str) -> Round
where
    S: futures::Stream<Item = usize> + Send + Unpin + 'static,
    P: FnOnce(Arc<Flow>) -> PF,
    PF: Future<Output = ()> + Send + 'static,
{
    let flow = Arc::new(Flow::default());
    let consumer_flow = flow.clone();
    let consumer = tokio::spawn(async move {
        let mut got = 0u64;
        while got < n {
            match tokio::time::timeout(ROUND_TIMEOUT, stream.next()).await {
                Ok(Some(len)) => {
                    debug_assert_eq!(len, PAYLOAD_SIZE);
                    got += 1;
                    if got.is_multiple_of(REPORT_EVERY) {
                        consumer_flow.report(got);
                    }
                }
                _ => break,
            }
        }
        consumer_flow.report(got);
        got
    });
    let cpu_start = process_cpu();
    let start = Instant::now();
    tokio::spawn(publish_all(flow)).await.expect("publisher");
    let got = consumer.await.expect("consumer");
    let wall = start.elapsed();
    let cpu = cpu_start.and_then(|c0| Some(process_cpu()?.saturating_sub(c0)));
    if got != n {
        eprintln!("{label}: only {got} of {n} messages arrived");
    }
    Round { wall, cpu }
}

/// One measured NATS round.
#[derive(Clone, Copy)]
struct Round {
    wall: Duration,
    /// CPU time of this process (both clients), not of nats-server.
    cpu: Option<Duration>,
}

impl Round {
    fn cpu_ns_per_msg(&self, n: u64) -> Option<f64> {
        self.cpu.map(|c| c.as_nanos() as f64 / n as f64)
    }
}

async fn raw_round(server: &NatsServer, n: u64, payload: Bytes) -> Round {
    let publisher = async_nats::connect(server.url()).await.expect("connect");
    let subscriber = async_nats::connect(server.url()).await.expect("connect");
    let mut sub = subscriber.subscribe("bench.raw").await.expect("subscribe");
    // Readiness: the subscriber's SUB has reached the server once a probe it
    // publishes itself comes back (same connection, ordered).
    subscriber
        .publish("bench.raw", Bytes::from_static(b"probe"))
        .await
        .expect("probe");
    let probe = sub.next().await.expect("probe back");
    assert_eq!(&probe.payload[..], b"probe");

    let client = publisher.clone();
    let elapsed = timed_round(
        n,
        sub.map(|m| m.payload.len()),
        move |flow| async move {
            for sent in 0..n {
                flow.wait_for_room(sent).await;
                client
                    .publish("bench.raw", payload.clone())
                    .await
                    .expect("publish");
            }
        },
        "raw async-nats",
    )
    .await;
    publisher.flush().await.ok();
    elapsed
}

async fn bus_round(server: &NatsServer, n: u64, payload: Bytes) -> Round {
    let publisher = NatsBus::connect(NatsConfig::new(server.url()))
        .await
        .expect("connect");
    let subscriber = NatsBus::connect(NatsConfig::new(server.url()))
        .await
        .expect("connect");
    let mut sub = subscriber.subscribe("bench.bus").await.expect("subscribe");
    subscriber
        .publish("bench.bus", Bytes::from_static(b"probe"))
        .await
        .expect("probe");
    let probe = sub.next().await.expect("probe back");
    assert_eq!(&probe.payload[..], b"probe");

    // Used through the trait object, as the daemon will.
    let bus: Arc<dyn Bus> = Arc::new(publisher.clone());
    let elapsed = timed_round(
        n,
        sub.map(|m| m.payload.len()),
        move |flow| async move {
            for sent in 0..n {
                flow.wait_for_room(sent).await;
                bus.publish("bench.bus", payload.clone())
                    .await
                    .expect("publish");
            }
        },
        "NatsBus",
    )
    .await;
    let stats = subscriber.stats();
    if stats.dropped_slow_consumer > 0 {
        eprintln!(
            "NatsBus: {} slow-consumer drops",
            stats.dropped_slow_consumer
        );
    }
    publisher.close().await.ok();
    subscriber.close().await.ok();
    elapsed
}
