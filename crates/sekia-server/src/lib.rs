//! The local API: HTTP/1.1 over a Unix socket (a named pipe on Windows), every route a one-line call into the
//! [`sekia_daemon::Daemon`] handle; the matching client for `sekiactl`; and [`Sekiad`], the
//! daemon and its socket assembled the way `sekiad` and the desktop shell run them.

pub mod client;
#[cfg(windows)]
pub mod pipe;
mod routes;
mod sekiad;
mod serving;
pub mod socket;
pub mod web;

pub use client::{ApiClient, ClientError};
pub use routes::{MAX_LIVE_CONNECTIONS, router};
pub use sekiad::{Sekiad, StartError};
pub use socket::{ApiServer, SocketError};
pub use web::{WebError, WebServer};
