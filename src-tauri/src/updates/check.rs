//! The one place that talks to tauri-plugin-updater: ask a release feed whether there is a
//! newer version, and download one, verified. The plugin does the work (the public key and the
//! version rules come from `plugins.updater` in tauri.conf.json); this module picks the feed
//! and turns the plugin's errors into [`UpdateError`]s.

use std::time::Duration;

use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Update, UpdaterBuilder, UpdaterExt};
use url::Url;

use super::error::UpdateError;

/// Longest wait for the feed's answer. (The download has none: a release is megabytes, and a
/// slow line must still finish; the user sees its progress.)
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The plugin's updater, asking `feed` (`{{target}}`, `{{arch}}` and `{{current_version}}` in
/// it are filled in by the plugin).
pub fn updater_for<R: Runtime>(
    app: &AppHandle<R>,
    feed: Url,
) -> Result<UpdaterBuilder, UpdateError> {
    Ok(app
        .updater_builder()
        .endpoints(vec![feed])?
        .timeout(CHECK_TIMEOUT))
}

/// Asks `feed`; `Some` when it announces a version newer than this one.
pub async fn check<R: Runtime>(
    app: &AppHandle<R>,
    feed: Url,
) -> Result<Option<Update>, UpdateError> {
    Ok(updater_for(app, feed)?.build()?.check().await?)
}

/// Downloads `update` and verifies it: the minisign signature against the app's public key, and
/// that the version in the signature's trusted comment is the version the feed announced.
/// `progress` gets the bytes so far and the total when the server says it.
pub async fn download(
    update: &Update,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, UpdateError> {
    let mut downloaded = 0u64;
    let bytes = update
        .download(
            |chunk, total| {
                downloaded += chunk as u64;
                progress(downloaded, total);
            },
            || {},
        )
        .await?;
    Ok(bytes)
}
