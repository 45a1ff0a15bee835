//! The updater's place in the running app: the timer, the window's [`UPDATE_EVENT`], the
//! notification when a release is found, and the tray's "Check for updates" and "Update to
//! vX.Y.Z" items.

use tauri::menu::{Menu, MenuItem};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use super::service::Updates;
use super::status::{Announcement, Announcer, UPDATE_EVENT, UpdateStatus};

/// Tray menu ids.
pub const CHECK_ID: &str = "check_updates";
pub const INSTALL_ID: &str = "install_update";

/// Starts the timer and the forwarding of the status to the window and the desktop. Needs the
/// app's [`Updates`] and the notification plugin.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let timer = app.clone();
    tauri::async_runtime::spawn(async move {
        timer.state::<Updates>().keep_checking(&timer).await;
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut statuses = app.state::<Updates>().subscribe();
        let mut announcer = Announcer::default();
        loop {
            let status = statuses.borrow_and_update().clone();
            let _ = app.emit(UPDATE_EVENT, &status);
            if let Some(announcement) = announcer.observe(&status) {
                crate::notify(&app, &announcement.title, &announcement.body);
            }
            if statuses.changed().await.is_err() {
                break;
            }
        }
    });
}

/// The tray's two update items.
pub struct TrayItems<R: Runtime> {
    pub check: MenuItem<R>,
    install: MenuItem<R>,
}

impl<R: Runtime> TrayItems<R> {
    pub fn new(app: &AppHandle<R>) -> tauri::Result<Self> {
        Ok(Self {
            check: MenuItem::with_id(app, CHECK_ID, "Check for updates", true, None::<&str>)?,
            install: MenuItem::with_id(app, INSTALL_ID, "Update to …", true, None::<&str>)?,
        })
    }

    /// Keeps the items in step with the status: "Update to …" is in `menu`, at `position`, only
    /// while there is a release to install or being installed; its text shows the download.
    pub fn follow(self, app: &AppHandle<R>, menu: Menu<R>, position: usize) {
        let mut statuses = app.state::<Updates>().subscribe();
        tauri::async_runtime::spawn(async move {
            let mut shown = false;
            loop {
                let status = statuses.borrow_and_update().clone();
                let (check_text, check_enabled) = status.check_item();
                let _ = self.check.set_text(check_text);
                let _ = self.check.set_enabled(check_enabled);
                match status.update_item_text() {
                    Some(text) => {
                        let _ = self.install.set_text(text);
                        let _ = self.install.set_enabled(status.can_install());
                        if !shown {
                            shown = menu.insert(&self.install, position).is_ok();
                        }
                    }
                    None if shown => shown = menu.remove(&self.install).is_err(),
                    None => {}
                }
                if statuses.changed().await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Handles a click on one of the items; `false` when `id` is not one of them.
pub fn on_menu_click<R: Runtime>(app: &AppHandle<R>, id: &str) -> bool {
    let app = app.clone();
    match id {
        CHECK_ID => {
            tauri::async_runtime::spawn(async move {
                let updates = app.state::<Updates>();
                // From the tray there is no page to show the answer: say it when nothing was
                // found (a found release is announced anyway).
                let said = match updates.check_now(&app).await {
                    Ok(UpdateStatus::UpToDate { error: None, .. }) => Some(Announcement {
                        title: "sekia is up to date".into(),
                        body: format!("Version {} is the newest.", app.package_info().version),
                    }),
                    Ok(UpdateStatus::UpToDate { error: Some(e), .. }) => {
                        Some(cannot("check for updates", &e))
                    }
                    Ok(_) => None,
                    Err(e) => Some(cannot("check for updates", &e.to_string())),
                };
                if let Some(said) = said {
                    crate::notify(&app, &said.title, &said.body);
                }
            });
            true
        }
        INSTALL_ID => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = app.state::<Updates>().install(&app).await {
                    let cannot = cannot("install the update", &e.to_string());
                    crate::notify(&app, &cannot.title, &cannot.body);
                }
            });
            true
        }
        _ => false,
    }
}

fn cannot(what: &str, why: &str) -> Announcement {
    Announcement {
        title: format!("sekia could not {what}"),
        body: why.to_string(),
    }
}
