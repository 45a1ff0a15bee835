//! When the tray and the notifications look at the daemon again: when something they show
//! changed (agents, accounts, workflows, pause: `Daemon::changes`; a new event: the live feed,
//! gathered for a second so a burst is one redraw), and otherwise rarely. No fixed short poll,
//! so an idle tray app does not wake up.

use std::sync::Arc;
use std::time::Duration;

use sekia_daemon::StoredEvent;
use tokio::sync::{broadcast, watch};

use crate::host::DaemonHost;

/// Quiet time after an event before redrawing, so a burst of events is one redraw.
const GATHER: Duration = Duration::from_secs(1);
/// A look even without a signal: a connector's start-up problem and the day's event count
/// rolling over at midnight send none.
const FALLBACK: Duration = Duration::from_secs(300);

pub struct Wakeups {
    changes: Option<watch::Receiver<u64>>,
    live: Option<broadcast::Receiver<Arc<StoredEvent>>>,
}

impl Wakeups {
    /// Signals of the running daemon; none (only the fallback) while it is not running.
    pub fn attach(host: &DaemonHost) -> Self {
        Self {
            changes: host.changes(),
            live: host.live_events().map(|(rx, _)| rx),
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
