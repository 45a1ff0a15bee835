//! The `sekia` Lua API (inventory §7 item 12).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::Harness;
use futures::StreamExt;
use serde_json::json;

use sekia_bus::Bus;
use sekia_workflow::ai::{AiError, AiRequest, Llm};

/// Records requests and answers from a script.
struct MockLlm {
    answers: Mutex<Vec<Result<String, String>>>,
    requests: Mutex<Vec<AiRequest>>,
}

impl MockLlm {
    fn new(answers: Vec<Result<&str, &str>>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(
                answers
                    .into_iter()
                    .rev()
                    .map(|a| a.map(str::to_owned).map_err(str::to_owned))
                    .collect(),
            ),
            requests: Mutex::default(),
        })
    }
}

#[async_trait]
impl Llm for MockLlm {
    async fn complete(&self, req: AiRequest) -> Result<String, AiError> {
        self.requests.lock().unwrap().push(req);
        match self.answers.lock().unwrap().pop() {
            Some(Ok(a)) => Ok(a),
            Some(Err(e)) => Err(AiError::Http(e)),
            None => Err(AiError::Http("no answer".into())),
        }
    }
    fn default_system(&self) -> &str {
        "default system"
    }
}

fn on(subject: &str, body: &str) -> String {
    format!("sekia.on('{subject}', function(event)\n{body}\nend)\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_builds_a_sekia_event() {
    let src = on(
        "sekia.events.in",
        "sekia.publish('sekia.events.out', 'my.type', {a = 1, list = {1, 2}, name = sekia.name})",
    );
    let h = Harness::start(&[("pub.lua", &src)], |_| {}).await;
    let mut out = h.bus.subscribe("sekia.events.out").await.unwrap();
    h.publish("sekia.events.in", json!({})).await;
    let m = tokio::time::timeout(common::WAIT, out.next())
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["type"], "my.type");
    assert_eq!(v["source"], "workflow:pub");
    assert_eq!(v["payload"], json!({"a": 1, "list": [1, 2], "name": "pub"}));
    assert!(v["id"].as_str().unwrap().starts_with("evt_"));
    assert!(v["timestamp"].as_i64().unwrap() > 1_600_000_000);
    // First hop: the chain depth travels in the envelope, not the payload.
    assert_eq!(v["sekia_hops"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_raise() {
    let cases = [
        "sekia.publish('sekia.events.x', 't', {1, 2})",
        "sekia.publish('sekia.events.x', 't', 'nope')",
        "sekia.command('a', 'c', {1, 2})",
        "sekia.command('bad agent', 'c', {})",
        "sekia.on('sekia..events', function() end)",
        "sekia.on('sekia.events.x', 'not a function')",
        "sekia.ai({})",
        "sekia.log()",
        "sekia.conversation()",
    ];
    let files: Vec<(String, String)> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("c{i}.lua"), on(&format!("sekia.events.c{i}"), c)))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let llm = MockLlm::new(vec![]);
    let h = Harness::start_with_llm(&refs, |_| {}, Some(llm)).await;
    for i in 0..cases.len() {
        h.publish(&format!("sekia.events.c{i}"), json!({})).await;
    }
    for i in 0..cases.len() {
        h.wait_status(&format!("c{i}"), |s| s.info.errors == 1)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_and_print_go_to_tracing_without_error() {
    let src = on(
        "sekia.events.log",
        "sekia.log('WARN', 'w') sekia.log('bogus', 'i') print('a', 1, nil, true) sekia.command('t', 'done', {})",
    );
    let mut h = Harness::start(&[("log.lua", &src)], |_| {}).await;
    h.publish("sekia.events.log", json!({})).await;
    assert_eq!(h.next_command().await.1.command, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_success_options_and_errors() {
    let src = on(
        "sekia.events.ai",
        r#"
local a, e1 = sekia.ai("classify: " .. event.payload.title,
  {model = "custom-model", max_tokens = 256, temperature = 0.5, system = "be concise"})
local b, e2 = sekia.ai("second", {model = 42, temperature = -1})
sekia.command("t", "ai", {a = a, e1 = e1, b = b, e2 = e2})"#,
    );
    let llm = MockLlm::new(vec![Ok("bug"), Err("boom")]);
    let mut h = Harness::start_with_llm(&[("ai.lua", &src)], |_| {}, Some(llm.clone())).await;
    h.publish("sekia.events.ai", json!({"title": "crash"}))
        .await;
    let p = h.next_command().await.1.payload.unwrap();
    assert_eq!(
        serde_json::Value::Object(p),
        json!({"a": "bug", "e2": "AI request failed: boom"})
    );
    let reqs = llm.requests.lock().unwrap().clone();
    assert_eq!(reqs[0].messages[0].content, "classify: crash");
    assert_eq!(reqs[0].model.as_deref(), Some("custom-model"));
    assert_eq!(reqs[0].max_tokens, Some(256));
    assert_eq!(reqs[0].temperature, Some(0.5));
    assert_eq!(reqs[0].system, "be concise");
    // Wrong-typed options are ignored; negative temperature = config default.
    assert_eq!(reqs[1].model, None);
    assert_eq!(reqs[1].temperature, None);
    assert_eq!(reqs[1].system, "default system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_not_configured_returns_nil_and_message() {
    let src = on(
        "sekia.events.ai",
        r#"local a, e = sekia.ai("x") local j, je = sekia.ai_json("x")
local c = sekia.conversation("slack", "C1")
local r, re = c:reply("hi")
sekia.command("t", "ai", {a = a == nil, e = e, j = j == nil, je = je, r = r == nil, re = re})"#,
    );
    let mut h = Harness::start(&[("ai.lua", &src)], |_| {}).await;
    h.publish("sekia.events.ai", json!({})).await;
    let p = h.next_command().await.1.payload.unwrap();
    let msg = "AI not configured: add [ai] section to sekia.toml";
    assert_eq!(
        serde_json::Value::Object(p),
        json!({"a": true, "e": msg, "j": true, "je": msg, "r": true, "re": msg})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_json_parses_or_reports() {
    let src = on(
        "sekia.events.ai",
        r#"local v, e = sekia.ai_json("x")
local bad, be = sekia.ai_json("y")
local n, ne = sekia.ai_json("z")
sekia.command("t", "json", {label = v.label, items = v.items, bad = bad == nil, be = be, n = n == nil, ne = ne == nil})"#,
    );
    let llm = MockLlm::new(vec![
        Ok(r#"{"label":"bug","items":[1,null,3]}"#),
        Ok("not json"),
        Ok("null"),
    ]);
    let mut h = Harness::start_with_llm(&[("j.lua", &src)], |_| {}, Some(llm.clone())).await;
    h.publish("sekia.events.ai", json!({})).await;
    let p = serde_json::Value::Object(h.next_command().await.1.payload.unwrap());
    assert_eq!(p["label"], "bug");
    assert_eq!(p["items"], json!([1, null, 3]));
    assert_eq!(p["bad"], true);
    assert!(
        p["be"]
            .as_str()
            .unwrap()
            .starts_with("AI returned invalid JSON: ")
    );
    assert_eq!(p["n"], true);
    assert_eq!(p["ne"], true);
    let sys = &llm.requests.lock().unwrap()[0].system;
    assert_eq!(
        sys,
        "Respond with valid JSON only. No other text.\n\ndefault system"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_append_history_metadata_reply() {
    let src = on(
        "sekia.events.conv",
        r#"local c = sekia.conversation("slack", "C1", "T1")
c:append("user", "earlier")
c:metadata("topic", "billing")
local r, err = c:reply("hello")
local h = c:history()
local again = sekia.conversation("slack", "C1", "T1")
sekia.command("t", "conv", {r = r, n = #h, last = h[#h].content, role = h[#h].role,
  topic = again:metadata("topic"), unset = again:metadata("nope"), id = c.id})"#,
    );
    let llm = MockLlm::new(vec![Ok("hi there")]);
    let mut h = Harness::start_with_llm(&[("conv.lua", &src)], |_| {}, Some(llm.clone())).await;
    h.publish("sekia.events.conv", json!({})).await;
    let p = serde_json::Value::Object(h.next_command().await.1.payload.unwrap());
    assert_eq!(
        p,
        json!({"r": "hi there", "n": 3, "last": "hi there", "role": "assistant",
               "topic": "billing", "unset": "", "id": "slack:C1:T1"})
    );
    let reqs = llm.requests.lock().unwrap();
    assert_eq!(reqs[0].messages.len(), 2);
    assert_eq!(reqs[0].messages[1].content, "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_index_and_instructions_reach_the_script_and_prompt() {
    let skills = tempfile::tempdir().unwrap();
    let d = skills.path().join("triage");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(
        d.join("SKILL.md"),
        "---\nname: triage\ndescription: Sorts issues\n---\nSort them.",
    )
    .unwrap();
    std::fs::write(
        d.join("handler.lua"),
        "sekia.on('sekia.events.skill', function() sekia.command('t', 'skill', {name = sekia.name}) end)",
    )
    .unwrap();
    let src = on(
        "sekia.events.s",
        "local a = sekia.ai('x') sekia.command('t', 's', {body = sekia.skill('triage'), none = sekia.skill('nope')})",
    );
    let llm = MockLlm::new(vec![Ok("ok")]);
    let dir = skills.path().to_path_buf();
    let mut h = Harness::start_with_llm(
        &[("s.lua", &src)],
        move |c| c.skills_dir = Some(dir),
        Some(llm.clone()),
    )
    .await;
    assert_eq!(h.engine.count(), 2);
    h.publish("sekia.events.s", json!({})).await;
    let p = serde_json::Value::Object(h.next_command().await.1.payload.unwrap());
    assert_eq!(p, json!({"body": "Sort them.", "none": ""}));
    // The index is added without displacing the configured system prompt.
    assert_eq!(
        llm.requests.lock().unwrap()[0].system,
        "## Available Skills\n- **triage**: Sorts issues\n\ndefault system"
    );
    h.publish("sekia.events.skill", json!({})).await;
    let c = h.next_command().await.1;
    assert_eq!(c.source, "workflow:skill:triage");
    assert_eq!(c.payload.unwrap()["name"], "skill:triage");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn schedules_register_and_fire() {
    let src = r#"
ticks = 0
sekia.schedule(60, function() ticks = ticks + 1 sekia.command("t", "tick", {n = ticks}) end)
sekia.schedule(300, function() sekia.command("t", "slow", {}) end)
"#;
    let mut h = Harness::start(&[("s.lua", src)], |_| {}).await;
    let start = tokio::time::Instant::now();
    let mut next = async || {
        let m = tokio::time::timeout(Duration::from_secs(400), h.commands.next())
            .await
            .expect("no tick")
            .unwrap();
        let c: sekia_protocol::Command = serde_json::from_slice(&m.payload).unwrap();
        (c, start.elapsed().as_secs())
    };
    let (c, at) = next().await;
    assert_eq!(c.command, "tick");
    assert_eq!(c.payload.unwrap()["n"], 1);
    assert_eq!(at, 60);
    let mut names = Vec::new();
    for _ in 0..5 {
        names.push(next().await.0.command);
    }
    // Ticks 2..5 at 120..300 s, and the 300 s schedule once.
    assert_eq!(
        names.iter().filter(|n| *n == "slow").count(),
        1,
        "{names:?}"
    );
}
