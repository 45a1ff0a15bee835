use std::time::Duration;

pub use sekia_protocol::subjects::SubjectError;

/// Why a subject or pattern was rejected: the protocol's [`SubjectError`], under
/// the name this crate used before the subject rules moved to `sekia-protocol`.
pub type SubjectErrorKind = SubjectError;

/// Everything a bus operation can fail with.
///
/// Bad input is always an error rather than a silent no-op: a workflow that
/// subscribes to `sekia.events..github` must hear about it, not wait forever.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// A subject given to `publish`, or a pattern given to `subscribe`, breaks the
    /// NATS subject rules.
    #[error("invalid subject {}", describe_invalid(subject, reason))]
    InvalidSubject {
        /// The rejected subject or pattern, as given.
        subject: String,
        /// Which rule it breaks.
        reason: SubjectError,
    },

    /// The bus was closed with [`Bus::close`](crate::Bus::close).
    #[error("the bus is closed")]
    Closed,

    /// A setting is out of range (zero capacity, zero heartbeat interval, a TLS key
    /// without a certificate, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// The first connection to NATS failed.
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The server list that was tried.
        url: String,
        /// What async-nats reported.
        #[source]
        source: async_nats::ConnectError,
    },

    /// A NATS operation failed (the connection is gone for good, the payload is over
    /// the server's limit, ...).
    #[error("NATS {operation} failed: {source}")]
    Nats {
        /// `publish`, `subscribe`, `flush` or `drain`.
        operation: &'static str,
        /// What async-nats reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A publish could not be handed to the NATS client in time, typically because
    /// the server has been unreachable long enough for the client's outgoing buffer
    /// to fill.
    #[error("{what} timed out after {after:?} (NATS unreachable?)")]
    Timeout {
        /// What timed out, e.g. `publish on "sekia.events.github"`.
        what: String,
        /// The configured publish timeout.
        after: Duration,
    },
}

impl BusError {
    pub(crate) fn invalid(subject: &str, reason: SubjectError) -> Self {
        Self::InvalidSubject {
            subject: subject.to_owned(),
            reason,
        }
    }

    pub(crate) fn nats(
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Nats {
            operation,
            source: Box::new(source),
        }
    }
}

/// `"<subject>": <rule>`. The protocol's errors already start with the quoted
/// input, except [`SubjectError::Empty`].
fn describe_invalid(subject: &str, reason: &SubjectError) -> String {
    match reason {
        SubjectError::Empty => format!("{subject:?}: {reason}"),
        _ => reason.to_string(),
    }
}
