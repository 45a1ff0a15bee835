//! The Linear connector: sekia-linear's events and commands on sekia's bus.
//!
//! ```ignore
//! let agent = sekia_connectors::linear::start(LinearAgentOptions {
//!     name: "linear-work".into(),          // registry name, sekia.commands.linear-work, `account`
//!     bus, tokens,
//!     scheme: AuthScheme::Raw,             // personal API key; AuthScheme::Bearer for OAuth tokens
//!     state, config, clock: Arc::new(SystemClock),
//! }, cancel.child_token()).await?;
//! // … later
//! agent.stop().await;                       // or cancel the token and `agent.join().await`
//! ```

pub mod api;
pub mod commands;
pub mod config;
pub mod mapping;
pub mod poller;

use std::sync::Arc;

use sekia_accounts::TokenSource;
use sekia_bus::Bus;
use sekia_protocol::Clock;
use tokio_util::sync::CancellationToken;

pub use api::{LinearApi, TeamFilter};
pub use commands::{COMMANDS, LinearCommands};
pub use config::{LinearConfig, LinearFileConfig, LinearPollConfig, LinearSection};
pub use poller::Poller;

use crate::agent::{AgentSpec, RunningAgent, start_agent};
use crate::error::ConnectorError;
use crate::graphql::GraphqlClient;
use crate::http::{AuthScheme, HttpClient};
use crate::state::StateStore;

/// Event subject token and `source` of Linear events.
pub const SERVICE: &str = "linear";
/// sekia's agent name when no `--name` is given.
pub const DEFAULT_NAME: &str = "linear-agent";

/// What a Linear agent runs on.
pub struct LinearAgentOptions {
    /// Instance name (see the module docs).
    pub name: String,
    pub bus: Arc<dyn Bus>,
    /// The account's credential (the daemon's account, or [`crate::StaticToken`]).
    pub tokens: Arc<dyn TokenSource>,
    /// How the credential is sent: [`AuthScheme::Raw`] for a personal API key
    /// (`Authorization: lin_api_…`), [`AuthScheme::Bearer`] for an OAuth token.
    pub scheme: AuthScheme,
    /// Poller watermarks.
    pub state: Arc<dyn StateStore>,
    pub config: LinearConfig,
    pub clock: Arc<dyn Clock>,
}

/// A running Linear agent.
pub type LinearAgent = RunningAgent;

/// Registration capabilities, as sekia-linear reports them.
pub fn capabilities(config: &LinearConfig) -> Vec<String> {
    let mut caps = Vec::new();
    if config.poll.enabled {
        caps.push("linear-polling".to_owned());
    }
    caps.push("linear-api".to_owned());
    caps
}

/// The Linear API client an agent with `config` uses (also for tests and tools).
pub fn api(
    config: &LinearConfig,
    tokens: Arc<dyn TokenSource>,
    scheme: AuthScheme,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
) -> Result<LinearApi, ConnectorError> {
    let http = HttpClient::new(
        concat!("sekia-connectors/", env!("CARGO_PKG_VERSION")),
        config.retry.clone(),
        clock,
        cancel,
    )
    .map_err(|e| ConnectorError::Http(e.to_string()))?;
    Ok(LinearApi::new(GraphqlClient::new(
        http,
        tokens,
        scheme,
        config.api_url()?,
    )))
}

/// Starts a Linear agent: command intake and (if `poll.enabled`) the poller. It
/// runs until `cancel` fires or [`LinearAgent::stop`] is called.
pub async fn start(
    opts: LinearAgentOptions,
    cancel: CancellationToken,
) -> Result<LinearAgent, ConnectorError> {
    let LinearAgentOptions {
        name,
        bus,
        tokens,
        scheme,
        state,
        config,
        clock,
    } = opts;
    config.validate()?;
    let api = Arc::new(api(&config, tokens, scheme, clock.clone(), cancel.clone())?);

    let mut spec = AgentSpec::new(name.clone(), SERVICE);
    spec.capabilities = capabilities(&config);
    spec.commands = COMMANDS.iter().map(|c| (*c).to_owned()).collect();
    spec.command_secret = config.security.command_secret.clone();
    if spec.command_secret.is_empty() {
        tracing::warn!(agent = %name, "security.command_secret is not set: commands are not verified");
    }
    let handler = Arc::new(LinearCommands::new(api.clone()));
    let agent = start_agent(bus, spec, handler, clock.clone(), cancel.clone()).await?;

    let mut tasks = Vec::new();
    if config.poll.enabled {
        let team = TeamFilter {
            id: config.linear.team_id.clone(),
            key: config.poll.team_filter.clone(),
        };
        let poller = Poller::new(
            api,
            agent.sink().clone(),
            state,
            team,
            config.poll.interval,
            clock,
        );
        tasks.push(tokio::spawn(poller.run(cancel.clone())));
    }
    Ok(RunningAgent::new(name, cancel, agent, tasks))
}
