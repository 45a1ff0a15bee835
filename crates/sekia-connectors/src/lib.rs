//! sekia's connectors.
//!
//! The shared framework every connector is built on, and the GitHub connector:
//!
//! - [`agent`]: an agent on the bus. Registration and heartbeats ([`sekia_bus::Presence`]),
//!   command intake on `sekia.commands.<name>` (signature check, one ordered queue per
//!   agent), `command.succeeded` / `command.failed` results on `sekia.events.sekia`, and
//!   an [`agent::EventSink`] that publishes the connector's events on
//!   `sekia.events.<service>` with the instance name as `account`.
//! - [`command`]: typed access to a command's payload ([`command::Args`]) and the
//!   [`command::CommandError`] every handler returns.
//! - [`http`]: a retrying HTTP client (429, 5xx, network errors; `Retry-After`,
//!   `X-RateLimit-Reset`) that turns other 4xx into the service's own message.
//! - [`graphql`]: a GraphQL endpoint over [`http`] that treats an `errors` answer
//!   (even with HTTP 200) as a failure carrying the service's message.
//! - [`state`]: where pollers keep their watermarks across restarts ([`state::StateStore`],
//!   SQLite or in memory).
//! - [`token`]: [`token::StaticToken`], a [`sekia_accounts::TokenSource`] for a token from a
//!   config file or the environment.
//! - [`github`]: the GitHub connector (webhooks, polling, the seven commands).
//! - [`google`]: the Google connector (Gmail history polling, Calendar sync, the eleven
//!   mail and calendar commands), one agent per Google account.
//! - [`linear`]: the Linear connector (GraphQL polling, the four commands).
//! - [`slack`]: the Slack connector (Socket Mode events, the four Web API commands).
//!
//! See README.md for the config keys and the `sekia-agent` binary.

pub mod agent;
pub mod command;
pub mod config;
pub mod error;
pub mod github;
pub mod google;
pub mod graphql;
pub mod http;
pub mod linear;
pub mod slack;
pub mod state;
pub mod token;

pub use agent::{AgentContext, AgentSpec, CommandHandler, EventSink, RunningAgent};
pub use command::{Args, CommandError};
pub use error::ConnectorError;
pub use http::{ApiRequest, AuthScheme, HttpClient, HttpError, HttpResponse, RetryPolicy};
pub use state::{MemoryState, SqliteState, StateError, StateStore};
pub use token::StaticToken;

/// Re-exported so that callers need not depend on sekia-accounts for the trait alone.
pub use sekia_accounts::TokenSource;
