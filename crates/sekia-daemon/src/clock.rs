//! Time as a dependency: logic that tests must control (agent liveness, uptime) asks a `Clock`
//! instead of reading the system time itself. One definition for all crates, in sekia-protocol.

pub use sekia_protocol::clock::{Clock, ManualClock, SystemClock};
