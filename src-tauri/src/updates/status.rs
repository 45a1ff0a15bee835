//! What the updater is doing, as the window (Tauri event [`UPDATE_EVENT`]), the tray and the
//! notification see it, and the words each of them shows.

use serde::Serialize;

use super::settings::Channel;

/// Tauri event with the [`UpdateStatus`], sent on every change (download progress included).
pub const UPDATE_EVENT: &str = "sekia:update";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateStatus {
    /// This build does not update itself: a development build (without the `updater` feature).
    Unsupported,
    /// No update is known. `checked_at` (Unix seconds) and `error` tell how the last check went;
    /// both are `None` before the first one.
    UpToDate {
        checked_at: Option<u64>,
        error: Option<String>,
    },
    Checking,
    /// A newer release is there; the user chooses when to install it. `error` is why the last
    /// attempt to install it failed, if it did.
    Available {
        version: String,
        notes: Option<String>,
        error: Option<String>,
    },
    Downloading {
        version: String,
        downloaded: u64,
        total: Option<u64>,
    },
    /// Downloaded and verified; being installed, then the daemon stops and the app restarts.
    Installing {
        version: String,
    },
}

impl UpdateStatus {
    /// The tray's "Update to …" item: `None` when there is nothing to install.
    pub fn update_item_text(&self) -> Option<String> {
        match self {
            UpdateStatus::Available { version, .. } => Some(format!("Update to v{version}")),
            UpdateStatus::Downloading {
                version,
                downloaded,
                total,
            } => Some(match percent(*downloaded, *total) {
                Some(p) => format!("Downloading v{version}… {p}%"),
                None => format!("Downloading v{version}… {} KiB", downloaded / 1024),
            }),
            UpdateStatus::Installing { version } => Some(format!("Installing v{version}…")),
            _ => None,
        }
    }

    /// Whether "Update to …" can be clicked (not while it is already downloading).
    pub fn can_install(&self) -> bool {
        matches!(self, UpdateStatus::Available { .. })
    }

    /// The tray's "Check for updates" item, and whether it can be clicked.
    pub fn check_item(&self) -> (&'static str, bool) {
        match self {
            UpdateStatus::Checking => ("Checking for updates…", false),
            UpdateStatus::Downloading { .. } | UpdateStatus::Installing { .. } => {
                ("Check for updates", false)
            }
            _ => ("Check for updates", true),
        }
    }

    /// Whether a progress step is worth telling the window and the tray: each whole percent
    /// (or each 256 KiB when the size is unknown), so a download is ~100 redraws, not one per
    /// network chunk.
    pub fn progress_differs(&self, other: &UpdateStatus) -> bool {
        match (self, other) {
            (
                UpdateStatus::Downloading {
                    downloaded: a,
                    total,
                    ..
                },
                UpdateStatus::Downloading {
                    downloaded: b,
                    total: other_total,
                    ..
                },
            ) if total == other_total => match total {
                Some(_) => percent(*a, *total) != percent(*b, *total),
                None => a / (256 * 1024) != b / (256 * 1024),
            },
            _ => self != other,
        }
    }
}

fn percent(downloaded: u64, total: Option<u64>) -> Option<u64> {
    let total = total.filter(|t| *t > 0)?;
    Some((downloaded.min(total) * 100) / total)
}

/// What the Settings page shows (the `updates` command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateInfo {
    pub status: UpdateStatus,
    pub current_version: String,
    pub channel: Channel,
    pub check_automatically: bool,
    /// The release feed asked, placeholders as written.
    pub feed: String,
}

/// A desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub title: String,
    pub body: String,
}

/// Announces each new version once per run: a check every 6 hours, or the user pressing "Check
/// for updates", finds the same release again without notifying again.
#[derive(Debug, Default)]
pub struct Announcer {
    announced: Option<String>,
}

impl Announcer {
    pub fn observe(&mut self, status: &UpdateStatus) -> Option<Announcement> {
        let UpdateStatus::Available { version, .. } = status else {
            return None;
        };
        if self.announced.as_ref() == Some(version) {
            return None;
        }
        self.announced = Some(version.clone());
        Some(Announcement {
            title: format!("sekia {version} is available"),
            body: format!(
                "Choose \u{201c}Update to v{version}\u{201d} in the tray menu, or in Settings, when it suits you."
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(version: &str) -> UpdateStatus {
        UpdateStatus::Available {
            version: version.into(),
            notes: None,
            error: None,
        }
    }

    fn downloading(downloaded: u64, total: Option<u64>) -> UpdateStatus {
        UpdateStatus::Downloading {
            version: "0.2.0".into(),
            downloaded,
            total,
        }
    }

    #[test]
    fn the_tray_offers_the_update_and_shows_the_download() {
        assert_eq!(UpdateStatus::Checking.update_item_text(), None);
        assert_eq!(
            available("0.2.0").update_item_text().as_deref(),
            Some("Update to v0.2.0")
        );
        assert!(available("0.2.0").can_install());
        let half = downloading(512, Some(1024));
        assert_eq!(
            half.update_item_text().as_deref(),
            Some("Downloading v0.2.0… 50%")
        );
        assert!(!half.can_install());
        assert_eq!(
            downloading(3 * 1024, None).update_item_text().as_deref(),
            Some("Downloading v0.2.0… 3 KiB")
        );
        assert_eq!(
            UpdateStatus::Checking.check_item(),
            ("Checking for updates…", false)
        );
        assert_eq!(half.check_item(), ("Check for updates", false));
        assert_eq!(available("0.2.0").check_item(), ("Check for updates", true));
    }

    #[test]
    fn progress_is_told_once_per_percent() {
        let total = Some(10_000);
        let told = (0..=10_000).step_by(7).map(|n| downloading(n, total)).fold(
            vec![downloading(0, total)],
            |mut told, s| {
                if told.last().unwrap().progress_differs(&s) {
                    told.push(s);
                }
                told
            },
        );
        assert_eq!(told.len(), 100);
        assert!(downloading(0, None).progress_differs(&downloading(256 * 1024, None)));
        assert!(!downloading(0, None).progress_differs(&downloading(1024, None)));
        assert!(UpdateStatus::Checking.progress_differs(&downloading(0, total)));
        // The size becoming known is news too.
        assert!(downloading(0, None).progress_differs(&downloading(10, total)));
    }

    #[test]
    fn each_version_is_announced_once() {
        let mut a = Announcer::default();
        assert_eq!(a.observe(&UpdateStatus::Checking), None);
        let first = a.observe(&available("0.2.0")).unwrap();
        assert_eq!(first.title, "sekia 0.2.0 is available");
        assert!(first.body.contains("Update to v0.2.0"), "{}", first.body);
        // Found again by the next check, or a manual one: quiet.
        assert_eq!(a.observe(&UpdateStatus::Checking), None);
        assert_eq!(a.observe(&available("0.2.0")), None);
        // A newer one while the first was not installed: announced.
        assert!(a.observe(&available("0.2.1")).is_some());
    }
}
