//! Wire types of sekia.
//!
//! This crate owns everything that crosses a process boundary and must stay
//! byte-compatible with the Go implementation (`github.com/sekia-ai/sekia`,
//! `pkg/protocol`):
//!
//! - [`types`]: the JSON envelopes (`Event`, `Command`, `Registration`,
//!   `Heartbeat`) and the HTTP API responses, with Go's field names, field
//!   order and omission rules.
//! - [`subjects`]: the bus subject names, their validation and NATS-style
//!   wildcard matching.
//! - [`canonical`]: Go `encoding/json` canonical form of a JSON value, the
//!   bytes that command signatures cover.
//! - [`signing`]: HMAC-SHA256 command signatures.
//! - [`json`]: serialising any type the way Go's encoder would (HTML escapes,
//!   Go float formatting).
//! - [`gotime`]: Go's `time.Time` (RFC3339Nano) and `time.Duration` text forms.
//!
//! The crate does no I/O and reads no clock except in the explicitly named
//! `*_now` conveniences.

pub mod canonical;
pub mod clock;
pub mod gotime;
pub mod json;
pub mod secret;
pub mod signing;
pub mod subjects;
pub mod types;

pub use canonical::{CanonicalError, signing_bytes, to_canonical_string};
pub use clock::{Clock, ManualClock, SystemClock};
pub use gotime::{GO_ZERO_TIME, GoTimeError, format_go_duration_secs, format_go_time};
pub use secret::Secret;
pub use signing::{SignatureError, compute_signature, sign, verify};
pub use subjects::{Pattern, SubjectError, subject_matches};
pub use types::{
    AgentInfo, AgentsResponse, Command, ConfigReloadResponse, Event, Heartbeat, Payload,
    Registration, StatusResponse, WorkflowInfo, WorkflowsResponse, new_event_id,
};
