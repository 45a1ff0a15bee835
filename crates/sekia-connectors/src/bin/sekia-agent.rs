//! `sekia-agent`: a connector as its own process, on a NATS server.
//!
//! ```text
//! sekia-agent github [--name github-work] [--nats nats://127.0.0.1:4222] [--config sekia-github-work.toml]
//! sekia-agent slack [--name slack-work] [--nats …] [--config sekia-slack-work.toml]
//! sekia-agent linear [--name linear-work] [--nats …] [--config sekia-linear-work.toml]
//! sekia-agent google [--name google-work] [--nats …] [--config sekia-google-work.toml]
//! sekia-agent google auth [--name google-work] [--config …]   # sign in, write google.token_path
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use sekia_bus::{Bus, NatsBus, NatsConfig};
use sekia_connectors::config::{
    NatsSection, StateSection, default_state_path, find_config_file, process_env, read_toml,
};
use sekia_connectors::github::{self, GithubAgentOptions, GithubFileConfig};
use sekia_connectors::{ConnectorError, RunningAgent, SqliteState, StaticToken};
use sekia_connectors::{google, linear, slack};
use sekia_protocol::{SystemClock, subjects};
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
    Google(GoogleArgs),
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct GoogleArgs {
    #[command(subcommand)]
    action: Option<GoogleAction>,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand, Debug)]
enum GoogleAction {
    /// Sign in with Google in the browser and write the token to google.token_path (sekia's
    /// `sekia-google auth`): prints the address to open, then waits up to 5 minutes
    Auth(Common),
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
        Agent::Github(common) => run::<GithubKind>(common).await,
        Agent::Linear(common) => run::<LinearKind>(common).await,
        Agent::Slack(common) => run::<SlackKind>(common).await,
        Agent::Google(GoogleArgs {
            action: Some(GoogleAction::Auth(common)),
            ..
        }) => google_auth(common).await,
        Agent::Google(GoogleArgs { common, .. }) => run::<GoogleKind>(common).await,
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

fn state_store(
    section: &StateSection,
) -> Result<Arc<dyn sekia_connectors::StateStore>, ConnectorError> {
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

/// What the runner needs of each kind of connector: how to read its file and start it.
trait Kind {
    type File: DeserializeOwned + Default + Clone + Send + Sync + 'static;
    /// `github`, …: the subcommand and the config file's name (`sekia-<kind>[-<name>].toml`).
    const KIND: &'static str;
    /// sekia's default instance name (`github-agent`).
    const DEFAULT_NAME: &'static str;
    /// The environment's overrides (sekia's variables).
    fn apply_env(file: &mut Self::File);
    fn nats(file: &mut Self::File) -> &mut NatsSection;
    /// What the agent cannot start without, named with its key and variable.
    fn check(file: &Self::File) -> Result<(), ConnectorError>;
    async fn start(
        name: String,
        bus: Arc<dyn Bus>,
        file: Self::File,
    ) -> Result<RunningAgent, ConnectorError>;
}

/// The agent's file (or defaults), the environment's overrides and `--nats`, checked.
fn load<K: Kind>(args: &Common) -> Result<K::File, ConnectorError> {
    let mut file: K::File = load_file(K::KIND, args)?;
    K::apply_env(&mut file);
    if let Some(url) = &args.nats {
        K::nats(&mut file).url = url.clone();
    }
    K::check(&file)?;
    Ok(file)
}

/// Runs one agent until SIGINT/SIGTERM, then stops it and closes the bus. A config reload
/// (`sekia.config.reload`, or `sekia.config.reload.<name>`) reads the file again and restarts
/// the agent with it; a file that does not load, or settings the agent cannot start with, leave
/// it running as it was. The NATS connection itself is kept: `nats.*` changes need a restart.
async fn run<K: Kind>(args: Common) -> Result<(), ConnectorError> {
    let mut file = load::<K>(&args)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| K::DEFAULT_NAME.to_owned());
    let bus = connect(K::nats(&mut file), &name).await?;
    let mut reloads = reload_requests(bus.as_ref(), &name).await?;
    let mut current = file.clone();
    let mut agent = K::start(name.clone(), bus.clone(), file).await?;
    let signal = wait_for_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            Some(_) = reloads.next() => {
                let fresh = match load::<K>(&args) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(error = %e, "config reload: the file does not load; running on with the old settings");
                        continue;
                    }
                };
                agent.stop().await;
                agent = match K::start(name.clone(), bus.clone(), fresh.clone()).await {
                    Ok(a) => {
                        tracing::info!("config reloaded");
                        current = fresh;
                        a
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "config reload: cannot start with the new settings; back to the old ones");
                        K::start(name.clone(), bus.clone(), current.clone()).await?
                    }
                };
            }
        }
    }
    tracing::info!("stopping");
    agent.stop().await;
    if let Err(e) = bus.close().await {
        tracing::warn!(error = %e, "bus did not close cleanly");
    }
    Ok(())
}

/// `sekia.config.reload` and `sekia.config.reload.<name>`, as one stream.
async fn reload_requests(
    bus: &dyn Bus,
    name: &str,
) -> Result<futures::stream::BoxStream<'static, sekia_bus::Message>, ConnectorError> {
    let target = subjects::config_reload_target(name)
        .map_err(|e| ConnectorError::config(format!("--name {name:?}: {e}")))?;
    let all = bus.subscribe(subjects::CONFIG_RELOAD).await?;
    let one = bus.subscribe(&target).await?;
    Ok(futures::stream::select(all, one).boxed())
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

struct GithubKind;

impl Kind for GithubKind {
    const KIND: &'static str = "github";
    type File = GithubFileConfig;
    const DEFAULT_NAME: &'static str = github::DEFAULT_NAME;

    fn apply_env(file: &mut Self::File) {
        file.apply_env(&process_env);
    }

    fn nats(file: &mut Self::File) -> &mut NatsSection {
        &mut file.nats
    }

    fn check(file: &Self::File) -> Result<(), ConnectorError> {
        require(
            &file.agent.github.token,
            "github.token is required (or set GITHUB_TOKEN)",
        )?;
        Ok(())
    }

    async fn start(
        name: String,
        bus: Arc<dyn Bus>,
        file: Self::File,
    ) -> Result<RunningAgent, ConnectorError> {
        let agent = github::start(
            GithubAgentOptions {
                name,
                bus,
                tokens: Arc::new(StaticToken::new(file.agent.github.token.clone())),
                state: state_store(&file.state)?,
                config: file.agent,
                clock: Arc::new(SystemClock),
            },
            CancellationToken::new(),
        )
        .await?;
        if let Some(addr) = agent.webhook_addr() {
            tracing::info!(%addr, "webhooks");
        }
        Ok(agent.into_running())
    }
}

struct SlackKind;

impl Kind for SlackKind {
    const KIND: &'static str = "slack";
    type File = slack::SlackFileConfig;
    const DEFAULT_NAME: &'static str = slack::DEFAULT_NAME;

    fn apply_env(file: &mut Self::File) {
        file.apply_env(&process_env);
    }

    fn nats(file: &mut Self::File) -> &mut NatsSection {
        &mut file.nats
    }

    fn check(file: &Self::File) -> Result<(), ConnectorError> {
        require(
            &file.agent.slack.bot_token,
            "slack.bot_token is required (or set SLACK_BOT_TOKEN)",
        )?;
        require(
            &file.agent.slack.app_token,
            "slack.app_token is required for Socket Mode (or set SLACK_APP_TOKEN)",
        )?;
        Ok(())
    }

    async fn start(
        name: String,
        bus: Arc<dyn Bus>,
        file: Self::File,
    ) -> Result<RunningAgent, ConnectorError> {
        slack::start(
            slack::SlackAgentOptions {
                name,
                bus,
                bot_token: Arc::new(StaticToken::new(file.agent.slack.bot_token.clone())),
                app_token: Arc::new(StaticToken::new(file.agent.slack.app_token.clone())),
                // Socket Mode keeps no watermark: nothing to persist.
                state: Arc::new(sekia_connectors::MemoryState::new()),
                config: file.agent,
                clock: Arc::new(SystemClock),
            },
            CancellationToken::new(),
        )
        .await
    }
}

struct LinearKind;

impl Kind for LinearKind {
    const KIND: &'static str = "linear";
    type File = linear::LinearFileConfig;
    const DEFAULT_NAME: &'static str = linear::DEFAULT_NAME;

    fn apply_env(file: &mut Self::File) {
        file.apply_env(&process_env);
    }

    fn nats(file: &mut Self::File) -> &mut NatsSection {
        &mut file.nats
    }

    fn check(file: &Self::File) -> Result<(), ConnectorError> {
        require(
            &file.agent.linear.api_key,
            "linear.api_key is required (or set LINEAR_API_KEY)",
        )?;
        Ok(())
    }

    async fn start(
        name: String,
        bus: Arc<dyn Bus>,
        file: Self::File,
    ) -> Result<RunningAgent, ConnectorError> {
        linear::start(
            linear::LinearAgentOptions {
                name,
                bus,
                tokens: Arc::new(StaticToken::new(file.agent.linear.api_key.clone())),
                // sekia-linear's key is a personal API key: `Authorization: <key>`.
                scheme: sekia_connectors::AuthScheme::Raw,
                state: state_store(&file.state)?,
                config: file.agent,
                clock: Arc::new(SystemClock),
            },
            CancellationToken::new(),
        )
        .await
    }
}

struct GoogleKind;

impl Kind for GoogleKind {
    const KIND: &'static str = "google";
    type File = google::GoogleFileConfig;
    const DEFAULT_NAME: &'static str = google::DEFAULT_NAME;

    fn apply_env(file: &mut Self::File) {
        file.apply_env(&process_env);
    }

    fn nats(file: &mut Self::File) -> &mut NatsSection {
        &mut file.nats
    }

    fn check(file: &Self::File) -> Result<(), ConnectorError> {
        // A fixed access token, or sekia's token file refreshed with the OAuth client.
        if file.google.access_token.is_empty() {
            google_provider(&file.google)?;
        }
        Ok(())
    }

    async fn start(
        name: String,
        bus: Arc<dyn Bus>,
        file: Self::File,
    ) -> Result<RunningAgent, ConnectorError> {
        google::start(
            google::GoogleAgentOptions {
                name: name.clone(),
                bus,
                tokens: google_tokens(&name, &file.google)?,
                state: state_store(&file.state)?,
                config: file.agent,
                clock: Arc::new(SystemClock),
            },
            CancellationToken::new(),
        )
        .await
    }
}

/// Google's OAuth settings from `[google]`: the client is required.
fn google_provider(
    section: &google::GoogleSection,
) -> Result<sekia_accounts::Provider, ConnectorError> {
    if section.client_id.trim().is_empty() || section.client_secret.is_empty() {
        return Err(ConnectorError::config(
            "google.client_id and google.client_secret are required (or GOOGLE_CLIENT_ID and \
             GOOGLE_CLIENT_SECRET), unless google.access_token gives a fixed access token",
        ));
    }
    let mut provider = sekia_accounts::provider::builtin("google")
        .ok_or_else(|| ConnectorError::config("no built-in Google provider"))?;
    provider.client_id = Some(section.client_id.trim().to_owned());
    provider.client_secret = Some(section.client_secret.clone());
    if !section.auth_url.is_empty() {
        provider.auth_url = section.auth_url.clone();
    }
    if !section.token_url.is_empty() {
        provider.token_url = section.token_url.clone();
    }
    Ok(provider)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The access token: `google.access_token` as is, else sekia's token file, refreshed five
/// minutes before it expires (one refresh at a time; the new token is written back before
/// it is used).
fn google_tokens(
    name: &str,
    section: &google::GoogleSection,
) -> Result<Arc<dyn sekia_accounts::TokenSource>, ConnectorError> {
    if !section.access_token.is_empty() {
        return Ok(Arc::new(StaticToken::new(section.access_token.clone())));
    }
    let provider = google_provider(section)?;
    let path = section.token_file(home().as_deref());
    if !path.is_file() {
        return Err(ConnectorError::config(format!(
            "no Google token at {} (google.token_path): run `sekia-agent google auth` first",
            path.display()
        )));
    }
    let id = sekia_accounts::AccountId::new("google", name)
        .map_err(|e| ConnectorError::config(e.to_string()))?;
    Ok(Arc::new(sekia_accounts::Account::new(
        id,
        provider,
        Arc::new(sekia_accounts::TokenFile::new(&path)),
        reqwest::Client::new(),
        Arc::new(SystemClock),
        sekia_accounts::RefreshPolicy::default(),
    )))
}

/// `sekia-agent google auth`: the browser sign-in (PKCE, loopback redirect on
/// `google.auth_port`), then the token written to `google.token_path` (0600).
async fn google_auth(args: Common) -> Result<(), ConnectorError> {
    let file = load::<GoogleKind>(&args)?;
    let provider = google_provider(&file.google)?;
    let account = |e: sekia_accounts::AccountError| ConnectorError::config(e.to_string());
    let sign_in = sekia_accounts::SignIn::start(
        &provider,
        reqwest::Client::new(),
        Arc::new(SystemClock),
        sekia_accounts::FlowOptions {
            port: file.google.auth_port,
            ..Default::default()
        },
    )
    .await
    .map_err(account)?;
    eprintln!(
        "Open this address in your browser to sign in with Google (waiting up to 5 minutes):"
    );
    println!("{}", sign_in.authorize_url());
    let tokens = sign_in.finish().await.map_err(account)?;
    if tokens.refresh_token.is_none() {
        tracing::warn!(
            "Google sent no refresh token: the agent works until the access token expires (about an hour)"
        );
    }
    let path = file.google.token_file(home().as_deref());
    let name = args.name.as_deref().unwrap_or(google::DEFAULT_NAME);
    let id = sekia_accounts::AccountId::new("google", name).map_err(account)?;
    sekia_accounts::TokenStore::save(&sekia_accounts::TokenFile::new(&path), &id, &tokens)
        .map_err(account)?;
    println!("Signed in; the token is in {}.", path.display());
    Ok(())
}
