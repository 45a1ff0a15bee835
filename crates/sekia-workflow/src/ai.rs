//! LLM clients: Anthropic Messages, OpenAI chat completions, and any
//! OpenAI-compatible server (Ollama, LM Studio, vLLM).

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{AiConfig, Provider};

/// Returned by `sekia.ai` and friends when no `[ai]` section is configured
/// (sekia's exact text).
pub const NOT_CONFIGURED: &str = "AI not configured: add [ai] section to sekia.toml";

/// First part of the system prompt in JSON mode (sekia's exact text).
pub const JSON_MODE_PREFIX: &str = "Respond with valid JSON only. No other text.";

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
}

/// One completion request, with the system prompt already assembled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AiRequest {
    /// The conversation (a single user message for `sekia.ai`).
    pub messages: Vec<ChatMessage>,
    /// Final system prompt ("" = none).
    pub system: String,
    /// Model override.
    pub model: Option<String>,
    /// `max_tokens` override.
    pub max_tokens: Option<u32>,
    /// Temperature override.
    pub temperature: Option<f64>,
}

/// Why a completion failed. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// Non-2xx answer.
    #[error("{provider} API error (status {status}): {body}")]
    Status {
        /// Provider name.
        provider: &'static str,
        /// HTTP status.
        status: u16,
        /// Response body, truncated.
        body: String,
    },
    /// No answer in time.
    #[error("AI request timed out after {0:?}")]
    Timeout(Duration),
    /// Connection or protocol failure.
    #[error("AI request failed: {0}")]
    Http(String),
    /// The answer had no text where the API puts it.
    #[error("{0} API returned no content")]
    Empty(&'static str),
}

/// Something that completes prompts. The engine uses [`HttpLlm`]; tests and dry
/// runs use fixed answers.
#[async_trait]
pub trait Llm: Send + Sync {
    /// Sends one request and returns the text of the answer.
    async fn complete(&self, req: AiRequest) -> Result<String, AiError>;

    /// The configured default system prompt (used when a call passes none).
    fn default_system(&self) -> &str {
        ""
    }
}

/// Assembles the system prompt: `[JSON prefix] + persona + skills index + (call
/// system or default system)`, joined by a blank line, empty parts skipped.
///
/// Unlike sekia, the skills index does not displace the configured system prompt.
pub fn build_system(
    json_mode: bool,
    persona: &str,
    skills_index: &str,
    call_system: Option<&str>,
    default_system: &str,
) -> String {
    let own = match call_system {
        Some(s) if !s.is_empty() => s,
        _ => default_system,
    };
    let parts = [
        if json_mode { JSON_MODE_PREFIX } else { "" },
        persona.trim(),
        skills_index.trim_end(),
        own,
    ];
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Reads the persona file: trimmed text, or "" when the path is unset or missing.
pub fn read_persona(path: Option<&std::path::Path>) -> String {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// An LLM over HTTP.
pub struct HttpLlm {
    config: AiConfig,
    client: reqwest::Client,
}

/// Longest error body kept in a message.
const MAX_ERROR_BODY: usize = 1000;

impl HttpLlm {
    /// A client for `config`.
    pub fn new(config: AiConfig) -> Result<Self, AiError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| AiError::Http(e.to_string()))?;
        Ok(Self { config, client })
    }

    fn provider_name(&self) -> &'static str {
        match self.config.provider {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::OpenAiCompatible => "openai-compatible",
        }
    }

    fn url(&self) -> String {
        let base = self
            .config
            .base_url
            .as_deref()
            .map(|b| b.trim_end_matches('/'));
        match self.config.provider {
            Provider::Anthropic => {
                format!(
                    "{}/v1/messages",
                    base.unwrap_or("https://api.anthropic.com")
                )
            }
            Provider::OpenAi | Provider::OpenAiCompatible => format!(
                "{}/chat/completions",
                base.unwrap_or("https://api.openai.com/v1")
            ),
        }
    }

    /// The JSON body sent for `req` (public for tests and dry runs).
    pub fn body(&self, req: &AiRequest) -> Value {
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| self.config.model.clone());
        let max_tokens = req.max_tokens.unwrap_or(self.config.max_tokens);
        let temperature = req.temperature.unwrap_or(self.config.temperature);
        match self.config.provider {
            Provider::Anthropic => {
                let mut body = json!({
                    "model": model,
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                    "messages": req.messages,
                });
                if !req.system.is_empty() {
                    body["system"] = Value::from(req.system.clone());
                }
                body
            }
            Provider::OpenAi | Provider::OpenAiCompatible => {
                let mut messages = Vec::with_capacity(req.messages.len() + 1);
                if !req.system.is_empty() {
                    messages.push(json!({"role": "system", "content": req.system}));
                }
                for m in &req.messages {
                    messages.push(json!({"role": m.role, "content": m.content}));
                }
                json!({
                    "model": model,
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                    "messages": messages,
                })
            }
        }
    }
}

#[async_trait]
impl Llm for HttpLlm {
    async fn complete(&self, req: AiRequest) -> Result<String, AiError> {
        let provider = self.provider_name();
        let mut rb = self.client.post(self.url()).json(&self.body(&req));
        match self.config.provider {
            Provider::Anthropic => {
                rb = rb
                    .header("x-api-key", &self.config.api_key)
                    .header("anthropic-version", "2023-06-01");
            }
            Provider::OpenAi | Provider::OpenAiCompatible => {
                if !self.config.api_key.is_empty() {
                    rb = rb.bearer_auth(&self.config.api_key);
                }
            }
        }
        let resp = rb.send().await.map_err(|e| self.http_error(e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.http_error(e))?;
        if !status.is_success() {
            let mut body = text;
            if body.len() > MAX_ERROR_BODY {
                let mut cut = MAX_ERROR_BODY;
                while !body.is_char_boundary(cut) {
                    cut -= 1;
                }
                body.truncate(cut);
            }
            return Err(AiError::Status {
                provider,
                status: status.as_u16(),
                body,
            });
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| AiError::Http(format!("invalid JSON from {provider}: {e}")))?;
        let answer = match self.config.provider {
            Provider::Anthropic => v.pointer("/content/0/text"),
            _ => v.pointer("/choices/0/message/content"),
        };
        answer
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(AiError::Empty(provider))
    }

    fn default_system(&self) -> &str {
        &self.config.system_prompt
    }
}

impl HttpLlm {
    fn http_error(&self, e: reqwest::Error) -> AiError {
        if e.is_timeout() {
            AiError::Timeout(self.config.timeout)
        } else {
            // without_url: URLs of compatible servers may carry credentials.
            AiError::Http(e.without_url().to_string())
        }
    }
}

/// Always answers the same text (dry runs, tests).
pub struct FixedLlm(pub String);

#[async_trait]
impl Llm for FixedLlm {
    async fn complete(&self, _req: AiRequest) -> Result<String, AiError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompt_layers() {
        assert_eq!(
            build_system(true, "You are Atlas.", "", None, ""),
            "Respond with valid JSON only. No other text.\n\nYou are Atlas."
        );
        assert_eq!(
            build_system(
                false,
                "P",
                "## Available Skills\n- **a**: b\n",
                None,
                "default"
            ),
            "P\n\n## Available Skills\n- **a**: b\n\ndefault"
        );
        assert_eq!(
            build_system(false, "", "", Some("be concise"), "default"),
            "be concise"
        );
        assert_eq!(build_system(false, "", "", Some(""), "default"), "default");
        assert_eq!(build_system(false, "", "", None, ""), "");
    }

    #[test]
    fn persona_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("persona.md");
        std::fs::write(&p, "  You are Atlas.\n\n").unwrap();
        assert_eq!(read_persona(Some(&p)), "You are Atlas.");
        assert_eq!(read_persona(Some(&dir.path().join("missing"))), "");
        assert_eq!(read_persona(None), "");
    }
}
