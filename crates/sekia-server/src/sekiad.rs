//! The daemon and its local API, started and stopped together: what `sekiad` runs headless and
//! what the desktop shell embeds.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use sekia_daemon::{Clock, Config, Daemon, DaemonError};
use thiserror::Error;

use crate::socket::{ApiServer, SocketError};
use crate::web::{WebError, WebServer, find_ui_dir};

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Web(#[from] WebError),
}

pub struct Sekiad {
    daemon: Daemon,
    api: ApiServer,
    web: Option<WebServer>,
}

impl Sekiad {
    /// sekia's order: the daemon's components first, then the API socket, then the dashboard
    /// (when `web.listen` is set), so nothing answers before the daemon can serve it.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let socket = config.server.socket.clone();
        let web_config = config.web.clone();
        let daemon = Daemon::start(config, clock).await?;
        let api = match ApiServer::bind(daemon.clone(), &socket).await {
            Ok(api) => api,
            Err(e) => {
                daemon.shutdown().await;
                return Err(e.into());
            }
        };
        let web = if web_config.listen.is_empty() {
            None
        } else {
            match WebServer::bind(daemon.clone(), &web_config, &find_ui_dir()).await {
                Ok(web) => Some(web),
                Err(e) => {
                    api.shutdown().await;
                    daemon.shutdown().await;
                    return Err(e.into());
                }
            }
        };
        Ok(Self { daemon, api, web })
    }

    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    pub fn socket(&self) -> &Path {
        self.api.path()
    }

    /// The dashboard's address, when it is on.
    pub fn dashboard(&self) -> Option<SocketAddr> {
        self.web.as_ref().map(WebServer::addr)
    }

    /// The reverse order: stop answering, then stop the daemon.
    pub async fn shutdown(self) {
        if let Some(web) = self.web {
            web.shutdown().await;
        }
        self.api.shutdown().await;
        self.daemon.shutdown().await;
    }
}
