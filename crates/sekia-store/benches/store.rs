//! Store benchmark: durable ingest through the bus with full-text search on,
//! next to a plain-rusqlite baseline, then search latency over the result.
//!
//! `cargo bench -p sekia-store --bench store`. Sizes by env var:
//! `SEKIA_BENCH_EVENTS` (default 1,000,000), `SEKIA_BENCH_BATCH` (rows per
//! transaction, default 10,000), `SEKIA_BENCH_QUERIES` (per query kind,
//! default 200), `SEKIA_BENCH_DIR` (where the databases go; default a temp dir),
//! `SEKIA_BENCH_CHUNK` (rows per indexing transaction; default the store's).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::params;
use sekia_bus::{Bus, LocalBus};
use sekia_protocol::clock::SystemClock;
use sekia_store::{EventQuery, Reader, Store, StoreConfig};

const SOURCES: [(&str, [&str; 3]); 4] = [
    (
        "github",
        ["github.issue.opened", "github.pr.merged", "github.push"],
    ),
    (
        "slack",
        ["slack.message", "slack.reaction", "slack.mention"],
    ),
    (
        "linear",
        [
            "linear.issue.created",
            "linear.issue.updated",
            "linear.comment",
        ],
    ),
    (
        "gmail",
        ["gmail.message.received", "gmail.label", "gmail.thread"],
    ),
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic xorshift so every run stores the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A made-up vocabulary of 20,000 words; "crash" appears in ~1% of events.
fn word(rng: &mut Rng) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "pe", "da", "go", "hu", "ji", "be", "zo",
        "fa",
    ];
    let n = rng.next() % 20_000;
    format!(
        "{}{}{}",
        SYL[(n % 16) as usize],
        SYL[((n / 16) % 16) as usize],
        SYL[((n / 256) % 16) as usize]
    ) + &(n / 4096).to_string()
}

/// One event of ~200 payload bytes: (source, type, envelope JSON, payload JSON).
fn event(i: u64, rng: &mut Rng) -> (&'static str, &'static str, String, String) {
    let (source, types) = SOURCES[(i % 4) as usize];
    let ty = types[(rng.next() % 3) as usize];
    let mut text = String::new();
    if rng.next().is_multiple_of(100) {
        text.push_str("crash ");
    }
    while text.len() < 140 {
        text.push_str(&word(rng));
        text.push(' ');
    }
    let payload = format!(
        r#"{{"title":"{}","number":{},"repo":"org/repo{}"}}"#,
        text.trim_end(),
        i,
        i % 50
    );
    let envelope = format!(
        r#"{{"id":"evt_{:016x}","type":"{ty}","source":"{source}","timestamp":{},"payload":{payload}}}"#,
        id_hash(i),
        1_700_000_000 + i / 100
    );
    (source, ty, envelope, payload)
}

/// Event ids are random in production (`evt_<uuid v4>`), which matters for the id index.
fn id_hash(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// CPU time so far per thread name (Linux; empty elsewhere), to show where a
/// run's time went: the writer, the indexer and the runtime's workers.
fn thread_cpu() -> std::collections::BTreeMap<String, Duration> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        *by_name
            .entry(name.trim().to_owned())
            .or_insert(Duration::ZERO) += Duration::from_nanos(ns);
    }
    by_name
}

/// Busy time of the whole machine so far (all CPUs, from /proc/stat; zero
/// elsewhere), to tell how much of it other processes took during a run.
fn machine_busy() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let Some(cpu) = stat.lines().next() else {
        return Duration::ZERO;
    };
    // user nice system idle iowait irq softirq steal …, in clock ticks (100/s).
    let f: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy: u64 = f
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .take(6)
        .map(|(_, v)| v)
        .sum();
    Duration::from_millis(busy * 10)
}

/// "others X.X cores": what other processes kept busy on average since
/// `since` (machine busy time minus this process's CPU time).
fn others_line(since: (Instant, Duration, Duration)) -> String {
    let (at, machine, mine) = since;
    let wall = at.elapsed().as_secs_f64();
    let own: Duration = thread_cpu().values().sum();
    let others = machine_busy()
        .saturating_sub(machine)
        .saturating_sub(own.saturating_sub(mine));
    format!(
        "other processes kept {:.1} cores busy",
        others.as_secs_f64() / wall
    )
}

fn cpu_line(from: &std::collections::BTreeMap<String, Duration>) -> String {
    thread_cpu()
        .into_iter()
        .filter_map(|(name, t)| {
            let d = t.saturating_sub(from.get(&name).copied().unwrap_or_default());
            (d >= Duration::from_millis(50)).then(|| format!("{name} {:.1}s", d.as_secs_f64()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

/// Plain rusqlite: the same table, no FTS, rows generated
/// before each transaction so only SQLite is timed.
fn baseline(
    dir: &std::path::Path,
    n: u64,
    batch: usize,
    id_index: bool,
    autoincrement: bool,
) -> f64 {
    let path = dir.join("baseline.db");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join("baseline.db-wal"));
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    let auto = if autoincrement { "AUTOINCREMENT" } else { "" };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;
         CREATE TABLE events (seq INTEGER PRIMARY KEY {auto}, subject TEXT NOT NULL,
           id TEXT NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL, timestamp INTEGER NOT NULL,
           payload TEXT NOT NULL, truncated INTEGER NOT NULL DEFAULT 0, received_at INTEGER NOT NULL);"
    ))
    .unwrap();
    if id_index {
        conn.execute_batch("CREATE INDEX events_id ON events(id);")
            .unwrap();
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut timed = Duration::ZERO;
    let mut i = 0;
    while i < n {
        let rows: Vec<_> = (i..n.min(i + batch as u64))
            .map(|j| {
                let (source, ty, _, payload) = event(j, &mut rng);
                (
                    format!("sekia.events.{source}"),
                    format!("evt_{:016x}", id_hash(j)),
                    ty,
                    source,
                    1_700_000_000 + (j / 100) as i64,
                    payload,
                )
            })
            .collect();
        let started = Instant::now();
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO events(subject, id, type, source, timestamp, payload, truncated, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                )
                .unwrap();
            for r in &rows {
                stmt.execute(params![r.0, r.1, r.2, r.3, r.4, r.5, 1_700_000_000_000i64])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        timed += started.elapsed();
        i += rows.len() as u64;
    }
    n as f64 / timed.as_secs_f64()
}

fn main() {
    let n = env("SEKIA_BENCH_EVENTS", 1_000_000) as u64;
    let batch = env("SEKIA_BENCH_BATCH", 10_000);
    let queries = env("SEKIA_BENCH_QUERIES", 200);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("SEKIA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("store.db"));
    println!("sekia-store bench: {n} events of ~200-byte payloads, {batch} rows per transaction");

    let base = baseline(&dir, n, batch, false, false);
    println!("baseline  plain rusqlite batched inserts, no FTS: {base:>9.0} rows/s");
    let with_id = baseline(&dir, n, batch, true, false);
    println!("          same plus an index on the random id:    {with_id:>9.0} rows/s");
    let auto = baseline(&dir, n, batch, false, true);
    println!("          same with an AUTOINCREMENT seq:         {auto:>9.0} rows/s");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let path = dir.join("store.db");
    rt.block_on(async {
        let mut config = StoreConfig::new(&path);
        config.max_events = u64::MAX;
        config.batch_max_rows = batch;
        if let Ok(chunk) = std::env::var("SEKIA_BENCH_CHUNK") {
            config.fts_chunk_rows = chunk.parse().expect("SEKIA_BENCH_CHUNK is a row count");
        }
        let store = Store::open(config, Arc::new(SystemClock)).unwrap();
        let bus = LocalBus::new();
        store.attach(&bus).await.unwrap();
        // Generated up front so the publisher costs what a connector's publish costs.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let messages: Vec<(String, Bytes)> = (0..n)
            .map(|i| {
                let (source, _, envelope, _) = event(i, &mut rng);
                (format!("sekia.events.{source}"), Bytes::from(envelope))
            })
            .collect();
        let cpu_at_start = thread_cpu();
        let started = Instant::now();
        let machine_at_start = (started, machine_busy(), cpu_at_start.values().sum());
        let publisher = tokio::spawn(async move {
            for (subject, body) in messages {
                bus.publish(&subject, body).await.unwrap();
            }
            bus
        });
        let _bus = publisher.await.unwrap();
        store.wait_written(n).await.unwrap();
        let ingest = started.elapsed();
        let cpu_ingest = format!("{}; {}", cpu_line(&cpu_at_start), others_line(machine_at_start));
        let at_burst_end = store.stats().progress;
        store.wait_indexed(at_burst_end.last_event_seq).await.unwrap();
        let caught_up = started.elapsed();
        let stats = store.stats();
        assert_eq!((stats.written, stats.dropped, stats.failed), (n, 0, 0));
        println!(
            "store     bus -> SQLite (WAL, synchronous=NORMAL), FTS on: {:>9.0} events/s ({ingest:.2?}; {:.0}% of baseline)",
            n as f64 / ingest.as_secs_f64(),
            100.0 * n as f64 / ingest.as_secs_f64() / base
        );
        println!(
            "          FTS index at burst end: {} of {} rows; caught up {:.2?} after the burst ({:.2?} after its start)",
            at_burst_end.indexed_upto,
            at_burst_end.last_event_seq,
            caught_up - ingest,
            caught_up
        );
        println!("          CPU during the burst: {cpu_ingest}");
        println!(
            "          CPU until caught up:  {}; {}",
            cpu_line(&cpu_at_start),
            others_line(machine_at_start)
        );
        store.close().await.unwrap();
    });

    let reader = Reader::open(&path).unwrap();
    let mut rng = Rng(42);
    let mut run = |name: &str, make: &mut dyn FnMut(&mut Rng) -> EventQuery| {
        let mut times = Vec::with_capacity(queries);
        let mut hits = 0;
        for _ in 0..queries {
            let q = make(&mut rng);
            let t = Instant::now();
            let page = reader.list_events(&q).unwrap();
            times.push(t.elapsed());
            hits += page.items.len();
        }
        println!(
            "query     {name:<52} p50 {:>8.2?}  p95 {:>8.2?}  (avg {:.1} rows)",
            percentile(times.clone(), 0.5),
            percentile(times, 0.95),
            hits as f64 / queries as f64
        );
    };
    run("newest 50", &mut |_| EventQuery {
        limit: 50,
        ..Default::default()
    });
    run("newest 50, source = github", &mut |_| EventQuery {
        limit: 50,
        source: Some("github".into()),
        ..Default::default()
    });
    run("newest 50, type glob linear.issue.*", &mut |_| EventQuery {
        limit: 50,
        event_type: Some("linear.issue.*".into()),
        ..Default::default()
    });
    run("q=crash, source = github, page of 50", &mut |_| {
        EventQuery {
            limit: 50,
            q: Some("crash".into()),
            source: Some("github".into()),
            ..Default::default()
        }
    });
    run("q=<random vocabulary word>, page of 50", &mut |r| {
        EventQuery {
            limit: 50,
            q: Some(word(r)),
            ..Default::default()
        }
    });
    run("q=<random word>, type glob slack.*, page of 50", &mut |r| {
        EventQuery {
            limit: 50,
            q: Some(word(r)),
            event_type: Some("slack.*".into()),
            ..Default::default()
        }
    });
    run("q=crash, page 5 (cursor)", &mut |_| {
        let mut q = EventQuery {
            limit: 50,
            q: Some("crash".into()),
            ..Default::default()
        };
        for _ in 0..4 {
            q.cursor = reader_cursor(&path, &q);
        }
        q
    });
}

/// The cursor after the page `q` selects (kept out of the timed section).
fn reader_cursor(path: &std::path::Path, q: &EventQuery) -> Option<String> {
    Reader::open(path)
        .unwrap()
        .list_events(q)
        .unwrap()
        .next_cursor
}
