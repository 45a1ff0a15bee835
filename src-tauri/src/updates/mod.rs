//! Self-update from signed releases (tauri-plugin-updater), behind the `updater` feature: a
//! development build never replaces itself. Without the feature the app still has the
//! [`Updates`] state and its commands, which say the build does not update itself.
//!
//! - [`schedule`]: when to check (a minute after start, then every 6 hours; a manual check
//!   runs at once).
//! - [`settings`]: the channel (stable / beta), automatic checks, the feed.
//! - [`status`]: what the window, the tray and the notification show.
//! - `check`: the plugin calls (feed, download, verification).
//! - `service`: [`Updates`], the flow from check to restart.
//! - `desktop`: the timer, the event, the notification and the tray items.
//! - [`headless`]: one check without a window, for the tray host (`--check-updates`).

#[cfg(feature = "updater")]
pub mod check;
#[cfg(feature = "updater")]
pub mod desktop;
mod error;
pub mod headless;
pub mod schedule;
mod service;
pub mod settings;
pub mod status;

pub use error::UpdateError;
pub use service::Updates;
pub use settings::{Channel, UpdateSettings};
pub use status::{UPDATE_EVENT, UpdateInfo, UpdateStatus};
