//! sekia's event and command history on SQLite.
//!
//! The store subscribes to `sekia.events.>` and `sekia.commands.>` and keeps
//! every message in a SQLite database (bundled SQLite, WAL,
//! `synchronous=NORMAL`), searchable by source, type, time and full text, for
//! the event list, search, replay and the command audit trail.
//!
//! - **No silent loss.** The subscriptions use back-pressure
//!   (`Overflow::Wait`): when the writer falls behind, publishers wait. Every
//!   message is counted ([`StoreStats`]): received = written + invalid +
//!   failed, and `dropped` stays 0 on a LocalBus.
//! - **One writer thread, batched.** Up to `batch_max_rows` rows per
//!   transaction, never waiting to fill a batch.
//! - **Full-text search behind ingest.** FTS5, in its own file, is filled in
//!   bulk chunks by an indexer thread while the writer ingests;
//!   [`Progress::indexed_upto`] says how far it is.
//! - **Retention** by count and age in small background batches.
//! - **Live**: committed events on a broadcast ([`Store::subscribe_live`]).
//!
//! See README.md for the schema and the figures.

mod config;
mod cursor;
mod error;
mod forwarder;
mod fsperm;
mod fts;
mod indexer;
mod ingest;
mod query;
mod records;
mod retention;
mod schema;
mod stats;
mod store;
mod writer;

pub use config::{DEFAULT_MAX_AGE, DEFAULT_MAX_EVENTS, DEFAULT_MAX_PAYLOAD_BYTES, StoreConfig};
pub use error::{Result, StoreError};
pub use ingest::{COMMAND_FAILED, COMMAND_SUCCEEDED, RESULTS_SUBJECT, command_id};
pub use query::Reader;
pub use records::{
    CommandQuery, EventQuery, Outcome, OutcomeFilter, Page, StoredCommand, StoredEvent,
};
pub use schema::SCHEMA_VERSION;
pub use stats::{Progress, StoreStats};
pub use store::Store;
