//! `sekia.toml`: sekia's keys and search path, with errors that name file, line, column and key,
//! the documented `SEKIA_<SECTION>_<KEY>` environment overrides, `~` expanded in every path, and
//! `ENC[...]` values decrypted before anything else sees them.

mod bytesize;
mod duration;
mod env;
pub(crate) mod load;
mod schema;
mod secret;

pub use bytesize::ByteSize;
pub use duration::Duration;
pub use load::{ConfigError, LoadOptions, Loaded, default_socket, expand_tilde, load};
pub use schema::*;
pub use secret::Secret;

/// Re-exported so callers can read TOML without their own dependency on it.
pub use ::toml;
