//! `sekia-agent`: a connector as its own process, on a NATS server.
//!
//! ```text
//! sekia-agent github [--name github-work] [--nats nats://127.0.0.1:4222] [--config sekia-github-work.toml]
//! sekia-agent slack [--name slack-work] [--nats …] [--config sekia-slack-work.toml]
//! sekia-agent linear [--name linear-work] [--nats …] [--config sekia-linear-work.toml]
//! sekia-agent google [--name google-work] [--nats …] [--config sekia-google-work.toml]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use sekia_bus::{Bus, NatsBus, NatsConfig};
use sekia_connectors::config::{
    NatsSection, StateSection, default_state_path, find_config_file, process_env, read_toml,
};
use sekia_connectors::github::{self, GithubAgentOptions, GithubFileConfig};
use sekia_connectors::{ConnectorError, RunningAgent, SqliteState, StaticToken};
use sekia_protocol::SystemClock;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "sekia-agent",
    version,
    about = "Run a sekia connector as its own process"
)]
struct Cli {
    #[command(subcommand)]
    agent: Agent,
}

#[derive(Subcommand, Debug)]
enum Agent {
    /// The GitHub connector (webhooks, polling, commands).
    Github(Common),
    /// The Slack connector (Socket Mode events, Web API commands).
    Slack(Common),
    /// The Linear connector (GraphQL polling, commands).
    Linear(Common),
    /// The Google connector (Gmail and Calendar polling, commands).
    Google(Common),
}

#[derive(clap::Args, Debug)]
struct Common {
    /// Instance name: registry name and command subject `sekia.commands.<name>`.
    #[arg(long)]
    name: Option<String>,
    /// NATS server URL(s); overrides `nats.url` and SEKIA_NATS_URL.
    #[arg(long)]
    nats: Option<String>,
    /// Config file; default: sekia-<agent>[-<name>].toml in /etc/sekia, ~/.config/sekia, .
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.agent {
        Agent::Github(common) => run_github(common).await,
        Agent::Linear(common) => run_linear(common).await,
        Agent::Slack(common) => run_slack(common).await,
        Agent::Google(common) => run_google(common).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("sekia-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The agent's config file (`--config`, else sekia's search for `sekia-<kind>[-<name>].toml`),
/// or the defaults when there is none.
fn load_file<T: DeserializeOwned + Default>(
    kind: &str,
    args: &Common,
) -> Result<T, ConnectorError> {
    let path = args
        .config
        .clone()
        .or_else(|| find_config_file(kind, args.name.as_deref()));
    match &path {
        Some(p) => read_toml(p),
        None => Ok(T::default()),
    }
}

/// A required token, or `message` (which names its key and environment variable).
fn require(token: &sekia_protocol::Secret, message: &str) -> Result<(), ConnectorError> {
    if token.is_empty() {
        Err(ConnectorError::config(message))
    } else {
        Ok(())
    }
}

fn state_store(section: &StateSection) -> Result<Arc<SqliteState>, ConnectorError> {
    let path = if section.path.is_empty() {
        default_state_path()
    } else {
        PathBuf::from(&section.path)
    };
    Ok(Arc::new(SqliteState::open(&path)?))
}

async fn connect(section: &NatsSection, name: &str) -> Result<Arc<dyn Bus>, ConnectorError> {
    let mut nats = NatsConfig::new(section.url.clone());
    nats.name = name.to_owned();
    if !section.token.is_empty() {
        nats.token = Some(section.token.expose().to_owned());
    }
    Ok(Arc::new(NatsBus::connect(nats).await?))
}

/// Runs until SIGINT/SIGTERM, then stops the agent and closes the bus.
async fn serve(agent: RunningAgent, bus: Arc<dyn Bus>) -> Result<(), ConnectorError> {
    wait_for_signal().await;
    tracing::info!("stopping");
    agent.stop().await;
    if let Err(e) = bus.close().await {
        tracing::warn!(error = %e, "bus did not close cleanly");
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_github(args: Common) -> Result<(), ConnectorError> {
    let mut file: GithubFileConfig = load_file("github", &args)?;
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| github::DEFAULT_NAME.to_owned());
    require(
        &file.agent.github.token,
        "github.token is required (or set GITHUB_TOKEN)",
    )?;
    let state = state_store(&file.state)?;
    let bus = connect(&file.nats, &name).await?;
    let agent = github::start(
        GithubAgentOptions {
            name,
            bus: bus.clone(),
            tokens: Arc::new(StaticToken::new(file.agent.github.token.clone())),
            state,
            config: file.agent,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await?;
    if let Some(addr) = agent.webhook_addr() {
        tracing::info!(%addr, "webhooks");
    }
    serve(agent.into_running(), bus).await
}

async fn run_slack(args: Common) -> Result<(), ConnectorError> {
    use sekia_connectors::MemoryState;
    use sekia_connectors::slack::{self, SlackAgentOptions, SlackFileConfig};

    let mut file: SlackFileConfig = load_file("slack", &args)?;
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| slack::DEFAULT_NAME.to_owned());
    require(
        &file.agent.slack.bot_token,
        "slack.bot_token is required (or set SLACK_BOT_TOKEN)",
    )?;
    require(
        &file.agent.slack.app_token,
        "slack.app_token is required for Socket Mode (or set SLACK_APP_TOKEN)",
    )?;
    let bus = connect(&file.nats, &name).await?;
    let agent = slack::start(
        SlackAgentOptions {
            name,
            bus: bus.clone(),
            bot_token: Arc::new(StaticToken::new(file.agent.slack.bot_token.clone())),
            app_token: Arc::new(StaticToken::new(file.agent.slack.app_token.clone())),
            // Socket Mode keeps no watermark: nothing to persist.
            state: Arc::new(MemoryState::new()),
            config: file.agent,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await?;
    serve(agent, bus).await
}

async fn run_linear(args: Common) -> Result<(), ConnectorError> {
    use sekia_connectors::AuthScheme;
    use sekia_connectors::linear::{self, LinearAgentOptions, LinearFileConfig};

    let mut file: LinearFileConfig = load_file("linear", &args)?;
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| linear::DEFAULT_NAME.to_owned());
    require(
        &file.agent.linear.api_key,
        "linear.api_key is required (or set LINEAR_API_KEY)",
    )?;
    let state = state_store(&file.state)?;
    let bus = connect(&file.nats, &name).await?;
    let agent = linear::start(
        LinearAgentOptions {
            name,
            bus: bus.clone(),
            tokens: Arc::new(StaticToken::new(file.agent.linear.api_key.clone())),
            // sekia-linear's key is a personal API key: `Authorization: <key>`.
            scheme: AuthScheme::Raw,
            state,
            config: file.agent,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await?;
    serve(agent, bus).await
}

async fn run_google(args: Common) -> Result<(), ConnectorError> {
    use sekia_connectors::google::{self, GoogleAgentOptions, GoogleFileConfig};

    let mut file: GoogleFileConfig = load_file("google", &args)?;
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| google::DEFAULT_NAME.to_owned());
    // Signing in and refreshing are the daemon's accounts' job; standalone, the agent
    // takes an access token (sekia's client_id/token_path keys are read but unused).
    require(
        &file.google.access_token,
        "google.access_token is required (or set GOOGLE_ACCESS_TOKEN); refreshing tokens needs the daemon's accounts",
    )?;
    if !file.google.token_path.is_empty() || !file.google.client_id.is_empty() {
        tracing::warn!("google.client_id / google.token_path are not used by sekia-agent");
    }
    let state = state_store(&file.state)?;
    let bus = connect(&file.nats, &name).await?;
    let agent = google::start(
        GoogleAgentOptions {
            name,
            bus: bus.clone(),
            tokens: Arc::new(StaticToken::new(file.google.access_token.clone())),
            state,
            config: file.agent,
            clock: Arc::new(SystemClock),
        },
        CancellationToken::new(),
    )
    .await?;
    serve(agent, bus).await
}
