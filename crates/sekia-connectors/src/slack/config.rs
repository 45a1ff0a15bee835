//! The Slack connector's config: sekia-slack's keys (`slack.bot_token`,
//! `slack.app_token`, `security.command_secret`) plus `slack.api_url`,
//! `[socket_mode]` (reconnect backoff, keep-alive) and `[retry]`.

use std::time::Duration;

use sekia_protocol::Secret;
use serde::Deserialize;

use crate::config::{NatsSection, SecuritySection, StateSection, env_value};
use crate::error::ConnectorError;
use crate::http::{RetryPolicy, humantime_serde_compat};

/// Default `slack.api_url`.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Everything a Slack agent needs besides the bus, its tokens and its state store.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    pub slack: SlackSection,
    pub socket_mode: SocketModeConfig,
    pub security: SecuritySection,
    /// Web API calls (commands, `auth.test`, `apps.connections.open`).
    pub retry: RetryPolicy,
}

/// `[slack]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackSection {
    /// `slack.bot_token` (`SLACK_BOT_TOKEN`, `xoxb-…`): Web API calls. Not needed when
    /// the daemon hands the agent a `TokenSource` for an account.
    pub bot_token: Secret,
    /// `slack.app_token` (`SLACK_APP_TOKEN`, `xapp-…`, scope `connections:write`):
    /// opens Socket Mode connections.
    pub app_token: Secret,
    /// Web API base URL, default `https://slack.com/api` (tests: a fake).
    pub api_url: String,
}

impl Default for SlackSection {
    fn default() -> Self {
        Self {
            bot_token: Secret::default(),
            app_token: Secret::default(),
            api_url: DEFAULT_API_URL.into(),
        }
    }
}

/// `[socket_mode]`: how the WebSocket is kept up.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketModeConfig {
    /// First wait after a failed connection; doubled (with jitter) per failure.
    #[serde(with = "humantime_serde_compat")]
    pub reconnect_base_delay: Duration,
    /// Longest wait between connection attempts.
    #[serde(with = "humantime_serde_compat")]
    pub reconnect_max_delay: Duration,
    /// How often we ping Slack, so a dead link is noticed.
    #[serde(with = "humantime_serde_compat")]
    pub ping_interval: Duration,
    /// A connection that sends nothing (not even a pong) this long is dropped
    /// and a new one opened.
    #[serde(with = "humantime_serde_compat")]
    pub idle_timeout: Duration,
}

impl Default for SocketModeConfig {
    fn default() -> Self {
        Self {
            reconnect_base_delay: Duration::from_secs(1),
            reconnect_max_delay: Duration::from_secs(120),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

impl SocketModeConfig {
    /// The reconnect backoff as a [`RetryPolicy`], whose `backoff` adds the jitter.
    pub fn backoff_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base_delay: self.reconnect_base_delay,
            max_delay: self.reconnect_max_delay,
            ..RetryPolicy::default()
        }
    }
}

impl SlackConfig {
    /// Applies sekia-slack's environment variables, which win over the file (as
    /// with viper): `SLACK_BOT_TOKEN`, `SLACK_APP_TOKEN`, `SEKIA_COMMAND_SECRET`.
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env_value(lookup, "SLACK_BOT_TOKEN") {
            self.slack.bot_token = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "SLACK_APP_TOKEN") {
            self.slack.app_token = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "SEKIA_COMMAND_SECRET") {
            self.security.command_secret = Secret::new(v);
        }
    }

    /// Checks the values, naming the key at fault. Tokens are checked by the caller
    /// that has them (the daemon passes token sources instead).
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let url = reqwest::Url::parse(&self.slack.api_url).map_err(|e| {
            ConnectorError::config(format!(
                "slack.api_url {:?} is not a URL: {e}",
                self.slack.api_url
            ))
        })?;
        if url.cannot_be_a_base() {
            return Err(ConnectorError::config("slack.api_url cannot be a base URL"));
        }
        let s = &self.socket_mode;
        if s.reconnect_base_delay.is_zero() {
            return Err(ConnectorError::config(
                "socket_mode.reconnect_base_delay must be more than 0",
            ));
        }
        if s.reconnect_max_delay < s.reconnect_base_delay {
            return Err(ConnectorError::config(
                "socket_mode.reconnect_max_delay must not be less than reconnect_base_delay",
            ));
        }
        if s.ping_interval.is_zero() {
            return Err(ConnectorError::config(
                "socket_mode.ping_interval must be more than 0",
            ));
        }
        if s.idle_timeout <= s.ping_interval {
            return Err(ConnectorError::config(
                "socket_mode.idle_timeout must be longer than socket_mode.ping_interval",
            ));
        }
        Ok(())
    }
}

/// A standalone agent's config file: [`SlackConfig`] plus `[nats]` and `[state]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SlackFileConfig {
    pub nats: NatsSection,
    pub state: StateSection,
    #[serde(flatten)]
    pub agent: SlackConfig,
}

impl SlackFileConfig {
    /// [`SlackConfig::apply_env`] plus `SEKIA_NATS_URL` and `SEKIA_NATS_TOKEN`.
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
            [slack]
            bot_token = "xoxb-file"
            app_token = "xapp-file"
            [socket_mode]
            reconnect_base_delay = "10ms"
            [security]
            command_secret = "s"
        "#;
        let mut c: SlackFileConfig = toml::from_str(text).unwrap();
        assert_eq!(
            c.agent.socket_mode.reconnect_base_delay,
            Duration::from_millis(10)
        );
        assert_eq!(c.agent.slack.api_url, DEFAULT_API_URL);
        c.apply_env(&|k| (k == "SLACK_APP_TOKEN").then(|| "xapp-env".to_owned()));
        assert_eq!(c.agent.slack.app_token.expose(), "xapp-env");
        assert_eq!(c.agent.slack.bot_token.expose(), "xoxb-file");
        assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
        c.agent.validate().unwrap();
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let bad: Result<SlackConfig, _> = toml::from_str("[slack]\nbot_tokn = \"x\"");
        assert!(bad.unwrap_err().to_string().contains("bot_tokn"));
        let mut c = SlackConfig::default();
        c.slack.api_url = "nope".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("slack.api_url")
        );
        let mut c = SlackConfig::default();
        c.socket_mode.idle_timeout = Duration::from_secs(1);
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("idle_timeout")
        );
    }
}
