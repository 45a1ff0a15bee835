//! Polling against the fake GitHub: the three modes, conditional requests, and
//! watermarks that survive a restart (SQLite).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sekia_bus::{Bus, LocalBus, Subscription};
use sekia_connectors::github::{
    self, GithubAgent, GithubAgentOptions, GithubApi, GithubConfig, PollConfig, Poller,
};
use sekia_connectors::{
    HttpClient, MemoryState, RetryPolicy, SqliteState, StateStore, StaticToken,
};
use sekia_protocol::{Clock, Event, ManualClock, Secret};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// 2023-11-14T22:13:20Z
const T: i64 = 1_700_000_000;

fn at(offset: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(T + offset, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

struct Env {
    fake: FakeGithub,
    agent: GithubAgent,
    events: Subscription,
    clock: ManualClock,
}

async fn setup() -> Env {
    let fake = FakeGithub::start().await;
    let bus = LocalBus::new();
    let events = bus.subscribe("sekia.events.github").await.unwrap();
    let mut config = GithubConfig::default();
    config.github.api_url = fake.url();
    config.webhook.listen = String::new();
    let clock = ManualClock::new(T);
    let agent = github::start(
        GithubAgentOptions {
            name: "github-poll".into(),
            bus: Arc::new(bus),
            tokens: Arc::new(StaticToken::new(Secret::new("test-token"))),
            state: Arc::new(MemoryState::new()),
            config,
            clock: Arc::new(clock.clone()),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    Env {
        fake,
        agent,
        events,
        clock,
    }
}

impl Env {
    fn poller(&self, state: Arc<dyn StateStore>, poll: PollConfig) -> Poller {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let http = HttpClient::new(
            "test",
            RetryPolicy::default(),
            clock.clone(),
            CancellationToken::new(),
        )
        .unwrap();
        let api = GithubApi::new(
            http,
            Arc::new(StaticToken::new(Secret::new("test-token"))),
            &self.fake.url(),
            &format!("{}/graphql", self.fake.url()),
        )
        .unwrap();
        Poller::new(Arc::new(api), self.agent.sink().clone(), state, poll, clock)
    }

    async fn tick(&mut self, poller: &Poller) -> Vec<Event> {
        let summary = poller.tick().await;
        assert!(summary.errors.is_empty(), "{:?}", summary.errors);
        let events = drain(&mut self.events, Duration::from_millis(150)).await;
        assert_eq!(events.len(), summary.emitted, "{events:?}");
        events
    }

    fn not_modified(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.status == 304)
            .count()
    }
}

fn time_mode() -> PollConfig {
    PollConfig {
        enabled: true,
        repos: vec!["octo/hello".into()],
        ..PollConfig::default()
    }
}

fn summary(events: &[Event]) -> Vec<(String, Value)> {
    events
        .iter()
        .map(|e| {
            let id = e
                .payload
                .get("number")
                .cloned()
                .or_else(|| e.payload.get("comment_id").cloned())
                .unwrap_or(Value::Null);
            (e.event_type.clone(), id)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_mode_watermark_survives_a_restart() {
    let mut env = setup().await;
    env.fake.with(|s| {
        s.issues
            .push(issue(1, "old but updated", &at(-3600), &at(-60), &[]));
        s.issues
            .push(issue(2, "new", &at(-120), &at(-120), &["bug"]));
        s.issues
            .push(issue(3, "stale", &at(-9000), &at(-1000), &[]));
        s.pulls.push(pull(5, &at(-100), &at(-90), &[]));
        s.comments.push(comment(9, 1, &at(-30)));
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");

    let first = env.poller(Arc::new(SqliteState::open(&db).unwrap()), time_mode());
    let events = env.tick(&first).await;
    assert_eq!(
        summary(&events),
        vec![
            ("github.issue.opened".into(), json!(2)),
            ("github.issue.updated".into(), json!(1)),
            ("github.pr.opened".into(), json!(5)),
            ("github.comment.created".into(), json!("9")),
        ]
    );
    let opened = &events[0];
    assert_eq!(opened.source, "github");
    assert_eq!(
        Value::Object(opened.payload.clone()),
        json!({"owner": "octo", "repo": "hello", "number": 2, "title": "new", "body": "body of 2",
               "author": "alice", "url": "https://github.com/octo/hello/issues/2", "labels": ["bug"],
               "polled": true, "account": "github-poll"})
    );
    assert_eq!(events[2].payload["head_branch"], "feature");
    assert_eq!(events[3].payload["issue_number"], 1);
    let q = &env.fake.requests_to("GET", "/repos/octo/hello/issues")[0].query;
    assert_eq!(q["since"], at(-300), "first poll looks back 5 minutes");
    assert_eq!(q["direction"], "asc");

    // Same poller again: nothing new. The watermark moved, so issues and comments
    // are asked with a new `since` once; from then on every list answers 304.
    assert_eq!(env.not_modified(), 0);
    assert!(env.tick(&first).await.is_empty());
    assert_eq!(env.not_modified(), 1, "pulls: same URL, 304");
    assert!(env.tick(&first).await.is_empty());
    assert_eq!(
        env.not_modified(),
        4,
        "then issues, pulls and comments all 304"
    );
    let last = env.fake.requests().pop().unwrap();
    assert!(last.headers.contains_key("if-none-match"));
    drop(first);

    // A restart: a new poller on the same file re-emits nothing...
    let second = env.poller(Arc::new(SqliteState::open(&db).unwrap()), time_mode());
    assert!(env.tick(&second).await.is_empty());
    // ...and emits what is new, even at the watermark's own second.
    env.clock.advance(Duration::from_secs(60));
    env.fake.with(|s| {
        s.issues
            .push(issue(4, "same second as #1", &at(-60), &at(-60), &[]));
        s.issues.push(issue(6, "brand new", &at(20), &at(20), &[]));
        s.comments.push(comment(10, 6, &at(25)));
    });
    let events = env.tick(&second).await;
    assert_eq!(
        summary(&events),
        vec![
            ("github.issue.updated".into(), json!(4)),
            ("github.issue.opened".into(), json!(6)),
            ("github.comment.created".into(), json!("10")),
        ]
    );
    assert!(env.tick(&second).await.is_empty());
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tick_budget_continues_next_poll() {
    let mut env = setup().await;
    env.fake.with(|s| {
        for n in 1..=5 {
            s.issues.push(issue(n, "x", &at(-3600), &at(-100 + n), &[]));
        }
    });
    let poll = PollConfig {
        per_tick: 2,
        ..time_mode()
    };
    let poller = env.poller(Arc::new(MemoryState::new()), poll);
    let numbers = |events: Vec<Event>| -> Vec<i64> {
        events
            .iter()
            .filter(|e| e.event_type.starts_with("github.issue"))
            .map(|e| e.payload["number"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(numbers(env.tick(&poller).await), vec![1, 2]);
    assert_eq!(numbers(env.tick(&poller).await), vec![3, 4]);
    assert_eq!(numbers(env.tick(&poller).await), vec![5]);
    assert_eq!(numbers(env.tick(&poller).await), Vec::<i64>::new());
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_mode_emits_new_and_changed_matches() {
    let mut env = setup().await;
    env.fake.with(|s| {
        s.issues
            .push(issue(1, "a", &at(-9000), &at(-9000), &["bug"]));
        s.issues
            .push(issue(2, "b", &at(-9000), &at(-8000), &["triage", "bug"]));
        s.issues
            .push(issue(3, "c", &at(-9000), &at(-7000), &["other"]));
    });
    let poll = PollConfig {
        labels: vec!["bug".into(), "triage".into()],
        ..time_mode()
    };
    let state = Arc::new(MemoryState::new());
    let poller = env.poller(state.clone(), poll.clone());
    let events = env.tick(&poller).await;
    let mut got = summary(&events);
    got.sort_by_key(|(_, n)| n.as_i64());
    assert_eq!(
        got,
        vec![
            ("github.issue.matched".into(), json!(1)),
            ("github.issue.matched".into(), json!(2)),
        ]
    );
    assert_eq!(events[0].payload["state"], "open");
    assert_eq!(events[0].payload["polled"], true);
    let q = &env.fake.requests_to("GET", "/repos/octo/hello/issues")[0].query;
    assert_eq!(q["labels"], "bug");
    assert_eq!(q["state"], "open");

    assert!(
        env.tick(&poller).await.is_empty(),
        "unchanged: not re-emitted"
    );
    // A new poller with the same state (a restart) does not repeat either.
    let again = env.poller(state, poll);
    assert!(env.tick(&again).await.is_empty());
    env.fake.with(|s| s.issues[0]["updated_at"] = at(-5).into());
    assert_eq!(
        summary(&env.tick(&again).await),
        vec![("github.issue.matched".into(), json!(1))]
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_match_mode_with_labels_fetches_each_pull() {
    let mut env = setup().await;
    env.fake.with(|s| {
        let mut as_issue = issue(6, "PR 6", &at(-500), &at(-400), &["ready", "backend"]);
        as_issue["pull_request"] =
            json!({"url": "https://api.github.com/repos/octo/hello/pulls/6"});
        s.issues.push(as_issue);
        s.issues.push(issue(
            7,
            "an issue",
            &at(-500),
            &at(-400),
            &["ready", "backend"],
        ));
        let mut pr = pull(6, &at(-500), &at(-400), &["ready", "backend"]);
        pr["draft"] = true.into();
        s.pulls.push(pr);
    });
    let poll = PollConfig {
        match_prs: true,
        labels: vec!["ready".into(), "backend".into()],
        state: "all".into(),
        ..time_mode()
    };
    let poller = env.poller(Arc::new(MemoryState::new()), poll);
    let events = env.tick(&poller).await;
    assert_eq!(
        summary(&events),
        vec![("github.pr.matched".into(), json!(6))]
    );
    let p = &events[0].payload;
    assert_eq!(p["head_branch"], "feature");
    assert_eq!(p["base_branch"], "main");
    assert_eq!(p["draft"], true);
    assert_eq!(p["labels"], json!(["ready", "backend"]));
    let q = &env.fake.requests_to("GET", "/repos/octo/hello/issues")[0].query;
    assert_eq!(q["labels"], "ready,backend");
    assert_eq!(
        env.fake
            .requests_to("GET", "/repos/octo/hello/pulls/6")
            .len(),
        1
    );
    assert!(env.tick(&poller).await.is_empty());
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_match_mode_without_labels_lists_pulls() {
    let mut env = setup().await;
    env.fake.with(|s| {
        s.pulls.push(pull(8, &at(-500), &at(-400), &[]));
    });
    let poll = PollConfig {
        match_prs: true,
        ..time_mode()
    };
    let poller = env.poller(Arc::new(MemoryState::new()), poll);
    assert_eq!(
        summary(&env.tick(&poller).await),
        vec![("github.pr.matched".into(), json!(8))]
    );
    assert!(env.tick(&poller).await.is_empty());
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_polls_on_its_own_interval() {
    let fake = FakeGithub::start().await;
    let now = chrono::Utc::now().timestamp();
    let stamp = |t: i64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    fake.with(|s| {
        s.issues
            .push(issue(11, "live", &stamp(now - 10), &stamp(now - 10), &[]))
    });
    let bus = LocalBus::new();
    let mut events = bus.subscribe("sekia.events.github").await.unwrap();
    let mut config = GithubConfig::default();
    config.github.api_url = fake.url();
    config.webhook.listen = String::new();
    config.poll = PollConfig {
        interval: Duration::from_millis(50),
        ..time_mode()
    };
    let agent = github::start(
        GithubAgentOptions {
            name: "github-live".into(),
            bus: Arc::new(bus.clone()),
            tokens: Arc::new(StaticToken::new(Secret::new("t"))),
            state: Arc::new(MemoryState::new()),
            config,
            clock: Arc::new(sekia_protocol::SystemClock),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let e = next_event(&mut events, |e| e.event_type == "github.issue.opened").await;
    assert_eq!(e.payload["number"], 11);
    // Several polls happen; the issue is not announced again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.requests().len() >= 6, "polled repeatedly");
    let later = drain(&mut events, Duration::from_millis(100)).await;
    assert!(later.is_empty(), "{later:?}");
    agent.stop().await;
    bus.close().await.unwrap();
}
