//! Each LLM provider against a local server speaking its API shape
//! (inventory §7 item 21), plus the end-to-end `sekia.ai` path.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use sekia_workflow::ai::{AiRequest, ChatMessage, HttpLlm, Llm};
use sekia_workflow::{AiConfig, Provider};

#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
}

async fn serve(status: StatusCode, answer: Value, delay: Duration) -> (String, Seen) {
    let seen = Seen::default();
    let handler =
        move |State(s): State<Seen>, uri: axum::http::Uri, headers: HeaderMap, body: String| {
            let answer = answer.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                s.requests
                    .lock()
                    .unwrap()
                    .push((uri.path().to_owned(), headers, v));
                tokio::time::sleep(delay).await;
                (status, answer.to_string())
            }
        };
    let app = Router::new()
        .route("/{*path}", post(handler))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn req() -> AiRequest {
    AiRequest {
        messages: vec![ChatMessage {
            role: "user".into(),
            content: "hi".into(),
        }],
        system: "sys".into(),
        model: None,
        max_tokens: Some(256),
        temperature: Some(0.5),
    }
}

fn config(provider: Provider, key: &str, base: &str) -> AiConfig {
    let mut c = AiConfig::new(provider, key);
    c.base_url = Some(base.to_owned());
    c.model = "m1".into();
    c
}

#[tokio::test]
async fn anthropic_messages_api() {
    let (base, seen) = serve(
        StatusCode::OK,
        json!({"content": [{"type": "text", "text": "bug"}]}),
        Duration::ZERO,
    )
    .await;
    let llm = HttpLlm::new(config(Provider::Anthropic, "k-ant", &base)).unwrap();
    assert_eq!(llm.complete(req()).await.unwrap(), "bug");
    let (path, headers, body) = seen.requests.lock().unwrap()[0].clone();
    assert_eq!(path, "/v1/messages");
    assert_eq!(headers["x-api-key"], "k-ant");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        body,
        json!({"model": "m1", "max_tokens": 256, "temperature": 0.5, "system": "sys",
               "messages": [{"role": "user", "content": "hi"}]})
    );
}

#[tokio::test]
async fn openai_chat_completions() {
    let (base, seen) = serve(
        StatusCode::OK,
        json!({"choices": [{"message": {"role": "assistant", "content": "feature"}}]}),
        Duration::ZERO,
    )
    .await;
    let llm = HttpLlm::new(config(Provider::OpenAi, "k-oai", &format!("{base}/v1"))).unwrap();
    assert_eq!(llm.complete(req()).await.unwrap(), "feature");
    let (path, headers, body) = seen.requests.lock().unwrap()[0].clone();
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(headers["authorization"], "Bearer k-oai");
    assert_eq!(
        body,
        json!({"model": "m1", "max_tokens": 256, "temperature": 0.5,
               "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]})
    );
}

#[tokio::test]
async fn openai_compatible_without_key() {
    let (base, seen) = serve(
        StatusCode::OK,
        json!({"choices": [{"message": {"content": "local"}}]}),
        Duration::ZERO,
    )
    .await;
    let cfg = config(Provider::OpenAiCompatible, "", &format!("{base}/v1"));
    assert!(cfg.is_usable());
    let llm = HttpLlm::new(cfg).unwrap();
    let mut r = req();
    r.system.clear();
    assert_eq!(llm.complete(r).await.unwrap(), "local");
    let (path, headers, body) = seen.requests.lock().unwrap()[0].clone();
    assert_eq!(path, "/v1/chat/completions");
    assert!(headers.get("authorization").is_none());
    assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[tokio::test]
async fn api_errors_timeouts_and_empty_answers() {
    let (base, _) = serve(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": "slow down"}),
        Duration::ZERO,
    )
    .await;
    let llm = HttpLlm::new(config(Provider::Anthropic, "secret-key", &base)).unwrap();
    let e = llm.complete(req()).await.unwrap_err().to_string();
    assert!(e.starts_with("anthropic API error (status 429): "), "{e}");
    assert!(!e.contains("secret-key"));

    let (base, _) = serve(StatusCode::OK, json!({"content": []}), Duration::ZERO).await;
    let llm = HttpLlm::new(config(Provider::Anthropic, "k", &base)).unwrap();
    assert_eq!(
        llm.complete(req()).await.unwrap_err().to_string(),
        "anthropic API returned no content"
    );

    let (base, _) = serve(StatusCode::OK, json!({}), Duration::from_secs(5)).await;
    let mut cfg = config(Provider::OpenAi, "secret-key", &base);
    cfg.timeout = Duration::from_millis(200);
    let e = HttpLlm::new(cfg)
        .unwrap()
        .complete(req())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("timed out"), "{e}");
    assert!(!e.contains("secret-key"));
}

#[test]
fn provider_names_parse() {
    assert_eq!(Provider::parse("Anthropic"), Some(Provider::Anthropic));
    assert_eq!(Provider::parse("openai"), Some(Provider::OpenAi));
    assert_eq!(
        Provider::parse("openai-compatible"),
        Some(Provider::OpenAiCompatible)
    );
    assert_eq!(Provider::parse("gemini"), None);
    assert!(!AiConfig::new(Provider::Anthropic, "").is_usable());
}

/// inventory §7 item 3: a mock LLM answers "bug" and the workflow forwards it;
/// the persona file is prepended to the system prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_workflow_end_to_end_with_persona() {
    let (base, seen) = serve(
        StatusCode::OK,
        json!({"content": [{"text": "bug"}]}),
        Duration::ZERO,
    )
    .await;
    let persona_dir = tempfile::tempdir().unwrap();
    let persona = persona_dir.path().join("persona.md");
    std::fs::write(&persona, "You are Atlas.\n").unwrap();
    let src = r#"sekia.on("sekia.events.test", function(e)
  local r, err = sekia.ai("classify: " .. e.payload.title)
  sekia.command("test-agent", "handle", {ai_response = r, err = err})
end)"#;
    let mut h = common::Harness::start(&[("ai.lua", src)], |c| {
        let mut ai = config(Provider::Anthropic, "k", &base);
        ai.persona_path = Some(persona.clone());
        ai.system_prompt = "Be brief.".into();
        c.ai = Some(ai);
    })
    .await;
    h.publish("sekia.events.test", json!({"title": "crash"}))
        .await;
    let (_, c) = h.next_command().await;
    let p = c.payload.unwrap();
    assert_eq!(p.get("ai_response"), Some(&json!("bug")), "{p:?}");
    let body = seen.requests.lock().unwrap()[0].2.clone();
    assert_eq!(body["system"], "You are Atlas.\n\nBe brief.");
    assert_eq!(body["messages"][0]["content"], "classify: crash");
}
