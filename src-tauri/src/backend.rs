//! Where the window's calls go: the daemon embedded in this process, or a daemon in another
//! process — the tray host (`sekia-tray`, which the Linux app starts so that closing the window
//! frees WebKit's memory) or a `sekiad` the user runs — over the local API, exactly as the
//! dashboard and `sekiactl` reach it. Either way the call is the dashboard's `POST /api/v1/rpc`
//! body, so the window behaves the same against both.

use sekia_server::{ApiClient, ClientError};
use serde_json::Value;

use crate::commands::CallError;
#[cfg(feature = "embedded")]
use crate::host::DaemonHost;

#[derive(Clone)]
pub enum Backend {
    #[cfg(feature = "embedded")]
    Embedded(DaemonHost),
    Remote(ApiClient),
    /// No daemon to talk to (the tray host did not start); the message says why.
    Missing(String),
}

impl Backend {
    /// One call, `{"cmd","args"}`; a malformed call is an invalid `call`, as over HTTP.
    pub async fn call(&self, call: Value) -> Result<Value, CallError> {
        match self {
            #[cfg(feature = "embedded")]
            Backend::Embedded(host) => {
                use sekia_daemon::{ApiCall, DaemonError};
                let call: ApiCall = serde_json::from_value(call)
                    .map_err(|e| CallError::from(DaemonError::invalid("call", e.to_string())))?;
                match host.call(|d| async move { d.call(call).await }).await {
                    Ok(result) => result.map_err(CallError::from),
                    Err(error) => Err(CallError { error, field: None }),
                }
            }
            Backend::Remote(client) => client
                .post("/api/v1/rpc", Some(&call))
                .await
                .map_err(CallError::from),
            Backend::Missing(error) => Err(CallError {
                error: error.clone(),
                field: None,
            }),
        }
    }
}

impl From<ClientError> for CallError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Status { message, field, .. } => CallError {
                error: message,
                field,
            },
            other => CallError {
                error: other.to_string(),
                field: None,
            },
        }
    }
}

/// The app's [`Backend`], which may be chosen after the window is up: on Linux the window is
/// shown at once while the tray host starts, and calls made meanwhile wait for it.
pub struct BackendSlot(tokio::sync::watch::Sender<Option<Backend>>);

impl Default for BackendSlot {
    fn default() -> Self {
        Self(tokio::sync::watch::Sender::new(None))
    }
}

impl BackendSlot {
    pub fn set(&self, backend: Backend) {
        self.0.send_replace(Some(backend));
    }

    /// The backend once chosen.
    pub fn now(&self) -> Option<Backend> {
        self.0.borrow().clone()
    }

    /// Waits until the backend is chosen.
    pub async fn get(&self) -> Backend {
        let mut chosen = self.0.subscribe();
        match chosen.wait_for(Option::is_some).await {
            Ok(backend) => backend
                .clone()
                .unwrap_or_else(|| Backend::Missing(String::new())),
            Err(_) => Backend::Missing("sekia is shutting down".into()),
        }
    }
}
