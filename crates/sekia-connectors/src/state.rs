//! Where connectors keep what must survive a restart: poller watermarks, the
//! items already announced. A small key/value interface, so the daemon can hand
//! in its own store and a standalone agent uses a SQLite file.
//!
//! Keys are namespaced by the caller (`github:<instance>:<owner>/<repo>:issues`);
//! values are JSON text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {message}")]
    Sqlite { path: PathBuf, message: String },
    #[error("state task failed: {0}")]
    Task(String),
}

/// A persistent key/value map.
#[async_trait]
pub trait StateStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<String>, StateError>;
    async fn put(&self, key: &str, value: &str) -> Result<(), StateError>;
}

/// In memory: for tests, and for agents that are told to keep nothing.
#[derive(Clone, Debug, Default)]
pub struct MemoryState(Arc<Mutex<HashMap<String, String>>>);

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StateStore for MemoryState {
    async fn get(&self, key: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

/// A SQLite file with one table, `connector_state(key, value, updated_at)`.
/// Several agents may share a file (WAL, busy timeout).
#[derive(Clone)]
pub struct SqliteState {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteState")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteState {
    /// Opens (creating) the file and its table. The folder is created if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref().to_path_buf();
        let err = |e: &dyn std::fmt::Display| StateError::Sqlite {
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(&path).map_err(|e| err(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| err(&e))?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| err(&e))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS connector_state (
                key        TEXT PRIMARY KEY,
                value      TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            ) WITHOUT ROWID;",
        )
        .map_err(|e| err(&e))?;
        Ok(Self {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn).map_err(|e| StateError::Sqlite {
                path,
                message: e.to_string(),
            })
        })
        .await
        .map_err(|e| StateError::Task(e.to_string()))?
    }
}

#[async_trait]
impl StateStore for SqliteState {
    async fn get(&self, key: &str) -> Result<Option<String>, StateError> {
        let key = key.to_owned();
        self.run(move |c| {
            c.query_row(
                "SELECT value FROM connector_state WHERE key = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), StateError> {
        let key = key.to_owned();
        let value = value.to_owned();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.run(move |c| {
            c.execute(
                "INSERT INTO connector_state(key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                rusqlite::params![key, value, now],
            )
            .map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.db");
        let s = SqliteState::open(&path).unwrap();
        assert_eq!(s.get("k").await.unwrap(), None);
        s.put("k", "1").await.unwrap();
        s.put("k", "2").await.unwrap();
        drop(s);
        let s = SqliteState::open(&path).unwrap();
        assert_eq!(s.get("k").await.unwrap().as_deref(), Some("2"));
    }
}
