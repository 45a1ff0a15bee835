//! The wire types presence publishes, re-exported from `sekia-protocol` (which owns
//! every wire type and subject name). Kept so that `sekia_bus::wire::*` imports
//! keep working; new code should use `sekia_protocol` directly.

pub use sekia_protocol::subjects::REGISTRY as REGISTRY_SUBJECT;
pub use sekia_protocol::{GO_ZERO_TIME, Heartbeat, Registration};
