//! The Slack connector end to end on a real LocalBus against a fake Slack
//! (Web API + Socket Mode WebSocket server).

mod common;
mod slack_common;

use std::sync::Arc;
use std::time::Duration;

use common::{drain, next_event, signed_command};
use sekia_bus::{Bus, LocalBus, Subscription};
use sekia_connectors::slack::{self, SlackAgent, SlackAgentOptions, SlackConfig};
use sekia_connectors::{MemoryState, RetryPolicy, StaticToken};
use sekia_protocol::{Event, Registration, Secret, SystemClock};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use slack_common::*;
use tokio_util::sync::CancellationToken;

const COMMAND_SECRET: &str = "cmd-secret";

struct Env {
    bus: LocalBus,
    fake: FakeSlack,
    agent: SlackAgent,
    events: Subscription,
}

fn test_config(fake: &FakeSlack) -> SlackConfig {
    let mut config = SlackConfig::default();
    config.slack.api_url = fake.api_url();
    config.security.command_secret = Secret::new(COMMAND_SECRET);
    config.retry = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_wait: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(10),
    };
    config.socket_mode.reconnect_base_delay = Duration::from_millis(20);
    config.socket_mode.reconnect_max_delay = Duration::from_millis(200);
    config
}

fn options(name: &str, bus: &LocalBus, bot: &str, config: SlackConfig) -> SlackAgentOptions {
    SlackAgentOptions {
        name: name.into(),
        bus: Arc::new(bus.clone()),
        bot_token: Arc::new(StaticToken::new(Secret::new(bot))),
        app_token: Arc::new(StaticToken::new(Secret::new(APP_TOKEN))),
        state: Arc::new(MemoryState::new()),
        config,
        clock: Arc::new(SystemClock),
    }
}

async fn setup(name: &str) -> (Env, SocketConn) {
    let fake = FakeSlack::start().await;
    let bus = LocalBus::new();
    let events = bus.subscribe("sekia.events.>").await.unwrap();
    let config = test_config(&fake);
    let agent = slack::start(
        options(name, &bus, BOT_TOKEN, config),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let conn = fake.next_connection().await;
    (
        Env {
            bus,
            fake,
            agent,
            events,
        },
        conn,
    )
}

impl Env {
    async fn command(&mut self, name: &str, args: Value) -> Event {
        let bytes = signed_command(name, args, COMMAND_SECRET);
        let id = hex::encode(Sha256::digest(&bytes));
        let subject = format!("sekia.commands.{}", self.agent.name());
        self.bus.publish(&subject, bytes.into()).await.unwrap();
        next_event(&mut self.events, |e| {
            e.source == "sekia" && e.payload.get("command_id") == Some(&Value::String(id.clone()))
        })
        .await
    }

    /// The next event from Slack (source `slack`).
    async fn slack_event(&mut self) -> Event {
        next_event(&mut self.events, |e| e.source == "slack").await
    }
}

fn message(channel: &str, user: &str, text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
        "team": "T1", "channel_type": "channel", "event_ts": ts,
        "blocks": [{"type": "rich_text", "block_id": "x", "elements": []}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_like_sekia_slack() {
    let fake = FakeSlack::start().await;
    let bus = LocalBus::new();
    let mut registry = bus.subscribe("sekia.registry").await.unwrap();
    let agent = slack::start(
        options("slack-work", &bus, BOT_TOKEN, test_config(&fake)),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let m = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut registry),
    )
    .await
    .unwrap()
    .unwrap();
    let reg: Registration = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(reg.name, "slack-work");
    assert_eq!(reg.capabilities, vec!["slack-socketmode", "slack-api"]);
    assert_eq!(
        reg.commands,
        vec![
            "send_message",
            "update_message",
            "add_reaction",
            "send_reply"
        ]
    );
    // auth.test with the bot token, then apps.connections.open with the app token.
    let _conn = fake.next_connection().await;
    let auth = fake.requests_to("auth.test");
    assert_eq!(auth.len(), 1);
    assert_eq!(
        auth[0].headers["authorization"],
        format!("Bearer {BOT_TOKEN}")
    );
    let open = fake.requests_to("apps.connections.open");
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].headers["authorization"],
        format!("Bearer {APP_TOKEN}")
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_event_then_send_message_command() {
    let (mut env, mut conn) = setup("slack-work").await;
    conn.deliver(events_api(
        "env-1",
        "Ev01",
        message("C123", "U1", "deploy please", "1700000000.000100"),
    ))
    .await;
    let e = env.slack_event().await;
    assert_eq!(e.event_type, "slack.message.received");
    assert!(e.id.starts_with("evt_"));
    assert_eq!(
        Value::Object(e.payload),
        json!({"channel": "C123", "user": "U1", "text": "deploy please",
               "timestamp": "1700000000.000100", "account": "slack-work"})
    );

    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy?*"}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "approve",
            "text": {"type": "plain_text", "text": "Approve"}, "value": "yes"}]}
    ]);
    let r = env
        .command(
            "send_message",
            json!({"channel": "C123", "text": "Deploy?", "blocks": blocks}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    assert_eq!(r.payload["agent"], "slack-work");
    assert_eq!(r.payload["command"], "send_message");
    let reqs = env.fake.requests_to("chat.postMessage");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(
        reqs[0].body,
        json!({"channel": "C123", "text": "Deploy?", "blocks": blocks})
    );
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {BOT_TOKEN}")
    );
    assert_eq!(
        reqs[0].headers["content-type"],
        "application/json; charset=utf-8"
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_sekias_events_and_ignores_its_own_messages() {
    let (mut env, mut conn) = setup("slack-work").await;

    // The bot's own post (as Slack echoes it): no event.
    let mut own = message("C1", BOT_USER, "I said this", "1.0");
    own["bot_id"] = BOT_ID.into();
    conn.deliver(events_api("e1", "Ev1", own)).await;

    // A mention as `message` and as `app_mention`: one slack.mention.
    let text = format!("<@{BOT_USER}> status?");
    conn.deliver(events_api("e2", "Ev2", message("C1", "U2", &text, "2.0")))
        .await;
    let mut am = message("C1", "U2", &text, "2.0");
    am["type"] = "app_mention".into();
    conn.deliver(events_api("e3", "Ev3", am)).await;
    let e = env.slack_event().await;
    assert_eq!(e.event_type, "slack.mention");
    assert_eq!(e.payload["user"], "U2");
    assert_eq!(e.payload["text"], text.as_str());

    // app_mention alone (an app subscribed to app_mention only), in a thread.
    let mut am = message("C1", "U3", "<@UBOT> in thread", "3.0");
    am["type"] = "app_mention".into();
    am["thread_ts"] = "2.0".into();
    conn.deliver(events_api("e4", "Ev4", am)).await;
    let e = env.slack_event().await;
    assert_eq!(e.event_type, "slack.mention");
    assert_eq!(
        Value::Object(e.payload),
        json!({"channel": "C1", "user": "U3", "text": "<@UBOT> in thread", "timestamp": "3.0",
               "thread_ts": "2.0", "account": "slack-work"})
    );

    conn.deliver(events_api(
        "e5",
        "Ev5",
        json!({"type": "reaction_added", "user": "U4", "reaction": "thumbsup",
               "item": {"type": "message", "channel": "C1", "ts": "2.0"},
               "item_user": "U2", "event_ts": "5.0"}),
    ))
    .await;
    let e = env.slack_event().await;
    assert_eq!(e.event_type, "slack.reaction.added");
    assert_eq!(
        Value::Object(e.payload),
        json!({"user": "U4", "reaction": "thumbsup", "channel": "C1", "timestamp": "2.0",
               "account": "slack-work"})
    );

    conn.deliver(events_api(
        "e6",
        "Ev6",
        json!({"type": "channel_created",
               "channel": {"id": "C9", "name": "incidents", "created": 1700000000, "creator": "U5"}}),
    ))
    .await;
    let e = env.slack_event().await;
    assert_eq!(e.event_type, "slack.channel.created");
    assert_eq!(
        Value::Object(e.payload),
        json!({"channel_id": "C9", "channel_name": "incidents", "creator": "U5",
               "account": "slack-work"})
    );

    conn.deliver(json!({
        "envelope_id": "e7",
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": {
            "type": "block_actions",
            "user": {"id": "U6", "username": "dana", "name": "dana", "team_id": "T1"},
            "api_app_id": "A1",
            "container": {"type": "message", "message_ts": "7.0", "channel_id": "C1", "is_ephemeral": false},
            "trigger_id": "123.456.abc",
            "team": {"id": "T1", "domain": "fake"},
            "channel": {"id": "C1", "name": "general"},
            "message": {"type": "message", "text": "Deploy?", "ts": "7.0", "user": BOT_USER},
            "actions": [{"action_id": "approve", "block_id": "b1", "type": "button", "value": "yes",
                         "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "8.0"}]
        }
    }))
    .await;
    let e = env.slack_event().await;
    assert_eq!(e.event_type, "slack.action.button_clicked");
    assert_eq!(
        Value::Object(e.payload),
        json!({"action_id": "approve", "value": "yes", "block_id": "b1", "action_type": "button",
               "user": "U6", "user_name": "dana", "channel": "C1", "message_ts": "7.0",
               "trigger_id": "123.456.abc", "message_text": "Deploy?", "account": "slack-work"})
    );

    // Nothing else came out (the own post and the second mention were dropped).
    let rest: Vec<Event> = drain(&mut env.events, Duration::from_millis(300))
        .await
        .into_iter()
        .filter(|e| e.source == "slack")
        .collect();
    assert!(rest.is_empty(), "{rest:?}");
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_on_disconnect_and_on_a_dropped_link() {
    let (mut env, conn) = setup("slack-work").await;
    assert_eq!(conn.ticket, "t1");
    conn.send(json!({"type": "disconnect", "reason": "refresh_requested",
                     "debug_info": {"host": "applink-fake"}}));
    let mut conn2 = env.fake.next_connection().await;
    assert_eq!(conn2.ticket, "t2");
    assert_eq!(env.fake.requests_to("apps.connections.open").len(), 2);
    // auth.test is not repeated: the bot's identity does not change.
    assert_eq!(env.fake.requests_to("auth.test").len(), 1);
    conn2
        .deliver(events_api(
            "e1",
            "Ev1",
            message("C1", "U1", "after refresh", "1.0"),
        ))
        .await;
    let e = env.slack_event().await;
    assert_eq!(e.payload["text"], "after refresh");

    conn2.drop_link();
    let mut conn3 = env.fake.next_connection().await;
    assert_eq!(conn3.ticket, "t3");
    conn3
        .deliver(events_api(
            "e2",
            "Ev2",
            message("C1", "U1", "after a drop", "2.0"),
        ))
        .await;
    let e = env.slack_event().await;
    assert_eq!(e.payload["text"], "after a drop");
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_commands_send_slacks_requests() {
    let (mut env, _conn) = setup("slack-work").await;
    let r = env
        .command(
            "update_message",
            json!({"channel": "C1", "timestamp": "1.5", "text": "Deployed"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let req = &env.fake.requests_to("chat.update")[0];
    assert_eq!(
        req.body,
        json!({"channel": "C1", "ts": "1.5", "text": "Deployed"})
    );

    let r = env
        .command(
            "add_reaction",
            json!({"channel": "C1", "timestamp": "1.5", "emoji": ":rocket:"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let req = &env.fake.requests_to("reactions.add")[0];
    assert_eq!(
        req.body,
        json!({"channel": "C1", "timestamp": "1.5", "name": "rocket"})
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {BOT_TOKEN}"));

    let r = env
        .command(
            "send_reply",
            json!({"channel": "C1", "thread_ts": "1.5", "text": "on it"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let req = &env.fake.requests_to("chat.postMessage")[0];
    assert_eq!(
        req.body,
        json!({"channel": "C1", "thread_ts": "1.5", "text": "on it"})
    );
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out() {
    let (mut env, _conn) = setup("slack-work").await;
    env.fake.script(
        "chat.postMessage",
        Scripted {
            status: 429,
            headers: vec![("retry-after".into(), "1".into())],
            body: json!({"ok": false, "error": "ratelimited"}),
        },
    );
    let started = std::time::Instant::now();
    let r = env
        .command("send_message", json!({"channel": "C1", "text": "hello"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    let reqs = env.fake.requests_to("chat.postMessage");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].status, 429);
    assert_eq!(reqs[1].status, 200);
    assert_eq!(reqs[1].body, json!({"channel": "C1", "text": "hello"}));
    // Retry-After: 1 was obeyed (the test backoff alone is 10 ms).
    assert!(started.elapsed() >= Duration::from_millis(900));
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_on_post_message_is_not_posted_twice() {
    let (mut env, _conn) = setup("slack-work").await;
    env.fake.script(
        "chat.postMessage",
        Scripted {
            status: 500,
            headers: vec![],
            body: json!({"ok": false, "error": "internal_error"}),
        },
    );
    let r = env
        .command("send_message", json!({"channel": "C1", "text": "hello"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    let error = r.payload["error"].as_str().unwrap();
    assert!(error.contains("internal_error"), "{error}");
    assert!(error.contains("not sent again"), "{error}");
    assert_eq!(env.fake.requests_to("chat.postMessage").len(), 1);
    // chat.update repeats harmlessly, so a 503 there is retried.
    env.fake.script(
        "chat.update",
        Scripted {
            status: 503,
            headers: vec![],
            body: json!({"ok": false, "error": "service_unavailable"}),
        },
    );
    let r = env
        .command(
            "update_message",
            json!({"channel": "C1", "timestamp": "1.0", "text": "edited"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{r:?}");
    assert_eq!(env.fake.requests_to("chat.update").len(), 2);
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_errors_and_field_errors_fail_the_command() {
    let (mut env, _conn) = setup("slack-work").await;
    let r = env
        .command("send_message", json!({"channel": "CMISSING", "text": "x"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "slack chat.postMessage: channel_not_found"
    );
    // Not retried: Slack's answer is final.
    assert_eq!(env.fake.requests_to("chat.postMessage").len(), 1);

    let r = env
        .command("send_message", json!({"text": "no channel"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(r.payload["error"], "missing required field: channel");

    let r = env
        .command("add_reaction", json!({"channel": "C1", "timestamp": "1.0"}))
        .await;
    assert_eq!(r.payload["error"], "missing required field: emoji");

    let r = env
        .command(
            "send_message",
            json!({"channel": "C1", "text": "x", "blocks": [{"text": "no type"}]}),
        )
        .await;
    assert_eq!(r.payload["error"], "missing required field: blocks[0].type");

    let r = env
        .command("send_reply", json!({"channel": "C1", "text": "x"}))
        .await;
    assert_eq!(r.payload["error"], "missing required field: thread_ts");
    // None of these reached Slack.
    assert_eq!(env.fake.requests_to("chat.postMessage").len(), 1);
    assert!(env.fake.requests_to("reactions.add").is_empty());
    env.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bot_token_fails_the_start_without_showing_it() {
    let fake = FakeSlack::start().await;
    let bus = LocalBus::new();
    let err = slack::start(
        options("slack-work", &bus, "xoxb-wrong-secret", test_config(&fake)),
        CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid_auth"), "{err}");
    assert!(!err.contains("wrong-secret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connection_open_is_retried_with_backoff() {
    let fake = FakeSlack::start().await;
    fake.script(
        "apps.connections.open",
        Scripted {
            status: 200,
            headers: Vec::new(),
            body: json!({"ok": false, "error": "internal_error"}),
        },
    );
    fake.script(
        "apps.connections.open",
        Scripted {
            status: 503,
            headers: Vec::new(),
            body: json!({"ok": false, "error": "service_unavailable"}),
        },
    );
    let bus = LocalBus::new();
    let mut events = bus.subscribe("sekia.events.>").await.unwrap();
    let mut config = test_config(&fake);
    // HTTP 503 is not retried inside the call here, so the session itself backs off.
    config.retry.max_retries = 0;
    let agent = slack::start(
        options("slack-work", &bus, BOT_TOKEN, config),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut conn = fake.next_connection().await;
    assert_eq!(conn.ticket, "t1");
    let opens = fake.requests_to("apps.connections.open");
    assert_eq!(
        opens.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 503, 200]
    );
    conn.deliver(events_api(
        "e1",
        "Ev1",
        message("C1", "U1", "finally", "1.0"),
    ))
    .await;
    let e = next_event(&mut events, |e| e.source == "slack").await;
    assert_eq!(e.payload["text"], "finally");
    agent.stop().await;
}
