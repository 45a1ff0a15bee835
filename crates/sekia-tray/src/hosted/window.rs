//! The desktop window is its own process (`sekia-desktop`, beside this binary): started on
//! "Open sekia", it talks to this daemon over the local API and ends when its window closes,
//! taking WebKit's memory with it. A second start while one runs just focuses it (the window
//! app's single-instance plugin).

use std::path::PathBuf;

/// The window's binary, beside the running one.
pub fn binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.with_file_name(crate::WINDOW_BINARY))
}

/// Starts a window process with `args`; it is reaped when it exits.
pub fn open(args: &[&str]) {
    let Some(path) = binary() else {
        tracing::warn!("cannot find the window's binary");
        return;
    };
    match tokio::process::Command::new(&path).args(args).spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => tracing::warn!("cannot start {}: {e}", path.display()),
    }
}
