//! Gmail: new mail through the history API, and sekia-google's eight mail commands.

pub mod api;
pub mod commands;
pub mod message;
pub mod mime;
pub mod poller;

pub use api::GmailApi;
pub use commands::{GMAIL_COMMANDS, GmailCommands};
pub use message::MESSAGE_RECEIVED;
pub use poller::GmailPoller;
