//! Workflow files on the `Daemon` handle, for the UI's editor: read, save (and reload at once, so
//! the engine's own error comes back with its line), delete, and the shipped templates. Names
//! are plain file names inside `workflows.dir`; nothing can reach outside it.

use std::path::PathBuf;

use sekia_workflow::{LoadError, Template};
use serde::Serialize;
use ts_rs::TS;

use crate::daemon::{Daemon, DaemonError};

/// Largest workflow source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;

/// A workflow file's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct WorkflowSource {
    pub name: String,
    pub path: String,
    pub source: String,
}

/// What saving did: the file is written either way; `load_error` is the engine's verdict on it
/// (the previous version keeps running when it is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SavedWorkflow {
    pub name: String,
    pub path: String,
    pub load_error: Option<LoadError>,
}

impl Daemon {
    /// The source of `name` (e.g. `auto-label.lua`) in the workflow folder.
    pub async fn workflow_source(&self, name: &str) -> Result<WorkflowSource, DaemonError> {
        let path = self.workflow_path(name)?;
        let source = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DaemonError::NotFound(format!("workflow {name}")),
                _ => DaemonError::invalid("name", format!("cannot read {}: {e}", path.display())),
            })?;
        Ok(WorkflowSource {
            name: name.to_owned(),
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes `source` to `name` (atomically: a reader never sees half a file) and loads it.
    pub async fn save_workflow(
        &self,
        name: &str,
        source: &str,
    ) -> Result<SavedWorkflow, DaemonError> {
        let path = self.workflow_path(name)?;
        if source.len() > MAX_SOURCE_BYTES {
            return Err(DaemonError::invalid(
                "source",
                format!("is {} bytes; the limit is {MAX_SOURCE_BYTES}", source.len()),
            ));
        }
        let engine = self.engine()?;
        let tmp = path.with_file_name(format!(".{name}.saving"));
        let write = async {
            tokio::fs::write(&tmp, source).await?;
            tokio::fs::rename(&tmp, &path).await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(DaemonError::invalid(
                "name",
                format!("cannot write {}: {e}", path.display()),
            ));
        }
        tracing::info!(workflow = %name, "workflow saved");
        let load_error = engine.load_file(&path).await.err();
        Ok(SavedWorkflow {
            name: name.to_owned(),
            path: path.display().to_string(),
            load_error,
        })
    }

    /// Deletes the file and unloads the workflow.
    pub async fn delete_workflow(&self, name: &str) -> Result<(), DaemonError> {
        let path = self.workflow_path(name)?;
        let engine = self.engine()?;
        tokio::fs::remove_file(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DaemonError::NotFound(format!("workflow {name}")),
                _ => DaemonError::invalid("name", format!("cannot delete {}: {e}", path.display())),
            })?;
        let stem = name.trim_end_matches(".lua");
        engine.unload(stem).await;
        tracing::info!(workflow = %name, "workflow deleted");
        Ok(())
    }

    /// The example workflows shipped with sekia, for "New from template".
    pub fn workflow_templates(&self) -> Vec<Template> {
        sekia_workflow::templates()
    }

    fn workflow_path(&self, name: &str) -> Result<PathBuf, DaemonError> {
        check_name(name)?;
        let engine = self.engine()?;
        Ok(engine.dir().join(name))
    }
}

/// A workflow file name: letters, digits, `-`, `_` and `.`, ending in `.lua`, no leading dot,
/// at most 100 bytes. This is what keeps every path inside the workflow folder.
fn check_name(name: &str) -> Result<(), DaemonError> {
    let stem = name.strip_suffix(".lua").unwrap_or("");
    let ok = !stem.is_empty()
        && name.len() <= 100
        && !stem.starts_with('.')
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(DaemonError::invalid(
            "name",
            "must be a file name like `my-workflow.lua` (letters, digits, - _ .)".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_stay_inside_the_folder() {
        for good in ["a.lua", "auto-label.lua", "x_1.v2.lua"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".lua",
            "a.txt",
            "../a.lua",
            "a/b.lua",
            ".hidden.lua",
            "a b.lua",
            "é.lua",
            "/etc/x.lua",
            &format!("{}.lua", "a".repeat(100)),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
