//! From `[workflows]`, `[ai]`, `[skills]` and `[conversation]` in sekia.toml to the workflow
//! engine's plain settings (the engine does not know our config type).

use std::path::Path;
use std::time::Duration;

use sekia_workflow::{AiConfig, ConversationConfig, EngineConfig, Provider};

use crate::config::{Config, ConfigError};

/// `None` when `workflows.dir` is empty: sekia's way of turning the engine off.
pub fn engine_config(config: &Config) -> Result<Option<EngineConfig>, ConfigError> {
    let w = &config.workflows;
    if w.dir.as_os_str().is_empty() {
        return Ok(None);
    }
    let non_empty = |p: &Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
    let mut engine = EngineConfig::new(&w.dir);
    engine.hot_reload = w.hot_reload;
    engine.handler_timeout = w.handler_timeout.get();
    engine.memory_limit = usize::try_from(w.memory_limit.bytes()).unwrap_or(usize::MAX);
    engine.verify_integrity = w.verify_integrity;
    engine.hop_limit = w.hop_limit;
    engine.command_secret = config.security.command_secret.expose().to_string();
    engine.ai = ai_config(config)?;
    engine.skills_dir = non_empty(&config.skills.dir);
    engine.conversation = ConversationConfig {
        max_history: usize::try_from(config.conversation.max_history.max(0)).unwrap_or(0),
        ttl: config.conversation.ttl.get(),
        ..ConversationConfig::default()
    };
    Ok(Some(engine))
}

/// `None` when no AI is configured (no key; for `openai-compatible`, no base URL), so that
/// `sekia.ai` answers sekia's "AI not configured" tuple.
pub fn ai_config(config: &Config) -> Result<Option<AiConfig>, ConfigError> {
    let a = &config.ai;
    let provider = Provider::parse(&a.provider).ok_or_else(|| ConfigError::Value {
        key: "ai.provider".into(),
        message: format!(
            "unknown provider {:?}; use anthropic, openai or openai-compatible",
            a.provider
        ),
    })?;
    if provider == Provider::OpenAiCompatible && a.base_url.is_empty() {
        return Err(ConfigError::Value {
            key: "ai.base_url".into(),
            message:
                "openai-compatible needs the server's base URL (for Ollama: http://127.0.0.1:11434)"
                    .into(),
        });
    }
    let ai = AiConfig {
        base_url: (!a.base_url.is_empty()).then(|| a.base_url.clone()),
        model: a.model.clone(),
        max_tokens: a.max_tokens,
        temperature: a.temperature,
        system_prompt: a.system_prompt.clone(),
        persona_path: (!a.persona_path.as_os_str().is_empty()).then(|| a.persona_path.clone()),
        timeout: Duration::from_secs(60),
        ..AiConfig::new(provider, a.api_key.expose())
    };
    Ok(ai.is_usable().then_some(ai))
}

/// `[store]` onto the store's settings; the command secret lets it record whether each
/// command's signature was valid.
pub fn store_config(config: &Config) -> sekia_store::StoreConfig {
    let s = &config.store;
    sekia_store::StoreConfig {
        max_events: s.max_events,
        max_age: s.max_age.get(),
        max_payload_bytes: usize::try_from(s.max_payload_bytes.bytes()).unwrap_or(usize::MAX),
        command_secret: config.security.command_secret.expose().to_string(),
        ..sekia_store::StoreConfig::new(&s.path)
    }
}
