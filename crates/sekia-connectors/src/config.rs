//! Config pieces every connector shares: the NATS and security sections of
//! sekia's agent config files, the file search, environment overrides, and the
//! default place for watermarks.
//!
//! Unlike sekia, a config file that does not parse, or a key that does not
//! exist (`deny_unknown_fields` on every section), is an error, not a silent
//! fall-back to defaults.

use std::path::{Path, PathBuf};

use sekia_protocol::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ConnectorError;

/// `[nats]`: where a standalone agent connects.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSection {
    /// `nats.url` (`SEKIA_NATS_URL`), default `nats://127.0.0.1:4222`.
    pub url: String,
    /// `nats.token` (`SEKIA_NATS_TOKEN`).
    pub token: Secret,
}

impl NatsSection {
    /// `SEKIA_NATS_URL` and `SEKIA_NATS_TOKEN` over the file's values.
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env_value(lookup, "SEKIA_NATS_URL") {
            self.url = v;
        }
        if let Some(v) = env_value(lookup, "SEKIA_NATS_TOKEN") {
            self.token = Secret::new(v);
        }
    }
}

impl Default for NatsSection {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            token: Secret::default(),
        }
    }
}

/// `[security]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySection {
    /// `security.command_secret` (`SEKIA_COMMAND_SECRET`): commands must be signed
    /// with it; empty: not checked.
    pub command_secret: Secret,
}

/// `[state]`: where a standalone agent keeps its watermarks.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSection {
    /// A SQLite file; empty: [`default_state_path`].
    pub path: String,
}

/// Reads a TOML file into `T`, naming the file and the bad key on error.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConnectorError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConnectorError::ConfigFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConnectorError::ConfigFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// sekia's config file search for an agent without `--config`:
/// `sekia-<agent>-<name>.toml` for a named instance, else `sekia-<agent>.toml`,
/// in `/etc/sekia`, `~/.config/sekia`, `.` (the first hit wins).
pub fn find_config_file(agent: &str, name: Option<&str>) -> Option<PathBuf> {
    let file = match name {
        Some(n) => format!("sekia-{agent}-{n}.toml"),
        None => format!("sekia-{agent}.toml"),
    };
    let mut dirs = vec![PathBuf::from("/etc/sekia")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".config/sekia"));
    }
    dirs.push(PathBuf::from("."));
    dirs.into_iter()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
}

/// A non-empty environment variable, through `lookup` so tests need not touch
/// the process environment.
pub fn env_value(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.is_empty())
}

/// The process environment as a lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `$XDG_DATA_HOME/sekia/connectors.db`, else `~/.local/share/sekia/connectors.db`,
/// else `./sekia-connectors.db`.
pub fn default_state_path() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("sekia/connectors.db");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/sekia/connectors.db"),
        None => PathBuf::from("sekia-connectors.db"),
    }
}
