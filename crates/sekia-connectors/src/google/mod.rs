//! The Google connector (Gmail + Google Calendar): sekia-google's events and
//! commands on sekia's bus, one agent per Google account.
//!
//! ```ignore
//! let agent = sekia_connectors::google::start(GoogleAgentOptions {
//!     name: "google-work".into(),          // registry name, sekia.commands.google-work, `account`
//!     bus, tokens, state, config, clock: Arc::new(SystemClock),
//! }, cancel.child_token()).await?;
//! // … later
//! agent.stop().await;
//! ```
//!
//! Events go to `sekia.events.google` with source `google`, as in sekia, and
//! carry `account` = the instance name. Tokens come from the account's
//! [`TokenSource`] for every request; refreshing them is the accounts layer's job.

pub mod api;
pub mod calendar;
pub mod commands;
pub mod config;
pub mod gmail;

use std::sync::Arc;

use sekia_accounts::TokenSource;
use sekia_bus::Bus;
use sekia_protocol::Clock;
use tokio_util::sync::CancellationToken;

pub use calendar::{CalendarCommands, CalendarPoller};
pub use commands::GoogleCommands;
pub use config::{CalendarConfig, GmailConfig, GoogleConfig, GoogleFileConfig, GoogleSection};
pub use gmail::{GmailCommands, GmailPoller};

use crate::agent::{AgentSpec, RunningAgent, start_agent};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::state::StateStore;

/// Event subject token and `source` of Google events.
pub const SERVICE: &str = "google";
/// sekia's agent name when no `--name` is given.
pub const DEFAULT_NAME: &str = "google-agent";

/// What a Google agent runs on.
pub struct GoogleAgentOptions {
    /// Instance name: registry name, `sekia.commands.<name>`, `account` in events.
    pub name: String,
    pub bus: Arc<dyn Bus>,
    /// The Google account's access tokens.
    pub tokens: Arc<dyn TokenSource>,
    /// History ids, sync tokens, event fingerprints.
    pub state: Arc<dyn StateStore>,
    pub config: GoogleConfig,
    /// "Now" for event times and upcoming events.
    pub clock: Arc<dyn Clock>,
}

/// A running Google agent.
pub type GoogleAgent = RunningAgent;

/// Registration capabilities, as sekia-google reports them.
pub fn capabilities(config: &GoogleConfig) -> Vec<String> {
    let mut caps = Vec::new();
    if config.gmail.enabled {
        caps.push("gmail-api".to_owned());
    }
    if config.calendar.enabled {
        caps.push("calendar-api".to_owned());
    }
    caps
}

/// Starts a Google agent: command intake, and the Gmail and Calendar pollers of
/// the enabled services. It runs until `cancel` fires or [`GoogleAgent::stop`].
pub async fn start(
    opts: GoogleAgentOptions,
    cancel: CancellationToken,
) -> Result<GoogleAgent, ConnectorError> {
    let GoogleAgentOptions {
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
    let google = api::GoogleApi::new(http, tokens);

    let gmail_api = if config.gmail.enabled {
        let base = api::base_url("gmail.api_url", &config.gmail.api_url)?;
        Some(gmail::GmailApi::new(
            google.clone(),
            base,
            config.gmail.user_id.trim(),
        ))
    } else {
        None
    };
    let calendar_api = if config.calendar.enabled {
        let base = api::base_url("calendar.api_url", &config.calendar.api_url)?;
        Some(calendar::CalendarApi::new(
            google.clone(),
            base,
            config.calendar.calendar_id.trim(),
        ))
    } else {
        None
    };

    let handler = Arc::new(GoogleCommands::new(
        gmail_api
            .clone()
            .map(|a| GmailCommands::new(a, &config.gmail.from, clock.clone())),
        calendar_api.clone().map(CalendarCommands::new),
    ));
    let mut spec = AgentSpec::new(name.clone(), SERVICE);
    spec.capabilities = capabilities(&config);
    spec.commands = handler.names();
    spec.command_secret = config.security.command_secret.clone();
    if spec.command_secret.is_empty() {
        tracing::warn!(agent = %name, "security.command_secret is not set: commands are not verified");
    }
    let agent = start_agent(bus, spec, handler, clock.clone(), cancel.clone()).await?;

    let mut tasks = Vec::new();
    if let Some(api) = gmail_api {
        let poller = GmailPoller::new(api, agent.sink().clone(), state.clone(), &config.gmail);
        tasks.push(tokio::spawn(poller.run(cancel.clone())));
    }
    if let Some(api) = calendar_api {
        let poller = CalendarPoller::new(api, agent.sink().clone(), state, clock, &config.calendar);
        tasks.push(tokio::spawn(poller.run(cancel.clone())));
    }
    Ok(RunningAgent::new(name, cancel, agent, tasks))
}
