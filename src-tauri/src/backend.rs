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
