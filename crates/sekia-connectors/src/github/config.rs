//! The GitHub connector's config: sekia-github's keys (`github.*`, `webhook.*`,
//! `poll.*`, `security.*`) plus `github.api_url`/`github.graphql_url` and
//! `[retry]`.

use std::time::Duration;

use sekia_protocol::Secret;
use serde::Deserialize;

use crate::config::{NatsSection, SecuritySection, StateSection, env_value};
use crate::error::ConnectorError;
use crate::http::RetryPolicy;
use crate::http::humantime_serde_compat;

/// Default `webhook.listen`: loopback, and not sekia's `:8080` (all interfaces,
/// colliding with the dashboard's usual port).
pub const DEFAULT_WEBHOOK_LISTEN: &str = "127.0.0.1:7781";
/// Default `github.api_url`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Everything a GitHub agent needs besides the bus, its token and its state store.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubConfig {
    pub github: GithubSection,
    pub webhook: WebhookConfig,
    pub poll: PollConfig,
    pub security: SecuritySection,
    pub retry: RetryPolicy,
}

/// `[github]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubSection {
    /// `github.token` (`GITHUB_TOKEN`): a personal access token. Not needed when the
    /// daemon hands the agent a `TokenSource` for an account.
    pub token: Secret,
    /// REST base URL, default `https://api.github.com` (GitHub Enterprise:
    /// `https://HOST/api/v3`; tests: a fake).
    pub api_url: String,
    /// GraphQL endpoint; empty: `<api_url>/graphql`.
    pub graphql_url: String,
}

impl Default for GithubSection {
    fn default() -> Self {
        Self {
            token: Secret::default(),
            api_url: DEFAULT_API_URL.into(),
            graphql_url: String::new(),
        }
    }
}

impl GithubSection {
    /// The GraphQL endpoint in use.
    pub fn graphql_url(&self) -> String {
        if self.graphql_url.is_empty() {
            format!("{}/graphql", self.api_url.trim_end_matches('/'))
        } else {
            self.graphql_url.clone()
        }
    }
}

/// `[webhook]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// `host:port`; empty disables the webhook server.
    pub listen: String,
    /// Route of the deliveries, default `/webhook`.
    pub path: String,
    /// `webhook.secret` (`GITHUB_WEBHOOK_SECRET`). Without it every delivery is
    /// refused with 403: unsigned deliveries are never trusted.
    pub secret: Secret,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_WEBHOOK_LISTEN.into(),
            path: "/webhook".into(),
            secret: Secret::default(),
        }
    }
}

/// `[poll]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollConfig {
    pub enabled: bool,
    /// Between polls, default `30s`.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// `owner/repo` list.
    pub repos: Vec<String>,
    /// Most items handled per repository and phase per poll (default 100).
    pub per_tick: u32,
    /// Label mode (OR across labels), or with `match_prs` the labels a PR must all have.
    pub labels: Vec<String>,
    /// `open`, `closed` or `all` (label and PR-match modes).
    pub state: String,
    /// PR-match mode.
    pub match_prs: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(30),
            repos: Vec::new(),
            per_tick: 100,
            labels: Vec::new(),
            state: "open".into(),
            match_prs: false,
        }
    }
}

/// Which of sekia's three polling modes a config selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    /// Issues, PRs and comments updated since the watermark.
    Time,
    /// Issues carrying any of the labels: `github.issue.matched`.
    Label,
    /// Pull requests (optionally with all of the labels): `github.pr.matched`.
    PrMatch,
}

impl PollConfig {
    pub fn mode(&self) -> PollMode {
        if self.match_prs {
            PollMode::PrMatch
        } else if !self.labels.is_empty() {
            PollMode::Label
        } else {
            PollMode::Time
        }
    }

    /// `(owner, repo)` pairs; checked by [`GithubConfig::validate`].
    pub fn repo_pairs(&self) -> Vec<(String, String)> {
        self.repos
            .iter()
            .filter_map(|r| {
                let (o, n) = r.trim().split_once('/')?;
                Some((o.to_owned(), n.to_owned()))
            })
            .collect()
    }
}

impl GithubConfig {
    /// Applies sekia-github's environment variables, which win over the file (as
    /// with viper): `GITHUB_TOKEN`, `GITHUB_WEBHOOK_SECRET`, `SEKIA_COMMAND_SECRET`.
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env_value(lookup, "GITHUB_TOKEN") {
            self.github.token = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "GITHUB_WEBHOOK_SECRET") {
            self.webhook.secret = Secret::new(v);
        }
        if let Some(v) = env_value(lookup, "SEKIA_COMMAND_SECRET") {
            self.security.command_secret = Secret::new(v);
        }
    }

    /// Checks what sekia checks, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        reqwest::Url::parse(&self.github.api_url).map_err(|e| {
            ConnectorError::config(format!(
                "github.api_url {:?} is not a URL: {e}",
                self.github.api_url
            ))
        })?;
        reqwest::Url::parse(&self.github.graphql_url())
            .map_err(|e| ConnectorError::config(format!("github.graphql_url is not a URL: {e}")))?;
        if !self.webhook.listen.is_empty() && !self.webhook.path.starts_with('/') {
            return Err(ConnectorError::config(format!(
                "webhook.path {:?} must start with '/'",
                self.webhook.path
            )));
        }
        let poll = &self.poll;
        if poll.enabled {
            if poll.repos.is_empty() {
                return Err(ConnectorError::config(
                    "poll.repos must list at least one owner/repo when poll.enabled is true",
                ));
            }
            for r in &poll.repos {
                let ok = r
                    .trim()
                    .split_once('/')
                    .is_some_and(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'));
                if !ok {
                    return Err(ConnectorError::config(format!(
                        "poll.repos entry {r:?} must be owner/repo"
                    )));
                }
            }
            if poll.per_tick == 0 {
                return Err(ConnectorError::config("poll.per_tick must be at least 1"));
            }
            if poll.interval.is_zero() {
                return Err(ConnectorError::config("poll.interval must be more than 0"));
            }
            if !matches!(poll.state.as_str(), "open" | "closed" | "all") {
                return Err(ConnectorError::config(format!(
                    "poll.state {:?} must be open, closed or all",
                    poll.state
                )));
            }
        }
        Ok(())
    }
}

/// A standalone agent's config file: [`GithubConfig`] plus `[nats]` and `[state]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct GithubFileConfig {
    pub nats: NatsSection,
    pub state: StateSection,
    #[serde(flatten)]
    pub agent: GithubConfig,
}

impl GithubFileConfig {
    /// [`GithubConfig::apply_env`] plus `SEKIA_NATS_URL` and `SEKIA_NATS_TOKEN`.
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
            [github]
            token = "from-file"
            [webhook]
            listen = ""
            [poll]
            enabled = true
            interval = "1m"
            repos = ["octo/hello"]
            labels = ["bug"]
            state = "all"
            [security]
            command_secret = "s"
            [retry]
            max_retries = 2
            base_delay = "10ms"
        "#;
        let mut c: GithubFileConfig = toml::from_str(text).unwrap();
        assert_eq!(c.agent.poll.interval, Duration::from_secs(60));
        assert_eq!(c.agent.poll.mode(), PollMode::Label);
        assert_eq!(c.agent.retry.max_retries, 2);
        assert_eq!(c.agent.retry.base_delay, Duration::from_millis(10));
        c.apply_env(&|k| (k == "GITHUB_TOKEN").then(|| "from-env".to_owned()));
        assert_eq!(c.agent.github.token.expose(), "from-env");
        assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
        c.agent.validate().unwrap();
        assert_eq!(
            c.agent.github.graphql_url(),
            "https://api.github.com/graphql"
        );
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let bad: Result<GithubConfig, _> = toml::from_str("[poll]\nintervall = \"1s\"");
        assert!(bad.unwrap_err().to_string().contains("intervall"));
        let mut c = GithubConfig::default();
        c.poll.enabled = true;
        assert!(c.validate().unwrap_err().to_string().contains("poll.repos"));
        c.poll.repos = vec!["nope".into()];
        assert!(c.validate().unwrap_err().to_string().contains("owner/repo"));
        c.poll.repos = vec!["a/b".into()];
        c.poll.state = "x".into();
        assert!(c.validate().unwrap_err().to_string().contains("poll.state"));
    }
}
