//! Finding, parsing and resolving `sekia.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::Config;
use super::env;
use crate::secrets::{self, SecretsError};

/// Where configuration comes from. Tests build one by hand; binaries use [`LoadOptions::from_process`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config PATH`: must exist.
    pub explicit: Option<PathBuf>,
    /// Folders searched for `sekia.toml` when no explicit path is given; first hit wins.
    pub search_dirs: Vec<PathBuf>,
    /// A snapshot of the environment (overrides, secrets, `XDG_RUNTIME_DIR`).
    pub env: BTreeMap<String, String>,
    /// The user's home, for `~` and default paths.
    pub home: Option<PathBuf>,
}

impl LoadOptions {
    /// sekia's search order: `/etc/sekia`, `~/.config/sekia`, `.`.
    pub fn from_process(explicit: Option<PathBuf>) -> Self {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let mut search_dirs = vec![PathBuf::from("/etc/sekia")];
        if let Some(home) = &home {
            search_dirs.push(home.join(".config/sekia"));
        }
        search_dirs.push(PathBuf::from("."));
        Self { explicit, search_dirs, env, home }
    }
}

/// A loaded configuration and what the loader wants the user to know.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The file read, if any (none is fine: defaults apply).
    pub source: Option<PathBuf>,
    pub warnings: Vec<String>,
    /// Keys set from the environment (names only, never values).
    pub overridden: Vec<String>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: not found")]
    NotFound { path: PathBuf },
    #[error("config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {}{message}", path.display(), key.as_deref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Invalid { path: PathBuf, line: usize, column: usize, key: Option<String>, message: String },
    #[error("environment variable {var} (key `{key}`): {message}")]
    Env { var: String, key: String, message: String },
    #[error("config key `{key}`: {source}")]
    Secret { key: String, source: SecretsError },
    #[error("config key `{key}`: {message}")]
    Value { key: String, message: String },
}

/// Loads, overrides, decrypts and validates the configuration.
pub fn load(opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let source = find_file(opts)?;
    let from_file = match &source {
        Some(path) => parse_file(path, &mut warnings)?,
        None => Config::default(),
    };

    // Overrides and secrets work on the full table (defaults included) so every key has a known
    // type and no key can be missed.
    let mut table = toml::Table::try_from(&from_file).map_err(|e| ConfigError::Value {
        key: "(config)".into(),
        message: e.to_string(),
    })?;
    let overridden = env::apply(&mut table, &opts.env)
        .map_err(|e| ConfigError::Env { var: e.var, key: e.key, message: e.message })?;
    let identity_hint = table
        .get("secrets")
        .and_then(|s| s.get("identity"))
        .and_then(|v| v.as_str())
        .map(|p| expand_tilde(Path::new(p), opts.home.as_deref()))
        .unwrap_or_default();
    secrets::resolve_config_values(&mut table, &opts.env, &identity_hint, opts.home.as_deref())
        .map_err(|(key, source)| ConfigError::Secret { key, source })?;
    let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Value {
        key: e.path().to_string(),
        message: e.inner().to_string(),
    })?;

    for path in config.paths_mut() {
        *path = expand_tilde(path, opts.home.as_deref());
    }
    if config.server.socket.as_os_str().is_empty() {
        config.server.socket = default_socket(&opts.env, opts.home.as_deref());
    }
    validate(&config, &mut warnings)?;
    Ok(Loaded { config, source, warnings, overridden })
}

fn find_file(opts: &LoadOptions) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = &opts.explicit {
        let path = expand_tilde(path, opts.home.as_deref());
        return if path.is_file() { Ok(Some(path)) } else { Err(ConfigError::NotFound { path }) };
    }
    Ok(opts.search_dirs.iter().map(|d| d.join("sekia.toml")).find(|p| p.is_file()))
}

fn parse_file(path: &Path, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    let invalid = |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| {
        let (line, column) = line_column(&text, span.map(|s| s.start).unwrap_or(0));
        ConfigError::Invalid { path: path.into(), line, column, key, message }
    };
    let deserializer = toml::Deserializer::parse(&text).map_err(|e| invalid(e.span(), None, e.message().to_string()))?;
    let mut unknown = Vec::new();
    let mut record = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let tracked = serde_ignored::Deserializer::new(deserializer, &mut record);
    let config = serde_path_to_error::deserialize(tracked).map_err(|e| {
        let key = e.path().to_string();
        let key = (key != "." && !key.is_empty()).then_some(key);
        invalid(e.inner().span(), key, e.inner().message().to_string())
    })?;
    for key in unknown {
        warnings.push(format!("{}: unknown key `{key}` ignored", path.display()));
    }
    Ok(config)
}

fn validate(config: &Config, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    if config.registry.missed_heartbeats == 0 {
        return Err(ConfigError::Value {
            key: "registry.missed_heartbeats".into(),
            message: "must be at least 1".into(),
        });
    }
    if config.registry.heartbeat_interval.get().is_zero() {
        return Err(ConfigError::Value {
            key: "registry.heartbeat_interval".into(),
            message: "must be longer than 0s".into(),
        });
    }
    if !config.nats.host.is_empty() || config.nats.port != 0 {
        warnings.push(
            "nats.host/nats.port: sekiad embeds no NATS server; to let agents on other machines connect, \
             run nats-server and set nats.url"
                .into(),
        );
    }
    if !config.web.listen.is_empty() {
        warnings.push(format!(
            "web.listen = {:?}: the web dashboard is not part of this build yet; the local API socket is available",
            config.web.listen
        ));
    }
    Ok(())
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// `~` and `~/x` become the home folder; other paths are left alone.
pub fn expand_tilde(path: &Path, home: Option<&Path>) -> PathBuf {
    let Some(home) = home else { return path.to_path_buf() };
    match path.strip_prefix("~") {
        Ok(rest) if path.to_str().is_none_or(|s| s == "~" || s.starts_with("~/")) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// sekia's default: `$XDG_RUNTIME_DIR/sekia/sekiad.sock`, else `~/.config/sekia/sekiad.sock`.
pub fn default_socket(env: &BTreeMap<String, String>, home: Option<&Path>) -> PathBuf {
    match env.get("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(dir).join("sekia/sekiad.sock"),
        None => home.unwrap_or(Path::new(".")).join(".config/sekia/sekiad.sock"),
    }
}
