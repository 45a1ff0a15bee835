//! The Slack connector: sekia-slack's events and commands on sekia's bus.
//!
//! Events come over Socket Mode ([`socket`]); commands go through the Web API
//! ([`api`]) with the bot token.
//!
//! ```ignore
//! let agent = sekia_connectors::slack::start(SlackAgentOptions {
//!     name: "slack-work".into(),           // registry name, sekia.commands.slack-work, `account`
//!     bus, bot_token, app_token, state, config, clock: Arc::new(SystemClock),
//! }, cancel.child_token()).await?;
//! // … later
//! agent.stop().await;                       // or cancel the token and `agent.join().await`
//! ```

pub mod api;
pub mod commands;
pub mod config;
pub mod mapping;
pub mod socket;

use std::sync::Arc;

use sekia_accounts::TokenSource;
use sekia_bus::Bus;
use sekia_protocol::Clock;
use tokio_util::sync::CancellationToken;

pub use api::{BotIdentity, SlackApi, SlackError};
pub use commands::{COMMANDS, SlackCommands};
pub use config::{SlackConfig, SlackFileConfig, SlackSection, SocketModeConfig};
pub use mapping::{Mapped, Mapper};
pub use socket::{SocketClient, SocketError};

use crate::agent::{AgentSpec, RunningAgent, start_agent};
use crate::error::ConnectorError;
use crate::http::{HttpClient, HttpError};
use crate::state::StateStore;

/// Event subject token and `source` of Slack events.
pub const SERVICE: &str = "slack";
/// sekia's agent name when no `--name` is given.
pub const DEFAULT_NAME: &str = "slack-agent";
/// Registration capabilities, as sekia-slack reports them.
pub const CAPABILITIES: [&str; 2] = ["slack-socketmode", "slack-api"];

/// What a Slack agent runs on.
pub struct SlackAgentOptions {
    /// Instance name (see the module docs).
    pub name: String,
    pub bus: Arc<dyn Bus>,
    /// The bot token (`xoxb-…`): Web API calls and `auth.test`.
    pub bot_token: Arc<dyn TokenSource>,
    /// The app-level token (`xapp-…`): `apps.connections.open`.
    pub app_token: Arc<dyn TokenSource>,
    /// Not used yet: Socket Mode has no watermark (Slack redelivers unacked
    /// envelopes). Taken so the daemon wires every connector alike.
    pub state: Arc<dyn StateStore>,
    pub config: SlackConfig,
    pub clock: Arc<dyn Clock>,
}

/// A running Slack agent.
pub type SlackAgent = RunningAgent;

/// Starts a Slack agent: command intake and the Socket Mode client. It runs until
/// `cancel` fires or [`SlackAgent::stop`] is called.
///
/// `auth.test` runs here: a bot token Slack refuses (`invalid_auth`, …) fails the
/// start, as in sekia. When Slack cannot be reached the agent starts anyway
/// (commands queue and retry) and the Socket Mode client keeps trying.
pub async fn start(
    opts: SlackAgentOptions,
    cancel: CancellationToken,
) -> Result<SlackAgent, ConnectorError> {
    let SlackAgentOptions {
        name,
        bus,
        bot_token,
        app_token,
        state: _,
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
    let api = Arc::new(SlackApi::new(http, &config.slack.api_url)?);

    let mapper = match api.auth_test(bot_token.as_ref()).await {
        Ok(bot) => {
            tracing::info!(agent = %name, bot_user = %bot.user_id, team = %bot.team, "Slack bot identified");
            Some(Mapper::new(bot))
        }
        Err(e @ SlackError::Api { .. }) => {
            return Err(ConnectorError::config(format!(
                "slack.bot_token was refused: {e}"
            )));
        }
        Err(SlackError::Http {
            source: HttpError::Credentials(m),
            ..
        }) => {
            return Err(ConnectorError::config(format!(
                "slack.bot_token is not available: {m}"
            )));
        }
        Err(e) => {
            tracing::warn!(agent = %name, error = %e, "Slack not reachable at start; will keep trying");
            None
        }
    };

    let mut spec = AgentSpec::new(name.clone(), SERVICE);
    spec.capabilities = CAPABILITIES.iter().map(|c| (*c).to_owned()).collect();
    spec.commands = COMMANDS.iter().map(|c| (*c).to_owned()).collect();
    spec.command_secret = config.security.command_secret.clone();
    if spec.command_secret.is_empty() {
        tracing::warn!(agent = %name, "security.command_secret is not set: commands are not verified");
    }
    let handler = Arc::new(SlackCommands::new(api.clone(), bot_token.clone()));
    let agent = start_agent(bus, spec, handler, clock, cancel.clone()).await?;

    let client = SocketClient::new(
        api,
        bot_token,
        app_token,
        agent.sink().clone(),
        config.socket_mode.clone(),
        mapper,
    );
    let tasks = vec![tokio::spawn(client.run(cancel.clone()))];
    Ok(RunningAgent::new(name, cancel, agent, tasks))
}
