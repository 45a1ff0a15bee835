//! The one request type every transport hands to the daemon: the desktop's single `rpc` Tauri
//! command and the dashboard's `POST /api/v1/rpc` both deserialize an [`ApiCall`] and pass it to
//! [`Daemon::call`]. Its TypeScript twin (and the result of every call) is generated into
//! `ui/src/lib/api/generated.ts` by `tests/ts_bindings.rs`, so the UI and the daemon cannot drift.

use sekia_protocol::{Event, Payload, Secret, StatusResponse};
use sekia_store::{CommandQuery, EventQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::daemon::{Daemon, DaemonError};
use crate::logs::LogQuery;
use crate::settings::SettingsChange;

/// A call: `{"cmd": "<name>", "args": {…}}` (`args` omitted for calls that take none).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "cmd", content = "args", rename_all = "snake_case")]
pub enum ApiCall {
    Status,
    Agents,
    Workflows,
    ReloadWorkflows,
    /// sekia's config reload: every agent, or the one named (`*` or none: all).
    ReloadConfig {
        #[serde(default)]
        #[ts(optional = nullable)]
        target: Option<String>,
    },
    WorkflowSource {
        name: String,
    },
    SaveWorkflow {
        name: String,
        source: String,
    },
    DeleteWorkflow {
        name: String,
    },
    WorkflowTemplates,
    DryRun {
        source: String,
        #[serde(default)]
        #[ts(optional = nullable)]
        file_name: Option<String>,
        event: Event,
        #[serde(default)]
        #[ts(optional = nullable)]
        ai_answer: Option<String>,
    },
    PauseWorkflows,
    ResumeWorkflows,
    Events(EventQuery),
    Event {
        id: String,
    },
    Replay {
        id: String,
    },
    Commands(CommandQuery),
    Command {
        id: String,
    },
    PublishEvent {
        source: String,
        #[serde(rename = "type")]
        event_type: String,
        #[serde(default)]
        #[ts(as = "Option<Payload>", optional)]
        payload: Payload,
    },
    Logs(LogQuery),
    Settings,
    SaveSettings(SettingsChange),
    Accounts,
    /// Starts a browser sign-in; open the returned URL.
    ConnectAccount {
        provider: String,
        #[serde(default)]
        #[ts(optional = nullable)]
        name: Option<String>,
        /// Slack: the app-level token (`xapp-…`) for Socket Mode, which OAuth cannot give;
        /// checked before the sign-in starts, kept with the account after it.
        #[serde(default)]
        #[ts(as = "Option<String>", optional = nullable)]
        app_token: Option<Secret>,
    },
    /// Waits for a sign-in to end (for `sekiactl accounts connect`).
    WaitSignIn {
        id: String,
    },
    CancelSignIn {
        id: String,
    },
    /// Adds an account from pasted tokens (checked with the service first).
    AddAccountToken {
        provider: String,
        #[serde(default)]
        #[ts(optional = nullable)]
        name: Option<String>,
        #[ts(as = "String")]
        token: Secret,
        #[serde(default)]
        #[ts(as = "Option<String>", optional = nullable)]
        app_token: Option<Secret>,
    },
    DisconnectAccount {
        name: String,
    },
}

/// The result type of each call, by `cmd`: the generator writes these into the `ApiResults`
/// TypeScript map. `tests/ts_bindings.rs` checks that every `cmd` has exactly one entry.
pub fn result_types(cfg: &ts_rs::Config) -> Vec<(&'static str, String)> {
    use crate::accounts::{AccountInfo, AccountsReport, Disconnected, SignInStarted};
    use crate::daemon::WorkflowsReport;
    use crate::logs::LogLine;
    use crate::settings::{Settings, SettingsSaved};
    use crate::workflow_files::{SavedWorkflow, WorkflowSource};
    use sekia_protocol::AgentsResponse;
    use sekia_store::{Page, StoredCommand, StoredEvent};
    use sekia_workflow::{DryRunReport, Template};
    vec![
        ("status", DaemonStatus::name(cfg)),
        ("agents", AgentsResponse::name(cfg)),
        ("workflows", WorkflowsReport::name(cfg)),
        ("reload_workflows", Reloaded::name(cfg)),
        (
            "reload_config",
            sekia_protocol::ConfigReloadResponse::name(cfg),
        ),
        ("workflow_source", WorkflowSource::name(cfg)),
        ("save_workflow", SavedWorkflow::name(cfg)),
        ("delete_workflow", Done::name(cfg)),
        ("workflow_templates", Vec::<Template>::name(cfg)),
        ("dry_run", DryRunReport::name(cfg)),
        ("pause_workflows", PauseState::name(cfg)),
        ("resume_workflows", PauseState::name(cfg)),
        ("events", Page::<StoredEvent>::name(cfg)),
        ("event", StoredEvent::name(cfg)),
        ("replay", Event::name(cfg)),
        ("commands", Page::<StoredCommand>::name(cfg)),
        ("command", StoredCommand::name(cfg)),
        ("publish_event", Event::name(cfg)),
        ("logs", Vec::<LogLine>::name(cfg)),
        ("settings", Settings::name(cfg)),
        ("save_settings", SettingsSaved::name(cfg)),
        ("accounts", AccountsReport::name(cfg)),
        ("connect_account", SignInStarted::name(cfg)),
        ("wait_sign_in", AccountInfo::name(cfg)),
        ("cancel_sign_in", Done::name(cfg)),
        ("add_account_token", AccountInfo::name(cfg)),
        ("disconnect_account", Disconnected::name(cfg)),
    ]
}

/// `status`: sekia's status plus what the tray and the overview need.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DaemonStatus {
    #[serde(flatten)]
    pub status: StatusResponse,
    /// Workflows paused from the tray or the UI.
    pub paused: bool,
    /// Events received since local midnight.
    #[ts(type = "number")]
    pub events_today: u64,
    /// Whether event history is on.
    pub history: bool,
    /// Whether the workflow engine is on.
    pub workflows_enabled: bool,
    /// What needs the user: workflow errors, agents offline, accounts to reconnect. Empty when
    /// all is well.
    pub attention: Vec<Attention>,
}

/// One thing that needs the user, in words (`text`) and by kind, so a display can link to the
/// place that fixes it and tell a new problem from one it already showed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
pub struct Attention {
    pub kind: AttentionKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    /// A workflow failed to load, or its handler failed on the last event it handled.
    WorkflowError,
    /// A registered agent stopped sending heartbeats.
    AgentOffline,
    /// An account's tokens were refused: it must be signed in again.
    AccountReconnect,
    /// A part of the daemon is not running (a connector, the account store).
    Unavailable,
}

impl Attention {
    pub fn new(kind: AttentionKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }
}

/// `reload_workflows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct Reloaded {
    pub loaded: usize,
}

/// `pause_workflows` / `resume_workflows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct PauseState {
    pub paused: bool,
}

/// A call that returns nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
pub struct Done {}

impl Daemon {
    /// Runs one call; the transports serialize the result as JSON.
    pub async fn call(&self, call: ApiCall) -> Result<Value, DaemonError> {
        match call {
            ApiCall::Status => json(self.daemon_status().await),
            ApiCall::Agents => json(self.agents().await),
            ApiCall::Workflows => json(self.workflows().await),
            ApiCall::ReloadWorkflows => json(Reloaded {
                loaded: self.reload_workflows().await?,
            }),
            ApiCall::ReloadConfig { target } => {
                json(self.request_config_reload(target.as_deref()).await?)
            }
            ApiCall::WorkflowSource { name } => json(self.workflow_source(&name).await?),
            ApiCall::SaveWorkflow { name, source } => {
                json(self.save_workflow(&name, &source).await?)
            }
            ApiCall::DeleteWorkflow { name } => {
                self.delete_workflow(&name).await?;
                json(Done {})
            }
            ApiCall::WorkflowTemplates => json(self.workflow_templates()),
            ApiCall::DryRun {
                source,
                file_name,
                event,
                ai_answer,
            } => {
                let file_name = file_name.unwrap_or_else(|| "workflow.lua".into());
                json(self.dry_run(&source, &file_name, event, ai_answer).await)
            }
            ApiCall::PauseWorkflows => json(PauseState {
                paused: self.set_paused(true)?,
            }),
            ApiCall::ResumeWorkflows => json(PauseState {
                paused: self.set_paused(false)?,
            }),
            ApiCall::Events(q) => json(self.events(q).await?),
            ApiCall::Event { id } => json(self.event(&id).await?),
            ApiCall::Replay { id } => json(self.replay(&id).await?),
            ApiCall::Commands(q) => json(self.commands(q).await?),
            ApiCall::Command { id } => json(self.command(&id).await?),
            ApiCall::PublishEvent {
                source,
                event_type,
                payload,
            } => json(self.publish_event(&source, &event_type, payload).await?),
            ApiCall::Logs(q) => json(crate::logs::recent(&q)),
            ApiCall::Settings => json(self.settings().await?),
            ApiCall::SaveSettings(change) => json(self.save_settings(change).await?),
            ApiCall::Accounts => json(self.accounts().await?),
            ApiCall::ConnectAccount {
                provider,
                name,
                app_token,
            } => json(self.connect_account(&provider, name, app_token).await?),
            ApiCall::WaitSignIn { id } => json(self.wait_sign_in(&id).await?),
            ApiCall::CancelSignIn { id } => {
                self.cancel_sign_in(&id).await?;
                json(Done {})
            }
            ApiCall::AddAccountToken {
                provider,
                name,
                token,
                app_token,
            } => json(
                self.add_account_token(&provider, name.as_deref(), &token, app_token.as_ref())
                    .await?,
            ),
            ApiCall::DisconnectAccount { name } => json(self.disconnect_account(&name).await?),
        }
    }
}

fn json<T: Serialize>(value: T) -> Result<Value, DaemonError> {
    serde_json::to_value(value).map_err(|e| DaemonError::invalid("result", e.to_string()))
}
