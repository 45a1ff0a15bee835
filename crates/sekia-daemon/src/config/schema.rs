//! Every key of `sekia.toml`, with sekia's defaults (inventory §3.2) and ours where sekia has none.
//!
//! Paths are kept as written (`~` allowed) and expanded once by the loader, so every path key
//! gets the same treatment — sekia expanded only two of them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use sekia_accounts::ProviderOverrides;

use super::{ByteSize, Duration, Secret};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The file this config was read from, or where settings saved from the UI go when there
    /// was none (`~/.config/sekia/sekia.toml`). Set by the loader, never read from TOML.
    #[serde(skip)]
    pub file: PathBuf,
    pub server: ServerConfig,
    pub nats: NatsConfig,
    pub registry: RegistryConfig,
    pub store: StoreConfig,
    pub workflows: WorkflowsConfig,
    pub web: WebConfig,
    pub ai: AiConfig,
    pub sentinel: SentinelConfig,
    pub skills: SkillsConfig,
    pub conversation: ConversationConfig,
    pub security: SecurityConfig,
    pub secrets: SecretsConfig,
    pub accounts: AccountsConfig,
    /// Each connected account's connector settings, by account name: `[connectors.github-agent]`
    /// with the standalone agent's keys (`webhook.listen`, `poll.repos`, …).
    pub connectors: std::collections::BTreeMap<String, toml::Table>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Kept for sekia compatibility; sekia never used it either.
    pub listen: String,
    /// The local API socket. Empty means the platform default, resolved by the loader.
    pub socket: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7600".into(),
            socket: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsConfig {
    /// Empty: the in-process bus (no port opened). Set: a real NATS server or cluster
    /// (`nats://host:4222`, comma-separated for several).
    pub url: String,
    pub token: Secret,
    pub user: String,
    pub password: Secret,
    pub tls_required: bool,
    pub tls_ca_file: PathBuf,
    pub tls_cert_file: PathBuf,
    pub tls_key_file: PathBuf,
    /// sekia's embedded-server keys. Accepted so sekia configs load; sekiad embeds no NATS
    /// server, so `host`/`port` only produce a warning that says what to do instead.
    pub embedded: bool,
    pub data_dir: PathBuf,
    pub host: String,
    pub port: u16,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: Secret::default(),
            user: String::new(),
            password: Secret::default(),
            tls_required: false,
            tls_ca_file: PathBuf::new(),
            tls_cert_file: PathBuf::new(),
            tls_key_file: PathBuf::new(),
            embedded: true,
            data_dir: "~/.local/share/sekia/nats".into(),
            host: String::new(),
            port: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryConfig {
    /// How often agents beat (sekia's agents: 30 s).
    pub heartbeat_interval: Duration,
    /// An agent that misses this many beats in a row is shown `offline`.
    pub missed_heartbeats: u32,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(30),
            missed_heartbeats: 3,
        }
    }
}

/// Event and command history (sekia kept none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// Keep history at all. Off: nothing is written, and search and replay are unavailable.
    pub enabled: bool,
    /// The SQLite file; the platform's data folder by default.
    pub path: PathBuf,
    /// Oldest events beyond this many are deleted.
    pub max_events: u64,
    /// Events older than this are deleted.
    pub max_age: Duration,
    /// Payloads above this are stored cut, with a marker (the event itself is delivered whole).
    pub max_payload_bytes: ByteSize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: default_store_path().into(),
            max_events: 1_000_000,
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_payload_bytes: ByteSize::mib(1),
        }
    }
}

/// The platform's per-user data folder (`~` is expanded by the loader).
fn default_store_path() -> &'static str {
    if cfg!(target_os = "macos") {
        "~/Library/Application Support/sekia/sekia.db"
    } else if cfg!(windows) {
        "~/AppData/Local/sekia/sekia.db"
    } else {
        "~/.local/share/sekia/sekia.db"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowsConfig {
    pub dir: PathBuf,
    pub hot_reload: bool,
    pub handler_timeout: Duration,
    pub verify_integrity: bool,
    /// Memory one workflow's Lua VM may use (sekia had no limit).
    pub memory_limit: ByteSize,
    /// How many workflow-to-workflow hops one chain of events may take before it is
    /// stopped (sekia only guarded a workflow against its own events).
    pub hop_limit: u32,
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        Self {
            dir: "~/.config/sekia/workflows".into(),
            hot_reload: true,
            handler_timeout: Duration::from_secs(30),
            verify_integrity: false,
            memory_limit: ByteSize::mib(64),
            hop_limit: 8,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebConfig {
    /// The dashboard's address (`127.0.0.1:7777`; Go's `:8080` means every interface). Empty: off.
    pub listen: String,
    /// Basic auth user; with `password`, required by every request.
    pub username: String,
    pub password: Secret,
    /// A bearer token (`Authorization: Bearer …`), instead of or beside Basic auth.
    pub token: Secret,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AiConfig {
    pub provider: String,
    pub api_key: Secret,
    pub base_url: String,
    pub model: String,
    pub max_tokens: u32,
    pub temperature: f64,
    pub system_prompt: String,
    pub persona_path: PathBuf,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            provider: "anthropic".into(),
            api_key: Secret::default(),
            base_url: String::new(),
            model: "claude-sonnet-4-20250514".into(),
            max_tokens: 1024,
            temperature: 0.0,
            system_prompt: String::new(),
            persona_path: "~/.config/sekia/persona.md".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SentinelConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub checklist_path: PathBuf,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(300),
            checklist_path: "~/.config/sekia/sentinel.md".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkillsConfig {
    pub dir: PathBuf,
    pub hot_reload: bool,
}

impl Default for SkillsConfig {
    fn default() -> Self {
        Self {
            dir: "~/.config/sekia/skills".into(),
            hot_reload: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationConfig {
    pub max_history: i64,
    pub ttl: Duration,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            max_history: 50,
            ttl: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityConfig {
    pub command_secret: Secret,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    pub identity: PathBuf,
    pub aws_region: String,
    pub kms_key_id: String,
}

/// Connected accounts (sekia had none: tokens were config keys). Each provider's OAuth
/// settings can be overridden, e.g. `[accounts.google] client_id = "…"` and
/// `client_secret = "ENC[…]"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountsConfig {
    /// Where tokens are kept: `auto` (the OS keychain, else age-encrypted files), `keyring`
    /// or `file`.
    pub store: String,
    /// The account list and the encrypted token files; empty: `accounts` beside the history
    /// database.
    pub dir: PathBuf,
    /// How long a browser sign-in waits for the user.
    pub sign_in_timeout: Duration,
    pub google: ProviderOverrides,
    pub github: ProviderOverrides,
    pub linear: ProviderOverrides,
    pub slack: ProviderOverrides,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            store: "auto".into(),
            dir: PathBuf::new(),
            sign_in_timeout: Duration::from_secs(5 * 60),
            google: ProviderOverrides::default(),
            github: ProviderOverrides::default(),
            linear: ProviderOverrides::default(),
            slack: ProviderOverrides::default(),
        }
    }
}

impl AccountsConfig {
    /// `dir`, or its default: `accounts` beside the history database at `store_path`.
    pub fn dir_or_default(&self, store_path: &std::path::Path) -> PathBuf {
        if !self.dir.as_os_str().is_empty() {
            return self.dir.clone();
        }
        store_path
            .parent()
            .map(|p| p.join("accounts"))
            .unwrap_or_else(|| PathBuf::from("accounts"))
    }

    /// The overrides for a built-in provider id.
    pub fn overrides(&self, provider: &str) -> Option<&ProviderOverrides> {
        match provider {
            "google" => Some(&self.google),
            "github" => Some(&self.github),
            "linear" => Some(&self.linear),
            "slack" => Some(&self.slack),
            _ => None,
        }
    }
}

impl Config {
    /// Every path-valued key, so `~` expansion cannot forget one.
    pub(crate) fn paths_mut(&mut self) -> [&mut PathBuf; 12] {
        [
            &mut self.store.path,
            &mut self.server.socket,
            &mut self.nats.tls_ca_file,
            &mut self.nats.tls_cert_file,
            &mut self.nats.tls_key_file,
            &mut self.nats.data_dir,
            &mut self.workflows.dir,
            &mut self.ai.persona_path,
            &mut self.sentinel.checklist_path,
            &mut self.skills.dir,
            &mut self.secrets.identity,
            &mut self.accounts.dir,
        ]
    }
}
