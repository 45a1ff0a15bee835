//! When a status display (the tray, the notifications, the window's `sekia:status`, the API's
//! status stream) looks at the daemon again: when something it shows changed (agents, accounts,
//! workflows, pause: [`Daemon::changes`]; a new event: the live feed, gathered for a second so a
//! burst is one redraw), and otherwise rarely. No fixed short poll, so an idle app does not wake
//! up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::Daemon;
use sekia_store::StoredEvent;

/// Quiet time after an event before redrawing, so a burst of events is one redraw.
const GATHER: Duration = Duration::from_secs(1);
/// A look even without a signal: a connector's start-up problem and the day's event count
/// rolling over at midnight send none.
const FALLBACK: Duration = Duration::from_secs(300);

pub struct StatusWatch {
    changes: Option<watch::Receiver<u64>>,
    live: Option<broadcast::Receiver<Arc<StoredEvent>>>,
}

impl StatusWatch {
    /// No daemon to watch (it is not running): only the fallback wakes.
    pub fn idle() -> Self {
        Self {
            changes: None,
            live: None,
        }
    }

    /// Returns when something may have changed.
    pub async fn next(&mut self) {
        let changes = async {
            match self.changes.as_mut() {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        let event = async {
            match self.live.as_mut() {
                Some(rx) => match rx.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        };
        let by_event = tokio::select! {
            () = changes => false,
            () = event => true,
            () = tokio::time::sleep(FALLBACK) => false,
        };
        if by_event {
            tokio::time::sleep(GATHER).await;
            if let Some(rx) = self.live.as_mut() {
                // What arrived meanwhile is covered by this redraw.
                while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = rx.try_recv() {}
            }
        }
    }
}

impl Daemon {
    /// Wakes a status display when what it shows may have changed (see [`StatusWatch`]).
    pub fn status_watch(&self) -> StatusWatch {
        StatusWatch {
            changes: Some(self.changes()),
            live: self.live_events().ok(),
        }
    }
}
