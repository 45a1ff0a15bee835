//! The main window, made from its config (tauri.conf.json) when it is not there: a closed
//! window is destroyed, not hidden, so an idle app holds no webview.

use tauri::{AppHandle, Manager, Runtime};

/// Shows, unminimises and focuses the main window (tray "Open sekia", a second launch),
/// creating it again if it was closed: a closed window is destroyed, not hidden.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window("main") {
        Some(w) => w,
        None => {
            let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main") else {
                return;
            };
            match tauri::WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()) {
                Ok(w) => w,
                Err(e) => {
                    log::warn!("cannot open the window: {e}");
                    return;
                }
            }
        }
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

/// Opens the window on the Settings page's update section, with the update checked now, so
/// what the tray announced is there to install.
pub fn show_updates<R: Runtime>(app: &AppHandle<R>) {
    show_main(app);
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.eval("location.hash = '#/settings'");
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let updates = app.state::<crate::updates::Updates>();
        if let Err(e) = updates.check_now(&app).await {
            log::warn!("checking for updates: {e}");
        }
    });
}
