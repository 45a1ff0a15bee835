//! Where the window's calls go: the daemon embedded in this process, or a daemon in another
//! process — the tray host (`sekia-tray`, which the Linux app starts so that closing the window
//! frees WebKit's memory) or a `sekiad` the user runs — over the local API, exactly as the
//! dashboard and `sekiactl` reach it. Either way the call is the dashboard's `POST /api/v1/rpc`
//! body, so the window behaves the same against both.

use sekia_daemon::{ApiCall, DaemonError};
use sekia_server::{ApiClient, ClientError};
use serde_json::Value;

use crate::commands::CallError;
use crate::host::DaemonHost;

#[derive(Clone)]
pub enum Backend {
    Embedded(DaemonHost),
    Remote(ApiClient),
}

impl Backend {
    /// One call, `{"cmd","args"}`; a malformed call is an invalid `call`, as over HTTP.
    pub async fn call(&self, call: Value) -> Result<Value, CallError> {
        match self {
            Backend::Embedded(host) => {
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
        }
    }

    pub fn host(&self) -> Option<&DaemonHost> {
        match self {
            Backend::Embedded(host) => Some(host),
            Backend::Remote(_) => None,
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
