//! What can go wrong in the store, each variant naming the operation that failed.

use std::path::PathBuf;

/// An error from the event store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database folder could not be created or secured.
    #[error("cannot create the store folder {path}: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be created or its permissions tightened.
    #[error("cannot create the store file {path}: {source}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("SQLite failed to {what}: {source}")]
    Sqlite {
        /// What the store was doing, e.g. `open /path/sekia.db`.
        what: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer sekia; opening it could corrupt it.
    #[error(
        "the store {path} has schema version {found}, but this build of sekia supports at most \
         version {supported}; upgrade sekia or point it at another database"
    )]
    SchemaTooNew {
        /// The database.
        path: PathBuf,
        /// `PRAGMA user_version` found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A pagination cursor that this store did not hand out.
    #[error("invalid cursor {0:?}")]
    BadCursor(String),
    /// A query parameter out of range.
    #[error("invalid query: {0}")]
    BadQuery(String),
    /// A setting out of range.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// Subscribing the writer to the bus failed.
    #[error("cannot subscribe the store to {pattern}: {source}")]
    Subscribe {
        /// The subject pattern.
        pattern: &'static str,
        /// The bus error.
        #[source]
        source: sekia_bus::BusError,
    },
    /// The writer has stopped (the store was closed, or its thread died).
    #[error("the store writer has stopped")]
    WriterStopped,
    /// A blocking query task panicked or was cancelled.
    #[error("store query task failed: {0}")]
    Task(String),
    /// No tokio runtime to run the store's tasks on.
    #[error("the store must be opened inside a tokio runtime")]
    NoRuntime,
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches "what was being done" to rusqlite errors.
pub(crate) trait SqlContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite {
            what: what(),
            source,
        })
    }
}
