//! sekia's Google token file (`google.token_path`, default `~/.config/sekia/google-token.json`):
//! Go's `oauth2.Token` as JSON — `access_token`, `token_type`, `refresh_token`, `expiry` (RFC
//! 3339, Go's zero time for "none"). A standalone `sekia-agent google` reads and refreshes the
//! file sekia's `sekia-google auth` wrote, so sekia's Google setups keep working.
//!
//! The file is plain JSON as in sekia (the daemon's own accounts use the keychain or an
//! age-encrypted file instead); it is written 0600 in a 0700 folder, atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::AccountError;
use crate::file_store::{ensure_private_dir, file_error, write_private};
use crate::secret::{AccountId, Secret, TokenSet};
use crate::store::{StoreKind, TokenStore};

/// Go's zero `time.Time`, which `oauth2.Token` writes for "no expiry".
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One token file; the account id is ignored (the file holds one account).
pub struct TokenFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct GoToken {
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    refresh_token: String,
    #[serde(default)]
    expiry: String,
}

impl TokenFile {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Unix seconds of an RFC 3339 time; `None` for Go's zero time or an empty string.
fn parse_expiry(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("0001-01-01") {
        return Ok(None);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.timestamp()))
        .map_err(|e| format!("`expiry` is not an RFC 3339 time: {e}"))
}

fn format_expiry(at: Option<i64>) -> String {
    at.and_then(|s| chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| GO_ZERO_TIME.to_owned())
}

impl TokenStore for TokenFile {
    fn kind(&self) -> StoreKind {
        StoreKind::TokenFile
    }

    fn load(&self, _account: &AccountId) -> Result<Option<TokenSet>, AccountError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(&self.path, "cannot read", &e)),
        };
        // Only the position of a parse error is kept: serde's message can quote the token.
        let token: GoToken = serde_json::from_str(&text).map_err(|e| AccountError::File {
            path: self.path.clone(),
            message: format!(
                "not a token file (JSON error at line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        let expires_at = parse_expiry(&token.expiry).map_err(|message| AccountError::File {
            path: self.path.clone(),
            message,
        })?;
        Ok(Some(TokenSet {
            access_token: Secret::new(token.access_token),
            refresh_token: (!token.refresh_token.is_empty())
                .then(|| Secret::new(token.refresh_token)),
            expires_at,
            scopes: Vec::new(),
            token_type: if token.token_type.is_empty() {
                "Bearer".into()
            } else {
                token.token_type
            },
        }))
    }

    fn save(&self, _account: &AccountId, tokens: &TokenSet) -> Result<(), AccountError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_private_dir(dir)?;
        }
        let token = GoToken {
            access_token: tokens.access_token.expose().to_owned(),
            token_type: tokens.token_type.clone(),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
            expiry: format_expiry(tokens.expires_at),
        };
        // Plain strings serialize without fail.
        let json = serde_json::to_string_pretty(&token).unwrap_or_default();
        write_private(&self.path, json.as_bytes())
    }

    fn delete(&self, _account: &AccountId) -> Result<(), AccountError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(file_error(&self.path, "cannot delete", &e)),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn reads_what_go_wrote_and_writes_what_go_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sekia/google-token.json");
        let id = AccountId::new("google", "google-agent").unwrap();
        let file = TokenFile::new(&path);
        assert!(file.load(&id).unwrap().is_none());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // As Go's json.MarshalIndent(oauth2.Token) writes it.
        std::fs::write(
            &path,
            "{\n  \"access_token\": \"ya29.old\",\n  \"token_type\": \"Bearer\",\n  \"refresh_token\": \"1//refresh\",\n  \"expiry\": \"2026-12-06T19:32:05.123456789+01:00\"\n}",
        )
        .unwrap();
        let t = file.load(&id).unwrap().unwrap();
        assert_eq!(t.access_token.expose(), "ya29.old");
        assert_eq!(t.refresh_token.as_ref().unwrap().expose(), "1//refresh");
        assert_eq!(t.expires_at, Some(1_796_581_925));

        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        file.save(&id, &t).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["expiry"], "2026-12-06T18:32:05Z");
        assert_eq!(written["refresh_token"], "1//refresh");

        let none = TokenSet {
            expires_at: None,
            refresh_token: None,
            ..t
        };
        file.save(&id, &none).unwrap();
        let back = file.load(&id).unwrap().unwrap();
        assert_eq!(
            (back.expires_at, back.refresh_token.is_none()),
            (None, true)
        );
        file.delete(&id).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_broken_file_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, r#"{"access_token": "leaky-secret", "expiry": 7"#).unwrap();
        let id = AccountId::new("google", "g").unwrap();
        let e = TokenFile::new(&path).load(&id).unwrap_err().to_string();
        assert!(e.contains("t.json") && !e.contains("leaky-secret"), "{e}");
    }
}
