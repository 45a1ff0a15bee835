//! The updater as the app runs it: one [`Updates`], managed by the app, holds the settings, the
//! timetable, what was found, and the [`UpdateStatus`] everyone watches. The flow:
//!
//! 1. a check (timer or "Check for updates") asks the feed; a newer version becomes
//!    `Available` and is kept — nothing is downloaded yet;
//! 2. the user chooses "Update to vX.Y.Z" (tray or Settings): it is downloaded, with progress,
//!    and verified (signature and signed version);
//! 3. it is installed, the daemon is stopped the way Quit stops it (workflows drained, history
//!    flushed, socket removed), and the app restarts into the new version.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::{Notify, watch};

use super::error::UpdateError;
use super::schedule::Schedule;
#[cfg(feature = "updater")]
use super::schedule::Trigger;
use super::settings::{Channel, ENDPOINT_ENV, FILE_NAME, UpdateSettings};
use super::status::{UpdateInfo, UpdateStatus};

pub struct Updates {
    status: watch::Sender<UpdateStatus>,
    /// Also the lock that makes "start a check" and "start an install" exclusive.
    schedule: Mutex<Schedule>,
    settings: Mutex<UpdateSettings>,
    settings_path: Option<PathBuf>,
    env_endpoint: Option<String>,
    /// Wakes the timer when the settings change (automatic checks turned on or off).
    settings_changed: Notify,
    /// The release found by the last check, until it is installed.
    #[cfg(feature = "updater")]
    pending: Mutex<Option<tauri_plugin_updater::Update>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Updates {
    /// Settings from `settings_path` (the defaults when it is missing or unreadable: a broken
    /// settings file must not stop updates), the feed override `env_endpoint`, and the timetable
    /// of an app started at `started`.
    pub fn new(
        settings_path: Option<PathBuf>,
        env_endpoint: Option<String>,
        started: Instant,
    ) -> Self {
        let settings = settings_path
            .as_deref()
            .map(|path| {
                UpdateSettings::load(path).unwrap_or_else(|e| {
                    log::warn!("{e}; using the default update settings");
                    UpdateSettings::default()
                })
            })
            .unwrap_or_default();
        let status = if cfg!(feature = "updater") {
            UpdateStatus::UpToDate {
                checked_at: None,
                error: None,
            }
        } else {
            UpdateStatus::Unsupported
        };
        Self {
            status: watch::Sender::new(status),
            schedule: Mutex::new(Schedule::new(started)),
            settings: Mutex::new(settings),
            settings_path,
            env_endpoint,
            settings_changed: Notify::new(),
            #[cfg(feature = "updater")]
            pending: Mutex::new(None),
        }
    }

    /// The app's: `updates.json` in its config folder, [`ENDPOINT_ENV`] from the environment.
    pub fn for_app<R: Runtime>(app: &AppHandle<R>) -> Self {
        let path = app.path().app_config_dir().ok().map(|d| d.join(FILE_NAME));
        Self::new(path, std::env::var(ENDPOINT_ENV).ok(), Instant::now())
    }

    pub fn status(&self) -> UpdateStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<UpdateStatus> {
        self.status.subscribe()
    }

    fn set_status(&self, status: UpdateStatus) {
        self.status.send_replace(status);
    }

    pub fn settings(&self) -> UpdateSettings {
        lock(&self.settings).clone()
    }

    /// What the Settings page shows; `current_version` is the app's.
    pub fn info(&self, current_version: String) -> UpdateInfo {
        let settings = self.settings();
        UpdateInfo {
            status: self.status(),
            current_version,
            channel: settings.channel,
            check_automatically: settings.check_automatically,
            feed: settings.feed_text(self.env_endpoint.as_deref()).to_string(),
        }
    }

    /// Saves the channel and whether to check by itself. A release found on the old channel
    /// is forgotten (the next check asks the new one), unless it is being installed.
    pub fn set_settings(
        &self,
        channel: Channel,
        check_automatically: bool,
    ) -> Result<(), UpdateError> {
        let _phase = lock(&self.schedule);
        let mut settings = self.settings();
        let channel_changed = settings.channel != channel;
        settings.channel = channel;
        settings.check_automatically = check_automatically;
        if let Some(path) = &self.settings_path {
            settings.save(path)?;
        }
        *lock(&self.settings) = settings;
        if channel_changed && matches!(self.status(), UpdateStatus::Available { .. }) {
            #[cfg(feature = "updater")]
            lock(&self.pending).take();
            self.set_status(UpdateStatus::UpToDate {
                checked_at: None,
                error: None,
            });
        }
        self.settings_changed.notify_one();
        Ok(())
    }
}

#[cfg(not(feature = "updater"))]
impl Updates {
    pub async fn check_now<R: Runtime>(
        &self,
        _app: &AppHandle<R>,
    ) -> Result<UpdateStatus, UpdateError> {
        Err(UpdateError::Unsupported)
    }

    pub async fn install<R: Runtime>(&self, _app: &AppHandle<R>) -> Result<(), UpdateError> {
        Err(UpdateError::Unsupported)
    }
}

#[cfg(feature = "updater")]
impl Updates {
    /// "Check for updates": asks the feed now, or waits for the check already running, and
    /// returns what was found.
    pub async fn check_now<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<UpdateStatus, UpdateError> {
        self.check(app, Trigger::Manual, Instant::now()).await
    }

    /// A check, if the timetable lets `trigger` start one at `now`. A failed check is logged and
    /// shown (`UpToDate` with its error), not returned as an error: there is nothing to undo.
    pub async fn check<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        trigger: Trigger,
        now: Instant,
    ) -> Result<UpdateStatus, UpdateError> {
        // Decided under the lock, acted on after it (no lock is held across an await).
        let start = {
            let mut schedule = lock(&self.schedule);
            let before = self.status();
            let busy = matches!(
                before,
                UpdateStatus::Downloading { .. } | UpdateStatus::Installing { .. }
            );
            // Counted even when busy, so the timer moves on to the next interval.
            let started = schedule.begin(now, trigger);
            if busy && started {
                schedule.finish();
            }
            if busy {
                Start::Installing(before)
            } else if !started {
                Start::NotNow(before)
            } else {
                // Set under the lock, so a request that finds the check running also finds
                // `Checking` and waits for its result.
                self.set_status(UpdateStatus::Checking);
                Start::Started(before)
            }
        };
        let before = match (start, trigger) {
            (Start::Started(before), _) => before,
            (Start::Installing(_), Trigger::Manual) => return Err(UpdateError::Busy),
            // A check is running: the user gets its answer.
            (Start::NotNow(_), Trigger::Manual) => return Ok(self.running_check_result().await),
            (Start::Installing(before) | Start::NotNow(before), Trigger::Automatic) => {
                return Ok(before);
            }
        };
        let found = match self.settings().feed(self.env_endpoint.as_deref()) {
            Ok(feed) => super::check::check(app, feed).await,
            Err(e) => Err(e.into()),
        };
        let status = match found {
            Ok(Some(update)) => {
                let status = UpdateStatus::Available {
                    version: update.version.clone(),
                    notes: update.body.clone(),
                    error: None,
                };
                *lock(&self.pending) = Some(update);
                status
            }
            Ok(None) => {
                lock(&self.pending).take();
                UpdateStatus::UpToDate {
                    checked_at: Some(unix_now()),
                    error: None,
                }
            }
            Err(e) => {
                log::warn!("checking for updates: {e}");
                match before {
                    // Still on offer: the feed being unreachable now does not unmake it.
                    UpdateStatus::Available { .. } => before,
                    _ => UpdateStatus::UpToDate {
                        checked_at: Some(unix_now()),
                        error: Some(e.to_string()),
                    },
                }
            }
        };
        let mut schedule = lock(&self.schedule);
        self.set_status(status.clone());
        schedule.finish();
        Ok(status)
    }

    async fn running_check_result(&self) -> UpdateStatus {
        let mut status = self.subscribe();
        let result = status
            .wait_for(|s| *s != UpdateStatus::Checking)
            .await
            .map(|s| s.clone());
        result.unwrap_or_else(|_| self.status())
    }

    /// Checks whenever the timetable says so, while automatic checks are on. Runs until the app
    /// ends.
    pub async fn keep_checking<R: Runtime>(&self, app: &AppHandle<R>) {
        loop {
            let due = lock(&self.schedule).next_due();
            let automatic = self.settings().check_automatically;
            tokio::select! {
                () = tokio::time::sleep_until(due.into()), if automatic => {}
                () = self.settings_changed.notified() => continue,
            }
            let _ = self.check(app, Trigger::Automatic, Instant::now()).await;
        }
    }

    /// Downloads and verifies the release the last check found, showing its progress. On
    /// failure the release stays on offer with the error.
    pub async fn download_pending(
        &self,
    ) -> Result<(tauri_plugin_updater::Update, Vec<u8>), UpdateError> {
        let update = {
            let schedule = lock(&self.schedule);
            if schedule.is_running() || !matches!(self.status(), UpdateStatus::Available { .. }) {
                return Err(match self.status() {
                    UpdateStatus::Checking
                    | UpdateStatus::Downloading { .. }
                    | UpdateStatus::Installing { .. } => UpdateError::Busy,
                    _ => UpdateError::NothingToInstall,
                });
            }
            let update = lock(&self.pending)
                .clone()
                .ok_or(UpdateError::NothingToInstall)?;
            self.set_status(UpdateStatus::Downloading {
                version: update.version.clone(),
                downloaded: 0,
                total: None,
            });
            update
        };
        let mut shown = self.status();
        let downloaded = super::check::download(&update, |downloaded, total| {
            let now = UpdateStatus::Downloading {
                version: update.version.clone(),
                downloaded,
                total,
            };
            if shown.progress_differs(&now) {
                self.set_status(now.clone());
                shown = now;
            }
        })
        .await;
        match downloaded {
            Ok(bytes) => Ok((update, bytes)),
            Err(e) => {
                log::warn!("downloading sekia {}: {e}", update.version);
                self.offer_again(&update, &e);
                Err(e)
            }
        }
    }

    fn offer_again(&self, update: &tauri_plugin_updater::Update, error: &UpdateError) {
        self.set_status(UpdateStatus::Available {
            version: update.version.clone(),
            notes: update.body.clone(),
            error: Some(error.to_string()),
        });
    }

    /// "Update to vX.Y.Z": download and verify, install, stop the daemon cleanly, restart.
    pub async fn install<R: Runtime>(&self, app: &AppHandle<R>) -> Result<(), UpdateError> {
        let (update, bytes) = self.download_pending().await?;
        self.set_status(UpdateStatus::Installing {
            version: update.version.clone(),
        });
        #[cfg(feature = "embedded")]
        let host = app
            .try_state::<crate::DaemonHost>()
            .map(|h| h.inner().clone());
        // Windows' installer ends this process as soon as it starts, so the daemon stops first
        // there. Elsewhere it stops after the install succeeded, so a refused install (the
        // password prompt cancelled) leaves it running.
        #[cfg(feature = "embedded")]
        if cfg!(windows)
            && let Some(host) = &host
        {
            host.shutdown().await;
        }
        let installing = update.clone();
        let installed = tauri::async_runtime::spawn_blocking(move || installing.install(bytes))
            .await
            .map_err(|e| {
                UpdateError::Updater(tauri_plugin_updater::Error::Io(std::io::Error::other(e)))
            })
            .and_then(|r| r.map_err(UpdateError::from));
        if let Err(e) = installed {
            log::error!("installing sekia {}: {e}", update.version);
            if cfg!(windows) {
                // The daemon is already stopped: start the old version again rather than
                // leave a tray app without its daemon.
                app.request_restart();
            }
            self.offer_again(&update, &e);
            return Err(e);
        }
        log::info!(
            "sekia {} installed; stopping the daemon and restarting",
            update.version
        );
        #[cfg(feature = "embedded")]
        if let Some(host) = host {
            host.shutdown().await;
        }
        // The tray host runs the old version: it stops too, and the restarted window starts
        // the new one.
        #[cfg(target_os = "linux")]
        if let Some(crate::Backend::Remote(client)) = app
            .try_state::<crate::BackendSlot>()
            .and_then(|slot| slot.now())
        {
            crate::split::stop_tray_host(client.socket()).await;
        }
        app.request_restart();
        Ok(())
    }
}

/// Whether a check may start, with the status before it.
#[cfg(feature = "updater")]
enum Start {
    Started(UpdateStatus),
    /// Not due (automatic), or another check is running.
    NotNow(UpdateStatus),
    /// An update is being downloaded or installed.
    Installing(UpdateStatus),
}

#[cfg(feature = "updater")]
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
