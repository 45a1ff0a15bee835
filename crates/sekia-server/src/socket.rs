//! Serving the API on a Unix socket: the folder is private (0700, ours), the socket 0600, and a
//! socket that a running daemon still answers on is never taken over (sekia removed it blindly,
//! so two daemons could fight over the path). On Windows the same API is served on a named
//! pipe (see [`crate::pipe`]).

use std::io;
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sekia_daemon::Daemon;
#[cfg(unix)]
use sekia_daemon::fsperm;
use thiserror::Error;
#[cfg(unix)]
use tokio::net::UnixListener;

use crate::serving::Serving;

#[derive(Debug, Error)]
pub enum SocketError {
    #[error("socket folder {path}: {source}")]
    Folder { path: PathBuf, source: io::Error },
    #[error("another sekiad is already running and answering on {0}")]
    AlreadyRunning(PathBuf),
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
}

/// The running API server. `shutdown` stops accepting, lets requests in flight finish, and
/// removes the socket file.
pub struct ApiServer {
    path: PathBuf,
    serving: Serving,
}

impl ApiServer {
    pub async fn bind(daemon: Daemon, path: &Path) -> Result<Self, SocketError> {
        let listener = listen(path).await?;
        let serving = Serving::start(listener, crate::router(daemon), "local API server");
        tracing::info!(socket = %path.display(), "local API listening");
        Ok(Self {
            path: path.to_path_buf(),
            serving,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn shutdown(self) {
        self.serving.stop().await;
        // A named pipe goes away with its last handle; a Unix socket leaves a file behind.
        #[cfg(unix)]
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(socket = %self.path.display(), error = %e, "could not remove the socket file");
        }
    }
}

#[cfg(windows)]
async fn listen(path: &Path) -> Result<crate::pipe::PipeListener, SocketError> {
    crate::pipe::PipeListener::bind(path)
}

#[cfg(unix)]
async fn listen(path: &Path) -> Result<UnixListener, SocketError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsperm::ensure_private_dir(dir).map_err(|source| SocketError::Folder {
            path: dir.into(),
            source,
        })?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return Err(SocketError::AlreadyRunning(path.into()));
            }
            tracing::info!(socket = %path.display(), "removing a stale socket left by a daemon that is gone");
            std::fs::remove_file(path).map_err(|source| SocketError::Bind {
                path: path.into(),
                source,
            })?;
        }
        Ok(_) => return Err(SocketError::NotASocket(path.into())),
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(|source| SocketError::Bind {
        path: path.into(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        SocketError::Bind {
            path: path.into(),
            source,
        }
    })?;
    Ok(listener)
}
