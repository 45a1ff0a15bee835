//! Finding, parsing and resolving `sekia.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::Config;
#[cfg(test)]
use super::Duration;
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
        Self {
            explicit,
            search_dirs,
            env,
            home,
        }
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
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {}{message}", path.display(), key.as_deref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("environment variable {var} (key `{key}`): {message}")]
    Env {
        var: String,
        key: String,
        message: String,
    },
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
    let overrides = env::apply(&mut table, &opts.env).map_err(|e| ConfigError::Env {
        var: e.var,
        key: e.key,
        message: e.message,
    })?;
    let identity_hint = table
        .get("secrets")
        .and_then(|s| s.get("identity"))
        .and_then(|v| v.as_str())
        .map(|p| expand_tilde(Path::new(p), opts.home.as_deref()))
        .unwrap_or_default();
    secrets::resolve_config_values(&mut table, &opts.env, &identity_hint, opts.home.as_deref())
        .map_err(|(key, source)| ConfigError::Secret { key, source })?;
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().to_string();
            match overrides.iter().find(|o| o.key == key) {
                Some(o) => ConfigError::Env {
                    var: o.var.clone(),
                    key,
                    message,
                },
                None => ConfigError::Value { key, message },
            }
        })?;

    // The XDG base-directory spec moves the data folder; honour it for the default path only.
    if cfg!(target_os = "linux")
        && config.store.path == super::StoreConfig::default().path
        && let Some(data) = opts.env.get("XDG_DATA_HOME").filter(|d| !d.is_empty())
    {
        config.store.path = Path::new(data).join("sekia/sekia.db");
    }
    for path in config.paths_mut() {
        *path = expand_tilde(path, opts.home.as_deref());
    }
    if config.server.socket.as_os_str().is_empty() {
        config.server.socket = default_socket(&opts.env, opts.home.as_deref());
    }
    config.accounts.dir = config.accounts.dir_or_default(&config.store.path);
    validate(&config, &mut warnings)?;
    config.file = match (&source, &opts.home) {
        (Some(path), _) => path.clone(),
        (None, Some(home)) => home.join(".config/sekia/sekia.toml"),
        (None, None) => PathBuf::from("sekia.toml"),
    };
    let overridden = overrides
        .into_iter()
        .map(|o| format!("{} (from {})", o.key, o.var))
        .collect();
    Ok(Loaded {
        config,
        source,
        warnings,
        overridden,
    })
}

fn find_file(opts: &LoadOptions) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = &opts.explicit {
        let path = expand_tilde(path, opts.home.as_deref());
        return if path.is_file() {
            Ok(Some(path))
        } else {
            Err(ConfigError::NotFound { path })
        };
    }
    Ok(opts
        .search_dirs
        .iter()
        .map(|d| d.join("sekia.toml"))
        .find(|p| p.is_file()))
}

pub(crate) fn parse_file(path: &Path, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    let invalid = |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| {
        let (line, column) = line_column(&text, span.map(|s| s.start).unwrap_or(0));
        ConfigError::Invalid {
            path: path.into(),
            line,
            column,
            key,
            message,
        }
    };
    let deserializer = toml::Deserializer::parse(&text)
        .map_err(|e| invalid(e.span(), None, e.message().to_string()))?;
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
    crate::engine_config::engine_config(config)?;
    if !matches!(config.accounts.store.as_str(), "auto" | "keyring" | "file") {
        return Err(ConfigError::Value {
            key: "accounts.store".into(),
            message: format!(
                "{:?} is not a token store; use \"auto\", \"keyring\" or \"file\"",
                config.accounts.store
            ),
        });
    }
    if !config.nats.host.is_empty() || config.nats.port != 0 {
        warnings.push(
            "nats.host/nats.port: sekiad embeds no NATS server; to let agents on other machines connect, \
             run nats-server and set nats.url"
                .into(),
        );
    }
    Ok(())
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// `~` and `~/x` become the home folder; other paths are left alone.
pub fn expand_tilde(path: &Path, home: Option<&Path>) -> PathBuf {
    let Some(home) = home else {
        return path.to_path_buf();
    };
    match path.strip_prefix("~") {
        Ok(rest)
            if path
                .to_str()
                .is_none_or(|s| s == "~" || s.starts_with("~/")) =>
        {
            home.join(rest)
        }
        _ => path.to_path_buf(),
    }
}

/// sekia's default: `$XDG_RUNTIME_DIR/sekia/sekiad.sock`, else `~/.config/sekia/sekiad.sock`.
/// On Windows, the named pipe `\\.\pipe\sekia-<user>`.
pub fn default_socket(env: &BTreeMap<String, String>, home: Option<&Path>) -> PathBuf {
    if cfg!(windows) {
        let user = env.get("USERNAME").map_or("user", String::as_str);
        return PathBuf::from(format!(r"\\.\pipe\sekia-{user}"));
    }
    match env.get("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(dir).join("sekia/sekiad.sock"),
        None => home
            .unwrap_or(Path::new("."))
            .join(".config/sekia/sekiad.sock"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path, env: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            explicit: None,
            search_dirs: vec![
                dir.join("etc"),
                dir.join("home/.config/sekia"),
                dir.join("cwd"),
            ],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: Some(dir.join("home")),
        }
    }

    #[test]
    fn no_file_means_defaults_with_expanded_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let loaded = load(&opts(tmp.path(), &[])).unwrap();
        assert!(loaded.source.is_none());
        let home = tmp.path().join("home");
        assert_eq!(
            loaded.config.workflows.dir,
            home.join(".config/sekia/workflows")
        );
        assert_eq!(
            loaded.config.server.socket,
            home.join(".config/sekia/sekiad.sock")
        );
        assert_eq!(
            loaded.config.workflows.handler_timeout,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn first_file_in_search_order_wins_and_tilde_expands_everywhere() {
        let tmp = tempfile::tempdir().unwrap();
        for (dir, timeout) in [("home/.config/sekia", "10s"), ("cwd", "20s")] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
            std::fs::write(
                tmp.path().join(dir).join("sekia.toml"),
                format!("[workflows]\nhandler_timeout = \"{timeout}\"\ndir = \"~/flows\"\n[skills]\ndir = \"~\"\n"),
            )
            .unwrap();
        }
        let loaded = load(&opts(tmp.path(), &[("XDG_RUNTIME_DIR", "/run/user/7")])).unwrap();
        assert_eq!(
            loaded.source,
            Some(tmp.path().join("home/.config/sekia/sekia.toml"))
        );
        assert_eq!(
            loaded.config.workflows.handler_timeout,
            Duration::from_secs(10)
        );
        assert_eq!(loaded.config.workflows.dir, tmp.path().join("home/flows"));
        assert_eq!(loaded.config.skills.dir, tmp.path().join("home"));
        assert_eq!(
            loaded.config.server.socket,
            PathBuf::from("/run/user/7/sekia/sekiad.sock")
        );
    }

    #[test]
    fn environment_overrides_file_and_reports_names_only() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("cwd")).unwrap();
        std::fs::write(
            tmp.path().join("cwd/sekia.toml"),
            "[nats]\nurl = \"nats://file:4222\"\n",
        )
        .unwrap();
        let loaded = load(&opts(
            tmp.path(),
            &[
                ("SEKIA_NATS_URL", "nats://env:4222"),
                ("SEKIA_COMMAND_SECRET", "topsecret"),
                ("SEKIA_WORKFLOWS_HANDLER_TIMEOUT", "2m"),
            ],
        ))
        .unwrap();
        assert_eq!(loaded.config.nats.url, "nats://env:4222");
        assert_eq!(loaded.config.security.command_secret.expose(), "topsecret");
        assert_eq!(
            loaded.config.workflows.handler_timeout,
            Duration::from_secs(120)
        );
        assert!(
            loaded
                .overridden
                .iter()
                .any(|k| k.contains("security.command_secret"))
        );
        assert!(
            !format!("{loaded:?}").contains("topsecret"),
            "Debug must not show secrets"
        );

        let err = load(&opts(
            tmp.path(),
            &[("SEKIA_WORKFLOWS_HANDLER_TIMEOUT", "later")],
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("SEKIA_WORKFLOWS_HANDLER_TIMEOUT"),
            "{err}"
        );
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("a\nbé = 1", 5), (2, 3));
        assert_eq!(line_column("x", 0), (1, 1));
    }

    #[test]
    fn zero_heartbeats_rejected_with_key() {
        let tmp = tempfile::tempdir().unwrap();
        let err = load(&opts(
            tmp.path(),
            &[("SEKIA_REGISTRY_MISSED_HEARTBEATS", "0")],
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("registry.missed_heartbeats"),
            "{err}"
        );
    }
}
