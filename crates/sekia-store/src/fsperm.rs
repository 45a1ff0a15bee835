//! Creating the database folder (0700) and file (0600) with explicit modes.
//!
//! Event payloads carry issue texts, mail subjects and chat messages: nobody but
//! the user may read them. Modes are given at creation (the umask only narrows
//! them further); an existing database file is tightened to 0600, an existing
//! folder is left alone because the caller may have pointed us into a shared
//! directory we have no business changing. SQLite gives its `-wal` and `-shm`
//! files the permissions of the database file.
//!
//! Windows has no mode bits: the database lives under the user's profile, whose inherited ACL
//! admits only the user, SYSTEM and administrators.

#[cfg(unix)]
use std::fs::Permissions;
use std::fs::{DirBuilder, OpenOptions};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Result, StoreError};

/// Creates `path`'s parent folders (0700) and the file itself (0600) if missing.
pub(crate) fn prepare_db_file(path: &Path) -> Result<()> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder
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
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    options.mode(0o600);
    let file = options.open(path).map_err(file_err)?;
    #[cfg(unix)]
    {
        let mode = file.metadata().map_err(file_err)?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(Permissions::from_mode(0o600))
                .map_err(file_err)?;
        }
    }
    #[cfg(not(unix))]
    drop(file);
    Ok(())
}
