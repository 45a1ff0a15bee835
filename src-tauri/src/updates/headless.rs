//! `sekia-desktop --check-updates[=auto]`: one update check without a window, for the tray host
//! (which has no updater of its own: the updater is Tauri's plugin, and the tray host links no
//! Tauri). Prints the resulting [`UpdateStatus`] as one line of JSON and exits. `=auto` is the
//! tray host's timer: it checks only while automatic checks are on, else prints the status as
//! it is. Installing is the window's: the tray's "Update to vX.Y.Z…" opens it with
//! [`UPDATE_ARG`].

use tauri::{Builder, Runtime};

use super::{UpdateStatus, Updates};

/// The tray host's check.
pub const CHECK_ARG: &str = "--check-updates";
pub const CHECK_AUTO_ARG: &str = "--check-updates=auto";
/// Opens the window on the update, checked at once.
pub const UPDATE_ARG: &str = "--update";

/// The check this process was started for, if any: `Some(automatic)`.
pub fn requested(args: &[String]) -> Option<bool> {
    args.iter().find_map(|a| match a.as_str() {
        CHECK_ARG => Some(false),
        CHECK_AUTO_ARG => Some(true),
        _ => None,
    })
}

/// Runs the check and prints its result.
pub fn run<R: Runtime>(builder: Builder<R>, context: tauri::Context<R>, automatic: bool) {
    #[cfg(feature = "updater")]
    let builder = builder.plugin(tauri_plugin_updater::Builder::new().build());
    let status = match builder.build(context) {
        Ok(app) => {
            let handle = app.handle().clone();
            let updates = Updates::for_app(&handle);
            tauri::async_runtime::block_on(async move {
                if automatic && !updates.settings().check_automatically {
                    return updates.status();
                }
                match updates.check_now(&handle).await {
                    Ok(status) => status,
                    Err(e) => failed(e.to_string()),
                }
            })
        }
        Err(e) => failed(e.to_string()),
    };
    match serde_json::to_string(&status) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("{e}"),
    }
}

fn failed(error: String) -> UpdateStatus {
    if cfg!(feature = "updater") {
        UpdateStatus::UpToDate {
            checked_at: None,
            error: Some(error),
        }
    } else {
        UpdateStatus::Unsupported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_hosts_two_checks_are_told_apart() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(requested(&args(&["sekia-desktop", CHECK_ARG])), Some(false));
        assert_eq!(
            requested(&args(&["sekia-desktop", CHECK_AUTO_ARG])),
            Some(true)
        );
        assert_eq!(requested(&args(&["sekia-desktop", "--hidden"])), None);
    }
}
