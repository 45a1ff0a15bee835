//! The tray icon and its menu. Linux (appindicator) delivers no clicks on the icon itself, so
//! every action is a menu item.

use std::time::Duration;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_opener::OpenerExt;

use crate::host::{DaemonHost, DaemonState};

const ICON: &[u8] = include_bytes!("../icons/tray-64.png");
const ICON_ERROR: &[u8] = include_bytes!("../icons/tray-error-64.png");

/// How often the status line refreshes its counts between state changes.
const REFRESH: Duration = Duration::from_secs(5);

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let host = app.state::<DaemonHost>().inner().clone();
    let status = MenuItem::with_id(app, "status", "sekia: starting…", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open sekia", true, None::<&str>)?;
    // The daemon has no pause API yet: a disabled placeholder until it does.
    let pause = MenuItem::with_id(
        app,
        "pause",
        "Pause (not available yet)",
        false,
        None::<&str>,
    )?;
    let folder = MenuItem::with_id(
        app,
        "workflows",
        "Open workflows folder",
        host.workflows_dir().is_some(),
        None::<&str>,
    )?;
    let at_login = CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        app.autolaunch().is_enabled().unwrap_or(false),
        None::<&str>,
    )?;
    let quit_item = MenuItem::with_id(app, "quit", "Quit sekia", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &pause,
            &folder,
            &at_login,
            &PredefinedMenuItem::separator(app)?,
            &quit_item,
        ],
    )?;
    let tray = TrayIconBuilder::with_id("sekia")
        .icon(Image::from_bytes(ICON)?)
        .tooltip("sekia")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| match event.id().as_ref() {
            "open" => show_main(app),
            "autostart" => set_autostart(app, &at_login),
            "workflows" => open_workflows_folder(app),
            "quit" => quit(app),
            _ => {}
        })
        .build(app)?;
    keep_status_fresh(host, status, tray);
    Ok(())
}

/// Shows, unminimises and focuses the main window (tray "Open sekia", a second launch).
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The check mark has already flipped when this runs; make the login item match it.
fn set_autostart<R: Runtime>(app: &AppHandle<R>, item: &CheckMenuItem<R>) {
    let want = item.is_checked().unwrap_or(false);
    let autolaunch = app.autolaunch();
    let result = if want {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    if let Err(e) = result {
        log::warn!("cannot change start at login: {e}");
    }
    let _ = item.set_checked(autolaunch.is_enabled().unwrap_or(false));
}

fn open_workflows_folder<R: Runtime>(app: &AppHandle<R>) {
    let Some(dir) = app.state::<DaemonHost>().workflows_dir().cloned() else {
        return;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::warn!("cannot create {}: {e}", dir.display());
        return;
    }
    if let Err(e) = app.opener().open_path(dir.to_string_lossy(), None::<&str>) {
        log::warn!("cannot open {}: {e}", dir.display());
    }
}

/// Stops the daemon cleanly (its socket is removed), then exits.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let host = app.state::<DaemonHost>().inner().clone();
    tauri::async_runtime::spawn(async move {
        host.shutdown().await;
        app.exit(0);
    });
}

fn keep_status_fresh<R: Runtime>(host: DaemonHost, status: MenuItem<R>, tray: TrayIcon<R>) {
    let mut states = host.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut failed_icon = false;
        loop {
            let state = states.borrow_and_update().clone();
            let failed = matches!(state, DaemonState::Failed { .. });
            if failed != failed_icon {
                failed_icon = failed;
                let bytes = if failed { ICON_ERROR } else { ICON };
                if let Ok(icon) = Image::from_bytes(bytes) {
                    let _ = tray.set_icon(Some(icon));
                }
            }
            let _ = status.set_text(status_line(&host, &state).await);
            let _ = tray.set_tooltip(Some(status_line(&host, &state).await));
            tokio::select! {
                changed = states.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(REFRESH) => {}
            }
        }
    });
}

async fn status_line(host: &DaemonHost, state: &DaemonState) -> String {
    match state {
        DaemonState::Starting => "sekia: starting…".into(),
        DaemonState::Stopped => "sekia: stopped".into(),
        DaemonState::Failed { error } => {
            let mut line = format!("sekia: not running: {error}");
            if line.chars().count() > 90 {
                line = line.chars().take(89).collect::<String>() + "…";
            }
            line
        }
        DaemonState::Running { .. } => match host.call(|d| async move { d.status().await }).await {
            Ok(s) => format!(
                "sekia: running · {} · {}",
                plural(s.agent_count, "agent"),
                plural(s.workflow_count, "workflow")
            ),
            Err(e) => format!("sekia: {e}"),
        },
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
