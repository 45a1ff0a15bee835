//! Engine settings as plain values: the daemon maps its own config type onto these,
//! so this crate does not depend on the daemon.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of the workflow [`Engine`](crate::Engine).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory holding `*.lua` workflows (non-recursive) and `workflows.sha256`.
    /// Created if missing.
    pub dir: PathBuf,
    /// Watch `dir` and reload changed, added and removed files.
    pub hot_reload: bool,
    /// Wall-clock budget of one handler call, one schedule tick and the top-level
    /// code of a file at load. `Duration::ZERO` disables the limit (not advised).
    pub handler_timeout: Duration,
    /// Memory a workflow's VM may allocate, in bytes. 0 disables the limit.
    pub memory_limit: usize,
    /// Refuse files that are not listed with the right hash in `workflows.sha256`.
    pub verify_integrity: bool,
    /// HMAC key for `sekia.command`; empty = commands are sent unsigned.
    pub command_secret: String,
    /// LLM settings; `None` makes `sekia.ai` return `(nil, "AI not configured…")`.
    pub ai: Option<AiConfig>,
    /// `<skills_dir>/<name>/SKILL.md` (+ optional `handler.lua`). `None` = no skills.
    pub skills_dir: Option<PathBuf>,
    /// In-memory conversation store settings.
    pub conversation: ConversationConfig,
    /// Maximum number of workflow-to-workflow hops of one event chain. An event that
    /// would exceed it is not published and the attempt is logged as an error.
    pub hop_limit: u32,
    /// Queue length of each workflow; a full queue drops and counts.
    pub queue_capacity: usize,
    /// How long [`Engine::shutdown`](crate::Engine::shutdown) lets each workflow
    /// drain its queue before it is abandoned.
    pub shutdown_grace: Duration,
    /// Quiet time after the last file-system change before a reload.
    pub reload_debounce: Duration,
}

impl EngineConfig {
    /// sekia's defaults for a workflow directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            hot_reload: true,
            handler_timeout: Duration::from_secs(30),
            memory_limit: 64 << 20,
            verify_integrity: false,
            command_secret: String::new(),
            ai: None,
            skills_dir: None,
            conversation: ConversationConfig::default(),
            hop_limit: 8,
            queue_capacity: 4096,
            shutdown_grace: Duration::from_secs(5),
            reload_debounce: Duration::from_millis(400),
        }
    }
}

/// Which HTTP API the LLM speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// Anthropic Messages API (`POST <base>/v1/messages`).
    Anthropic,
    /// OpenAI chat completions (`POST <base>/v1/chat/completions`).
    OpenAi,
    /// Any server with the OpenAI chat-completions shape (Ollama, LM Studio, vLLM);
    /// `base_url` is required and the API key optional.
    OpenAiCompatible,
}

impl Provider {
    /// Parses the config spelling: `anthropic`, `openai`, `openai-compatible`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "anthropic" | "" => Some(Self::Anthropic),
            "openai" => Some(Self::OpenAi),
            "openai-compatible" | "openai_compatible" => Some(Self::OpenAiCompatible),
            _ => None,
        }
    }
}

/// The `[ai]` section.
#[derive(Debug, Clone)]
pub struct AiConfig {
    /// API flavour.
    pub provider: Provider,
    /// Secret key; may be empty only for `openai-compatible`.
    pub api_key: String,
    /// Overrides the provider's public endpoint (scheme + host [+ path prefix]).
    pub base_url: Option<String>,
    /// Default model.
    pub model: String,
    /// Default `max_tokens`.
    pub max_tokens: u32,
    /// Default temperature.
    pub temperature: f64,
    /// Default system prompt (used unless a call passes `system`).
    pub system_prompt: String,
    /// Persona file, read once at start; missing = no persona.
    pub persona_path: Option<PathBuf>,
    /// HTTP timeout of one request.
    pub timeout: Duration,
}

impl AiConfig {
    /// sekia's defaults for a provider and key.
    pub fn new(provider: Provider, api_key: impl Into<String>) -> Self {
        Self {
            provider,
            api_key: api_key.into(),
            base_url: None,
            model: "claude-sonnet-4-20250514".into(),
            max_tokens: 1024,
            temperature: 0.0,
            system_prompt: String::new(),
            persona_path: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// Whether the settings are enough to make calls (sekia: a key is set).
    pub fn is_usable(&self) -> bool {
        match self.provider {
            Provider::OpenAiCompatible => self.base_url.is_some(),
            _ => !self.api_key.is_empty(),
        }
    }
}

/// The `[conversation]` section.
#[derive(Debug, Clone)]
pub struct ConversationConfig {
    /// Messages kept per conversation; 0 = unlimited.
    pub max_history: usize,
    /// Conversations idle (no append) longer than this are deleted.
    pub ttl: Duration,
    /// Cap on the number of live conversations; the least recently updated one is
    /// evicted beyond it (sekia had no cap).
    pub max_conversations: usize,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            max_history: 50,
            ttl: Duration::from_secs(3600),
            max_conversations: 10_000,
        }
    }
}
