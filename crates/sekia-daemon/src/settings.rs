//! Settings on the `Daemon` handle, for the UI's Settings page: read what the config file says,
//! and write changes back into it with its comments and layout intact. The running daemon keeps
//! the config it started with; every saved key that differs from it is reported as needing a
//! restart, so the page can say so instead of pretending.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, Table, value};
use ts_rs::TS;

use crate::config::{ByteSize, Config, Duration, LoadOptions, load};
use crate::daemon::{Daemon, DaemonError};
use crate::fsperm;

/// Longest API key accepted, in bytes.
const MAX_KEY_BYTES: usize = 4096;

/// What the Settings page shows. The AI key is never sent back: only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Settings {
    pub ai: AiSettings,
    pub workflows: WorkflowSettings,
    pub store: StoreSettings,
    pub web: WebSettings,
    /// The file the settings are saved to.
    pub config_path: String,
    /// Keys saved in the file whose value the running daemon does not use yet.
    pub restart_required: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AiSettings {
    pub provider: String,
    pub model: String,
    pub base_url: String,
    pub api_key_set: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct WorkflowSettings {
    /// A duration such as `30s`.
    pub handler_timeout: String,
    /// A size such as `64MiB`.
    pub memory_limit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StoreSettings {
    #[ts(type = "number")]
    pub max_events: u64,
    /// A duration such as `720h`.
    pub max_age: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct WebSettings {
    /// The dashboard's address, e.g. `127.0.0.1:7777`; empty when off.
    pub listen: String,
}

/// A change from the Settings page: only the fields present are written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields)]
pub struct SettingsChange {
    pub ai: Option<AiChange>,
    pub workflows: Option<WorkflowChange>,
    pub store: Option<StoreChange>,
    pub web: Option<WebChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields)]
pub struct AiChange {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// Write-only. An empty string removes the stored key.
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields)]
pub struct WorkflowChange {
    pub handler_timeout: Option<String>,
    pub memory_limit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields)]
pub struct StoreChange {
    #[ts(as = "Option<f64>")]
    pub max_events: Option<u64>,
    pub max_age: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(optional_fields)]
pub struct WebChange {
    pub listen: Option<String>,
}

/// What saving did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SettingsSaved {
    /// Keys now in effect.
    pub applied: Vec<String>,
    /// Keys written to the file that take effect at the next start.
    pub restart_required: Vec<String>,
}

impl Daemon {
    /// The settings as saved in the config file (the running values when there is no file).
    pub async fn settings(&self) -> Result<Settings, DaemonError> {
        let running = self.config().clone();
        tokio::task::spawn_blocking(move || {
            let saved = saved_config(&running)?;
            Ok(view(&saved, &running))
        })
        .await
        .map_err(|e| DaemonError::invalid("settings", e.to_string()))?
    }

    /// Validates `change`, writes it into the config file (0600, in a 0700 folder, replaced
    /// atomically), checks the result loads, and reports what needs a restart.
    pub async fn save_settings(
        &self,
        change: SettingsChange,
    ) -> Result<SettingsSaved, DaemonError> {
        let running = self.config().clone();
        tokio::task::spawn_blocking(move || save(&running, &change))
            .await
            .map_err(|e| DaemonError::invalid("settings", e.to_string()))?
    }
}

fn save(running: &Config, change: &SettingsChange) -> Result<SettingsSaved, DaemonError> {
    let path = &running.file;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(DaemonError::invalid(
                "settings",
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    };
    let mut doc: DocumentMut = text.parse().map_err(|e| {
        DaemonError::invalid(
            "settings",
            format!(
                "{} is not valid TOML; fix it by hand first: {e}",
                path.display()
            ),
        )
    })?;
    let mut written = Vec::new();
    edit(&mut doc, change, &mut written)?;
    if written.is_empty() {
        return Ok(SettingsSaved {
            applied: Vec::new(),
            restart_required: Vec::new(),
        });
    }
    write_checked(path, &doc.to_string())?;
    tracing::info!(keys = %written.join(","), file = %path.display(), "settings saved");
    let saved = saved_config(running)?;
    let pending = differing(&saved, running);
    let (restart_required, applied) = written.into_iter().partition(|k| pending.contains(k));
    Ok(SettingsSaved {
        applied,
        restart_required,
    })
}

/// Applies `change` to the document, validating each value; `written` gets the keys changed.
fn edit(
    doc: &mut DocumentMut,
    change: &SettingsChange,
    written: &mut Vec<String>,
) -> Result<(), DaemonError> {
    if let Some(ai) = &change.ai {
        if let Some(p) = &ai.provider {
            if !["anthropic", "openai", "openai-compatible"].contains(&p.as_str()) {
                return Err(DaemonError::invalid(
                    "ai.provider",
                    "must be anthropic, openai or openai-compatible",
                ));
            }
            set(doc, "ai", "provider", value(p.as_str()), written);
        }
        if let Some(m) = &ai.model {
            check_line("ai.model", m)?;
            set(doc, "ai", "model", value(m.as_str()), written);
        }
        if let Some(u) = &ai.base_url {
            check_line("ai.base_url", u)?;
            if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
                return Err(DaemonError::invalid(
                    "ai.base_url",
                    "must start with http:// or https://",
                ));
            }
            set(doc, "ai", "base_url", value(u.as_str()), written);
        }
        if let Some(k) = &ai.api_key {
            if k.len() > MAX_KEY_BYTES || k.chars().any(char::is_control) {
                return Err(DaemonError::invalid(
                    "ai.api_key",
                    format!("must be one line of at most {MAX_KEY_BYTES} bytes"),
                ));
            }
            set(doc, "ai", "api_key", value(k.trim()), written);
        }
    }
    if let Some(w) = &change.workflows {
        if let Some(t) = &w.handler_timeout {
            let d = Duration::parse(t)
                .map_err(|e| DaemonError::invalid("workflows.handler_timeout", e))?;
            if d.get().is_zero() {
                return Err(DaemonError::invalid(
                    "workflows.handler_timeout",
                    "must be more than 0",
                ));
            }
            set(
                doc,
                "workflows",
                "handler_timeout",
                value(t.trim()),
                written,
            );
        }
        if let Some(m) = &w.memory_limit {
            let size = ByteSize::parse(m)
                .map_err(|e| DaemonError::invalid("workflows.memory_limit", e))?;
            if size.bytes() < 1024 * 1024 {
                return Err(DaemonError::invalid(
                    "workflows.memory_limit",
                    "must be at least 1MiB",
                ));
            }
            set(doc, "workflows", "memory_limit", value(m.trim()), written);
        }
    }
    if let Some(s) = &change.store {
        if let Some(n) = s.max_events {
            let n = i64::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                DaemonError::invalid("store.max_events", "must be a positive count")
            })?;
            set(doc, "store", "max_events", value(n), written);
        }
        if let Some(a) = &s.max_age {
            Duration::parse(a).map_err(|e| DaemonError::invalid("store.max_age", e))?;
            set(doc, "store", "max_age", value(a.trim()), written);
        }
    }
    if let Some(w) = &change.web
        && let Some(l) = &w.listen
    {
        let l = l.trim();
        if !l.is_empty() && l.parse::<std::net::SocketAddr>().is_err() {
            return Err(DaemonError::invalid(
                "web.listen",
                "must be an address like 127.0.0.1:7777, or empty to turn the dashboard off",
            ));
        }
        set(doc, "web", "listen", value(l), written);
    }
    Ok(())
}

fn set(doc: &mut DocumentMut, section: &str, key: &str, v: Item, written: &mut Vec<String>) {
    let table = doc
        .entry(section)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut();
    let Some(table) = table else {
        return;
    };
    let unchanged = table
        .get(key)
        .and_then(|old| old.as_value())
        .zip(v.as_value())
        .is_some_and(|(old, new)| old.to_string().trim() == new.to_string().trim());
    if unchanged {
        return;
    }
    // Replace the value in place: the key's comments and the line's trailing comment stay.
    match table.get_mut(key) {
        Some(slot) => {
            let decor = slot.as_value().map(|old| old.decor().clone());
            *slot = v;
            if let (Some(decor), Some(new)) = (decor, slot.as_value_mut()) {
                *new.decor_mut() = decor;
            }
        }
        None => {
            table.insert(key, v);
        }
    }
    written.push(format!("{section}.{key}"));
}

/// Writes `text` beside `path`, proves the loader accepts it (errors name line and key), then
/// moves it into place: a bad change never replaces a good file.
fn write_checked(path: &Path, text: &str) -> Result<(), DaemonError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sekia.toml".to_owned());
    let tmp = path.with_file_name(format!(".{name}.saving"));
    let io = |e: std::io::Error| {
        DaemonError::invalid("settings", format!("cannot write {}: {e}", path.display()))
    };
    fsperm::write_private_file(&tmp, text.as_bytes(), true).map_err(io)?;
    let mut warnings = Vec::new();
    if let Err(e) = crate::config::load::parse_file(&tmp, &mut warnings) {
        let _ = std::fs::remove_file(&tmp);
        return Err(DaemonError::invalid("settings", e.to_string()));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// The config as the file now says, resolved like at start (env overrides, `ENC[…]`).
fn saved_config(running: &Config) -> Result<Config, DaemonError> {
    if !running.file.is_file() {
        return Ok(running.clone());
    }
    load(&LoadOptions::from_process(Some(running.file.clone())))
        .map(|l| l.config)
        .map_err(|e| DaemonError::invalid("settings", e.to_string()))
}

fn view(saved: &Config, running: &Config) -> Settings {
    Settings {
        ai: AiSettings {
            provider: saved.ai.provider.clone(),
            model: saved.ai.model.clone(),
            base_url: saved.ai.base_url.clone(),
            api_key_set: !saved.ai.api_key.is_empty(),
        },
        workflows: WorkflowSettings {
            handler_timeout: saved.workflows.handler_timeout.to_string(),
            memory_limit: saved.workflows.memory_limit.to_string(),
        },
        store: StoreSettings {
            max_events: saved.store.max_events,
            max_age: saved.store.max_age.to_string(),
        },
        web: WebSettings {
            listen: saved.web.listen.clone(),
        },
        config_path: running.file.display().to_string(),
        restart_required: differing(saved, running),
    }
}

/// The settings keys whose saved value differs from the running one.
fn differing(saved: &Config, running: &Config) -> Vec<String> {
    let pairs: [(&str, bool); 9] = [
        ("ai.provider", saved.ai.provider != running.ai.provider),
        ("ai.model", saved.ai.model != running.ai.model),
        ("ai.base_url", saved.ai.base_url != running.ai.base_url),
        ("ai.api_key", saved.ai.api_key != running.ai.api_key),
        (
            "workflows.handler_timeout",
            saved.workflows.handler_timeout != running.workflows.handler_timeout,
        ),
        (
            "workflows.memory_limit",
            saved.workflows.memory_limit != running.workflows.memory_limit,
        ),
        (
            "store.max_events",
            saved.store.max_events != running.store.max_events,
        ),
        (
            "store.max_age",
            saved.store.max_age != running.store.max_age,
        ),
        ("web.listen", saved.web.listen != running.web.listen),
    ];
    pairs
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(k, _)| k.to_owned())
        .collect()
}

fn check_line(field: &str, text: &str) -> Result<(), DaemonError> {
    if text.len() > 2048 || text.chars().any(char::is_control) {
        return Err(DaemonError::invalid(
            field,
            "must be one line of at most 2048 bytes",
        ));
    }
    Ok(())
}
