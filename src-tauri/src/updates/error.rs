//! Why an update check or install did not happen. The messages are user-facing as they are:
//! the Settings page and the log show them.

use super::settings::SettingsError;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("this build of sekia does not update itself; install a release to get updates")]
    Unsupported,
    #[error("there is no update to install; check for updates first")]
    NothingToInstall,
    #[error("an update is being checked for or installed already")]
    Busy,
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The download is not what sekia's key signed for the announced version: a corrupted or
    /// tampered file, a signature from another key, or an older release announced as newer.
    #[cfg(feature = "updater")]
    #[error("the update was refused, nothing was installed: {0}")]
    Rejected(tauri_plugin_updater::Error),
    /// Anything else from the updater: the feed unreachable or malformed, the download cut, the
    /// installer failing.
    #[cfg(feature = "updater")]
    #[error("{0}")]
    Updater(tauri_plugin_updater::Error),
}

#[cfg(feature = "updater")]
impl From<tauri_plugin_updater::Error> for UpdateError {
    fn from(e: tauri_plugin_updater::Error) -> Self {
        use tauri_plugin_updater::Error as E;
        match e {
            E::Minisign(_)
            | E::SignedVersionMismatch { .. }
            | E::MissingSignedVersion
            | E::Base64(_)
            | E::SignatureUtf8(_) => UpdateError::Rejected(e),
            e => UpdateError::Updater(e),
        }
    }
}
