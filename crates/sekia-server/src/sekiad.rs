//! The daemon and its local API, started and stopped together: what `sekiad` runs headless and
//! what the desktop shell embeds.

use std::path::Path;
use std::sync::Arc;

use sekia_daemon::{Clock, Config, Daemon, DaemonError};
use thiserror::Error;

use crate::socket::{ApiServer, SocketError};

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Socket(#[from] SocketError),
}

pub struct Sekiad {
    daemon: Daemon,
    api: ApiServer,
}

impl Sekiad {
    /// sekia's order: the daemon's components first, the API socket last, so nothing answers
    /// before the daemon can serve it.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let socket = config.server.socket.clone();
        let daemon = Daemon::start(config, clock).await?;
        let api = match ApiServer::bind(daemon.clone(), &socket).await {
            Ok(api) => api,
            Err(e) => {
                daemon.shutdown().await;
                return Err(e.into());
            }
        };
        Ok(Self { daemon, api })
    }

    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    pub fn socket(&self) -> &Path {
        self.api.path()
    }

    /// The reverse order: stop answering, then stop the daemon.
    pub async fn shutdown(self) {
        self.api.shutdown().await;
        self.daemon.shutdown().await;
    }
}
