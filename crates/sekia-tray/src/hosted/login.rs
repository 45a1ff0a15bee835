//! "Start at login": the same login entry the desktop app's autostart plugin writes (the name
//! "sekia", the window's binary with `--hidden`), so the tray's check mark and the Settings
//! page agree. A login start runs `sekia-desktop --hidden`, which only makes sure this tray
//! host runs.

use auto_launch::{AutoLaunch, AutoLaunchBuilder};

pub struct StartAtLogin(Option<AutoLaunch>);

impl StartAtLogin {
    pub fn new() -> Self {
        // In an AppImage the binaries sit in a mount that changes at each start: the login
        // entry names the AppImage itself, as the plugin does.
        let app = std::env::var_os("APPIMAGE")
            .map(std::path::PathBuf::from)
            .or_else(super::window::binary);
        let entry = app.and_then(|path| {
            AutoLaunchBuilder::new()
                .set_app_name(crate::APP_NAME)
                .set_app_path(&path.display().to_string())
                .set_args(&[crate::HIDDEN_ARG])
                .build()
                .ok()
        });
        Self(entry)
    }

    pub fn is_on(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|a| a.is_enabled().unwrap_or(false))
    }

    /// Turns it on or off; returns the state afterwards.
    pub fn set(&self, on: bool) -> bool {
        if let Some(entry) = &self.0 {
            let result = if on { entry.enable() } else { entry.disable() };
            if let Err(e) = result {
                tracing::warn!("cannot change start at login: {e}");
            }
        }
        self.is_on()
    }
}
