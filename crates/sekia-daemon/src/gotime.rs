//! Times as sekia's JSON writes them: Go's RFC3339Nano in the local offset.

use std::time::SystemTime;

use chrono::{DateTime, Local};

pub fn go_time(t: SystemTime) -> String {
    let local: DateTime<Local> = t.into();
    let offset = local.offset().local_minus_utc();
    sekia_protocol::gotime::format_system_time(t, offset)
        .unwrap_or_else(|_| sekia_protocol::GO_ZERO_TIME.to_string())
}
