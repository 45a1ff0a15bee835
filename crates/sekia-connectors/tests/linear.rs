//! The Linear connector end to end on a real LocalBus and real SQLite state,
//! against a fake Linear GraphQL API.

mod linear_common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use linear_common::*;
use sekia_bus::{Bus, LocalBus, Subscription};
use sekia_connectors::linear::{self, LinearAgent, LinearAgentOptions, LinearConfig};
use sekia_connectors::{AuthScheme, RetryPolicy, SqliteState, StaticToken};
use sekia_protocol::{Event, Secret, SystemClock};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const COMMAND_SECRET: &str = "cmd-secret";
const API_KEY: &str = "lin_api_test123";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_wait: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(10),
    }
}

fn config(fake: &FakeLinear, poll: bool) -> LinearConfig {
    let mut c = LinearConfig::default();
    c.linear.api_url = fake.url();
    c.poll.enabled = poll;
    c.poll.interval = Duration::from_millis(100);
    c.security.command_secret = Secret::new(COMMAND_SECRET);
    c.retry = fast_retry();
    c
}

async fn start(
    bus: &LocalBus,
    name: &str,
    config: LinearConfig,
    token: &str,
    scheme: AuthScheme,
    state_file: &Path,
) -> LinearAgent {
    linear::start(
        LinearAgentOptions {
            name: name.into(),
            bus: Arc::new(bus.clone()),
            tokens: Arc::new(StaticToken::new(Secret::new(token))),
            scheme,
            state: Arc::new(SqliteState::open(state_file).unwrap()),
            config,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn of_type<'a>(t: &'a str) -> impl Fn(&Event) -> bool + 'a {
    move |e| e.event_type == t
}

/// Publishes a signed command to `agent` and returns its result event.
async fn command(
    bus: &LocalBus,
    results: &mut Subscription,
    agent: &str,
    name: &str,
    args: Value,
) -> Event {
    let bytes = signed_command(name, args, COMMAND_SECRET);
    let id = hex::encode(Sha256::digest(&bytes));
    bus.publish(&format!("sekia.commands.{agent}"), bytes.into())
        .await
        .unwrap();
    next_event(results, |e| {
        e.source == "sekia" && e.payload.get("command_id") == Some(&Value::String(id.clone()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_and_comments_become_sekia_events() {
    let fake = FakeLinear::start().await;
    let bus = LocalBus::new();
    let mut events = bus.subscribe("sekia.events.linear").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let agent = start(
        &bus,
        "linear-work",
        config(&fake, true),
        API_KEY,
        AuthScheme::Raw,
        &dir.path().join("state.db"),
    )
    .await;

    // Created.
    let id = fake.with(|s| s.add_issue("ENG", "Crash on start"));
    let e = next_event(&mut events, of_type("linear.issue.created")).await;
    assert_eq!(e.source, "linear");
    let identifier = "ENG-1";
    assert_eq!(
        Value::Object(e.payload),
        json!({
            "id": id, "identifier": identifier, "title": "Crash on start",
            "state": "Todo", "priority": 2, "team": "ENG",
            "url": "https://linear.app/acme/issue/ENG-1", "labels": ["bug"],
            "description": "About Crash on start", "assignee": "Ann",
            "account": "linear-work",
        })
    );

    // Updated.
    fake.with(|s| s.edit_issue(&id, |i| i["title"] = "Crash on start (macOS)".into()));
    let e = next_event(&mut events, |e| e.event_type.starts_with("linear.issue.")).await;
    assert_eq!(e.event_type, "linear.issue.updated");
    assert_eq!(e.payload["title"], "Crash on start (macOS)");

    // Completed.
    fake.with(|s| {
        s.edit_issue(&id, |i| {
            i["state"] = json!({"name": "Done", "type": "completed"});
        })
    });
    let e = next_event(&mut events, |e| e.event_type.starts_with("linear.issue.")).await;
    assert_eq!(e.event_type, "linear.issue.completed");
    assert_eq!(e.payload["state"], "Done");

    // 60 comments land between two polls: all 60, over two pages.
    let comment_ids: HashSet<String> = fake.with(|s| {
        (0..60)
            .map(|n| s.add_comment(&id, &format!("comment {n}")))
            .collect()
    });
    let mut got = HashSet::new();
    while got.len() < 60 {
        let e = next_event(&mut events, of_type("linear.comment.created")).await;
        assert_eq!(e.payload["issue_id"], Value::String(id.clone()));
        assert_eq!(e.payload["issue_identifier"], identifier);
        assert_eq!(e.payload["author"], "Bob");
        assert_eq!(e.payload["account"], "linear-work");
        assert!(e.payload["body"].as_str().unwrap().starts_with("comment "));
        assert!(
            got.insert(e.payload["id"].as_str().unwrap().to_owned()),
            "comment emitted twice"
        );
    }
    assert_eq!(got, comment_ids);
    let paged = fake
        .requests("SekiaComments")
        .iter()
        .any(|r| r.body["variables"]["after"] == "cursor-50");
    assert!(paged, "the second page of comments was never read");

    // Nothing changed: later polls emit nothing.
    fake.wait_polls(3).await;
    let again = drain(&mut events, Duration::from_millis(100)).await;
    assert!(again.is_empty(), "re-emitted: {again:?}");

    // The poll query is sekia's: updatedAt >= watermark, newest first, 50 a page.
    let r = fake.requests("SekiaIssues").pop().unwrap();
    assert_eq!(r.headers["authorization"], API_KEY);
    let q = r.body["query"].as_str().unwrap();
    assert!(
        q.contains("issues(filter: $filter, first: $first, after: $after, orderBy: updatedAt)")
    );
    assert_eq!(r.body["variables"]["first"], 50);
    assert!(r.body["variables"]["filter"]["updatedAt"]["gte"].is_string());
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_re_emits_nothing_and_loses_nothing() {
    let fake = FakeLinear::start().await;
    let bus = LocalBus::new();
    let mut events = bus.subscribe("sekia.events.linear").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");

    let first = start(
        &bus,
        "linear-work",
        config(&fake, true),
        API_KEY,
        AuthScheme::Raw,
        &db,
    )
    .await;
    let a = fake.with(|s| s.add_issue("ENG", "A"));
    let b = fake.with(|s| s.add_issue("ENG", "B"));
    fake.with(|s| s.add_comment(&a, "on A"));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(next_event(&mut events, |_| true).await);
    }
    // Stop in the middle of polling; changes made while no agent runs are not lost.
    first.stop().await;
    fake.with(|s| s.edit_issue(&b, |i| i["title"] = "B, edited while stopped".into()));
    let c = fake.with(|s| s.add_issue("ENG", "C"));

    let second = start(
        &bus,
        "linear-work",
        config(&fake, true),
        API_KEY,
        AuthScheme::Raw,
        &db,
    )
    .await;
    let mut after_restart = Vec::new();
    while after_restart.len() < 2 {
        after_restart.push(next_event(&mut events, |_| true).await);
    }
    fake.wait_polls(2).await;
    after_restart.extend(drain(&mut events, Duration::from_millis(100)).await);
    let got: Vec<(String, String)> = after_restart
        .iter()
        .map(|e| {
            (
                e.event_type.clone(),
                e.payload["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("linear.issue.updated".to_owned(), b.clone()),
            ("linear.issue.created".to_owned(), c.clone()),
        ]
    );

    // And it keeps going.
    let d = fake.with(|s| s.add_issue("ENG", "D"));
    fake.with(|s| s.add_comment(&c, "on C"));
    let e = next_event(&mut events, of_type("linear.issue.created")).await;
    assert_eq!(e.payload["id"], Value::String(d));
    let e = next_event(&mut events, of_type("linear.comment.created")).await;
    assert_eq!(e.payload["issue_id"], Value::String(c));
    fake.wait_polls(2).await;
    let again = drain(&mut events, Duration::from_millis(100)).await;
    assert!(again.is_empty(), "re-emitted: {again:?}");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_filter_by_key_or_id() {
    let fake = FakeLinear::start().await;
    let bus = LocalBus::new();
    let mut events = bus.subscribe("sekia.events.linear").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&fake, true);
    c.poll.team_filter = "ENG".into();
    let agent = start(
        &bus,
        "linear-eng",
        c,
        API_KEY,
        AuthScheme::Raw,
        &dir.path().join("s.db"),
    )
    .await;
    let ops = fake.with(|s| s.add_issue("OPS", "not ours"));
    fake.with(|s| s.add_comment(&ops, "not ours either"));
    let eng = fake.with(|s| s.add_issue("ENG", "ours"));
    let e = next_event(&mut events, |_| true).await;
    assert_eq!(e.payload["id"], Value::String(eng.clone()));
    fake.wait_polls(2).await;
    assert!(
        drain(&mut events, Duration::from_millis(100))
            .await
            .is_empty()
    );
    let r = fake.requests("SekiaIssues").pop().unwrap();
    assert_eq!(
        r.body["variables"]["filter"]["team"],
        json!({"key": {"eq": "ENG"}})
    );
    let r = fake.requests("SekiaComments").pop().unwrap();
    assert_eq!(
        r.body["variables"]["filter"]["issue"],
        json!({"team": {"key": {"eq": "ENG"}}})
    );
    agent.stop().await;

    let mut c = config(&fake, true);
    c.linear.team_id = "team-ops".into();
    let mut events = bus.subscribe("sekia.events.linear").await.unwrap();
    let agent = start(
        &bus,
        "linear-ops",
        c,
        API_KEY,
        AuthScheme::Raw,
        &dir.path().join("s.db"),
    )
    .await;
    let e = next_event(&mut events, of_type("linear.issue.created")).await;
    assert_eq!(e.payload["id"], Value::String(ops));
    assert_eq!(e.payload["account"], "linear-ops");
    let e = next_event(&mut events, of_type("linear.comment.created")).await;
    assert_eq!(e.payload["body"], "not ours either");
    agent.stop().await;
}

struct Commands {
    fake: FakeLinear,
    bus: LocalBus,
    results: Subscription,
    agent: LinearAgent,
    _dir: tempfile::TempDir,
}

async fn commands_agent(token: &str, scheme: AuthScheme) -> Commands {
    let fake = FakeLinear::start().await;
    fake.with(|s| {
        s.teams.insert("team-eng".into(), "ENG".into());
    });
    let bus = LocalBus::new();
    let results = bus.subscribe("sekia.events.sekia").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let agent = start(
        &bus,
        "linear-work",
        config(&fake, false),
        token,
        scheme,
        &dir.path().join("s.db"),
    )
    .await;
    Commands {
        fake,
        bus,
        results,
        agent,
        _dir: dir,
    }
}

impl Commands {
    async fn run(&mut self, name: &str, args: Value) -> Event {
        command(&self.bus, &mut self.results, "linear-work", name, args).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_issue_sends_the_mutation_with_the_api_key() {
    let mut env = commands_agent(API_KEY, AuthScheme::Raw).await;
    let r = env
        .run(
            "create_issue",
            json!({"team_id": "team-eng", "title": "Crash", "description": "It crashes"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    assert_eq!(r.payload["command"], "create_issue");
    assert_eq!(r.payload["account"], "linear-work");
    let sent = env.fake.requests("IssueCreate");
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert_eq!(req.headers["authorization"], API_KEY);
    assert_eq!(req.headers["content-type"], "application/json");
    let q = req.body["query"].as_str().unwrap();
    assert!(q.starts_with("mutation IssueCreate($input: IssueCreateInput!)"));
    assert!(q.contains("issueCreate(input: $input) { success"));
    assert_eq!(
        req.body["variables"],
        json!({"input": {"teamId": "team-eng", "title": "Crash", "description": "It crashes"}})
    );
    assert_eq!(env.fake.with(|s| s.issues.len()), 1);
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_commands_with_an_oauth_token() {
    let mut env = commands_agent("oauth-token", AuthScheme::Bearer).await;
    let id = env.fake.with(|s| s.add_issue("ENG", "x"));

    let r = env
        .run(
            "update_issue",
            json!({"issue_id": id, "state_id": "st-done", "priority": 1.0}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let req = env.fake.requests("IssueUpdate").pop().unwrap();
    assert_eq!(req.headers["authorization"], "Bearer oauth-token");
    assert_eq!(
        req.body["variables"],
        json!({"id": id, "input": {"stateId": "st-done", "priority": 1}})
    );

    let r = env
        .run("create_comment", json!({"issue_id": id, "body": "On it"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let req = env.fake.requests("CommentCreate").pop().unwrap();
    assert_eq!(
        req.body["variables"],
        json!({"input": {"issueId": id, "body": "On it"}})
    );

    let r = env
        .run("add_label", json!({"issue_id": id, "label_id": "lbl-bug"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let req = env.fake.requests("IssueAddLabel").pop().unwrap();
    assert!(
        req.body["query"]
            .as_str()
            .unwrap()
            .contains("issueAddLabel(id: $id, labelId: $labelId)")
    );
    assert_eq!(
        req.body["variables"],
        json!({"id": id, "labelId": "lbl-bug"})
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_errors_and_unsuccessful_mutations_fail_with_linears_message() {
    let mut env = commands_agent(API_KEY, AuthScheme::Raw).await;
    let r = env
        .run(
            "create_comment",
            json!({"issue_id": "no-such-issue", "body": "hi"}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(r.payload["error"], "Entity not found: Issue");

    env.fake.script(
        "IssueAddLabel",
        Scripted {
            status: 200,
            headers: vec![],
            body: json!({"data": {"issueAddLabel": {"success": false, "issue": null}}}),
        },
    );
    let r = env
        .run("add_label", json!({"issue_id": "x", "label_id": "y"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert!(
        r.payload["error"]
            .as_str()
            .unwrap()
            .contains("success: false"),
        "{:?}",
        r.payload
    );

    // A refusal with HTTP 400 (how Linear answers a bad credential) carries the message too.
    env.fake.script(
        "IssueCreate",
        Scripted {
            status: 400,
            headers: vec![],
            body: json!({"errors": [{"message": "Authentication required, not authenticated",
                                     "extensions": {"code": "AUTHENTICATION_ERROR"}}]}),
        },
    );
    let r = env
        .run("create_issue", json!({"team_id": "team-eng", "title": "t"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "HTTP 400: Authentication required, not authenticated"
    );
    assert_eq!(
        env.fake.requests("IssueCreate").len(),
        1,
        "a 400 is not retried"
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let mut env = commands_agent(API_KEY, AuthScheme::Raw).await;
    let id = env.fake.with(|s| s.add_issue("ENG", "x"));
    env.fake.script(
        "IssueAddLabel",
        Scripted {
            status: 429,
            headers: vec![("retry-after".into(), "0".into())],
            body: json!({"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}),
        },
    );
    env.fake.script(
        "IssueAddLabel",
        Scripted {
            status: 502,
            headers: vec![],
            body: json!({"errors": [{"message": "Bad gateway"}]}),
        },
    );
    let r = env
        .run("add_label", json!({"issue_id": id, "label_id": "lbl"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let statuses: Vec<u16> = env
        .fake
        .requests("IssueAddLabel")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 502, 200]);
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linears_400_ratelimited_is_waited_out_and_creates_are_sent_once() {
    let mut env = commands_agent(API_KEY, AuthScheme::Raw).await;
    let id = env.fake.with(|s| s.add_issue("ENG", "x"));
    // Linear answers a rate limit with HTTP 400 and the code RATELIMITED.
    env.fake.script(
        "IssueAddLabel",
        Scripted {
            status: 400,
            headers: vec![],
            body: json!({"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}),
        },
    );
    let r = env
        .run("add_label", json!({"issue_id": id, "label_id": "lbl"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    assert_eq!(env.fake.requests("IssueAddLabel").len(), 2);
    // A 502 on commentCreate may have made the comment: not sent again.
    env.fake.script(
        "CommentCreate",
        Scripted {
            status: 502,
            headers: vec![],
            body: json!({"errors": [{"message": "Bad gateway"}]}),
        },
    );
    let r = env
        .run("create_comment", json!({"issue_id": id, "body": "hi"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "HTTP 502: Bad gateway (not sent again: the service may have carried it out)"
    );
    assert_eq!(env.fake.requests("CommentCreate").len(), 1);
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_named_and_never_sent() {
    let mut env = commands_agent(API_KEY, AuthScheme::Raw).await;
    let cases = [
        (
            "create_issue",
            json!({"title": "t"}),
            "missing required field: team_id",
        ),
        (
            "create_issue",
            json!({"team_id": 5, "title": "t"}),
            "team_id must be a string",
        ),
        (
            "create_issue",
            json!({"team_id": "team-eng", "title": "t", "description": []}),
            "description must be a string",
        ),
        (
            "update_issue",
            json!({"issue_id": "x"}),
            "needs at least one of state_id, assignee_id, priority",
        ),
        (
            "update_issue",
            json!({"issue_id": "x", "priority": "high"}),
            "priority must be a number",
        ),
        (
            "update_issue",
            json!({"issue_id": "x", "priority": 7}),
            "priority: must be 0",
        ),
        (
            "create_comment",
            json!({"issue_id": "x"}),
            "missing required field: body",
        ),
        (
            "add_label",
            json!({"issue_id": "x"}),
            "missing required field: label_id",
        ),
        ("close_issue", json!({}), "unknown command: close_issue"),
    ];
    for (name, args, want) in cases {
        let r = env.run(name, args).await;
        assert_eq!(r.event_type, "command.failed");
        let error = r.payload["error"].as_str().unwrap();
        assert!(error.contains(want), "{name}: {error:?} lacks {want:?}");
    }
    assert!(env.fake.with(|s| s.requests.is_empty()));
    env.agent.stop().await;
}
