//! Creating the database folder (0700) and file (0600) with explicit modes.
//!
//! Event payloads carry issue texts, mail subjects and chat messages: nobody but
//! the user may read them. Modes are given at creation (the umask only narrows
//! them further); an existing database file is tightened to 0600, an existing
//! folder is left alone because the caller may have pointed us into a shared
//! directory we have no business changing. SQLite gives its `-wal` and `-shm`
//! files the permissions of the database file.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Result, StoreError};

/// Creates `path`'s parent folders (0700) and the file itself (0600) if missing.
pub(crate) fn prepare_db_file(path: &Path) -> Result<()> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
    }
    let file_err = |source| StoreError::CreateFile {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(file_err)?;
    let mode = file.metadata().map_err(file_err)?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(0o600))
            .map_err(file_err)?;
    }
    Ok(())
}
