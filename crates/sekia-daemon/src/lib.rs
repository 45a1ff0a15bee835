//! The daemon: configuration, secrets, the agent registry and the [`Daemon`] handle that every
//! transport (socket API, CLI, desktop shell) calls. Nothing here knows about HTTP or Tauri.

mod accounts;
pub mod api;
mod bus_config;
pub mod clock;
pub mod config;
mod connectors;
mod daemon;
mod engine_config;
pub mod fsperm;
mod gotime;
mod history;
pub mod logs;
pub mod registry;
pub mod secrets;
pub mod settings;
mod status_watch;
mod workflow_files;

pub use accounts::{
    AccountInfo, AccountKind, AccountState, AccountsReport, Disconnected, PasteKind, ProviderInfo,
    SignInInfo, SignInStarted, TokenStoreKind,
};
pub use api::{ApiCall, Attention, AttentionKind, DaemonStatus};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use daemon::{Daemon, DaemonError, WorkflowsReport};
pub use gotime::go_time;
pub use history::LiveFilter;
pub use logs::{LogLine, LogQuery, RecentLogs};
pub use sekia_store::{
    CommandQuery, EventQuery, OutcomeFilter, Page, StoreError, StoredCommand, StoredEvent,
};
pub use settings::{Settings, SettingsChange, SettingsSaved};
pub use status_watch::StatusWatch;
pub use workflow_files::{SavedWorkflow, WorkflowSource};
