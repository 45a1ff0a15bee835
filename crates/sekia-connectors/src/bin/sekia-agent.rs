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
use sekia_connectors::config::{default_state_path, find_config_file, process_env, read_toml};
use sekia_connectors::github::{self, GithubAgentOptions, GithubFileConfig};
use sekia_connectors::{ConnectorError, SqliteState, StaticToken};
use sekia_protocol::SystemClock;
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
    /// Config file; default: sekia-github[-<name>].toml in /etc/sekia, ~/.config/sekia, .
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

async fn run_github(args: Common) -> Result<(), ConnectorError> {
    let path = args
        .config
        .clone()
        .or_else(|| find_config_file("github", args.name.as_deref()));
    let mut file: GithubFileConfig = match &path {
        Some(p) => read_toml(p)?,
        None => GithubFileConfig::default(),
    };
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| github::DEFAULT_NAME.to_owned());
    if file.agent.github.token.is_empty() {
        return Err(ConnectorError::config(
            "github.token is required (or set GITHUB_TOKEN)",
        ));
    }
    let state_path = if file.state.path.is_empty() {
        default_state_path()
    } else {
        PathBuf::from(&file.state.path)
    };
    let state = Arc::new(SqliteState::open(&state_path)?);

    let mut nats = NatsConfig::new(file.nats.url.clone());
    nats.name = name.clone();
    if !file.nats.token.is_empty() {
        nats.token = Some(file.nats.token.expose().to_owned());
    }
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(nats).await?);

    let cancel = CancellationToken::new();
    let agent = github::start(
        GithubAgentOptions {
            name,
            bus: bus.clone(),
            tokens: Arc::new(StaticToken::new(file.agent.github.token.clone())),
            state,
            config: file.agent,
            clock: Arc::new(SystemClock),
        },
        cancel.clone(),
    )
    .await?;
    if let Some(addr) = agent.webhook_addr() {
        tracing::info!(%addr, "webhooks");
    }
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

async fn run_slack(args: Common) -> Result<(), ConnectorError> {
    use sekia_connectors::MemoryState;
    use sekia_connectors::slack::{self, SlackAgentOptions, SlackFileConfig};

    let path = args
        .config
        .clone()
        .or_else(|| find_config_file("slack", args.name.as_deref()));
    let mut file: SlackFileConfig = match &path {
        Some(p) => read_toml(p)?,
        None => SlackFileConfig::default(),
    };
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| slack::DEFAULT_NAME.to_owned());
    if file.agent.slack.bot_token.is_empty() {
        return Err(ConnectorError::config(
            "slack.bot_token is required (or set SLACK_BOT_TOKEN)",
        ));
    }
    if file.agent.slack.app_token.is_empty() {
        return Err(ConnectorError::config(
            "slack.app_token is required for Socket Mode (or set SLACK_APP_TOKEN)",
        ));
    }

    let mut nats = NatsConfig::new(file.nats.url.clone());
    nats.name = name.clone();
    if !file.nats.token.is_empty() {
        nats.token = Some(file.nats.token.expose().to_owned());
    }
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(nats).await?);

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
    wait_for_signal().await;
    tracing::info!("stopping");
    agent.stop().await;
    if let Err(e) = bus.close().await {
        tracing::warn!(error = %e, "bus did not close cleanly");
    }
    Ok(())
}

async fn run_linear(args: Common) -> Result<(), ConnectorError> {
    use sekia_connectors::AuthScheme;
    use sekia_connectors::linear::{self, LinearAgentOptions, LinearFileConfig};

    let path = args
        .config
        .clone()
        .or_else(|| find_config_file("linear", args.name.as_deref()));
    let mut file: LinearFileConfig = match &path {
        Some(p) => read_toml(p)?,
        None => LinearFileConfig::default(),
    };
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| linear::DEFAULT_NAME.to_owned());
    if file.agent.linear.api_key.is_empty() {
        return Err(ConnectorError::config(
            "linear.api_key is required (or set LINEAR_API_KEY)",
        ));
    }
    let state_path = if file.state.path.is_empty() {
        default_state_path()
    } else {
        PathBuf::from(&file.state.path)
    };
    let state = Arc::new(SqliteState::open(&state_path)?);

    let mut nats = NatsConfig::new(file.nats.url.clone());
    nats.name = name.clone();
    if !file.nats.token.is_empty() {
        nats.token = Some(file.nats.token.expose().to_owned());
    }
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(nats).await?);

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
    wait_for_signal().await;
    tracing::info!("stopping");
    agent.stop().await;
    if let Err(e) = bus.close().await {
        tracing::warn!(error = %e, "bus did not close cleanly");
    }
    Ok(())
}

async fn run_google(args: Common) -> Result<(), ConnectorError> {
    use sekia_connectors::google::{self, GoogleAgentOptions, GoogleFileConfig};

    let path = args
        .config
        .clone()
        .or_else(|| find_config_file("google", args.name.as_deref()));
    let mut file: GoogleFileConfig = match &path {
        Some(p) => read_toml(p)?,
        None => GoogleFileConfig::default(),
    };
    file.apply_env(&process_env);
    if let Some(url) = args.nats {
        file.nats.url = url;
    }
    let name = args.name.unwrap_or_else(|| google::DEFAULT_NAME.to_owned());
    // Signing in and refreshing are the daemon's accounts' job; standalone, the agent
    // takes an access token (sekia's client_id/token_path keys are read but unused).
    if file.google.access_token.is_empty() {
        return Err(ConnectorError::config(
            "google.access_token is required (or set GOOGLE_ACCESS_TOKEN); refreshing tokens needs the daemon's accounts",
        ));
    }
    if !file.google.token_path.is_empty() || !file.google.client_id.is_empty() {
        tracing::warn!("google.client_id / google.token_path are not used by sekia-agent");
    }
    let state_path = if file.state.path.is_empty() {
        default_state_path()
    } else {
        PathBuf::from(&file.state.path)
    };
    let state = Arc::new(SqliteState::open(&state_path)?);

    let mut nats = NatsConfig::new(file.nats.url.clone());
    nats.name = name.clone();
    if !file.nats.token.is_empty() {
        nats.token = Some(file.nats.token.expose().to_owned());
    }
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(nats).await?);

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
    wait_for_signal().await;
    tracing::info!("stopping");
    agent.stop().await;
    if let Err(e) = bus.close().await {
        tracing::warn!(error = %e, "bus did not close cleanly");
    }
    Ok(())
}
