//! Time as a dependency: the one [`Clock`] every sekia crate shares, from sekia-protocol.

use std::time::SystemTime;

pub use sekia_protocol::clock::{Clock, ManualClock, SystemClock};

/// RFC 3339 (nanoseconds, UTC) for API output.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
