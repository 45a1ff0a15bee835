//! One connector agent per connected account, inside the daemon: started when an account is
//! connected, stopped when it is disconnected or needs a new sign-in (so a dead token does
//! not hammer the service), restarted when it is reconnected. Each agent's settings come from
//! `[connectors.<account name>]` in sekia.toml, the same keys as the standalone agent's file.
//!
//! A config reload (`sekiactl config reload [--target NAME]`, sekia's `sekia.config.reload` and
//! `sekia.config.reload.<name>`) reads sekia.toml again and restarts the agents whose section
//! changed; a file that does not load is reported and changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;

use sekia_accounts::{AuthScheme, TokenSource};
use sekia_bus::Bus;
use sekia_connectors::{RunningAgent, SqliteState, StateStore};
use sekia_protocol::clock::Clock;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::config::Config;

/// How often the supervisor looks again even without a change (an account whose refresh was
/// refused is noticed here).
const RECHECK: Duration = Duration::from_secs(30);

/// A running agent and the provider it was started for.
struct Running {
    provider: String,
    agent: RunningAgent,
}

/// What the supervisor needs, cloned into its task.
#[derive(Clone)]
pub(crate) struct ConnectorContext {
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    pub accounts: Arc<Accounts>,
    /// Why an account's agent is not running (a bad `[connectors.<name>]` table, a port in
    /// use), for status.
    pub problems: Arc<Mutex<BTreeMap<String, String>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the supervisor; it stops every agent when `stop` is cancelled.
pub(crate) fn spawn(ctx: ConnectorContext, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let state: Option<Arc<dyn StateStore>> = match state_store(&ctx.config).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "connector state store unavailable; connectors are off");
                lock(&ctx.problems).insert("(all)".into(), e);
                None
            }
        };
        let Some(state) = state else {
            stop.cancelled().await;
            return;
        };
        let mut ctx = ctx;
        let mut changed = ctx.accounts.changed.subscribe();
        let mut reloads = reload_requests(&ctx).await;
        let mut running: HashMap<String, Running> = HashMap::new();
        loop {
            reconcile(&ctx, &state, &mut running, &stop).await;
            tokio::select! {
                () = stop.cancelled() => break,
                r = changed.changed() => if r.is_err() { break },
                Some(m) = reloads.next() => reload(&mut ctx, &mut running, &m.subject).await,
                () = tokio::time::sleep(RECHECK) => ctx.accounts.sync_states(),
            }
        }
        for (name, r) in running.drain() {
            tracing::debug!(agent = %name, "stopping connector");
            r.agent.stop().await;
        }
    })
}

/// `sekia.config.reload` and `sekia.config.reload.<name>`, as one stream (empty when the bus
/// refuses, which it does only while closing).
async fn reload_requests(
    ctx: &ConnectorContext,
) -> futures::stream::BoxStream<'static, sekia_bus::Message> {
    let all = ctx
        .bus
        .subscribe(sekia_protocol::subjects::CONFIG_RELOAD)
        .await;
    let one = ctx.bus.subscribe("sekia.config.reload.*").await;
    match (all, one) {
        (Ok(a), Ok(o)) => futures::stream::select(a, o).boxed(),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "config reloads will not reach the connectors");
            futures::stream::empty().boxed()
        }
    }
}

/// Reads sekia.toml again and stops the targeted agents whose `[connectors.<name>]` changed;
/// the next reconcile starts them with the new section.
async fn reload(ctx: &mut ConnectorContext, running: &mut HashMap<String, Running>, subject: &str) {
    let target = subject
        .strip_prefix("sekia.config.reload.")
        .unwrap_or("*")
        .to_owned();
    let all = target == "*";
    if !all && !ctx.accounts.connected().contains_key(&target) {
        return;
    }
    if !ctx.config.file.is_file() {
        tracing::info!(target = %target, "config reload: no config file; nothing to reload");
        return;
    }
    let options = crate::config::LoadOptions::from_process(Some(ctx.config.file.clone()));
    let fresh = match crate::config::load(&options) {
        Ok(loaded) => loaded.config.connectors,
        Err(e) => {
            tracing::error!(error = %e, "config reload: the file does not load; connectors keep their settings");
            return;
        }
    };
    let targeted = |name: &str| all || name == target;
    let changed: Vec<String> = running
        .keys()
        .filter(|n| targeted(n) && ctx.config.connectors.get(*n) != fresh.get(*n))
        .cloned()
        .collect();
    for name in changed {
        if let Some(r) = running.remove(&name) {
            tracing::info!(agent = %name, "config reload: restarting the connector with its new settings");
            r.agent.stop().await;
        }
    }
    // Sections of accounts whose agent is not running (it failed to start) take effect too.
    let names: Vec<String> = ctx
        .config
        .connectors
        .keys()
        .chain(fresh.keys())
        .filter(|n| targeted(n))
        .cloned()
        .collect();
    for name in names {
        lock(&ctx.problems).remove(&name);
        match fresh.get(&name) {
            Some(section) => ctx.config.connectors.insert(name, section.clone()),
            None => ctx.config.connectors.remove(&name),
        };
    }
}

async fn state_store(config: &Config) -> Result<Arc<dyn StateStore>, String> {
    let path = config
        .store
        .path
        .parent()
        .map(|p| p.join("connectors.db"))
        .unwrap_or_else(|| "connectors.db".into());
    if let Some(dir) = path.parent() {
        crate::fsperm::ensure_private_dir(dir)
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    }
    tokio::task::spawn_blocking(move || SqliteState::open(&path))
        .await
        .map_err(|e| e.to_string())?
        .map(|s| Arc::new(s) as Arc<dyn StateStore>)
        .map_err(|e| e.to_string())
}

/// Brings the running agents in line with the connected accounts.
async fn reconcile(
    ctx: &ConnectorContext,
    state: &Arc<dyn StateStore>,
    running: &mut HashMap<String, Running>,
    stop: &CancellationToken,
) {
    let wanted: BTreeMap<String, String> = ctx.accounts.connected();
    let gone: Vec<String> = running
        .iter()
        .filter(|(name, r)| wanted.get(*name) != Some(&r.provider))
        .map(|(name, _)| name.clone())
        .collect();
    for name in gone {
        if let Some(r) = running.remove(&name) {
            tracing::info!(agent = %name, "stopping connector (account disconnected or needs reconnecting)");
            r.agent.stop().await;
        }
    }
    for (name, provider) in wanted {
        if running.contains_key(&name) || stop.is_cancelled() {
            continue;
        }
        let Some((tokens, scheme)) = ctx.accounts.token_source(&name) else {
            continue;
        };
        match start_one(
            ctx,
            state,
            &name,
            &provider,
            tokens,
            scheme,
            stop.child_token(),
        )
        .await
        {
            Ok(Some(agent)) => {
                tracing::info!(agent = %name, provider = %provider, "connector started");
                lock(&ctx.problems).remove(&name);
                running.insert(name, Running { provider, agent });
            }
            Ok(None) => {}
            Err(e) => {
                let known = lock(&ctx.problems).get(&name) == Some(&e);
                if !known {
                    tracing::warn!(agent = %name, error = %e, "connector did not start");
                }
                lock(&ctx.problems).insert(name, e);
            }
        }
    }
}

/// `[connectors.<name>]` as the connector's config type.
fn section<T: serde::de::DeserializeOwned + Default>(
    ctx: &ConnectorContext,
    name: &str,
) -> Result<T, String> {
    match ctx.config.connectors.get(name) {
        None => Ok(T::default()),
        Some(table) => serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| format!("config key `connectors.{name}.{}`: {}", e.path(), e.inner())),
    }
}

/// Starts the agent for one account; `None` for a provider without a connector.
async fn start_one(
    ctx: &ConnectorContext,
    state: &Arc<dyn StateStore>,
    name: &str,
    provider: &str,
    tokens: Arc<dyn TokenSource>,
    scheme: AuthScheme,
    cancel: CancellationToken,
) -> Result<Option<RunningAgent>, String> {
    use sekia_connectors::{github, google, linear, slack};
    let secret = ctx.config.security.command_secret.clone();
    let (bus, clock, state) = (
        Arc::clone(&ctx.bus),
        Arc::clone(&ctx.clock),
        Arc::clone(state),
    );
    let name_owned = name.to_owned();
    let started = match provider {
        "github" => {
            let mut config: github::GithubConfig = section(ctx, name)?;
            let webhook_set = ctx
                .config
                .connectors
                .get(name)
                .and_then(|t| t.get("webhook"))
                .and_then(|w| w.get("listen"))
                .is_some();
            // One webhook port per account: only the first account (sekia's agent name) gets
            // the default; others listen where their section says.
            if !webhook_set && name != github::DEFAULT_NAME {
                config.webhook.listen.clear();
            }
            config.security.command_secret = secret;
            let options = github::GithubAgentOptions {
                name: name_owned,
                bus,
                tokens,
                state,
                config,
                clock,
            };
            github::start(options, cancel)
                .await
                .map(github::GithubAgent::into_running)
        }
        "slack" => {
            let mut config: slack::SlackConfig = section(ctx, name)?;
            config.security.command_secret = secret;
            let app = ctx
                .accounts
                .slack_app_token(name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the account's app-level token (xapp-…) is missing; connect it again")?;
            let options = slack::SlackAgentOptions {
                name: name_owned,
                bus,
                bot_token: tokens,
                app_token: Arc::new(sekia_connectors::StaticToken::new(app)),
                state,
                config,
                clock,
            };
            slack::start(options, cancel).await
        }
        "google" => {
            let mut config: google::GoogleConfig = section(ctx, name)?;
            config.security.command_secret = secret;
            let options = google::GoogleAgentOptions {
                name: name_owned,
                bus,
                tokens,
                state,
                config,
                clock,
            };
            google::start(options, cancel).await
        }
        "linear" => {
            let mut config: linear::LinearConfig = section(ctx, name)?;
            config.security.command_secret = secret;
            let options = linear::LinearAgentOptions {
                name: name_owned,
                bus,
                tokens,
                scheme,
                state,
                config,
                clock,
            };
            linear::start(options, cancel).await
        }
        _ => return Ok(None),
    };
    started.map(Some).map_err(|e| e.to_string())
}
