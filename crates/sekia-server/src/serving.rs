//! A running axum server, for both listeners (the private socket and the dashboard): served on
//! its own task with graceful shutdown, and stopped with a bounded drain.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long requests in flight (and open live streams) get before the server is aborted.
const DRAIN: Duration = Duration::from_secs(5);

pub(crate) struct Serving {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Serving {
    /// Serves `app` on `listener` until [`Serving::stop`]; `what` names it in an error log.
    pub(crate) fn start<L>(listener: L, app: axum::Router, what: &'static str) -> Self
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app.into_make_service())
                .with_graceful_shutdown(async move { stopped.cancelled().await });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "{what} failed");
            }
        });
        Self { stop, task }
    }

    /// Stops accepting, lets requests in flight finish within [`DRAIN`], then aborts.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(DRAIN, self.task).await.is_err() {
            abort.abort();
        }
    }
}
