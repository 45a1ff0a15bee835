//! The sekia event bus.
//!
//! One [`Bus`] trait, two implementations, one conformance suite run against both:
//!
//! - [`LocalBus`]: in-process tokio channels, the embedded default. No port, no
//!   external process, no configuration.
//! - [`NatsBus`]: a real NATS server or cluster through async-nats, for remote agents
//!   and several daemons. Reconnects for ever; [`Bus::reconnects`] tells agents when
//!   to re-announce themselves ([`presence`]).
//!
//! Subjects follow the NATS rules on both, as [`sekia_protocol::subjects`] defines
//! them (one implementation, shared with every other crate): `.`-separated
//! non-empty tokens without whitespace; in patterns `*` matches one token and `>`
//! one or more trailing tokens. Invalid subjects and patterns are
//! [`BusError::InvalidSubject`], never a silent no-op.
//!
//! Every subscription has a bounded queue. What happens when it is full is the
//! subscriber's choice ([`Overflow`]): drop and count (default), or make the
//! publisher wait. Memory never grows without bound and no loss goes uncounted.

mod bus;
mod error;
mod local;
mod message;
mod nats;
pub mod presence;
mod stats;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use bus::{Bus, Publish};
pub use error::{BusError, SubjectErrorKind};
pub use local::LocalBus;
pub use message::{Message, Subject};
pub use nats::{Backoff, NatsBus, NatsConfig, TlsConfig};
pub use presence::{Presence, PresenceHandle};
pub use stats::BusStats;
pub use subscription::{DEFAULT_CAPACITY, Overflow, SubscribeOptions, Subscription};
