//! The user's update settings: the channel, whether to check by itself, and (rarely) another
//! release feed. They are the desktop app's own (a browser dashboard has nothing to update), so
//! they live in the app's config folder (`updates.json`), not in `sekia.toml`, which the
//! headless daemon reads and would warn about. The Settings page writes them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

/// The stable channel's feed: the `latest.json` the release workflow attaches to the newest
/// GitHub release that is not a pre-release.
pub const STABLE_FEED: &str =
    "https://github.com/sekia-ai/sekia-rs/releases/latest/download/latest.json";
/// The beta channel's feed: the `latest.json` of the rolling `beta` release, which the release
/// workflow replaces on every release, pre-release or not (so beta users get stable releases
/// too). GitHub's `releases/latest` skips pre-releases, hence a fixed tag.
pub const BETA_FEED: &str =
    "https://github.com/sekia-ai/sekia-rs/releases/download/beta/latest.json";
/// Environment variable that replaces the feed for this run (a mirror, a test server); it
/// wins over the file. `{{target}}`, `{{arch}}` and `{{current_version}}` are filled in.
pub const ENDPOINT_ENV: &str = "SEKIA_UPDATE_ENDPOINT";
/// The file, in the app's config folder.
pub const FILE_NAME: &str = "updates.json";

/// Which releases to follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Releases only.
    #[default]
    Stable,
    /// Pre-releases as well.
    Beta,
}

impl Channel {
    /// The channel's release feed.
    pub fn feed(self) -> &'static str {
        match self {
            Channel::Stable => STABLE_FEED,
            Channel::Beta => BETA_FEED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateSettings {
    pub channel: Channel,
    /// Check a minute after start and every 6 hours. Off: only "Check for updates" checks.
    pub check_automatically: bool,
    /// Replaces the channel's feed (same placeholders as [`ENDPOINT_ENV`]).
    pub endpoint: Option<String>,
}

impl Default for UpdateSettings {
    fn default() -> Self {
        Self {
            channel: Channel::Stable,
            check_automatically: true,
            endpoint: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot save {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("update feed {url:?} is not a web address: {source}")]
    Endpoint {
        url: String,
        source: url::ParseError,
    },
}

impl UpdateSettings {
    /// Reads `path`; a missing file is the defaults.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|source| SettingsError::Parse {
            path: path.into(),
            source,
        })
    }

    /// Writes `path` whole (a temporary file renamed over it: a crash leaves the old or the new
    /// file, never half of one).
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let write_err = |source| SettingsError::Write {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| write_err(e.into()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    /// The feed to ask, as written: `env_endpoint` (the value of [`ENDPOINT_ENV`]), else
    /// `endpoint`, else the channel's.
    pub fn feed_text<'a>(&'a self, env_endpoint: Option<&'a str>) -> &'a str {
        [env_endpoint, self.endpoint.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|u| !u.is_empty())
            .unwrap_or(self.channel.feed())
    }

    /// [`Self::feed_text`], parsed.
    pub fn feed(&self, env_endpoint: Option<&str>) -> Result<Url, SettingsError> {
        let url = self.feed_text(env_endpoint);
        Url::parse(url).map_err(|source| SettingsError::Endpoint {
            url: url.into(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_stable_releases_and_check_by_themselves() {
        let s = UpdateSettings::default();
        assert_eq!(s.channel, Channel::Stable);
        assert!(s.check_automatically);
        assert_eq!(s.feed(None).unwrap().as_str(), STABLE_FEED);
    }

    #[test]
    fn beta_follows_the_rolling_beta_release() {
        let s = UpdateSettings {
            channel: Channel::Beta,
            ..Default::default()
        };
        assert_eq!(s.feed(None).unwrap().as_str(), BETA_FEED);
    }

    #[test]
    fn the_environment_beats_the_file_which_beats_the_channel() {
        let mut s = UpdateSettings {
            endpoint: Some("https://mirror.example/{{target}}/{{arch}}/{{current_version}}".into()),
            ..Default::default()
        };
        let from_file = s.feed(None).unwrap();
        assert_eq!(from_file.host_str(), Some("mirror.example"));
        // The placeholders survive parsing (percent-encoded, which the plugin expects too).
        assert!(
            from_file.as_str().contains("%7B%7Btarget%7D%7D"),
            "{from_file}"
        );
        let from_env = s.feed(Some("http://127.0.0.1:9/latest.json")).unwrap();
        assert_eq!(from_env.as_str(), "http://127.0.0.1:9/latest.json");
        // Empty means unset.
        s.endpoint = Some(" ".into());
        assert_eq!(s.feed(Some("")).unwrap().as_str(), STABLE_FEED);
        assert!(matches!(
            s.feed(Some("not a url")),
            Err(SettingsError::Endpoint { .. })
        ));
    }

    #[test]
    fn saved_settings_load_back_and_a_missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(FILE_NAME);
        assert_eq!(
            UpdateSettings::load(&path).unwrap(),
            UpdateSettings::default()
        );
        let s = UpdateSettings {
            channel: Channel::Beta,
            check_automatically: false,
            endpoint: None,
        };
        s.save(&path).unwrap();
        assert_eq!(UpdateSettings::load(&path).unwrap(), s);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"channel\": \"beta\""), "{text}");
        // A file with only some keys takes the defaults for the rest.
        std::fs::write(&path, r#"{"channel": "beta"}"#).unwrap();
        assert!(UpdateSettings::load(&path).unwrap().check_automatically);
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            UpdateSettings::load(&path),
            Err(SettingsError::Parse { .. })
        ));
    }
}
