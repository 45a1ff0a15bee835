//! The example workflows in the top-level `workflows/` folder: each one loads,
//! and does exactly what its comments promise for realistic connector events
//! (payload shapes from sekia's GitHub, Slack, Linear and Google agents).
//! Together they use every function of the `sekia` API.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use sekia_bus::Bus;
use sekia_protocol::{Command, Event, Payload};
use sekia_workflow::ai::{AiError, AiRequest, Llm};
use sekia_workflow::{DryRunReport, LogLevel, Output, dry_run};

use common::Harness;

const EXAMPLES: [&str; 7] = [
    "calendar-reminder.lua",
    "cross-service-tracker.lua",
    "github-auto-label.lua",
    "gmail-triage-ai.lua",
    "linear-triage.lua",
    "scheduled-digest.lua",
    "slack-auto-reply.lua",
];

fn workflows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

fn source(file: &str) -> String {
    let path = workflows_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn event(event_type: &str, source: &str, payload: Value) -> Event {
    let p: Payload = serde_json::from_value(payload).expect("payload must be an object");
    Event::new(event_type, source, p, 1_700_000_000)
}

/// Dry-runs `file` on `ev` and asserts that it loaded, matched and raised nothing.
async fn run(file: &str, ev: Event, ai_answer: Option<&str>) -> DryRunReport {
    let r = dry_run(&source(file), file, ev, ai_answer.map(str::to_owned)).await;
    assert!(r.load_error.is_none(), "{file}: {:?}", r.load_error);
    assert!(
        r.handler_errors.is_empty(),
        "{file}: {:?}",
        r.handler_errors
    );
    assert!(r.matched, "{file}: no handler matched {}", r.subject);
    r
}

/// `(agent, command, payload)` of every command, in order; also checks the
/// subject and the source of each.
fn commands(r: &DryRunReport, workflow: &str) -> Vec<(String, String, Value)> {
    r.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Command {
                agent,
                subject,
                command,
            } => {
                assert_eq!(subject, &format!("sekia.commands.{agent}"));
                assert_eq!(command.source, format!("workflow:{workflow}"));
                assert!(command.signature.is_empty(), "dry runs have no secret");
                Some((
                    agent.clone(),
                    command.command.clone(),
                    Value::Object(command.payload.clone().unwrap_or_default()),
                ))
            }
            _ => None,
        })
        .collect()
}

fn cmd(agent: &str, command: &str, payload: Value) -> (String, String, Value) {
    (agent.to_owned(), command.to_owned(), payload)
}

/// `(subject, event)` of every publish.
fn publishes(r: &DryRunReport) -> Vec<(String, Event)> {
    r.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Publish { subject, event } => Some((subject.clone(), event.clone())),
            _ => None,
        })
        .collect()
}

fn logs(r: &DryRunReport) -> Vec<(LogLevel, String)> {
    r.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Log { level, message } => Some((*level, message.clone())),
            _ => None,
        })
        .collect()
}

fn log(level: LogLevel, msg: &str) -> (LogLevel, String) {
    (level, msg.to_owned())
}

// ---------------------------------------------------------------------------
// Every file loads; the folder holds exactly the tested templates.
// ---------------------------------------------------------------------------

#[test]
fn folder_holds_exactly_the_tested_examples() {
    let mut found: Vec<String> = std::fs::read_dir(workflows_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lua"))
        .collect();
    found.sort();
    assert_eq!(found, EXAMPLES, "add a test for every new template");
    assert!(workflows_dir().join("README.md").is_file());
}

#[tokio::test]
async fn every_example_loads_and_ignores_unrelated_events() {
    for file in EXAMPLES {
        let r = dry_run(
            &source(file),
            file,
            event("test.event", "test", json!({"x": 1})),
            None,
        )
        .await;
        assert!(r.load_error.is_none(), "{file}: {:?}", r.load_error);
        assert!(
            r.handler_errors.is_empty(),
            "{file}: {:?}",
            r.handler_errors
        );
        assert!(
            commands(&r, file.trim_end_matches(".lua")).is_empty(),
            "{file}"
        );
        assert!(publishes(&r).is_empty(), "{file}");
        // Only the digest listens to everything (sekia.events.>).
        assert_eq!(r.matched, file == "scheduled-digest.lua", "{file}");
    }
}

// ---------------------------------------------------------------------------
// API coverage: the templates together use every function of the API.
// ---------------------------------------------------------------------------

/// The source without `--` comments (the templates keep "--" out of strings).
fn code_only(src: &str) -> String {
    src.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `needle` occurs and is not the tail of a longer identifier (`sprint(`).
fn uses(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(i, _)| {
        needle.starts_with(':')
            || code[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
    })
}

#[test]
fn examples_use_every_api_function() {
    let all: String = EXAMPLES
        .iter()
        .map(|f| code_only(&source(f)))
        .collect::<Vec<_>>()
        .join("\n");
    let api = [
        "sekia.on(",
        "sekia.publish(",
        "sekia.command(",
        "sekia.log(",
        "sekia.name",
        "sekia.ai(",
        "sekia.ai_json(",
        "sekia.skill(",
        "sekia.conversation(",
        ":append(",
        ":reply(",
        ":history(",
        ":metadata(",
        "sekia.schedule(",
        "print(",
    ];
    let missing: Vec<&str> = api.into_iter().filter(|n| !uses(&all, n)).collect();
    assert!(
        missing.is_empty(),
        "API functions no example uses: {missing:?}"
    );
    // Only sekia's default agent names.
    for agent in [
        "github-agent",
        "slack-agent",
        "linear-agent",
        "google-agent",
    ] {
        assert!(all.contains(&format!("\"{agent}\"")), "{agent} unused");
    }
}

// ---------------------------------------------------------------------------
// github-auto-label.lua
// ---------------------------------------------------------------------------

fn github_issue(event_type: &str, title: &str, body: &str, labels: Value) -> Event {
    event(
        event_type,
        "github",
        json!({
            "owner": "acme", "repo": "widgets", "number": 42,
            "title": title, "body": body, "author": "octocat",
            "url": "https://github.com/acme/widgets/issues/42", "labels": labels,
        }),
    )
}

#[tokio::test]
async fn github_auto_label_labels_by_keyword_and_comments() {
    let r = run(
        "github-auto-label.lua",
        github_issue(
            "github.issue.opened",
            "App crashes on startup",
            "Feature request aside, the README says it should work.",
            json!([]),
        ),
        None,
    )
    .await;
    let key =
        |label: &str| json!({"owner": "acme", "repo": "widgets", "number": 42, "label": label});
    assert_eq!(
        commands(&r, "github-auto-label"),
        vec![
            cmd("github-agent", "add_label", key("bug")),
            cmd("github-agent", "add_label", key("enhancement")),
            cmd("github-agent", "add_label", key("documentation")),
            cmd(
                "github-agent",
                "create_comment",
                json!({
                    "owner": "acme", "repo": "widgets", "number": 42,
                    "body": "Thanks for the report, @octocat! I labelled this issue `bug`, \
                             `enhancement`, `documentation` based on its description. \
                             A maintainer will take a look soon.",
                })
            ),
        ]
    );
    assert!(publishes(&r).is_empty() && logs(&r).is_empty());
}

#[tokio::test]
async fn github_auto_label_skips_existing_labels_and_partial_words() {
    // "Terrorising" must not count as "error": only `documentation` (typo).
    let r = run(
        "github-auto-label.lua",
        github_issue("github.issue.opened", "Terrorising typo", "", json!([])),
        None,
    )
    .await;
    let c = commands(&r, "github-auto-label");
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].1, "add_label");
    assert_eq!(c[0].2["label"], "documentation");
    assert_eq!(c[1].1, "create_comment");
    assert!(
        c[1].2["body"]
            .as_str()
            .unwrap()
            .contains("issue `documentation` based")
    );
    // Already labelled `bug` (by an issue template): nothing new, no fallback.
    let r = run(
        "github-auto-label.lua",
        github_issue("github.issue.opened", "Broken link", "", json!(["bug"])),
        None,
    )
    .await;
    assert!(r.outputs.is_empty(), "{:?}", r.outputs);
}

#[tokio::test]
async fn github_auto_label_falls_back_to_needs_triage() {
    let r = run(
        "github-auto-label.lua",
        github_issue(
            "github.issue.opened",
            "Weird colours",
            "The header is purple.",
            json!([]),
        ),
        None,
    )
    .await;
    assert_eq!(
        commands(&r, "github-auto-label"),
        vec![cmd(
            "github-agent",
            "add_label",
            json!({"owner": "acme", "repo": "widgets", "number": 42, "label": "needs-triage"})
        )]
    );
    // Other issue events are ignored.
    let r = run(
        "github-auto-label.lua",
        github_issue("github.issue.closed", "crash", "", json!([])),
        None,
    )
    .await;
    assert!(r.outputs.is_empty(), "{:?}", r.outputs);
}

// ---------------------------------------------------------------------------
// slack-auto-reply.lua
// ---------------------------------------------------------------------------

fn slack(event_type: &str, payload: Value) -> Event {
    event(event_type, "slack", payload)
}

#[tokio::test]
async fn slack_auto_reply_answers_mentions_in_a_new_thread() {
    let r = run(
        "slack-auto-reply.lua",
        slack(
            "slack.mention",
            json!({"channel": "C024BE91L", "user": "U0G9QF9C6",
                   "text": "<@U0SEKIABOT> how do I get VPN access?", "timestamp": "1700000000.000100"}),
        ),
        None,
    )
    .await;
    assert_eq!(
        commands(&r, "slack-auto-reply"),
        vec![
            cmd(
                "slack-agent",
                "add_reaction",
                json!({"channel": "C024BE91L", "timestamp": "1700000000.000100", "emoji": "eyes"})
            ),
            cmd(
                "slack-agent",
                "send_reply",
                json!({"channel": "C024BE91L", "thread_ts": "1700000000.000100",
                       "text": "<@U0G9QF9C6> VPN access: request it in #it-help with the `vpn-access` form; \
                                it is usually granted within a day."})
            ),
        ]
    );
    // A mention without a known keyword gets the help text.
    let r = run(
        "slack-auto-reply.lua",
        slack(
            "slack.mention",
            json!({"channel": "C1", "user": "U2", "text": "<@U0SEKIABOT> hi", "timestamp": "1.2"}),
        ),
        None,
    )
    .await;
    let c = commands(&r, "slack-auto-reply");
    assert_eq!(c.len(), 2);
    assert!(
        c[1].2["text"]
            .as_str()
            .unwrap()
            .starts_with("<@U2> Hi! I can help with")
    );
}

#[tokio::test]
async fn slack_auto_reply_answers_faq_messages_in_their_thread() {
    let r = run(
        "slack-auto-reply.lua",
        slack(
            "slack.message.received",
            json!({"channel": "C1", "user": "U2", "text": "Is the Deploy pipeline green?",
                   "timestamp": "1700000005.000200", "thread_ts": "1700000000.000100"}),
        ),
        None,
    )
    .await;
    let c = commands(&r, "slack-auto-reply");
    assert_eq!(
        c[0],
        cmd(
            "slack-agent",
            "add_reaction",
            json!({"channel": "C1", "timestamp": "1700000005.000200", "emoji": "bulb"})
        )
    );
    assert_eq!(c[1].1, "send_reply");
    assert_eq!(c[1].2["thread_ts"], "1700000000.000100");
    assert_eq!(c.len(), 2);
}

#[tokio::test]
async fn slack_auto_reply_ignores_bots_and_chatter() {
    for payload in [
        // The bot itself.
        json!({"channel": "C1", "user": "U0SEKIABOT", "text": "vpn", "timestamp": "1.1"}),
        // Another bot (a payload from a future agent or another workflow).
        json!({"channel": "C1", "user": "U9", "bot_id": "B1", "text": "vpn", "timestamp": "1.1"}),
        json!({"channel": "C1", "user": "U9", "subtype": "bot_message", "text": "vpn", "timestamp": "1.1"}),
        // No keyword, no mention.
        json!({"channel": "C1", "user": "U9", "text": "lunch?", "timestamp": "1.1"}),
    ] {
        let r = run(
            "slack-auto-reply.lua",
            slack("slack.message.received", payload.clone()),
            None,
        )
        .await;
        assert!(r.outputs.is_empty(), "{payload}: {:?}", r.outputs);
    }
    // Reactions are not messages.
    let r = run(
        "slack-auto-reply.lua",
        slack(
            "slack.reaction.added",
            json!({"user": "U9", "reaction": "tada", "channel": "C1", "timestamp": "1.1"}),
        ),
        None,
    )
    .await;
    assert!(r.outputs.is_empty());
}

// ---------------------------------------------------------------------------
// gmail-triage-ai.lua
// ---------------------------------------------------------------------------

fn gmail(subject: &str, labels: Value) -> Event {
    event(
        "gmail.message.received",
        "google",
        json!({
            "id": "18c1f2a3b4d5e6f7", "thread_id": "18c1f2a3b4d5e6f7",
            "message_id": "<CAF=abc@mail.gmail.com>",
            "from": "Ops <ops@example.com>", "to": "me@example.com",
            "subject": subject, "body": "The checkout service is returning 500s.",
            "snippet": "The checkout service is returning 500s & <rising>",
            "date": "Tue, 14 Nov 2023 22:13:20 +0000", "labels": labels,
        }),
    )
}

#[tokio::test]
async fn gmail_triage_stars_urgent_mail_and_alerts_slack() {
    let r = run(
        "gmail-triage-ai.lua",
        gmail("Prod is down", json!(["INBOX", "UNREAD"])),
        Some(r#"{"category": "urgent", "reason": "Production <checkout> is failing"}"#),
    )
    .await;
    assert_eq!(
        logs(&r),
        vec![log(
            LogLevel::Info,
            "gmail triage: \"Prod is down\" is urgent"
        )]
    );
    assert_eq!(
        commands(&r, "gmail-triage-ai"),
        vec![
            cmd(
                "google-agent",
                "add_label",
                json!({"message_id": "18c1f2a3b4d5e6f7", "label": "STARRED"})
            ),
            cmd(
                "slack-agent",
                "send_message",
                json!({
                    "channel": "#urgent-mail",
                    "text": "Urgent email from Ops &lt;ops@example.com&gt;: Prod is down",
                    "blocks": [
                        {"type": "header", "text": {"type": "plain_text", "text": ":rotating_light: Urgent email"}},
                        {"type": "section", "fields": [
                            {"type": "mrkdwn", "text": "*From:*\nOps &lt;ops@example.com&gt;"},
                            {"type": "mrkdwn", "text": "*Subject:*\nProd is down"},
                        ]},
                        {"type": "section", "text": {"type": "mrkdwn", "text": "*Why:* Production &lt;checkout&gt; is failing"}},
                        {"type": "context", "elements": [
                            {"type": "mrkdwn", "text": "The checkout service is returning 500s &amp; &lt;rising&gt;"},
                        ]},
                    ],
                })
            ),
        ]
    );
}

#[tokio::test]
async fn gmail_triage_archives_newsletters_and_leaves_normal_mail() {
    let r = run(
        "gmail-triage-ai.lua",
        gmail("This week in Rust", json!(["INBOX"])),
        Some(r#"{"category": "newsletter", "reason": "bulk mail"}"#),
    )
    .await;
    assert_eq!(
        commands(&r, "gmail-triage-ai"),
        vec![cmd(
            "google-agent",
            "archive",
            json!({"message_id": "18c1f2a3b4d5e6f7"})
        )]
    );
    let r = run(
        "gmail-triage-ai.lua",
        gmail("Lunch", json!(["INBOX"])),
        Some(r#"{"category": "normal", "reason": "chat"}"#),
    )
    .await;
    assert!(commands(&r, "gmail-triage-ai").is_empty());
    assert_eq!(
        logs(&r),
        vec![log(LogLevel::Info, "gmail triage: \"Lunch\" is normal")]
    );
}

#[tokio::test]
async fn gmail_triage_handles_ai_errors_without_acting() {
    let cases: [(Option<&str>, &str); 4] = [
        (
            None,
            "gmail triage skipped \"Prod is down\": AI not configured: add [ai] section to sekia.toml",
        ),
        (
            Some("not json"),
            "gmail triage skipped \"Prod is down\": AI returned invalid JSON",
        ),
        (
            Some("null"),
            "gmail triage skipped \"Prod is down\": AI returned null",
        ),
        (
            Some(r#"{"category": "spam"}"#),
            "gmail triage skipped \"Prod is down\": unexpected AI answer",
        ),
    ];
    for (answer, expected) in cases {
        let r = run(
            "gmail-triage-ai.lua",
            gmail("Prod is down", json!(["INBOX"])),
            answer,
        )
        .await;
        assert!(commands(&r, "gmail-triage-ai").is_empty(), "{answer:?}");
        let l = logs(&r);
        assert_eq!(l.len(), 1, "{answer:?}: {l:?}");
        assert_eq!(l[0].0, LogLevel::Warn);
        assert!(l[0].1.starts_with(expected), "{answer:?}: {}", l[0].1);
    }
    // Sent mail is never sent to the AI.
    let r = run(
        "gmail-triage-ai.lua",
        gmail("Re: hi", json!(["SENT"])),
        Some(r#"{"category": "urgent"}"#),
    )
    .await;
    assert!(r.outputs.is_empty());
}

// ---------------------------------------------------------------------------
// calendar-reminder.lua
// ---------------------------------------------------------------------------

#[tokio::test]
async fn calendar_reminder_posts_summary_and_start_time() {
    let r = run(
        "calendar-reminder.lua",
        event(
            "google.calendar.event.upcoming",
            "google",
            json!({
                "id": "evt123", "summary": "Sprint planning",
                "start": "2024-05-14T15:30:00+02:00", "end": "2024-05-14T16:30:00+02:00",
                "minutes_until": 10, "location": "Room 4",
                "html_link": "https://www.google.com/calendar/event?eid=abc",
                "calendar_id": "primary",
            }),
        ),
        None,
    )
    .await;
    assert_eq!(
        commands(&r, "calendar-reminder"),
        vec![cmd(
            "slack-agent",
            "send_message",
            json!({
                "channel": "#reminders",
                "text": ":calendar: *Sprint planning* starts in 10 minutes, at 15:30 (+02:00)\n\
                         Where: Room 4\n\
                         <https://www.google.com/calendar/event?eid=abc|Open in Google Calendar>",
            })
        )]
    );
    // Untitled, starting now, UTC, no location or link; other calendar events ignored.
    let r = run(
        "calendar-reminder.lua",
        event(
            "google.calendar.event.upcoming",
            "google",
            json!({"id": "e2", "summary": "", "start": "2024-05-14T00:00:00Z", "minutes_until": 0}),
        ),
        None,
    )
    .await;
    let c = commands(&r, "calendar-reminder");
    assert_eq!(
        c[0].2["text"],
        ":calendar: *(no title)* starts now, at 00:00 (UTC)"
    );
    let r = run(
        "calendar-reminder.lua",
        event(
            "google.calendar.event.created",
            "google",
            json!({"id": "e3"}),
        ),
        None,
    )
    .await;
    assert!(r.outputs.is_empty());
}

// ---------------------------------------------------------------------------
// linear-triage.lua
// ---------------------------------------------------------------------------

fn linear_issue(title: &str, priority: u32, labels: Value) -> Event {
    event(
        "linear.issue.created",
        "linear",
        json!({
            "id": "2f6b0c1e-7a4d-4e53-9b1a-0c7de1a2b3c4", "identifier": "ENG-42",
            "title": title, "state": "Triage", "priority": priority, "team": "ENG",
            "url": "https://linear.app/acme/issue/ENG-42", "labels": labels,
            "description": "Happens after the last release.",
        }),
    )
}

#[tokio::test]
async fn linear_triage_labels_comments_and_logs() {
    let r = run(
        "linear-triage.lua",
        linear_issue("Checkout crash, and it is slow", 0, json!([])),
        None,
    )
    .await;
    let issue = "2f6b0c1e-7a4d-4e53-9b1a-0c7de1a2b3c4";
    assert_eq!(
        commands(&r, "linear-triage"),
        vec![
            cmd(
                "linear-agent",
                "add_label",
                json!({"issue_id": issue, "label_id": "5c1f2a8e-0000-4000-8000-00000000b001"})
            ),
            cmd(
                "linear-agent",
                "add_label",
                json!({"issue_id": issue, "label_id": "5c1f2a8e-0000-4000-8000-00000000a003"})
            ),
            cmd(
                "linear-agent",
                "create_comment",
                json!({"issue_id": issue, "body": "Auto-triage: labelled Bug, Performance. \
                       This issue has no priority yet; please set one."})
            ),
        ]
    );
    assert_eq!(
        logs(&r),
        vec![log(
            LogLevel::Info,
            "linear triage: ENG-42 labelled [Bug, Performance]"
        )]
    );
}

#[tokio::test]
async fn linear_triage_leaves_triaged_issues_alone() {
    // Already labelled Bug, has a priority, nothing else matches.
    let r = run(
        "linear-triage.lua",
        linear_issue("Crash on login", 2, json!(["Bug"])),
        None,
    )
    .await;
    assert!(commands(&r, "linear-triage").is_empty());
    assert_eq!(
        logs(&r),
        vec![log(LogLevel::Info, "linear triage: ENG-42 needs nothing")]
    );
    // No keyword but no priority: only the nudge.
    let r = run(
        "linear-triage.lua",
        linear_issue("Tidy up", 0, json!([])),
        None,
    )
    .await;
    assert_eq!(
        commands(&r, "linear-triage"),
        vec![cmd(
            "linear-agent",
            "create_comment",
            json!({"issue_id": "2f6b0c1e-7a4d-4e53-9b1a-0c7de1a2b3c4",
                   "body": "Auto-triage: This issue has no priority yet; please set one."})
        )]
    );
}

// ---------------------------------------------------------------------------
// cross-service-tracker.lua
// ---------------------------------------------------------------------------

fn crash_issue() -> Event {
    github_issue(
        "github.issue.opened",
        "Segfault when saving",
        "The app crashed twice today.",
        json!([]),
    )
}

#[tokio::test]
async fn tracker_links_crash_reports_to_linear_and_slack() {
    let r = run(
        "cross-service-tracker.lua",
        crash_issue(),
        Some("Saving a file crashes the app."),
    )
    .await;
    assert!(logs(&r).is_empty(), "{:?}", logs(&r));
    assert_eq!(
        commands(&r, "cross-service-tracker"),
        vec![
            cmd(
                "linear-agent",
                "create_issue",
                json!({
                    "team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d",
                    "title": "[crash] Segfault when saving",
                    "description": "Saving a file crashes the app.\n\n\
                                    GitHub: https://github.com/acme/widgets/issues/42\n\
                                    Reported by @octocat",
                })
            ),
            cmd(
                "slack-agent",
                "send_message",
                json!({
                    "channel": "#incidents",
                    "text": ":boom: Crash reported in acme/widgets#42: \
                             <https://github.com/acme/widgets/issues/42|Segfault when saving>\n\
                             Saving a file crashes the app.\n\
                             A Linear issue is being created.",
                })
            ),
        ]
    );
    let p = publishes(&r);
    assert_eq!(p.len(), 1);
    let (subject, ev) = &p[0];
    assert_eq!(subject, "sekia.events.tracker");
    assert_eq!(ev.event_type, "tracker.linked");
    assert_eq!(ev.source, "workflow:cross-service-tracker");
    assert!(ev.id.starts_with("evt_"));
    assert_eq!(
        Value::Object(ev.payload.clone()),
        json!({
            "owner": "acme", "repo": "widgets", "number": 42,
            "url": "https://github.com/acme/widgets/issues/42",
            "title": "Segfault when saving",
            "summary": "Saving a file crashes the app.",
            "conversation": "github:acme/widgets:42",
        })
    );
    // Outputs in order: Linear, Slack, then the publish.
    assert!(matches!(r.outputs[2], Output::Publish { .. }));
}

#[tokio::test]
async fn tracker_without_ai_uses_the_title() {
    let r = run("cross-service-tracker.lua", crash_issue(), None).await;
    assert_eq!(
        logs(&r),
        vec![log(
            LogLevel::Info,
            "tracker: no AI summary (AI not configured: add [ai] section to sekia.toml), using the title"
        )]
    );
    let c = commands(&r, "cross-service-tracker");
    assert_eq!(c.len(), 2);
    assert!(
        c[0].2["description"]
            .as_str()
            .unwrap()
            .starts_with("Segfault when saving\n\nGitHub: ")
    );
    assert_eq!(
        publishes(&r)[0].1.payload["summary"],
        "Segfault when saving"
    );
}

#[tokio::test]
async fn tracker_ignores_other_issues_and_untracked_comments() {
    let r = run(
        "cross-service-tracker.lua",
        github_issue("github.issue.opened", "Dark mode", "Please.", json!([])),
        Some("x"),
    )
    .await;
    assert!(r.outputs.is_empty(), "{:?}", r.outputs);
    let comment = |issue_number: Option<u32>| {
        let mut p = json!({"owner": "acme", "repo": "widgets", "comment_id": "1234567",
                           "body": "Still crashing", "author": "hubot",
                           "url": "https://github.com/acme/widgets/issues/42#issuecomment-1234567"});
        if let Some(n) = issue_number {
            p["issue_number"] = json!(n);
        }
        event("github.comment.created", "github", p)
    };
    for ev in [comment(Some(42)), comment(None)] {
        let r = run("cross-service-tracker.lua", ev, None).await;
        assert!(r.outputs.is_empty(), "{:?}", r.outputs);
    }
}

async fn publish(bus: &sekia_bus::LocalBus, ev: &Event) {
    let bytes = sekia_protocol::json::to_vec(ev).unwrap();
    bus.publish(&format!("sekia.events.{}", ev.source), Bytes::from(bytes))
        .await
        .unwrap();
}

/// The conversation and its metadata persist across events in the engine: a
/// re-delivered "opened" event is not tracked twice.
#[tokio::test]
async fn tracker_tracks_each_issue_once_in_the_engine() {
    let file = "cross-service-tracker.lua";
    let mut h = Harness::start(&[(file, &source(file))], |_| {}).await;
    let mut linked = h.bus.subscribe("sekia.events.tracker").await.unwrap();
    publish(&h.bus, &crash_issue()).await;
    let (s, c) = h.next_command().await;
    assert_eq!(
        (s.as_str(), c.command.as_str()),
        ("sekia.commands.linear-agent", "create_issue")
    );
    let (s, c) = h.next_command().await;
    assert_eq!(
        (s.as_str(), c.command.as_str()),
        ("sekia.commands.slack-agent", "send_message")
    );
    let m = tokio::time::timeout(common::WAIT, linked.next())
        .await
        .unwrap()
        .unwrap();
    let ev: Event = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(ev.event_type, "tracker.linked");
    // Polling re-emits the same issue: nothing happens the second time.
    publish(&h.bus, &crash_issue()).await;
    h.no_command(Duration::from_millis(300)).await;
    let s = h
        .wait_status("cross-service-tracker", |s| s.info.events == 2)
        .await;
    assert_eq!(s.info.errors, 0, "{:?}", s.last_error);
    h.engine.shutdown().await;
}

// ---------------------------------------------------------------------------
// scheduled-digest.lua
// ---------------------------------------------------------------------------

#[tokio::test]
async fn digest_loads_its_schedule_and_counts_an_event() {
    let r = run(
        "scheduled-digest.lua",
        github_issue("github.issue.opened", "x", "", json!([])),
        Some("unused"),
    )
    .await;
    // The load-time print, then the handler's debug line; the digest itself
    // waits for the hourly schedule.
    assert_eq!(
        logs(&r),
        vec![
            log(
                LogLevel::Info,
                "scheduled-digest: posting a digest every 3600 seconds to #sekia-digest"
            ),
            log(
                LogLevel::Debug,
                "digest: counted github.issue.opened (1 this period)"
            ),
        ]
    );
    assert!(commands(&r, "scheduled-digest").is_empty());
    assert!(publishes(&r).is_empty());
}

/// Records what the digest asks the LLM and answers with a numbered summary.
#[derive(Default)]
struct RecordingLlm {
    requests: Mutex<Vec<AiRequest>>,
}

#[async_trait]
impl Llm for RecordingLlm {
    async fn complete(&self, req: AiRequest) -> Result<String, AiError> {
        let mut r = self.requests.lock().unwrap();
        r.push(req);
        Ok(format!("Summary #{}", r.len()))
    }
}

async fn next_command_within(h: &mut Harness, d: Duration) -> Command {
    let m = tokio::time::timeout(d, h.commands.next())
        .await
        .expect("no command in time")
        .unwrap();
    assert_eq!(m.subject.to_string(), "sekia.commands.slack-agent");
    serde_json::from_slice(&m.payload).unwrap()
}

/// The engine fires the hourly schedule (tokio's paused clock): the digest
/// counts the events, asks the LLM through the conversation with the skill's
/// instructions, posts the answer, and starts counting again.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn digest_schedule_posts_an_ai_digest_every_hour() {
    let skills = tempfile::tempdir().unwrap();
    std::fs::create_dir(skills.path().join("digest-writer")).unwrap();
    std::fs::write(
        skills.path().join("digest-writer/SKILL.md"),
        "---\nname: digest-writer\ndescription: Writes short activity digests\n---\n\
         Three bullet points at most.\n",
    )
    .unwrap();
    let llm = Arc::new(RecordingLlm::default());
    let file = "scheduled-digest.lua";
    let skills_dir = skills.path().to_owned();
    let mut h = Harness::start_with_llm(
        &[(file, &source(file))],
        move |c| c.skills_dir = Some(skills_dir),
        Some(llm.clone()),
    )
    .await;
    let start = tokio::time::Instant::now();
    for ev in [
        github_issue("github.issue.opened", "a", "", json!([])),
        slack(
            "slack.mention",
            json!({"channel": "C1", "user": "U2", "text": "hi", "timestamp": "1.1"}),
        ),
        github_issue("github.issue.opened", "b", "", json!([])),
    ] {
        publish(&h.bus, &ev).await;
    }
    let c = next_command_within(&mut h, Duration::from_secs(4000)).await;
    assert_eq!(start.elapsed().as_secs(), 3600);
    assert_eq!(c.command, "send_message");
    assert_eq!(
        Value::Object(c.payload.unwrap()),
        json!({"channel": "#sekia-digest", "text": "*sekia digest*\nSummary #1"})
    );
    {
        let reqs = llm.requests.lock().unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].messages.len(), 1);
        assert_eq!(reqs[0].messages[0].role, "user");
        assert_eq!(
            reqs[0].messages[0].content,
            "Three bullet points at most.\n\nSummarise this hour's sekia activity:\n\
             3 events in the last hour:\n2 × github.issue.opened\n1 × slack.mention"
        );
    }
    // An hour without events posts nothing; the next event is in a fresh count,
    // and the conversation carries the previous digest.
    tokio::time::sleep(Duration::from_secs(3700)).await;
    assert_eq!(llm.requests.lock().unwrap().len(), 1);
    publish(
        &h.bus,
        &event("linear.issue.created", "linear", json!({"id": "x"})),
    )
    .await;
    let c = next_command_within(&mut h, Duration::from_secs(4000)).await;
    assert_eq!(
        c.payload.unwrap()["text"],
        json!("*sekia digest*\nSummary #2")
    );
    {
        let reqs = llm.requests.lock().unwrap();
        let roles: Vec<&str> = reqs[1].messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(reqs[1].messages[1].content, "Summary #1");
        assert!(
            reqs[1].messages[2]
                .content
                .ends_with("1 event in the last hour:\n1 × linear.issue.created"),
            "{}",
            reqs[1].messages[2].content
        );
    }
    let s = h.status("scheduled-digest").unwrap();
    assert_eq!(s.info.errors, 0, "{:?}", s.last_error);
    h.engine.shutdown().await;
}

/// Without AI (and without the skill) the digest posts the raw counts.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn digest_schedule_without_ai_posts_the_counts() {
    let file = "scheduled-digest.lua";
    let mut h = Harness::start(&[(file, &source(file))], |_| {}).await;
    publish(
        &h.bus,
        &github_issue("github.issue.opened", "a", "", json!([])),
    )
    .await;
    let c = next_command_within(&mut h, Duration::from_secs(4000)).await;
    assert_eq!(
        c.payload.unwrap()["text"],
        json!("*sekia digest*\n1 event in the last hour:\n1 × github.issue.opened")
    );
    h.engine.shutdown().await;
}
