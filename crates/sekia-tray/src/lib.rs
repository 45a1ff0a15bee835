//! sekia's tray, without Tauri: the embedded daemon's host ([`host`]), what a tray shows
//! ([`summary`]) and when it looks again (`DaemonHost::status_watch`), the panel's brightness ([`panel`]), the
//! rate-limited notifications ([`alerts`]) — shared by the desktop app's own tray and by the
//! tray-host process ([`hosted`], Linux, feature `tray-host`): the `sekia-tray` binary, which
//! holds the daemon and the tray in a process that does not link WebKit, so a closed window
//! leaves only a few MiB behind.

pub mod alerts;
pub mod host;
pub mod panel;
pub mod summary;

#[cfg(all(target_os = "linux", feature = "tray-host"))]
pub mod hosted;

pub use host::{DaemonHost, DaemonState, start_configured};

/// The desktop window's binary, beside `sekia-tray` in the same folder.
pub const WINDOW_BINARY: &str = "sekia-desktop";
/// The tray host's binary, beside the window's.
pub const TRAY_BINARY: &str = "sekia-tray";
/// `sekia-tray --socket` prints the daemon's socket as the config sets it, and exits: the
/// window asks this instead of linking the config loader (and what it pulls in) itself.
pub const SOCKET_ARG: &str = "--socket";
/// The argument of a login start: the tray only, no window.
pub const HIDDEN_ARG: &str = "--hidden";
/// The application's name in the login items and its data folder's (Tauri's identifier).
pub const APP_NAME: &str = "sekia";
pub const APP_IDENTIFIER: &str = "ai.sekia.desktop";
