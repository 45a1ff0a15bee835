//! Tokens in age-encrypted files, for machines where no keychain answers: one file per
//! account, `<dir>/<provider>.<hex(name)>.age`, the folder 0700 and each file 0600.
//!
//! The name is hex-encoded so any account name (e-mail, `/`, unicode) makes a safe, unambiguous
//! file name. Writes go to a fresh temporary file renamed over the old one, so a crash leaves
//! either the old tokens or the new, never half a file.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use age::x25519;

use crate::error::AccountError;
use crate::pkce::random_token;
use crate::secret::{AccountId, TokenSet};
use crate::store::{StoreKind, TokenStore, decode, encode};

/// Encrypted token files in one folder.
pub struct FileStore {
    dir: PathBuf,
    identity: x25519::Identity,
}

impl FileStore {
    /// Files in `dir` (created 0700 on first save), encrypted to `identity`'s public key.
    pub fn new(dir: &Path, identity: x25519::Identity) -> Self {
        Self {
            dir: dir.to_owned(),
            identity,
        }
    }

    /// The file holding `account`'s tokens.
    pub fn path_of(&self, account: &AccountId) -> PathBuf {
        self.dir.join(format!(
            "{}.{}.age",
            account.provider(),
            hex::encode(account.name())
        ))
    }

    fn ensure_dir(&self) -> Result<(), AccountError> {
        ensure_private_dir(&self.dir)
    }
}

/// Writes `bytes` to `path` (0600) through a fresh temporary file in the same folder renamed
/// over it, so a crash leaves the old file or the new one, never half of one.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AccountError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tokens"),
        random_token(6)?
    ));
    let write = || -> std::io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        // (Windows: the profile folder's inherited ACL keeps it the user's.)
        #[cfg(unix)]
        options.mode(0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_error(path, "cannot write", &e)
    })
}

/// Creates `dir` (and its parents) 0700 if it does not exist.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), AccountError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(dir)
        .map_err(|e| file_error(dir, "cannot create the folder", &e))
}

pub(crate) fn file_error(path: &Path, what: &str, e: &std::io::Error) -> AccountError {
    AccountError::File {
        path: path.to_owned(),
        message: format!("{what}: {e}"),
    }
}

impl TokenStore for FileStore {
    fn kind(&self) -> StoreKind {
        StoreKind::EncryptedFile
    }

    fn load(&self, account: &AccountId) -> Result<Option<TokenSet>, AccountError> {
        let path = self.path_of(account);
        let ciphertext = match std::fs::read(&path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(&path, "cannot read", &e)),
        };
        let decrypt_err = |reason: String| AccountError::Decrypt {
            path: path.clone(),
            reason,
        };
        let decryptor =
            age::Decryptor::new(&ciphertext[..]).map_err(|e| decrypt_err(e.to_string()))?;
        let mut reader = decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => decrypt_err(
                    "wrong age key (the file was encrypted to another identity); use the key it \
                     was written with, or delete the file and reconnect the account"
                        .into(),
                ),
                other => decrypt_err(other.to_string()),
            })?;
        let mut plain = String::new();
        reader
            .read_to_string(&mut plain)
            .map_err(|e| decrypt_err(format!("corrupt ciphertext ({})", e.kind())))?;
        decode(account, &plain).map(Some)
    }

    fn save(&self, account: &AccountId, tokens: &TokenSet) -> Result<(), AccountError> {
        self.ensure_dir()?;
        let path = self.path_of(account);
        let ciphertext = age::encrypt(&self.identity.to_public(), encode(tokens).as_bytes())
            .map_err(|e| {
                file_error(
                    &path,
                    "cannot encrypt",
                    &std::io::Error::other(e.to_string()),
                )
            })?;
        write_private(&path, &ciphertext)
    }

    fn delete(&self, account: &AccountId) -> Result<(), AccountError> {
        let path = self.path_of(account);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(file_error(&path, "cannot delete", &e)),
        }
    }
}
