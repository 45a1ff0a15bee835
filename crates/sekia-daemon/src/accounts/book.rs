//! The list of connected accounts, `accounts.json` in the accounts folder: who each account is
//! and whether it needs a new sign-in. Tokens are not here; they are in the token store.
//! Written whole (0600, temporary file then rename) on every change, so a crash leaves the old
//! list or the new one, never half of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::daemon::DaemonError;
use crate::fsperm;

/// How an account was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Browser sign-in (OAuth); renewable where the provider gives refresh tokens.
    Oauth,
    /// A pasted token or key.
    Token,
}

/// One account as remembered between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub provider: String,
    /// Unique across providers: it is the connector's agent name and command subject.
    pub name: String,
    /// Who the account is at the service (login, e-mail, workspace).
    pub identity: String,
    pub kind: AccountKind,
    /// Unix milliseconds.
    pub connected_at: i64,
    /// Remembered so a restart does not hammer a provider that already refused the account.
    #[serde(default)]
    pub needs_reconnect: bool,
}

#[derive(Serialize, Deserialize)]
struct File {
    v: u32,
    accounts: Vec<Record>,
}

pub struct Book {
    path: PathBuf,
}

impl Book {
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("accounts.json"),
        }
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The accounts remembered; none if the file does not exist yet.
    pub fn load(&self) -> Result<Vec<Record>, DaemonError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(DaemonError::Accounts(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )));
            }
        };
        let file: File = serde_json::from_str(&text).map_err(|e| {
            DaemonError::Accounts(format!(
                "{} is damaged (line {}, column {}: {e}); move it away and connect the accounts again",
                self.path.display(),
                e.line(),
                e.column()
            ))
        })?;
        if file.v != 1 {
            return Err(DaemonError::Accounts(format!(
                "{} was written by a newer sekia (format {}); update sekia",
                self.path.display(),
                file.v
            )));
        }
        Ok(file.accounts)
    }

    pub fn save(&self, accounts: &[Record]) -> Result<(), DaemonError> {
        let io = |e: std::io::Error| {
            DaemonError::Accounts(format!("cannot write {}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent() {
            fsperm::ensure_private_dir(dir).map_err(io)?;
        }
        let file = File {
            v: 1,
            accounts: accounts.to_vec(),
        };
        let text = serde_json::to_vec_pretty(&file)
            .map_err(|e| DaemonError::Accounts(format!("cannot encode the account list: {e}")))?;
        fsperm::write_private_file(&self.path, &text, true).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_private_and_newer_format_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let book = Book::new(&tmp.path().join("accounts"));
        assert!(book.load().unwrap().is_empty());
        let r = Record {
            provider: "github".into(),
            name: "github-agent".into(),
            identity: "octocat".into(),
            kind: AccountKind::Token,
            connected_at: 1,
            needs_reconnect: false,
        };
        book.save(std::slice::from_ref(&r)).unwrap();
        assert_eq!(book.load().unwrap(), vec![r]);
        assert!(fsperm::is_private(book.path()).unwrap());
        std::fs::write(book.path(), r#"{"v": 2, "accounts": []}"#).unwrap();
        assert!(book.load().unwrap_err().to_string().contains("newer sekia"));
        std::fs::write(book.path(), "{").unwrap();
        assert!(book.load().unwrap_err().to_string().contains("damaged"));
    }
}
