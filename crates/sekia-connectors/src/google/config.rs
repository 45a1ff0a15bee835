//! The Google connector's config: sekia-google's keys (`gmail.*`, `calendar.*`,
//! `security.*`, and `google.*` for the standalone agent) plus
//! `gmail.api_url`, `gmail.from`, `calendar.api_url` and `[retry]`.

use std::time::Duration;

use sekia_protocol::Secret;
use serde::Deserialize;

use crate::config::{NatsSection, SecuritySection, StateSection, env_value};
use crate::error::ConnectorError;
use crate::http::{RetryPolicy, humantime_serde_compat};

/// Default `gmail.api_url`.
pub const DEFAULT_GMAIL_URL: &str = "https://gmail.googleapis.com";
/// Default `calendar.api_url`.
pub const DEFAULT_CALENDAR_URL: &str = "https://www.googleapis.com/calendar/v3";
/// sekia's `gmail.max_messages` when unset or not positive.
pub const DEFAULT_MAX_MESSAGES: u32 = 20;

/// Everything a Google agent needs besides the bus, its token and its state store.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleConfig {
    pub gmail: GmailConfig,
    pub calendar: CalendarConfig,
    pub security: SecuritySection,
    pub retry: RetryPolicy,
}

/// `[gmail]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GmailConfig {
    /// Default `true`, as in sekia.
    pub enabled: bool,
    /// Between polls, default `30s`.
    #[serde(with = "humantime_serde_compat")]
    pub poll_interval: Duration,
    /// The mailbox, default `me` (the signed-in account).
    pub user_id: String,
    /// A Gmail search (`from:boss is:unread`); only matching new mail is announced.
    pub query: String,
    /// Most messages announced per poll; the rest follow on the next polls.
    /// 0 (or negative in a sekia file): 20.
    pub max_messages: i64,
    /// Base URL, default `https://gmail.googleapis.com` (tests: a fake).
    pub api_url: String,
    /// `From` of sent mail (`Name <me@example.com>` or an address); empty: the
    /// account's own address (`users.getProfile`).
    pub from: String,
}

impl Default for GmailConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: Duration::from_secs(30),
            user_id: "me".into(),
            query: String::new(),
            max_messages: i64::from(DEFAULT_MAX_MESSAGES),
            api_url: DEFAULT_GMAIL_URL.into(),
            from: String::new(),
        }
    }
}

impl GmailConfig {
    /// `max_messages` as used: at least 1, sekia's 20 when not positive.
    pub fn budget(&self) -> usize {
        usize::try_from(self.max_messages)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_MESSAGES as usize)
    }
}

/// `[calendar]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// Default `false`, as in sekia.
    pub enabled: bool,
    /// Between polls, default `60s`.
    #[serde(with = "humantime_serde_compat")]
    pub poll_interval: Duration,
    /// Default `primary`.
    pub calendar_id: String,
    /// `google.calendar.event.upcoming` this many minutes ahead; 0: off.
    pub upcoming_mins: u32,
    /// Base URL, default `https://www.googleapis.com/calendar/v3` (tests: a fake).
    pub api_url: String,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            poll_interval: Duration::from_secs(60),
            calendar_id: "primary".into(),
            upcoming_mins: 0,
            api_url: DEFAULT_CALENDAR_URL.into(),
        }
    }
}

fn check_url(key: &str, value: &str) -> Result<(), ConnectorError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| ConnectorError::config(format!("{key} {value:?} is not a URL: {e}")))?;
    if url.cannot_be_a_base() {
        return Err(ConnectorError::config(format!(
            "{key} {value:?} cannot be a base URL"
        )));
    }
    Ok(())
}

impl GoogleConfig {
    /// `SEKIA_COMMAND_SECRET` wins over the file (as with viper).
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env_value(lookup, "SEKIA_COMMAND_SECRET") {
            self.security.command_secret = Secret::new(v);
        }
    }

    /// Checks what sekia checks (one of Gmail and Calendar enabled) and the values
    /// a poller cannot work with, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        if !self.gmail.enabled && !self.calendar.enabled {
            return Err(ConnectorError::config(
                "at least one of gmail.enabled and calendar.enabled must be true",
            ));
        }
        if self.gmail.enabled {
            check_url("gmail.api_url", &self.gmail.api_url)?;
            if self.gmail.poll_interval.is_zero() {
                return Err(ConnectorError::config(
                    "gmail.poll_interval must be more than 0",
                ));
            }
            if self.gmail.user_id.trim().is_empty() {
                return Err(ConnectorError::config("gmail.user_id must not be empty"));
            }
        }
        if self.calendar.enabled {
            check_url("calendar.api_url", &self.calendar.api_url)?;
            if self.calendar.poll_interval.is_zero() {
                return Err(ConnectorError::config(
                    "calendar.poll_interval must be more than 0",
                ));
            }
            if self.calendar.calendar_id.trim().is_empty() {
                return Err(ConnectorError::config(
                    "calendar.calendar_id must not be empty",
                ));
            }
        }
        Ok(())
    }
}

/// `[google]` of a standalone agent's file: sekia's OAuth keys. `sekia-agent google auth`
/// signs in and writes `token_path` (as sekia's `sekia-google auth` does); the agent then
/// refreshes the access token from it before it expires and writes the new one back. An
/// `access_token` given instead is used as is (it is not refreshed).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleSection {
    /// `google.access_token` (`GOOGLE_ACCESS_TOKEN`): a fixed OAuth access token with
    /// the Gmail and Calendar scopes, instead of the token file.
    pub access_token: Secret,
    /// The OAuth client (a Google "Desktop app" client): `GOOGLE_CLIENT_ID`,
    /// `GOOGLE_CLIENT_SECRET`.
    pub client_id: String,
    pub client_secret: Secret,
    /// sekia's token file (`GOOGLE_TOKEN_PATH`); empty: `~/.config/sekia/google-token.json`.
    pub token_path: String,
    /// The sign-in's loopback port (0: any free one); fix it to sign in on a headless
    /// machine through an SSH port forward.
    pub auth_port: u16,
    /// Beyond sekia: Google's OAuth endpoints, for self-hosted proxies and tests (empty:
    /// Google's).
    pub auth_url: String,
    pub token_url: String,
}

impl GoogleSection {
    /// `token_path` with `~` expanded, or sekia's default.
    pub fn token_file(&self, home: Option<&std::path::Path>) -> std::path::PathBuf {
        let path = if self.token_path.trim().is_empty() {
            "~/.config/sekia/google-token.json"
        } else {
            self.token_path.trim()
        };
        match (path.strip_prefix("~/"), home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => std::path::PathBuf::from(path),
        }
    }
}

/// A standalone agent's config file: [`GoogleConfig`] plus `[google]`, `[nats]`
/// and `[state]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct GoogleFileConfig {
    pub google: GoogleSection,
    pub nats: NatsSection,
    pub state: StateSection,
    #[serde(flatten)]
    pub agent: GoogleConfig,
}

impl GoogleFileConfig {
    /// [`GoogleConfig::apply_env`] plus `GOOGLE_ACCESS_TOKEN`, `GOOGLE_CLIENT_ID`,
    /// `GOOGLE_CLIENT_SECRET`, `GOOGLE_TOKEN_PATH`, `SEKIA_NATS_URL`, `SEKIA_NATS_TOKEN`.
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        self.agent.apply_env(lookup);
        if let Some(v) = env_value(lookup, "GOOGLE_ACCESS_TOKEN") {
            self.google.access_token = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "GOOGLE_CLIENT_ID") {
            self.google.client_id = v;
        }
        if let Some(v) = env_value(lookup, "GOOGLE_CLIENT_SECRET") {
            self.google.client_secret = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "GOOGLE_TOKEN_PATH") {
            self.google.token_path = v;
        }
        self.nats.apply_env(lookup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sekia_keys() {
        let text = r#"
            [google]
            client_id = "id"
            client_secret = "s"
            token_path = "~/.config/sekia/google-token.json"
            [gmail]
            poll_interval = "1m"
            query = "is:unread"
            max_messages = 0
            [calendar]
            enabled = true
            upcoming_mins = 15
            [security]
            command_secret = "c"
        "#;
        let mut c: GoogleFileConfig = toml::from_str(text).unwrap();
        assert_eq!(c.agent.gmail.poll_interval, Duration::from_secs(60));
        assert_eq!(c.agent.gmail.budget(), 20);
        assert_eq!(c.agent.calendar.calendar_id, "primary");
        assert_eq!(c.agent.calendar.api_url, DEFAULT_CALENDAR_URL);
        c.apply_env(&|k| (k == "GOOGLE_ACCESS_TOKEN").then(|| "tok".to_owned()));
        assert_eq!(c.google.access_token.expose(), "tok");
        c.agent.validate().unwrap();
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let bad: Result<GoogleConfig, _> = toml::from_str("[gmail]\nqeury = \"x\"");
        assert!(bad.unwrap_err().to_string().contains("qeury"));
        let mut c = GoogleConfig::default();
        c.gmail.enabled = false;
        assert!(c.validate().unwrap_err().to_string().contains("enabled"));
        c.gmail.enabled = true;
        c.gmail.api_url = "nope".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("gmail.api_url")
        );
    }
}
