//! Hot reload: `notify` on the workflow directory (non-recursive), debounced.
//! After a quiet period: a manifest change reloads everything; otherwise each
//! changed `*.lua` is loaded if it exists and unloaded if it is gone (existence
//! rather than event kinds, which differ between editors and platforms).

use std::collections::BTreeSet;
use std::path::PathBuf;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::{Engine, workflow_name};
use crate::error::EngineError;
use crate::manifest::MANIFEST_FILE;

/// Raw file-system notifications buffered before the debouncer; beyond it, a
/// full reload is scheduled instead (nothing is missed).
const RAW_CAPACITY: usize = 1024;

pub(crate) fn start(engine: Engine) -> Result<JoinHandle<()>, EngineError> {
    let (tx, mut rx) = mpsc::channel::<Option<Vec<PathBuf>>>(RAW_CAPACITY);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let msg = match res {
            // Reads are not changes; and since loading a file reads it, reacting to them would
            // reload forever (each load's read announcing the next).
            Ok(ev) if ev.kind.is_access() => return,
            Ok(ev) => Some(ev.paths),
            Err(_) => None, // unknown change: reload everything
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(msg) {
            // The debouncer will still run; the overflow makes it reload all.
        }
    })?;
    watcher.watch(&engine.inner.config.dir, RecursiveMode::NonRecursive)?;
    let debounce = engine.inner.config.reload_debounce;
    let stop = engine.is_shut_down().clone();
    Ok(tokio::spawn(async move {
        let _watcher = watcher; // dropped (and stopped) when the task ends
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => break,
                m = rx.recv() => match m { Some(m) => m, None => break },
            };
            let mut batch: BTreeSet<PathBuf> = BTreeSet::new();
            let mut reload_all = false;
            let mut add = |m: Option<Vec<PathBuf>>, all: &mut bool| match m {
                Some(paths) => batch.extend(paths),
                None => *all = true,
            };
            add(first, &mut reload_all);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    m = rx.recv() => match m {
                        Some(m) => add(m, &mut reload_all),
                        None => return,
                    },
                    _ = tokio::time::sleep(debounce) => break,
                }
            }
            if rx.capacity() == 0 {
                reload_all = true;
            }
            if reload_all || batch.iter().any(|p| p.ends_with(MANIFEST_FILE)) {
                engine.reload_all().await;
                continue;
            }
            for path in batch {
                let Some(name) = workflow_name(&path) else {
                    continue;
                };
                if path.is_file() {
                    if engine.runs_current(&path) {
                        continue;
                    }
                    let _ = engine.load_file(&path).await;
                } else {
                    engine.unload(&name).await;
                }
            }
        }
    }))
}
