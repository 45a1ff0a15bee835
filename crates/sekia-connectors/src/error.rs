//! Errors from starting a connector. Errors of single commands are
//! [`crate::command::CommandError`]; they never stop an agent.

/// Why a connector could not start (or its config could not be used).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A config value that cannot work; the message names the key.
    #[error("invalid config: {0}")]
    Config(String),
    /// A config file that cannot be read or parsed.
    #[error("config file {path}: {message}")]
    ConfigFile { path: String, message: String },
    /// The bus refused a subscription or publish at start.
    #[error("bus: {0}")]
    Bus(#[from] sekia_bus::BusError),
    /// The webhook listener could not be opened.
    #[error("cannot listen for webhooks on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The webhook address given is not an address.
    #[error("webhook.listen {0:?} is not a socket address (e.g. 127.0.0.1:7781)")]
    BadListen(String),
    /// The watermark store could not be opened.
    #[error("state store: {0}")]
    State(#[from] crate::state::StateError),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(String),
}

impl ConnectorError {
    pub fn config(msg: impl Into<String>) -> Self {
        Self::Config(msg.into())
    }
}
