//! A config string that must never be printed: the one `Secret` type, shared with the accounts
//! crate's tokens.

pub use sekia_protocol::Secret;
