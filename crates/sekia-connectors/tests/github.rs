//! The GitHub connector end to end on a real LocalBus against a fake GitHub API.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sekia_bus::{Bus, LocalBus, Subscription};
use sekia_connectors::github::{self, GithubAgent, GithubAgentOptions, GithubConfig};
use sekia_connectors::{MemoryState, RetryPolicy, StaticToken};
use sekia_protocol::{Event, Registration, Secret, SystemClock};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const COMMAND_SECRET: &str = "cmd-secret";
const HOOK_SECRET: &str = "hook-secret";

struct Env {
    bus: LocalBus,
    fake: FakeGithub,
    agent: GithubAgent,
    events: Subscription,
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_wait: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(10),
    }
}

async fn setup(name: &str, tweak: impl FnOnce(&mut GithubConfig)) -> Env {
    let fake = FakeGithub::start().await;
    let bus = LocalBus::new();
    let events = bus.subscribe("sekia.events.>").await.unwrap();
    let mut config = GithubConfig::default();
    config.github.api_url = fake.url();
    config.webhook.listen = "127.0.0.1:0".into();
    config.webhook.secret = Secret::new(HOOK_SECRET);
    config.security.command_secret = Secret::new(COMMAND_SECRET);
    config.retry = fast_retry();
    tweak(&mut config);
    let agent = github::start(
        GithubAgentOptions {
            name: name.into(),
            bus: Arc::new(bus.clone()),
            tokens: Arc::new(StaticToken::new(Secret::new("test-token"))),
            state: Arc::new(MemoryState::new()),
            config,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    Env {
        bus,
        fake,
        agent,
        events,
    }
}

impl Env {
    fn hook_url(&self) -> String {
        format!("http://{}/webhook", self.agent.webhook_addr().unwrap())
    }

    /// Publishes `bytes` as a command and returns its result event.
    async fn command_bytes(&mut self, bytes: Vec<u8>) -> Event {
        let id = hex::encode(Sha256::digest(&bytes));
        let subject = format!("sekia.commands.{}", self.agent.name());
        self.bus.publish(&subject, bytes.into()).await.unwrap();
        next_event(&mut self.events, |e| {
            e.source == "sekia" && e.payload.get("command_id") == Some(&Value::String(id.clone()))
        })
        .await
    }

    async fn command(&mut self, name: &str, args: Value) -> Event {
        self.command_bytes(signed_command(name, args, COMMAND_SECRET))
            .await
    }
}

async fn deliver(
    url: &str,
    event: Option<&str>,
    delivery: &str,
    signature: Option<String>,
    body: &Value,
) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-github-delivery", delivery)
        .body(body);
    if let Some(e) = event {
        req = req.header("x-github-event", e);
    }
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn issues_opened() -> Value {
    json!({
        "action": "opened",
        "issue": {
            "number": 42, "title": "Crash on start", "body": "It crashes", "state": "open",
            "user": {"login": "alice"}, "html_url": "https://github.com/octo/hello/issues/42",
            "labels": [{"name": "bug"}]
        },
        "repository": {"name": "hello", "full_name": "octo/hello", "owner": {"login": "octo"}},
        "sender": {"login": "alice"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_like_a_sekia_agent() {
    let bus = LocalBus::new();
    let mut registry = bus.subscribe("sekia.registry").await.unwrap();
    let fake = FakeGithub::start().await;
    let mut config = GithubConfig::default();
    config.github.api_url = fake.url();
    config.webhook.listen = String::new();
    let agent = github::start(
        GithubAgentOptions {
            name: "github-work".into(),
            bus: Arc::new(bus.clone()),
            tokens: Arc::new(StaticToken::new(Secret::new("t"))),
            state: Arc::new(MemoryState::new()),
            config,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let m = tokio::time::timeout(
        Duration::from_secs(5),
        futures::StreamExt::next(&mut registry),
    )
    .await
    .unwrap()
    .unwrap();
    let reg: Registration = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(reg.name, "github-work");
    assert_eq!(reg.capabilities, vec!["github-api"]);
    assert_eq!(
        reg.commands,
        vec![
            "add_label",
            "remove_label",
            "create_comment",
            "close_issue",
            "reopen_issue",
            "approve_pr",
            "add_to_project"
        ]
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_becomes_a_sekia_event() {
    let mut env = setup("github-work", |_| {}).await;
    let body = issues_opened();
    let sig = github_signature(HOOK_SECRET, &serde_json::to_vec(&body).unwrap());
    let (status, answer) = deliver(&env.hook_url(), Some("issues"), "d-1", Some(sig), &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"status": "accepted"}));
    let e = next_event(&mut env.events, |e| e.event_type == "github.issue.opened").await;
    assert_eq!(e.source, "github");
    assert!(e.id.starts_with("evt_"));
    assert_eq!(
        Value::Object(e.payload),
        json!({
            "owner": "octo", "repo": "hello", "number": 42, "title": "Crash on start",
            "body": "It crashes", "author": "alice",
            "url": "https://github.com/octo/hello/issues/42", "labels": ["bug"],
            "account": "github-work"
        })
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refusals_and_duplicates() {
    let mut env = setup("github-work", |_| {}).await;
    let url = env.hook_url();
    let body = issues_opened();
    let bytes = serde_json::to_vec(&body).unwrap();
    let good = github_signature(HOOK_SECRET, &bytes);

    let (s, _) = deliver(
        &url,
        Some("issues"),
        "d-a",
        Some(github_signature("wrong", &bytes)),
        &body,
    )
    .await;
    assert_eq!(s, 401, "bad signature");
    let (s, _) = deliver(&url, Some("issues"), "d-b", None, &body).await;
    assert_eq!(s, 401, "missing signature");
    let (s, _) = deliver(&url, None, "d-c", Some(good.clone()), &body).await;
    assert_eq!(s, 400, "missing X-GitHub-Event");
    let (s, a) = deliver(
        &url,
        Some("ping"),
        "d-ping",
        Some(github_signature(HOOK_SECRET, b"{\"zen\":\"x\"}")),
        &json!({"zen": "x"}),
    )
    .await;
    assert_eq!((s, a), (200, json!({"status": "ignored"})));

    let (s, a) = deliver(&url, Some("issues"), "d-dup", Some(good.clone()), &body).await;
    assert_eq!((s, a), (200, json!({"status": "accepted"})));
    let (s, a) = deliver(&url, Some("issues"), "d-dup", Some(good.clone()), &body).await;
    assert_eq!((s, a), (200, json!({"status": "duplicate"})));
    let (s, _) = deliver(&url, Some("issues"), "d-other", Some(good), &body).await;
    assert_eq!(s, 200);

    let events = drain(&mut env.events, Duration::from_millis(300)).await;
    let opened: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "github.issue.opened")
        .collect();
    assert_eq!(opened.len(), 2, "one per distinct delivery: {events:?}");
    env.agent.stop().await;

    // No secret configured: refused whatever the signature.
    let env = setup("github-nosecret", |c| c.webhook.secret = Secret::default()).await;
    let (s, a) = deliver(
        &env.hook_url(),
        Some("issues"),
        "d-1",
        Some(github_signature("", &bytes)),
        &body,
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(a["error"], "webhook secret not configured");
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_command_reaches_github_and_reports_success() {
    let mut env = setup("github-work", |_| {}).await;
    let bytes = signed_command(
        "add_label",
        json!({"owner": "octo", "repo": "hello", "number": 42, "label": "bug"}),
        COMMAND_SECRET,
    );
    let result = env.command_bytes(bytes.clone()).await;
    assert_eq!(result.event_type, "command.succeeded", "{result:?}");
    assert_eq!(result.payload["agent"], "github-work");
    assert_eq!(result.payload["account"], "github-work");
    assert_eq!(result.payload["command"], "add_label");
    assert_eq!(result.payload["source"], "workflow:test");
    assert_eq!(
        result.payload["command_id"],
        hex::encode(Sha256::digest(&bytes))
    );
    assert!(result.payload["duration_ms"].is_u64());
    assert!(!result.payload.contains_key("error"));

    let reqs = env
        .fake
        .requests_to("POST", "/repos/octo/hello/issues/42/labels");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, json!(["bug"]));
    assert_eq!(reqs[0].headers["authorization"], "Bearer test-token");
    assert_eq!(reqs[0].headers["accept"], "application/vnd.github+json");
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_sends_the_documented_request() {
    let mut env = setup("github-work", |_| {}).await;
    let base = json!({"owner": "octo", "repo": "hello", "number": 7});
    let with = |extra: Value| {
        let mut v = base.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };

    let r = env
        .command("remove_label", with(json!({"label": "good first issue"})))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    assert_eq!(
        env.fake
            .requests_to(
                "DELETE",
                "/repos/octo/hello/issues/7/labels/good%20first%20issue"
            )
            .len(),
        1
    );

    let r = env
        .command("create_comment", with(json!({"body": "Thanks!"})))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let c = env
        .fake
        .requests_to("POST", "/repos/octo/hello/issues/7/comments");
    assert_eq!(c[0].body, json!({"body": "Thanks!"}));

    let r = env.command("close_issue", base.clone()).await;
    assert_eq!(r.event_type, "command.succeeded");
    let r = env.command("reopen_issue", base.clone()).await;
    assert_eq!(r.event_type, "command.succeeded");
    let p = env.fake.requests_to("PATCH", "/repos/octo/hello/issues/7");
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].body, json!({"state": "closed"}));
    assert_eq!(p[1].body, json!({"state": "open"}));

    // approve_pr twice: the second sees this account's approval and does nothing.
    let r = env
        .command("approve_pr", with(json!({"body": "LGTM"})))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let r = env.command("approve_pr", base.clone()).await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let posts = env
        .fake
        .requests_to("POST", "/repos/octo/hello/pulls/7/reviews");
    assert_eq!(posts.len(), 1, "approved once");
    assert_eq!(posts[0].body, json!({"event": "APPROVE", "body": "LGTM"}));
    assert_eq!(env.fake.requests_to("GET", "/user").len(), 2);

    let r = env
        .command(
            "add_to_project",
            with(json!({"project_id": "PVT_1", "fields": [
                {"field_id": "F_status", "single_select_option_id": "opt1"},
                {"field_id": "F_points", "number": 3}
            ]})),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let gql = env.fake.requests_to("POST", "/graphql");
    assert_eq!(gql.len(), 4);
    assert_eq!(
        gql[0].body["variables"],
        json!({"owner": "octo", "repo": "hello", "number": 7})
    );
    assert_eq!(
        gql[1].body["variables"],
        json!({"projectId": "PVT_1", "contentId": "PR_kwDOnode"})
    );
    assert_eq!(
        gql[2].body["variables"],
        json!({"projectId": "PVT_1", "itemId": "PVTI_item1", "fieldId": "F_status", "value": {"singleSelectOptionId": "opt1"}})
    );
    assert_eq!(gql[3].body["variables"]["value"], json!({"number": 3.0}));
    assert!(
        gql.iter()
            .all(|g| g.headers["authorization"] == "Bearer test-token")
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_retried_after_retry_after() {
    let mut env = setup("github-work", |_| {}).await;
    let path = "/repos/octo/hello/issues/1/labels";
    env.fake.script(
        "POST",
        path,
        Scripted {
            status: 429,
            headers: vec![("retry-after".into(), "1".into())],
            body: json!({"message": "API rate limit exceeded"}),
        },
    );
    env.fake.script(
        "POST",
        path,
        Scripted {
            status: 502,
            headers: vec![],
            body: json!({"message": "Server Error"}),
        },
    );
    let started = std::time::Instant::now();
    let r = env
        .command(
            "add_label",
            json!({"owner": "octo", "repo": "hello", "number": 1, "label": "x"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    let tries: Vec<u16> = env
        .fake
        .requests_to("POST", path)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(tries, vec![429, 502, 200]);
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_fail_at_once_with_githubs_message() {
    let mut env = setup("github-work", |_| {}).await;
    let r = env
        .command(
            "close_issue",
            json!({"owner": "octo", "repo": "missing", "number": 1}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(r.payload["error"], "HTTP 404: Not Found");
    assert_eq!(
        env.fake
            .requests_to("PATCH", "/repos/octo/missing/issues/1")
            .len(),
        1,
        "not retried"
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_name_the_field() {
    let mut env = setup("github-work", |_| {}).await;
    let r = env
        .command(
            "add_label",
            json!({"owner": "octo", "repo": "hello", "number": 1}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(r.payload["error"], "missing required field: label");
    let r = env
        .command(
            "add_label",
            json!({"owner": "octo", "repo": "hello", "number": "1", "label": "x"}),
        )
        .await;
    assert_eq!(r.payload["error"], "number must be a whole number");
    let r = env
        .command(
            "create_comment",
            json!({"owner": 5, "repo": "hello", "number": 1, "body": "x"}),
        )
        .await;
    assert_eq!(r.payload["error"], "owner must be a string");
    let r = env
        .command("add_to_project", json!({"owner": "octo", "repo": "hello", "number": 1, "project_id": "P", "fields": [{"text": "x"}]}))
        .await;
    assert_eq!(
        r.payload["error"],
        "missing required field: fields[0].field_id"
    );
    let r = env.command("merge_pr", json!({})).await;
    assert_eq!(r.payload["error"], "unknown command: merge_pr");
    assert!(env.fake.requests().is_empty(), "nothing sent to GitHub");
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_are_rejected() {
    let mut env = setup("github-work", |_| {}).await;
    let args = json!({"owner": "octo", "repo": "hello", "number": 1});
    let r = env
        .command_bytes(signed_command("close_issue", args.clone(), "other-secret"))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "rejected command: command signature is invalid"
    );
    let r = env
        .command_bytes(signed_command("close_issue", args, ""))
        .await;
    assert_eq!(
        r.payload["error"],
        "rejected command: command is not signed but a command secret is configured"
    );
    let r = env.command_bytes(b"not json".to_vec()).await;
    assert_eq!(r.event_type, "command.failed");
    assert!(
        r.payload["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid command message")
    );
    assert!(env.fake.requests().is_empty());
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_instances_are_told_apart() {
    let mut work = setup("github-work", |_| {}).await;
    let home = setup("github-home", |_| {}).await;
    // Same bus for both: start `home` again on work's bus.
    home.agent.stop().await;
    let mut config = GithubConfig::default();
    config.github.api_url = work.fake.url();
    config.webhook.listen = "127.0.0.1:0".into();
    config.webhook.secret = Secret::new(HOOK_SECRET);
    let home = github::start(
        GithubAgentOptions {
            name: "github-home".into(),
            bus: Arc::new(work.bus.clone()),
            tokens: Arc::new(StaticToken::new(Secret::new("home-token"))),
            state: Arc::new(MemoryState::new()),
            config,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let body = issues_opened();
    let sig = github_signature(HOOK_SECRET, &serde_json::to_vec(&body).unwrap());
    let url = format!("http://{}/webhook", home.webhook_addr().unwrap());
    deliver(&url, Some("issues"), "h-1", Some(sig), &body).await;
    let e = next_event(&mut work.events, |e| e.event_type == "github.issue.opened").await;
    assert_eq!(e.payload["account"], "github-home");
    // A command to github-home uses home's token; github-work is not involved.
    let bytes = serde_json::to_vec(&sekia_protocol::Command::new(
        "close_issue",
        payload(json!({"owner": "octo", "repo": "hello", "number": 3})),
        "workflow:test",
    ))
    .unwrap();
    let id = hex::encode(Sha256::digest(&bytes));
    work.bus
        .publish("sekia.commands.github-home", bytes.into())
        .await
        .unwrap();
    let r = next_event(&mut work.events, |e| {
        e.payload.get("command_id") == Some(&Value::String(id.clone()))
    })
    .await;
    assert_eq!(r.payload["agent"], "github-home");
    assert_eq!(
        r.event_type, "command.succeeded",
        "no secret on home: unsigned accepted"
    );
    let p = work.fake.requests_to("PATCH", "/repos/octo/hello/issues/3");
    assert_eq!(p[0].headers["authorization"], "Bearer home-token");
    home.stop().await;
    work.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_finishes_the_running_command_and_fails_the_queued_ones() {
    let mut env = setup("github-work", |_| {}).await;
    env.fake.with(|s| s.delay = Duration::from_secs(1));
    let mut ids = Vec::new();
    for n in 1..=3 {
        let bytes = signed_command(
            "close_issue",
            json!({"owner": "octo", "repo": "hello", "number": n}),
            COMMAND_SECRET,
        );
        ids.push(hex::encode(Sha256::digest(&bytes)));
        env.bus
            .publish("sekia.commands.github-work", bytes.into())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    env.agent.stop().await;
    let results = drain(&mut env.events, Duration::from_millis(200)).await;
    let outcome = |id: &String| {
        results
            .iter()
            .find(|e| e.payload.get("command_id") == Some(&Value::String(id.clone())))
            .map(|e| (e.event_type.clone(), e.payload.get("error").cloned()))
            .expect("every queued command has a result")
    };
    assert_eq!(outcome(&ids[0]), ("command.succeeded".into(), None));
    for id in &ids[1..] {
        assert_eq!(
            outcome(id),
            (
                "command.failed".into(),
                Some(json!("the agent stopped before running it"))
            )
        );
    }
    assert_eq!(
        env.fake.requests().len(),
        1,
        "queued commands were not started"
    );
}
