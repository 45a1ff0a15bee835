//! What a tray shows about the daemon: the status line, the icon's look, and whether workflows
//! are paused. One function for every tray (the desktop app's own and the tray host's), so
//! they never disagree.

use sekia_daemon::Attention;
use sekia_daemon::registry::OFFLINE;

use crate::host::{DaemonHost, DaemonState};
use crate::panel::Panel;

/// The marks for dark panels (white with a dark edge) and for light ones (near-black with a
/// white edge); attention and error are coloured and read on both.
const ICON: &[u8] = include_bytes!("../../../icons/tray-64.png");
const ICON_LIGHT: &[u8] = include_bytes!("../../../icons/tray-light-64.png");
const ICON_ATTENTION: &[u8] = include_bytes!("../../../icons/tray-attention-64.png");
const ICON_PAUSED: &[u8] = include_bytes!("../../../icons/tray-paused-64.png");
const ICON_PAUSED_LIGHT: &[u8] = include_bytes!("../../../icons/tray-paused-light-64.png");
const ICON_ERROR: &[u8] = include_bytes!("../../../icons/tray-error-64.png");

pub const PAUSE_TEXT: &str = "Pause all workflows";
pub const RESUME_TEXT: &str = "Resume workflows";

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Look {
    Ok,
    Attention,
    Paused,
    Error,
}

impl Look {
    /// The PNG for this look on this panel.
    pub fn png(self, panel: Panel) -> &'static [u8] {
        match (self, panel) {
            (Look::Ok, Panel::Dark) => ICON,
            (Look::Ok, Panel::Light) => ICON_LIGHT,
            (Look::Paused, Panel::Dark) => ICON_PAUSED,
            (Look::Paused, Panel::Light) => ICON_PAUSED_LIGHT,
            (Look::Attention, _) => ICON_ATTENTION,
            (Look::Error, _) => ICON_ERROR,
        }
    }

    /// The monochrome marks are templates on macOS: the menu bar tints them for its appearance.
    pub fn is_template(self) -> bool {
        matches!(self, Look::Ok | Look::Paused)
    }
}

/// The tray's view of the daemon at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub line: String,
    pub look: Look,
    pub paused: bool,
    /// What needs the user (workflow errors, agents offline, accounts to reconnect).
    pub attention: Vec<Attention>,
}

impl Summary {
    pub fn pause_text(&self) -> &'static str {
        if self.paused { RESUME_TEXT } else { PAUSE_TEXT }
    }
}

/// Asks the daemon for what the tray shows.
pub async fn summary(host: &DaemonHost) -> Summary {
    let state = host.subscribe().borrow().clone();
    let plain = |line: String, look| Summary {
        line,
        look,
        paused: false,
        attention: Vec::new(),
    };
    match state {
        DaemonState::Starting => plain("sekia: starting…".into(), Look::Ok),
        DaemonState::Stopped => plain("sekia: stopped".into(), Look::Error),
        DaemonState::Failed { error } => {
            let mut line = format!("sekia: not running: {error}");
            if line.chars().count() > 90 {
                line = line.chars().take(89).collect::<String>() + "…";
            }
            plain(line, Look::Error)
        }
        DaemonState::Running { .. } => {
            let status = host
                .call(|d| async move {
                    let online = d
                        .agents()
                        .await
                        .agents
                        .iter()
                        .filter(|a| a.status != OFFLINE)
                        .count();
                    (d.daemon_status().await, online)
                })
                .await;
            match status {
                Ok((s, online)) => {
                    let look = if s.paused {
                        Look::Paused
                    } else if s.attention.is_empty() {
                        Look::Ok
                    } else {
                        Look::Attention
                    };
                    let mut line = format!(
                        "sekia: {} online · {} · {} today",
                        plural(online as u64, "agent"),
                        plural(s.status.workflow_count, "workflow"),
                        plural(s.events_today, "event")
                    );
                    if s.paused {
                        line.push_str(" · paused");
                    }
                    Summary {
                        line,
                        look,
                        paused: s.paused,
                        attention: s.attention,
                    }
                }
                Err(e) => plain(format!("sekia: {e}"), Look::Error),
            }
        }
    }
}

/// Flips pause on the daemon; returns whether workflows are now paused.
pub async fn toggle_pause(host: &DaemonHost) -> Result<bool, String> {
    host.call(|d| async move {
        let pause = !d.is_paused();
        d.set_paused(pause)
    })
    .await?
    .map_err(|e| e.to_string())
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_english() {
        assert_eq!(plural(0, "agent"), "0 agents");
        assert_eq!(plural(1, "agent"), "1 agent");
        assert_eq!(plural(2, "event"), "2 events");
    }

    #[test]
    fn light_panels_get_the_dark_marks_and_colours_read_on_both() {
        assert_ne!(Look::Ok.png(Panel::Light), Look::Ok.png(Panel::Dark));
        assert_ne!(
            Look::Paused.png(Panel::Light),
            Look::Paused.png(Panel::Dark)
        );
        assert_eq!(
            Look::Attention.png(Panel::Light),
            Look::Attention.png(Panel::Dark)
        );
        assert!(Look::Ok.is_template() && !Look::Error.is_template());
    }
}
