//! The tray's "Check for updates" and "Update to vX.Y.Z…". The updater is Tauri's plugin and
//! lives in the window's binary, so a check here is that binary run once without a window
//! (`sekia-desktop --check-updates`), which prints the updater's status as JSON. The timer is
//! the window app's: a minute after start, then every six hours, only while automatic checks
//! are on (the window binary reads that setting). Installing happens in the window, which
//! shows the download and restarts sekia (this process too) when it is done.

use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

/// From the tray host's start to the first automatic check.
pub const START_DELAY: Duration = Duration::from_secs(60);
/// Between automatic checks.
pub const INTERVAL: Duration = Duration::from_secs(6 * 60 * 60);
/// A check that takes longer is abandoned (the feed is unreachable, say).
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

const CHECK_ARG: &str = "--check-updates";
const CHECK_AUTO_ARG: &str = "--check-updates=auto";
/// Opens the window on the update (sekia-desktop's `--update`).
pub const UPDATE_ARG: &str = "--update";

/// What a check found, as the tray shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// This build does not update itself (a development build): no more checks.
    Unsupported,
    UpToDate,
    Available {
        version: String,
    },
    Failed(String),
}

impl Found {
    /// From the updater's status (`{"state": …}`), as the window binary prints it.
    pub fn from_status(status: &Value) -> Self {
        let text = |key: &str| status.get(key).and_then(Value::as_str).map(String::from);
        match status.get("state").and_then(Value::as_str) {
            Some("unsupported") => Found::Unsupported,
            Some("available" | "downloading" | "installing") => match text("version") {
                Some(version) => Found::Available { version },
                None => Found::Failed("the updater named no version".into()),
            },
            Some("up_to_date" | "checking") => match text("error") {
                Some(error) => Found::Failed(error),
                None => Found::UpToDate,
            },
            _ => Found::Failed(format!("unexpected updater status {status}")),
        }
    }
}

/// One check through the window binary; `automatic` lets the user's setting skip it.
pub async fn check(automatic: bool) -> Found {
    let Some(binary) = super::window::binary() else {
        return Found::Failed("cannot find the window's binary".into());
    };
    let mut command = Command::new(&binary);
    command
        .arg(if automatic { CHECK_AUTO_ARG } else { CHECK_ARG })
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let output = match tokio::time::timeout(CHECK_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Found::Failed(format!("cannot run {}: {e}", binary.display())),
        Err(_) => return Found::Failed("the update check took too long".into()),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        Some(status) => Found::from_status(&status),
        None => Found::Failed(format!("the update check ended with {}", output.status)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_updaters_statuses_read_as_what_the_tray_shows() {
        let found = |v: Value| Found::from_status(&v);
        assert_eq!(found(json!({"state": "unsupported"})), Found::Unsupported);
        assert_eq!(
            found(json!({"state": "up_to_date", "checked_at": 1, "error": null})),
            Found::UpToDate
        );
        assert_eq!(
            found(json!({"state": "available", "version": "0.2.0", "notes": null, "error": null})),
            Found::Available {
                version: "0.2.0".into()
            }
        );
        assert_eq!(
            found(json!({"state": "up_to_date", "checked_at": 1, "error": "offline"})),
            Found::Failed("offline".into())
        );
        assert!(matches!(found(json!({"state": "?"})), Found::Failed(_)));
    }
}
