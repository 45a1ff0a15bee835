//! Error types. Load failures carry file, line and message so that the API can
//! show *where* a workflow is broken, not just that it is.

use std::path::PathBuf;
use ts_rs::TS;

use serde::Serialize;

/// Why a workflow file was not (re)loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LoadErrorKind {
    /// The file could not be read.
    Read,
    /// `verify_integrity` is on and the file is not in the manifest, or its hash
    /// differs, or the manifest is missing or malformed.
    Integrity,
    /// The source does not compile.
    Syntax,
    /// The top-level code raised an error.
    Runtime,
    /// The top-level code ran past `handler_timeout`.
    Timeout,
    /// The top-level code ran past `memory_limit`.
    Memory,
    /// The VM could not be set up (should not happen).
    Setup,
}

/// A workflow file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, TS)]
#[error("{}", self.render())]
pub struct LoadError {
    /// What went wrong.
    pub kind: LoadErrorKind,
    /// The file (base name for workflows, `<skill>/handler.lua` for skills).
    pub file: String,
    /// Line in the file, when Lua reported one.
    pub line: Option<u32>,
    /// The message without the `file:line:` prefix.
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(kind: LoadErrorKind, file: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: file.to_owned(),
            line: None,
            message: message.into(),
        }
    }

    /// Builds the error from a Lua message, splitting off a `file:line:` prefix.
    pub(crate) fn from_lua(kind: LoadErrorKind, file: &str, lua_message: &str) -> Self {
        let (line, message) = split_location(file, lua_message);
        Self {
            kind,
            file: file.to_owned(),
            line,
            message,
        }
    }

    fn render(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{}: {}", self.file, line, self.message),
            None => format!("{}: {}", self.file, self.message),
        }
    }

    /// Whether this is an integrity refusal (the old version must then be unloaded,
    /// not kept: it may be the one that was tampered with).
    pub fn is_integrity(&self) -> bool {
        self.kind == LoadErrorKind::Integrity
    }
}

/// Finds `<file>:<line>:` in a Lua message (possibly after a `runtime error: `
/// or `syntax error: ` prefix added by mlua) and returns the line and the rest.
pub(crate) fn split_location(file: &str, msg: &str) -> (Option<u32>, String) {
    let first = msg.lines().next().unwrap_or("").trim();
    let needle = format!("{file}:");
    if let Some(pos) = first.find(&needle) {
        let rest = &first[pos + needle.len()..];
        if let Some(colon) = rest.find(':')
            && let Ok(line) = rest[..colon].parse::<u32>()
        {
            return (Some(line), rest[colon + 1..].trim().to_owned());
        }
    }
    let cleaned = first
        .strip_prefix("runtime error: ")
        .or_else(|| first.strip_prefix("syntax error: "))
        .unwrap_or(first);
    (None, cleaned.to_owned())
}

/// The last error of a loaded workflow (handler error, timeout, memory, a refused
/// reload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LastError {
    /// The message without the location prefix.
    pub message: String,
    /// Line in the workflow file, when known.
    pub line: Option<u32>,
    /// When it happened, RFC 3339.
    pub at: String,
}

/// Errors of the integrity manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading or writing the manifest or a listed file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `<64 hex>  <file name>`.
    #[error("workflows.sha256 line {line}: {reason}")]
    Format {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Errors starting or driving the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Subscribing to the bus failed.
    #[error("bus: {0}")]
    Bus(#[from] sekia_bus::BusError),
    /// The workflow directory cannot be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file watcher could not be started.
    #[error("file watcher: {0}")]
    Watch(#[from] notify::Error),
    /// The engine was shut down.
    #[error("the workflow engine is shut down")]
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_split() {
        assert_eq!(
            split_location("a.lua", "runtime error: a.lua:12: boom\nstack"),
            (Some(12), "boom".to_owned())
        );
        assert_eq!(
            split_location("a.lua", "syntax error: a.lua:3: '=' expected near 'x'"),
            (Some(3), "'=' expected near 'x'".to_owned())
        );
        assert_eq!(
            split_location("a.lua", "runtime error: timeout"),
            (None, "timeout".to_owned())
        );
    }
}
