//! Private folders and files: 0700 folders, 0600 files, owned by us.
//!
//! As root a read never fails on permissions, so callers and tests check the mode bits, not
//! whether a read fails.
//!
//! On Windows there are no mode bits: sekia's folders are under the user's profile
//! (`%APPDATA%`, `%LOCALAPPDATA%`), whose inherited ACL already admits only the user, SYSTEM
//! and administrators, so folders and files are created there without further ACL changes
//! (symbolic links and non-folders are still refused).

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The effective user id of this process.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates `dir` (and missing parents) with mode 0700. An existing folder must belong to us
/// and must not be writable by others unless it is sticky (like `/tmp`): otherwise someone else
/// could swap what we put there.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(dir)?;
        // The umask may have narrowed the mode; make it exactly 0700.
        #[cfg(unix)]
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        return Ok(());
    }
    let meta = fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is a symbolic link; refusing to use it", dir.display()),
        ));
    }
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not a folder", dir.display()),
        ));
    }
    #[cfg(unix)]
    refuse_shared_dir(dir, &meta)?;
    Ok(())
}

/// A folder of another user, or one others may write to, is not ours to put secrets in.
#[cfg(unix)]
fn refuse_shared_dir(dir: &Path, meta: &fs::Metadata) -> io::Result<()> {
    if meta.uid() != current_uid() && !(meta.uid() == 0 && meta.mode() & 0o1000 != 0) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user (uid {}); refusing to use it",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is writable by other users; make it 0700 (chmod 700 {0})",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// Writes a new file with mode 0600 in a private folder. With `overwrite` false an existing file
/// is an `AlreadyExists` error; with it true the old file is replaced.
pub fn write_private_file(path: &Path, contents: &[u8], overwrite: bool) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_private_dir(parent)?;
    }
    if overwrite && fs::symlink_metadata(path).is_ok() {
        fs::remove_file(path)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// True when only the owner may read or write the file (`mode & 0o077 == 0`; on Windows, the
/// profile's ACL decides, see the module's note, and an existing file counts as private).
pub fn is_private(path: &Path) -> io::Result<bool> {
    let meta = fs::metadata(path)?;
    #[cfg(unix)]
    return Ok(meta.mode() & 0o077 == 0);
    #[cfg(not(unix))]
    return Ok(meta.is_file());
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn creates_0700_folders_and_0600_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let file = dir.join("key");
        write_private_file(&file, b"x", false).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            write_private_file(&file, b"y", false).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        write_private_file(&file, b"y", true).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"y");
    }

    #[test]
    fn refuses_group_writable_folder() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(ensure_private_dir(tmp.path()).is_err());
    }
}
