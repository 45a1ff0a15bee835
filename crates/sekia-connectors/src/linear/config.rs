//! The Linear connector's config: sekia-linear's keys (`linear.api_key`,
//! `poll.interval`, `poll.team_filter`, `security.command_secret`) plus
//! `linear.api_url`, `linear.team_id`, `poll.enabled` and `[retry]`.

use std::time::Duration;

use sekia_protocol::Secret;
use serde::Deserialize;

use crate::config::{NatsSection, SecuritySection, StateSection, env_value};
use crate::error::ConnectorError;
use crate::http::RetryPolicy;
use crate::http::humantime_serde_compat;

/// Default `linear.api_url`.
pub const DEFAULT_API_URL: &str = "https://api.linear.app/graphql";

/// Everything a Linear agent needs besides the bus, its credential and its state store.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearConfig {
    pub linear: LinearSection,
    pub poll: LinearPollConfig,
    pub security: SecuritySection,
    pub retry: RetryPolicy,
}

/// `[linear]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearSection {
    /// `linear.api_key` (`LINEAR_API_KEY`): a personal API key, sent as
    /// `Authorization: <key>`. Not needed when the daemon hands the agent a
    /// `TokenSource` for an account.
    pub api_key: Secret,
    /// The GraphQL endpoint, default `https://api.linear.app/graphql` (tests: a fake).
    pub api_url: String,
    /// Only issues (and their comments) of the team with this id; empty: all teams.
    pub team_id: String,
}

impl Default for LinearSection {
    fn default() -> Self {
        Self {
            api_key: Secret::default(),
            api_url: DEFAULT_API_URL.into(),
            team_id: String::new(),
        }
    }
}

/// `[poll]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearPollConfig {
    /// sekia-linear always polls; `false` leaves an agent that only runs commands.
    pub enabled: bool,
    /// Between polls, default `30s`.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// sekia's team filter: a team *key* such as `ENG`; empty: all teams.
    pub team_filter: String,
}

impl Default for LinearPollConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            team_filter: String::new(),
        }
    }
}

impl LinearConfig {
    /// Applies sekia-linear's environment variables, which win over the file (as
    /// with viper): `LINEAR_API_KEY`, `SEKIA_COMMAND_SECRET`.
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env_value(lookup, "LINEAR_API_KEY") {
            self.linear.api_key = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "SEKIA_COMMAND_SECRET") {
            self.security.command_secret = Secret::new(v);
        }
    }

    /// The endpoint as a URL.
    pub fn api_url(&self) -> Result<reqwest::Url, ConnectorError> {
        let url = reqwest::Url::parse(&self.linear.api_url).map_err(|e| {
            ConnectorError::config(format!(
                "linear.api_url {:?} is not a URL: {e}",
                self.linear.api_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::config(format!(
                "linear.api_url {:?} must be an http(s) URL",
                self.linear.api_url
            )));
        }
        Ok(url)
    }

    /// Checks the values, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        self.api_url()?;
        if self.poll.enabled && self.poll.interval.is_zero() {
            return Err(ConnectorError::config("poll.interval must be more than 0"));
        }
        Ok(())
    }
}

/// A standalone agent's config file: [`LinearConfig`] plus `[nats]` and `[state]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinearFileConfig {
    pub nats: NatsSection,
    pub state: StateSection,
    #[serde(flatten)]
    pub agent: LinearConfig,
}

impl LinearFileConfig {
    /// [`LinearConfig::apply_env`] plus `SEKIA_NATS_URL` and `SEKIA_NATS_TOKEN`.
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        self.agent.apply_env(lookup);
        self.nats.apply_env(lookup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sekia_keys_and_env_wins() {
        let text = r#"
            [nats]
            url = "nats://10.0.0.1:4222"
            [linear]
            api_key = "from-file"
            [poll]
            interval = "1m"
            team_filter = "ENG"
            [security]
            command_secret = "s"
        "#;
        let mut c: LinearFileConfig = toml::from_str(text).unwrap();
        assert_eq!(c.agent.poll.interval, Duration::from_secs(60));
        assert!(c.agent.poll.enabled);
        assert_eq!(c.agent.poll.team_filter, "ENG");
        assert_eq!(c.agent.linear.api_url, DEFAULT_API_URL);
        c.apply_env(&|k| (k == "LINEAR_API_KEY").then(|| "from-env".to_owned()));
        assert_eq!(c.agent.linear.api_key.expose(), "from-env");
        assert_eq!(c.agent.security.command_secret.expose(), "s");
        assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
        c.agent.validate().unwrap();
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let bad: Result<LinearConfig, _> = toml::from_str("[poll]\nteam = \"ENG\"");
        assert!(bad.unwrap_err().to_string().contains("team"));
        let mut c = LinearConfig::default();
        c.linear.api_url = "not a url".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("linear.api_url")
        );
        let mut c = LinearConfig::default();
        c.poll.interval = Duration::ZERO;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("poll.interval")
        );
    }
}
