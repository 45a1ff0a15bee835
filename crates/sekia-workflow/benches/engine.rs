//! Throughput and latency of event → handler → `sekia.command` → command on the
//! bus (LocalBus), next to the raw mlua call rate measured in the same run.
//!
//! `cargo bench -p sekia-workflow --bench engine`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mlua::{Function, Table};
use sekia_bus::{Bus, LocalBus, SubscribeOptions};
use sekia_protocol::{Event, Payload};
use sekia_workflow::{Engine, EngineConfig, SystemClock};

const WORKFLOW: &str = r#"
sekia.on("sekia.events.bench", function(e)
  sekia.command("sink", "handle", {id = e.id, t = e.payload.t, title = e.payload.title})
end)
"#;

fn raw_mlua_rate(n: usize, limit: usize) -> f64 {
    let (lua, _deadline) = sekia_workflow::sandbox::new_vm(limit).unwrap();
    let sink = lua
        .create_function(|_, (_a, _c, p): (String, String, Table)| {
            let _: Option<String> = p.get("title")?;
            Ok(())
        })
        .unwrap();
    lua.globals().set("command", sink).unwrap();
    lua.load("function handler(e) command('sink', 'handle', {id = e.id, t = e.payload.t, title = e.payload.title}) end")
        .exec()
        .unwrap();
    let handler: Function = lua.globals().get("handler").unwrap();
    let start = Instant::now();
    for i in 0..n {
        let ev = lua.create_table().unwrap();
        ev.raw_set("id", "evt_1").unwrap();
        let p = lua.create_table().unwrap();
        p.raw_set("t", i as f64).unwrap();
        p.raw_set("title", "hello").unwrap();
        ev.raw_set("payload", p).unwrap();
        handler.call::<()>(ev).unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn event_bytes(t: u64) -> Bytes {
    let mut p = Payload::new();
    p.insert("t".into(), t.into());
    p.insert("title".into(), "hello".into());
    let e = Event::new("bench", "bench", p, 1_700_000_000);
    Bytes::from(sekia_protocol::json::to_vec(&e).unwrap())
}

async fn setup(limit: usize) -> (LocalBus, Engine, sekia_bus::Subscription, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.lua"), WORKFLOW).unwrap();
    let mut cfg = EngineConfig::new(dir.path());
    cfg.hot_reload = false;
    cfg.memory_limit = limit;
    let bus = LocalBus::new();
    let commands = bus
        .subscribe_with(
            "sekia.commands.sink",
            SubscribeOptions::lossless().with_capacity(65_536),
        )
        .await
        .unwrap();
    let engine = Engine::start(Arc::new(bus.clone()), cfg, Arc::new(SystemClock))
        .await
        .unwrap();
    (bus, engine, commands, dir)
}

/// Publishes `n` events keeping at most `window` in flight (the workflow queue
/// holds 4096) and returns commands per second.
async fn throughput(n: u64, window: u64, limit: usize) -> f64 {
    let (bus, engine, mut commands, _dir) = setup(limit).await;
    // Encoded up front: the producer's cost (uuid, JSON) is not the engine's.
    let events: Vec<Bytes> = (0..n).map(event_bytes).collect();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut received = 0u64;
    while received < n {
        // Refill only below half the window: publishing and receiving in bursts
        // keeps the tasks busy instead of waking each other once per event.
        if sent - received < window / 2 {
            while sent < n && sent - received < window {
                bus.publish("sekia.events.bench", events[sent as usize].clone())
                    .await
                    .unwrap();
                sent += 1;
            }
        }
        match tokio::time::timeout(Duration::from_secs(10), commands.next()).await {
            Ok(Some(_)) => received += 1,
            _ => panic!("lost commands: sent {sent}, received {received}"),
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let ws = engine.workflows();
    println!(
        "  (handler time p50 {} µs, p99 {} µs)",
        ws[0].handler_p50_us, ws[0].handler_p99_us
    );
    let dropped: u64 = ws.iter().map(|w| w.dropped).sum();
    assert_eq!(dropped, 0);
    engine.shutdown().await;
    rate
}

/// Publishes at a fixed rate and returns latency percentiles (µs).
async fn latency(rate: u64, secs: u64) -> (u64, u64, u64) {
    let (bus, engine, mut commands, _dir) = setup(64 << 20).await;
    let n = rate * secs;
    let origin = Instant::now();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            let interval = Duration::from_nanos(1_000_000_000 / rate);
            for i in 0..n {
                let due = origin + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let t = origin.elapsed().as_nanos() as u64;
                bus.publish("sekia.events.bench", event_bytes(t))
                    .await
                    .unwrap();
            }
        })
    };
    let mut lat = Vec::with_capacity(n as usize);
    while (lat.len() as u64) < n {
        let m = tokio::time::timeout(Duration::from_secs(10), commands.next())
            .await
            .expect("lost commands")
            .unwrap();
        let c: sekia_protocol::Command = serde_json::from_slice(&m.payload).unwrap();
        let t = c.payload.unwrap()["t"].as_u64().unwrap();
        lat.push((origin.elapsed().as_nanos() as u64 - t) / 1000);
    }
    publisher.await.unwrap();
    engine.shutdown().await;
    lat.sort_unstable();
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    (p(0.5), p(0.99), *lat.last().unwrap())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some(v) = std::env::var_os("SEKIA_BENCH_PROFILE") {
        // One long single-thread run, for `perf record`; a number sets the event
        // count (e.g. `SEKIA_BENCH_PROFILE=20000` under callgrind).
        let n = v.to_str().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
        let st = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tp = st.block_on(throughput(n, 2048, 64 << 20));
        println!("{tp:.0} events/s");
        return;
    }
    for limit in [64 << 20, 0] {
        let raw = raw_mlua_rate(300_000, limit);
        println!("raw mlua handler calls, memory limit {limit:>8}:        {raw:>10.0} calls/s");
    }
    for limit in [64 << 20, 0] {
        // The driver runs as a task on the runtime's workers, as agents and the
        // daemon's own tasks do, not on the bench's main thread.
        let tp = rt.block_on(async move {
            tokio::spawn(throughput(300_000, 2048, limit))
                .await
                .unwrap()
        });
        println!(
            "engine event->handler->sekia.command->bus, limit {limit:>8}: {tp:>10.0} events/s"
        );
    }
    let st = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tp = st.block_on(throughput(300_000, 2048, 64 << 20));
    println!("same, everything on one thread (current_thread runtime):      {tp:>10.0} events/s");
    let (p50, p99, max) = rt.block_on(async { tokio::spawn(latency(10_000, 3)).await.unwrap() });
    println!("latency at 10,000 events/s for 3 s: p50 {p50} µs, p99 {p99} µs, max {max} µs");
}
