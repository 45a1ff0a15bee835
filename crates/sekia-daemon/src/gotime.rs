//! Times as sekia's JSON writes them: Go's RFC3339Nano in the local offset.

pub use sekia_protocol::gotime::format_local as go_time;
pub use sekia_protocol::gotime::local_midnight_ms;
