//! sekia's Lua workflow engine.
//!
//! Each `<workflows.dir>/*.lua` file runs in its own sandboxed Luau VM with its
//! own bounded queue and tokio task. The engine subscribes to `sekia.events.>`
//! once and routes each event to the workflows whose `sekia.on` patterns match
//! (NATS semantics). Scripts use the `sekia` table (inventory §4.5) to publish
//! events, send signed commands, call an LLM, and keep conversations.
//!
//! See the crate README for the runtime choice (Luau), the sandbox, the
//! Lua ⇄ JSON rules and the hop limit.

pub mod ai;
mod api;
mod api_ai;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod convert;
mod dryrun;
mod engine;
pub mod error;
mod fastconv;
pub mod manifest;
mod output;
pub mod sandbox;
pub mod skills;
mod stats;
pub mod templates;
mod vm;
mod watcher;
pub mod wire;
mod workflow;

pub use api::{MAX_HANDLERS, MAX_SCHEDULES};
pub use api_ai::CONVERSATIONS_NOT_CONFIGURED;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AiConfig, ConversationConfig, EngineConfig, Provider};
pub use dryrun::{DryRunReport, dry_run};
pub use engine::{Engine, LoadFailure, SKILLS_MANIFEST_FILE, WorkflowStatus};
pub use error::{EngineError, LastError, LoadError, LoadErrorKind, ManifestError};
pub use manifest::{MANIFEST_FILE, Manifest, sign, sign_skills};
pub use output::{LogLevel, Output};
pub use templates::{Template, templates};
