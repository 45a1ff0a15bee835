//! The GitHub connector: sekia-github's events and commands on sekia's bus.
//!
//! ```ignore
//! let agent = sekia_connectors::github::start(GithubAgentOptions {
//!     name: "github-work".into(),          // registry name, sekia.commands.github-work, `account`
//!     bus, tokens, state, config, clock: Arc::new(SystemClock),
//! }, cancel.child_token()).await?;
//! // … later
//! agent.stop().await;                       // or cancel the token and `agent.join().await`
//! ```

pub mod api;
pub mod commands;
pub mod config;
pub mod mapping;
pub mod poller;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use sekia_accounts::TokenSource;
use sekia_bus::Bus;
use sekia_protocol::Clock;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::GithubApi;
pub use commands::{COMMANDS, GithubCommands};
pub use config::{GithubConfig, GithubFileConfig, PollConfig, PollMode, WebhookConfig};
pub use poller::Poller;

use crate::agent::{AgentSpec, EventSink, RunningAgent, start_agent};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::state::StateStore;

/// Event subject token and `source` of GitHub events.
pub const SERVICE: &str = "github";
/// sekia's agent name when no `--name` is given.
pub const DEFAULT_NAME: &str = "github-agent";

/// What a GitHub agent runs on.
pub struct GithubAgentOptions {
    /// Instance name (see the module docs).
    pub name: String,
    pub bus: Arc<dyn Bus>,
    /// The account's token (the daemon's account, or [`crate::StaticToken`]).
    pub tokens: Arc<dyn TokenSource>,
    /// Poller watermarks.
    pub state: Arc<dyn StateStore>,
    pub config: GithubConfig,
    pub clock: Arc<dyn Clock>,
}

/// A running GitHub agent: the shared [`RunningAgent`] plus where its webhook listens.
#[derive(Debug)]
pub struct GithubAgent {
    running: RunningAgent,
    webhook_addr: Option<SocketAddr>,
}

impl GithubAgent {
    pub fn name(&self) -> &str {
        self.running.name()
    }

    /// Where the webhook server listens, if it runs (the real port when the config
    /// asked for port 0).
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.webhook_addr
    }

    /// Publishes events as this agent.
    pub fn sink(&self) -> &EventSink {
        self.running.sink()
    }

    /// See [`RunningAgent::stop`]; the webhook server and poller end too.
    pub async fn stop(self) {
        self.running.stop().await;
    }

    /// See [`RunningAgent::join`].
    pub async fn join(self) {
        self.running.join().await;
    }

    /// The agent without its GitHub-specific handle, to be stopped like any other.
    pub fn into_running(self) -> RunningAgent {
        self.running
    }
}

/// Registration capabilities, as sekia-github reports them.
pub fn capabilities(config: &GithubConfig) -> Vec<String> {
    let mut caps = vec!["github-api".to_owned()];
    if !config.webhook.listen.is_empty() {
        caps.push("github-webhooks".into());
    }
    if config.poll.enabled {
        caps.push("github-polling".into());
    }
    caps
}

/// sekia's `:8080` form means all interfaces.
fn listen_addr(listen: &str) -> String {
    if listen.starts_with(':') {
        format!("0.0.0.0{listen}")
    } else {
        listen.to_owned()
    }
}

/// Starts a GitHub agent: command intake, webhook server (if `webhook.listen`),
/// poller (if `poll.enabled`). It runs until `cancel` fires or
/// [`GithubAgent::stop`] is called.
pub async fn start(
    opts: GithubAgentOptions,
    cancel: CancellationToken,
) -> Result<GithubAgent, ConnectorError> {
    let GithubAgentOptions {
        name,
        bus,
        tokens,
        state,
        config,
        clock,
    } = opts;
    config.validate()?;
    let http = HttpClient::new(
        concat!("sekia-connectors/", env!("CARGO_PKG_VERSION")),
        config.retry.clone(),
        clock.clone(),
        cancel.clone(),
    )
    .map_err(|e| ConnectorError::Http(e.to_string()))?;
    let api = Arc::new(GithubApi::new(
        http,
        tokens,
        &config.github.api_url,
        &config.github.graphql_url(),
    )?);

    // Bind before announcing anything, so a taken port fails the start cleanly.
    let listener = if config.webhook.listen.is_empty() {
        None
    } else {
        let addr = listen_addr(&config.webhook.listen);
        let l = TcpListener::bind(&addr)
            .await
            .map_err(|source| ConnectorError::Listen { addr, source })?;
        if config.webhook.secret.is_empty() {
            tracing::warn!(agent = %name, "webhook.secret is not set: every delivery will be refused (403)");
        }
        Some(l)
    };
    let webhook_addr = listener.as_ref().and_then(|l| l.local_addr().ok());

    let mut spec = AgentSpec::new(name.clone(), SERVICE);
    spec.capabilities = capabilities(&config);
    spec.commands = COMMANDS.iter().map(|c| (*c).to_owned()).collect();
    spec.command_secret = config.security.command_secret.clone();
    if spec.command_secret.is_empty() {
        tracing::warn!(agent = %name, "security.command_secret is not set: commands are not verified");
    }
    let handler = Arc::new(GithubCommands::new(api.clone()));
    let agent = start_agent(bus, spec, handler, clock.clone(), cancel.clone()).await?;

    let mut tasks = Vec::new();
    if let Some(listener) = listener {
        let router = webhook::router(
            &config.webhook.path,
            config.webhook.secret.clone(),
            agent.sink().clone(),
        );
        tasks.push(tokio::spawn(webhook::serve(
            listener,
            router,
            cancel.clone(),
        )));
    }
    if config.poll.enabled {
        let poller = Poller::new(api, agent.sink().clone(), state, config.poll.clone(), clock);
        tasks.push(tokio::spawn(poller.run(cancel.clone())));
    }
    Ok(GithubAgent {
        running: RunningAgent::new(name, cancel, agent, tasks),
        webhook_addr,
    })
}
