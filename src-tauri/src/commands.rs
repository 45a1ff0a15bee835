//! The window's commands. `rpc` is the UI's one door to the daemon: it takes the same
//! call the dashboard's `POST /api/v1/rpc` takes and hands it to the [`Backend`], so the
//! desktop, the dashboard and the CLI behave the same. The only other commands are what only a
//! desktop has: start at login, and updates.

use serde::Serialize;
use serde_json::Value;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_autostart::ManagerExt;

use crate::backend::BackendSlot;
use crate::updates::{Channel, UpdateInfo, Updates};

/// Source and type of the event "Publish test event" sends.
pub const TEST_SOURCE: &str = "desktop";
pub const TEST_TYPE: &str = "desktop.test";

/// A failed call: the message, and the input field at fault when there is one (as the
/// dashboard's JSON errors carry it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallError {
    pub error: String,
    pub field: Option<String>,
}

#[cfg(feature = "embedded")]
impl From<sekia_daemon::DaemonError> for CallError {
    fn from(e: sekia_daemon::DaemonError) -> Self {
        let field = match &e {
            sekia_daemon::DaemonError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        Self {
            error: e.to_string(),
            field,
        }
    }
}

#[tauri::command]
pub async fn rpc(backend: State<'_, BackendSlot>, call: Value) -> Result<Value, CallError> {
    backend.get().await.call(call).await
}

/// Whether the app starts at login.
#[tauri::command]
pub fn autostart<R: Runtime>(app: AppHandle<R>) -> Result<bool, String> {
    app.autolaunch().is_enabled().map_err(|e| e.to_string())
}

/// Turns start at login on or off; returns the new state.
#[tauri::command]
pub fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<bool, String> {
    let launcher = app.autolaunch();
    let result = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    result.map_err(|e| e.to_string())?;
    launcher.is_enabled().map_err(|e| e.to_string())
}

/// The updater's status and settings (the Settings page).
#[tauri::command]
pub fn updates<R: Runtime>(app: AppHandle<R>, updates: State<'_, Updates>) -> UpdateInfo {
    updates.info(app.package_info().version.to_string())
}

/// "Check for updates": asks the release feed now; the answer is in the returned status.
#[tauri::command]
pub async fn check_for_updates<R: Runtime>(
    app: AppHandle<R>,
    updates: State<'_, Updates>,
) -> Result<UpdateInfo, String> {
    updates.check_now(&app).await.map_err(|e| e.to_string())?;
    Ok(updates.info(app.package_info().version.to_string()))
}

/// "Update to vX.Y.Z": downloads, verifies, installs, then the app restarts (this call does
/// not return then). Progress comes as `sekia:update` events.
#[tauri::command]
pub async fn install_update<R: Runtime>(
    app: AppHandle<R>,
    updates: State<'_, Updates>,
) -> Result<(), String> {
    updates.install(&app).await.map_err(|e| e.to_string())
}

/// Saves the update channel and whether to check automatically.
#[tauri::command]
pub fn set_update_settings<R: Runtime>(
    app: AppHandle<R>,
    updates: State<'_, Updates>,
    channel: Channel,
    check_automatically: bool,
) -> Result<UpdateInfo, String> {
    updates
        .set_settings(channel, check_automatically)
        .map_err(|e| e.to_string())?;
    Ok(updates.info(app.package_info().version.to_string()))
}
