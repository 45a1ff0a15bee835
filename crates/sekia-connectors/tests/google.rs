//! The Google connector end to end on a real LocalBus, with real SQLite state,
//! against a fake Gmail + Calendar API.

mod common;
mod google_common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{drain, next_event, signed_command};
use google_common::{FakeGoogle, NewMail};
use sekia_bus::{Bus, LocalBus, Subscription};
use sekia_connectors::google::{self, GoogleAgent, GoogleAgentOptions, GoogleConfig};
use sekia_connectors::{RetryPolicy, SqliteState, StateStore, StaticToken};
use sekia_protocol::{Clock, Event, ManualClock, Registration, Secret, SystemClock};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "cmd-secret";
/// 2030-01-01T09:00:00Z
const NINE: i64 = 1_893_488_400;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_wait: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(10),
    }
}

fn gmail_config(fake: &FakeGoogle, interval: Duration) -> GoogleConfig {
    let mut c = GoogleConfig::default();
    c.gmail.api_url = fake.url();
    c.gmail.poll_interval = interval;
    c.calendar.api_url = fake.calendar_url();
    c.security.command_secret = Secret::new(SECRET);
    c.retry = fast_retry();
    c
}

fn calendar_config(fake: &FakeGoogle, interval: Duration) -> GoogleConfig {
    let mut c = gmail_config(fake, interval);
    c.gmail.enabled = false;
    c.calendar.enabled = true;
    c.calendar.poll_interval = interval;
    c
}

struct Harness {
    bus: LocalBus,
    events: Subscription,
    state: Arc<dyn StateStore>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(SqliteState::open(dir.path().join("connectors.db")).unwrap());
        let bus = LocalBus::new();
        let events = bus.subscribe("sekia.events.>").await.unwrap();
        Self {
            bus,
            events,
            state,
            _dir: dir,
        }
    }

    /// A new agent over the same bus and the same SQLite file (a restart).
    async fn agent(&self, name: &str, config: GoogleConfig, clock: Arc<dyn Clock>) -> GoogleAgent {
        google::start(
            GoogleAgentOptions {
                name: name.into(),
                bus: Arc::new(self.bus.clone()),
                tokens: Arc::new(StaticToken::new(Secret::new("ya29.test-token"))),
                state: self.state.clone(),
                config,
                clock,
            },
            CancellationToken::new(),
        )
        .await
        .unwrap()
    }

    async fn command(&mut self, agent: &str, name: &str, args: Value) -> Event {
        let bytes = signed_command(name, args, SECRET);
        let id = hex::encode(Sha256::digest(&bytes));
        self.bus
            .publish(&format!("sekia.commands.{agent}"), bytes.into())
            .await
            .unwrap();
        next_event(&mut self.events, |e| {
            e.source == "sekia" && e.payload.get("command_id") == Some(&Value::String(id.clone()))
        })
        .await
    }

    /// The connector events that arrived by now (agents are stopped before this
    /// is called, so everything they published is already delivered).
    async fn google_events(&mut self) -> Vec<Event> {
        drain(&mut self.events, Duration::from_millis(300))
            .await
            .into_iter()
            .filter(|e| e.source == "google")
            .collect()
    }
}

fn ids(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.event_type,
                e.payload["id"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn mail<'a>(
    id: &'a str,
    from: &'a str,
    plain: Option<&'a str>,
    html: Option<&'a str>,
) -> NewMail<'a> {
    NewMail {
        id,
        thread_id: "t1",
        from,
        subject: "Quarterly report",
        plain,
        html,
        labels: &["INBOX", "UNREAD"],
        date: NINE,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_gmail_and_calendar_like_sekia() {
    let fake = FakeGoogle::start().await;
    let h = Harness::new().await;
    let mut registry = h.bus.subscribe("sekia.registry").await.unwrap();
    let mut config = calendar_config(&fake, Duration::from_secs(3600));
    config.gmail.enabled = true;
    let agent = h.agent("google-work", config, Arc::new(SystemClock)).await;
    let m = tokio::time::timeout(
        Duration::from_secs(5),
        futures::StreamExt::next(&mut registry),
    )
    .await
    .unwrap()
    .unwrap();
    let reg: Registration = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(reg.name, "google-work");
    assert_eq!(reg.capabilities, vec!["gmail-api", "calendar-api"]);
    assert_eq!(
        reg.commands,
        vec![
            "send_email",
            "reply_email",
            "add_label",
            "remove_label",
            "archive",
            "trash",
            "untrash",
            "delete",
            "create_event",
            "update_event",
            "delete_event"
        ]
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mail_becomes_events_and_restarts_repeat_and_lose_nothing() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    let mut config = gmail_config(&fake, Duration::from_secs(3600));
    config.gmail.max_messages = 2;
    fake.with(|s| s.add_mail(mail("m0", "old@example.com", Some("old"), None)));

    // First start: the watermark is set, old mail is not announced.
    let a = h
        .agent("google-work", config.clone(), Arc::new(SystemClock))
        .await;
    fake.wait_for("the profile", |s| {
        s.count("GET", "/gmail/v1/users/me/profile") == 1
    })
    .await;
    a.stop().await;
    assert!(h.google_events().await.is_empty());

    fake.with(|s| {
        s.add_mail(mail("m1", "Ann <ann@example.com>", Some("Hello Bob,\nsee attached."), Some("<p>ignored</p>")));
        s.add_mail(mail("m2", "news@example.com", None, Some("<html><head><style>p{}</style></head><body><p>Only <b>HTML</b> here</p><script>x()</script></body></html>")));
        s.add_mail(mail("m3", "carl@example.com", Some("third"), None));
    });

    // Second run: two messages (max_messages), then a stop in the middle of the backlog.
    let b = h
        .agent("google-work", config.clone(), Arc::new(SystemClock))
        .await;
    let e1 = next_event(&mut h.events, |e| e.event_type == "gmail.message.received").await;
    let e2 = next_event(&mut h.events, |e| e.event_type == "gmail.message.received").await;
    b.stop().await;
    assert!(
        h.google_events().await.is_empty(),
        "max_messages is 2 per poll"
    );
    assert_eq!(e1.source, "google");
    assert_eq!(
        Value::Object(e1.payload),
        json!({
            "id": "m1", "thread_id": "t1", "message_id": "<m1@mail.example.com>",
            "from": "Ann <ann@example.com>", "to": "me@example.com", "subject": "Quarterly report",
            "body": "Hello Bob,\nsee attached.", "snippet": "snippet of m1",
            "date": "Tue, 1 Jan 2030 09:00:00 +0000", "labels": ["INBOX", "UNREAD"],
            "account": "google-work"
        })
    );
    assert_eq!(e2.payload["id"], "m2");
    let body = e2.payload["body"].as_str().unwrap();
    assert!(body.contains("Only HTML here"), "{body:?}");
    assert!(!body.contains("x()") && !body.contains("p{}"), "{body:?}");

    // Third run continues with the rest; a fourth finds nothing new.
    let c = h
        .agent("google-work", config.clone(), Arc::new(SystemClock))
        .await;
    let e3 = next_event(&mut h.events, |e| e.event_type == "gmail.message.received").await;
    assert_eq!(e3.payload["id"], "m3");
    c.stop().await;
    let polls = fake.with(|s| s.count("GET", "/gmail/v1/users/me/history"));
    let d = h.agent("google-work", config, Arc::new(SystemClock)).await;
    fake.wait_for("a poll", |s| {
        s.count("GET", "/gmail/v1/users/me/history") > polls
    })
    .await;
    d.stop().await;
    assert!(h.google_events().await.is_empty());
    // Every history request carried the account's token.
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.authorization == "Bearer ya29.test-token")
    );
    let h1 = fake.requests_to("GET", "/gmail/v1/users/me/history");
    assert_eq!(h1[0].q("historyTypes"), Some("messageAdded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_applies_to_new_mail_and_sent_mail_is_not_received() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    let mut config = gmail_config(&fake, Duration::from_millis(100));
    config.gmail.query = "from:boss@example.com".into();
    let a = h.agent("google-work", config, Arc::new(SystemClock)).await;
    fake.wait_for("the profile", |s| {
        s.count("GET", "/gmail/v1/users/me/profile") == 1
    })
    .await;
    fake.with(|s| {
        s.add_mail(mail("other", "someone@example.com", Some("no"), None));
        s.add_mail(mail("boss", "Boss <boss@example.com>", Some("yes"), None));
        s.add_mail(NewMail {
            labels: &["SENT"],
            ..mail("mine", "boss@example.com", Some("sent by me"), None)
        });
    });
    let e = next_event(&mut h.events, |e| e.event_type == "gmail.message.received").await;
    assert_eq!(e.payload["id"], "boss");
    let polls = fake.with(|s| s.count("GET", "/gmail/v1/users/me/history"));
    fake.wait_for("more polls", |s| {
        s.count("GET", "/gmail/v1/users/me/history") > polls + 1
    })
    .await;
    a.stop().await;
    assert!(h.google_events().await.is_empty());
    let search = fake.requests_to("GET", "/gmail/v1/users/me/messages");
    let q = search[0].q("q").unwrap();
    assert_eq!(q, format!("(from:boss@example.com) after:{}", NINE - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_history_id_reseeds_without_old_mail() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    let a = h
        .agent(
            "google-work",
            gmail_config(&fake, Duration::from_millis(100)),
            Arc::new(SystemClock),
        )
        .await;
    fake.wait_for("the profile", |s| {
        s.count("GET", "/gmail/v1/users/me/profile") == 1
    })
    .await;
    fake.with(|s| {
        s.add_mail(mail("old1", "a@example.com", Some("old"), None));
        // Gmail forgets history older than this: the agent's history id is now invalid.
        s.history_expired_before = s.history_id;
    });
    fake.wait_for("a reseed", |s| {
        s.count("GET", "/gmail/v1/users/me/profile") == 2
    })
    .await;
    fake.with(|s| s.add_mail(mail("new1", "b@example.com", Some("new"), None)));
    let e = next_event(&mut h.events, |e| e.event_type == "gmail.message.received").await;
    assert_eq!(e.payload["id"], "new1");
    a.stop().await;
    assert!(h.google_events().await.is_empty());
    assert!(
        fake.requests_to("GET", "/gmail/v1/users/me/messages/old1")
            .is_empty()
    );
}

fn decode_raw(r: &google_common::Recorded) -> Vec<u8> {
    let raw = r.body["raw"].as_str().unwrap();
    base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_commands_make_the_documented_requests() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    fake.with(|s| s.add_mail(mail("m1", "ann@example.com", Some("hi"), None)));
    let agent = h
        .agent(
            "google-work",
            gmail_config(&fake, Duration::from_secs(3600)),
            Arc::new(ManualClock::new(NINE)),
        )
        .await;

    // send_email: From set, non-ASCII subject encoded, UTF-8 body.
    let r = h
        .command(
            "google-work",
            "send_email",
            json!({
                "to": "Ann Example <ann@example.com>, bob@example.com",
                "subject": "Grüße aus Köln",
                "body": "Hallo Ann,\nschöne Grüße ✓"
            }),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let sent = fake.requests_to("POST", "/gmail/v1/users/me/messages/send");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body.get("threadId"), None);
    let raw = decode_raw(&sent[0]);
    let text = String::from_utf8(raw.clone()).unwrap();
    let headers = &text[..text.find("\r\n\r\n").unwrap()];
    assert!(headers.is_ascii(), "headers must be encoded: {headers}");
    assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("Grüße aus Köln"));
    assert_eq!(
        parsed.from().unwrap().first().unwrap().address(),
        Some("me@example.com")
    );
    let to: Vec<_> = parsed
        .to()
        .unwrap()
        .iter()
        .map(|a| a.address().unwrap().to_owned())
        .collect();
    assert_eq!(to, vec!["ann@example.com", "bob@example.com"]);
    assert_eq!(
        parsed.body_text(0).unwrap().trim_end(),
        "Hallo Ann,\nschöne Grüße ✓"
    );
    assert_eq!(parsed.date().unwrap().to_timestamp(), NINE);

    // reply_email with in_reply_to: threading headers and threadId.
    let r = h
        .command(
            "google-work",
            "reply_email",
            json!({
                "thread_id": "t1", "to": "ann@example.com", "subject": "Re: hi",
                "body": "thanks", "in_reply_to": "<m1@mail.example.com>"
            }),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let sent = fake.requests_to("POST", "/gmail/v1/users/me/messages/send");
    assert_eq!(sent[1].body["threadId"], "t1");
    let raw = decode_raw(&sent[1]);
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.in_reply_to().as_text(), Some("m1@mail.example.com"));
    assert_eq!(parsed.references().as_text(), Some("m1@mail.example.com"));

    // reply_email without in_reply_to: threads under the thread's last message.
    let r = h
        .command(
            "google-work",
            "reply_email",
            json!({
                "thread_id": "t1", "to": "ann@example.com", "subject": "Re: hi", "body": "again"
            }),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let sent = fake.requests_to("POST", "/gmail/v1/users/me/messages/send");
    let text = String::from_utf8(decode_raw(&sent[2])).unwrap();
    assert!(
        text.contains("In-Reply-To: <m1@mail.example.com>"),
        "{text}"
    );
    assert!(
        text.contains("References: <root@mail.example.com> <m1@mail.example.com>"),
        "{text}"
    );

    // Labels by name and by id, archive, trash, untrash, delete.
    for (cmd, args) in [
        ("add_label", json!({"message_id": "m1", "label": "Work"})),
        (
            "remove_label",
            json!({"message_id": "m1", "label": "STARRED"}),
        ),
        ("archive", json!({"message_id": "m1"})),
        ("trash", json!({"message_id": "m1"})),
        ("untrash", json!({"message_id": "m1"})),
        ("delete", json!({"message_id": "m1"})),
    ] {
        let r = h.command("google-work", cmd, args).await;
        assert_eq!(r.event_type, "command.succeeded", "{cmd}: {:?}", r.payload);
    }
    let modify = fake.requests_to("POST", "/gmail/v1/users/me/messages/m1/modify");
    assert_eq!(
        modify[0].body,
        json!({"addLabelIds": ["Label_12"], "removeLabelIds": []})
    );
    assert_eq!(
        modify[1].body,
        json!({"addLabelIds": [], "removeLabelIds": ["STARRED"]})
    );
    assert_eq!(
        modify[2].body,
        json!({"addLabelIds": [], "removeLabelIds": ["INBOX"]})
    );
    assert_eq!(
        fake.count("POST", "/gmail/v1/users/me/messages/m1/trash"),
        1
    );
    assert_eq!(
        fake.count("POST", "/gmail/v1/users/me/messages/m1/untrash"),
        1
    );
    assert_eq!(fake.count("DELETE", "/gmail/v1/users/me/messages/m1"), 1);

    // An unknown label, and a Google error, fail clearly.
    let r = h
        .command(
            "google-work",
            "add_label",
            json!({"message_id": "m1", "label": "Nope"}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "label: no Gmail label has the id or name \"Nope\""
    );
    let r = h
        .command("google-work", "trash", json!({"message_id": "gone"}))
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "HTTP 404: Requested entity was not found."
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_retried_and_a_send_is_never_sent_twice() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    fake.with(|s| s.add_mail(mail("m1", "ann@example.com", Some("hi"), None)));
    let agent = h
        .agent(
            "google-work",
            gmail_config(&fake, Duration::from_secs(3600)),
            Arc::new(SystemClock),
        )
        .await;

    // Gmail's rate limit is a 403 with reason rateLimitExceeded: waited out, not a failure.
    let modify = "/gmail/v1/users/me/messages/m1/modify";
    fake.script(
        "POST",
        modify,
        403,
        json!({"error": {"code": 403, "message": "Rate Limit Exceeded", "status": "PERMISSION_DENIED",
            "errors": [{"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}]}}),
    );
    let r = h
        .command(
            "google-work",
            "add_label",
            json!({"message_id": "m1", "label": "Work"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    assert_eq!(fake.count("POST", modify), 2);

    // A 500 on messages.send may have sent the mail: it is not sent a second time.
    let send = "/gmail/v1/users/me/messages/send";
    fake.script(
        "POST",
        send,
        500,
        json!({"error": {"code": 500, "message": "Backend Error", "status": "INTERNAL"}}),
    );
    let r = h
        .command(
            "google-work",
            "send_email",
            json!({"to": "bob@example.com", "subject": "Hi", "body": "Hello"}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "HTTP 500: Backend Error (not sent again: the service may have carried it out)"
    );
    assert_eq!(fake.count("POST", send), 1);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_breaks_cannot_add_headers() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    let agent = h
        .agent(
            "google-work",
            gmail_config(&fake, Duration::from_secs(3600)),
            Arc::new(SystemClock),
        )
        .await;
    let r = h
        .command(
            "google-work",
            "send_email",
            json!({
                "to": "ann@example.com", "subject": "Hi\r\nBcc: evil@example.com", "body": "x"
            }),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    let err = r.payload["error"].as_str().unwrap();
    assert!(
        err.starts_with("subject: must not contain line breaks"),
        "{err}"
    );
    let r = h
        .command(
            "google-work",
            "send_email",
            json!({
                "to": "ann@example.com\nBcc: evil@example.com", "subject": "Hi", "body": "x"
            }),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert!(r.payload["error"].as_str().unwrap().starts_with("to: "));
    let r = h
        .command(
            "google-work",
            "reply_email",
            json!({
                "thread_id": "t1", "to": "ann@example.com", "subject": "Hi", "body": "x",
                "in_reply_to": "<a@b>\r\nBcc: evil@example.com"
            }),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert!(
        fake.requests_to("POST", "/gmail/v1/users/me/messages/send")
            .is_empty()
    );
    agent.stop().await;
}

fn timed(start: &str, end: &str) -> Value {
    json!({"start": {"dateTime": start}, "end": {"dateTime": end}})
}

fn with(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_changes_survive_restarts_and_resync_repeats_nothing() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    let clock = ManualClock::new(NINE);
    let config = calendar_config(&fake, Duration::from_secs(3600));
    let list = "/calendar/v3/calendars/primary/events";
    fake.with(|s| {
        s.put_event(
            "old",
            with(
                json!({"summary": "Standup"}),
                timed("2030-01-01T10:00:00Z", "2030-01-01T10:15:00Z"),
            ),
        );
        s.put_event(
            "day",
            with(
                json!({"summary": "Offsite"}),
                json!({"start": {"date": "2030-01-03"}, "end": {"date": "2030-01-04"}}),
            ),
        );
    });

    // First start: remembered, not announced.
    let a = h
        .agent("google-work", config.clone(), Arc::new(clock.clone()))
        .await;
    fake.wait_for("a sync", |s| s.count("GET", list) == 1).await;
    a.stop().await;
    assert!(h.google_events().await.is_empty());
    assert!(fake.requests_to("GET", list)[0].q("timeMin").is_some());

    clock.advance(Duration::from_secs(60));
    fake.with(|s| {
        s.put_event(
            "new",
            with(
                json!({
                    "summary": "Review", "description": "Q1", "location": "Room 4",
                    "created": "2030-01-01T09:00:30.000Z",
                    "attendees": [{"email": "ann@example.com", "responseStatus": "needsAction"}]
                }),
                timed("2030-01-02T14:00:00+01:00", "2030-01-02T15:00:00+01:00"),
            ),
        );
        s.put_event(
            "allday",
            with(
                json!({"summary": "Holiday", "created": "2030-01-01T09:00:40.000Z"}),
                json!({"start": {"date": "2030-01-05"}, "end": {"date": "2030-01-06"}}),
            ),
        );
        s.put_event("old", json!({"summary": "Standup (moved)"}));
    });
    let b = h
        .agent("google-work", config.clone(), Arc::new(clock.clone()))
        .await;
    fake.wait_for("an incremental sync", |s| s.count("GET", list) == 2)
        .await;
    b.stop().await;
    let got = h.google_events().await;
    let mut names = ids(&got);
    names.sort();
    assert_eq!(
        names,
        vec![
            "google.calendar.event.created allday",
            "google.calendar.event.created new",
            "google.calendar.event.updated old"
        ]
    );
    assert_eq!(
        fake.requests_to("GET", list)[1].q("syncToken"),
        Some("sync-2")
    );
    let new = got.iter().find(|e| e.payload["id"] == "new").unwrap();
    assert_eq!(
        Value::Object(new.payload.clone()),
        json!({
            "id": "new", "summary": "Review", "description": "Q1", "location": "Room 4",
            "start": "2030-01-02T14:00:00+01:00", "end": "2030-01-02T15:00:00+01:00",
            "status": "confirmed", "organizer": "boss@example.com", "attendees": ["ann@example.com"],
            "html_link": "https://www.google.com/calendar/event?eid=new", "calendar_id": "primary",
            "all_day": false, "account": "google-work"
        })
    );
    let allday = got.iter().find(|e| e.payload["id"] == "allday").unwrap();
    assert_eq!(allday.payload["start"], "2030-01-05T00:00:00Z");
    assert_eq!(allday.payload["all_day"], true);

    // The sync token expires (410): a full resync announces only what changed.
    clock.advance(Duration::from_secs(60));
    fake.with(|s| {
        s.cancel_event("new");
        s.put_event("old", json!({"summary": "Standup (moved again)"}));
        // B's token is older than these changes; the resync's own token is not.
        s.sync_expired_before = s.cal_seq;
    });
    let c = h
        .agent("google-work", config.clone(), Arc::new(clock.clone()))
        .await;
    fake.wait_for("a resync", |s| s.count("GET", list) == 4)
        .await;
    c.stop().await;
    let mut names = ids(&h.google_events().await);
    names.sort();
    assert_eq!(
        names,
        vec![
            "google.calendar.event.deleted new",
            "google.calendar.event.updated old"
        ]
    );
    let reqs = fake.requests_to("GET", list);
    assert!(reqs[2].q("syncToken").is_some() && reqs[3].q("syncToken").is_none());

    // Another restart: nothing new, nothing repeated.
    let d = h
        .agent("google-work", config, Arc::new(clock.clone()))
        .await;
    fake.wait_for("a sync", |s| s.count("GET", list) == 5).await;
    d.stop().await;
    assert!(h.google_events().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upcoming_fires_once_per_event() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    let clock = ManualClock::new(NINE);
    let mut config = calendar_config(&fake, Duration::from_millis(100));
    config.calendar.upcoming_mins = 15;
    fake.with(|s| {
        s.put_event(
            "soon",
            with(
                json!({"summary": "Call", "location": "Zoom"}),
                timed("2030-01-01T09:10:00Z", "2030-01-01T09:40:00Z"),
            ),
        );
        s.put_event(
            "later",
            with(
                json!({"summary": "Lunch"}),
                timed("2030-01-01T09:30:00Z", "2030-01-01T10:30:00Z"),
            ),
        );
    });
    let agent = h
        .agent("google-work", config, Arc::new(clock.clone()))
        .await;
    let e = next_event(&mut h.events, |e| {
        e.event_type == "google.calendar.event.upcoming"
    })
    .await;
    assert_eq!(
        Value::Object(e.payload),
        json!({
            "id": "soon", "summary": "Call", "start": "2030-01-01T09:10:00Z", "end": "2030-01-01T09:40:00Z",
            "minutes_until": 10, "location": "Zoom",
            "html_link": "https://www.google.com/calendar/event?eid=soon", "calendar_id": "primary",
            "account": "google-work"
        })
    );
    let window = |s: &google_common::FakeState| {
        s.requests
            .iter()
            .filter(|r| r.q("timeMax").is_some())
            .count()
    };
    let n = fake.with(|s| window(s));
    fake.wait_for("more polls", |s| window(s) >= n + 2).await;
    // Google's timeMax bounds the start exclusively: 16 minutes on, 09:30 is 14 minutes away.
    clock.advance(Duration::from_secs(16 * 60));
    let e = next_event(&mut h.events, |e| {
        e.event_type == "google.calendar.event.upcoming"
    })
    .await;
    assert_eq!(e.payload["id"], "later");
    assert_eq!(e.payload["minutes_until"], 14);
    let n = fake.with(|s| window(s));
    fake.wait_for("more polls", |s| window(s) >= n + 2).await;
    agent.stop().await;
    let rest: Vec<_> = h
        .google_events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "google.calendar.event.upcoming")
        .collect();
    assert!(rest.is_empty(), "{:?}", ids(&rest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_commands_and_a_gmail_only_account() {
    let fake = FakeGoogle::start().await;
    let mut h = Harness::new().await;
    fake.with(|s| s.put_event("ev1", timed("2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z")));
    let cal = h
        .agent(
            "google-cal",
            calendar_config(&fake, Duration::from_secs(3600)),
            Arc::new(ManualClock::new(NINE)),
        )
        .await;
    let events = "/calendar/v3/calendars/primary/events";

    let r = h
        .command(
            "google-cal",
            "create_event",
            json!({"summary": "Offsite", "start": "2030-02-01", "end": "2030-02-01"}),
        )
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let r = h
        .command("google-cal", "create_event", json!({
            "summary": "Review", "start": "2030-02-02T10:00:00+01:00", "end": "2030-02-02T11:00:00+01:00",
            "description": "Q1", "location": "Room 4", "attendees": ["ann@example.com"]
        }))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    let created = fake.requests_to("POST", events);
    assert_eq!(
        created[0].body,
        json!({"summary": "Offsite", "start": {"date": "2030-02-01"}, "end": {"date": "2030-02-02"}})
    );
    assert_eq!(
        created[1].body,
        json!({"summary": "Review", "start": {"dateTime": "2030-02-02T10:00:00+01:00"},
            "end": {"dateTime": "2030-02-02T11:00:00+01:00"}, "description": "Q1", "location": "Room 4",
            "attendees": [{"email": "ann@example.com"}]})
    );
    let r = h
        .command("google-cal", "update_event", json!({"event_id": "ev1", "summary": "Moved", "start": "2030-01-03", "end": "2030-01-03"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    assert_eq!(
        fake.requests_to("PATCH", &format!("{events}/ev1"))[0].body,
        json!({"summary": "Moved", "start": {"date": "2030-01-03"}, "end": {"date": "2030-01-04"}})
    );
    let r = h
        .command("google-cal", "delete_event", json!({"event_id": "ev1"}))
        .await;
    assert_eq!(r.event_type, "command.succeeded", "{:?}", r.payload);
    assert_eq!(fake.count("DELETE", &format!("{events}/ev1")), 1);
    let r = h
        .command(
            "google-cal",
            "create_event",
            json!({"summary": "x", "start": "soon", "end": "2030-02-01"}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert!(r.payload["error"].as_str().unwrap().starts_with("start: "));
    // A mail command to a calendar-only account.
    let r = h
        .command(
            "google-cal",
            "send_email",
            json!({"to": "a@example.com", "subject": "s", "body": "b"}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "send_email needs Gmail, which is not enabled for this account (gmail.enabled = false)"
    );
    cal.stop().await;

    // A calendar command to a gmail-only account: a clear failure, no request.
    let before = fake.requests().len();
    let mail = h
        .agent(
            "google-mail",
            gmail_config(&fake, Duration::from_secs(3600)),
            Arc::new(SystemClock),
        )
        .await;
    let r = h
        .command(
            "google-mail",
            "create_event",
            json!({"summary": "x", "start": "2030-02-01", "end": "2030-02-01"}),
        )
        .await;
    assert_eq!(r.event_type, "command.failed");
    assert_eq!(
        r.payload["error"],
        "create_event needs Google Calendar, which is not enabled for this account (calendar.enabled = false)"
    );
    mail.stop().await;
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| !r.path.starts_with("/calendar"))
    );
}
