//! The Linux app in two processes: the tray host (`sekia-tray`: the daemon, the tray, the
//! notifications; no WebKit) and this window process, which talks to it over the local API and
//! ends when its window closes. An idle sekia with its window closed is then the tray host
//! alone (about 20 MiB) instead of a process that has loaded WebKit (well over 100 MiB even
//! after its webview is gone).
//!
//! At launch: a daemon already answering on the socket (the tray host, or a `sekiad` the user
//! runs) is used as it is; otherwise the tray host beside this binary is started and waited
//! for. Without one (a development build run on its own) the window embeds the daemon as on
//! macOS and Windows.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sekia_server::ApiClient;

/// How long a starting tray host may take to answer (it opens the history and starts the
/// connectors first).
const START_WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// A daemon to talk to, starting the tray host if need be. The error says why there is none
/// (the window embeds the daemon instead where it can, or shows the reason).
pub fn connect() -> Result<ApiClient, String> {
    let tray = tray_binary().ok_or_else(|| {
        format!(
            "sekia's tray host ({}) is not installed beside the window",
            sekia_tray::TRAY_BINARY
        )
    })?;
    let client = ApiClient::new(socket(&tray)?);
    if answers(&client) {
        return Ok(client);
    }
    // Its own process group, without this process's stdio: it outlives the window, and a
    // Ctrl+C meant for a terminal-started window must not stop the daemon.
    let mut child = Command::new(&tray)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", tray.display()))?;
    let deadline = Instant::now() + START_WAIT;
    while Instant::now() < deadline {
        if answers(&client) {
            reap_later(child);
            return Ok(client);
        }
        // It ended: another daemon won the socket (use it), or it failed.
        if let Ok(Some(status)) = child.try_wait() {
            if answers(&client) {
                return Ok(client);
            }
            return Err(format!(
                "sekia's daemon did not start ({} {status}); see sekia-tray.log in the log folder",
                tray.display()
            ));
        }
        std::thread::sleep(POLL);
    }
    reap_later(child);
    Err(format!(
        "sekia's daemon did not answer within {} s; see sekia-tray.log in the log folder",
        START_WAIT.as_secs()
    ))
}

/// The daemon's socket as the config sets it, from the tray host (`sekia-tray --socket`), which
/// links the config loader so that this binary need not. A config error comes back as it is.
fn socket(tray: &Path) -> Result<PathBuf, String> {
    let output = Command::new(tray)
        .arg(sekia_tray::SOCKET_ARG)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tray.display()))?;
    let out = String::from_utf8_lossy(&output.stdout);
    match out.lines().next().map(str::trim) {
        Some(line) if output.status.success() && !line.is_empty() => Ok(PathBuf::from(line)),
        _ => Err(String::from_utf8_lossy(&output.stderr).trim().to_string()),
    }
}

/// `sekia-tray` beside this binary, when it is there.
fn tray_binary() -> Option<PathBuf> {
    let path = std::env::current_exe()
        .ok()?
        .with_file_name(sekia_tray::TRAY_BINARY);
    path.is_file().then_some(path)
}

fn answers(client: &ApiClient) -> bool {
    let client = client.clone();
    tauri::async_runtime::block_on(async move {
        client
            .get::<serde_json::Value>("/api/v1/status")
            .await
            .is_ok()
    })
}

/// The tray host outlives this window; if it ends first, it is reaped instead of left a zombie.
fn reap_later(mut child: Child) {
    let _ = std::thread::Builder::new()
        .name("sekia-tray-reaper".into())
        .spawn(move || child.wait());
}

#[cfg(feature = "updater")]
/// Stops the tray host that serves `socket` (SIGTERM, as its Quit) and waits for its socket to
/// go, so that the restart after an update starts the new version's tray host. The peer is
/// told by the socket itself (SO_PEERCRED); a `sekiad` the user runs is left alone.
pub async fn stop_tray_host(socket: &Path) {
    let Ok(stream) = tokio::net::UnixStream::connect(socket).await else {
        return;
    };
    let Some(pid) = stream.peer_cred().ok().and_then(|c| c.pid()) else {
        return;
    };
    drop(stream);
    // After the package was replaced the link reads "/usr/bin/sekia-tray (deleted)".
    let is_tray_host = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
        exe.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.trim_end_matches(" (deleted)") == sekia_tray::TRAY_BINARY)
    });
    if !is_tray_host {
        return;
    }
    // SAFETY: kill(2) with a pid read from the connected socket's peer and a valid signal.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        log::warn!("cannot stop the tray host ({pid})");
        return;
    }
    let deadline = Instant::now() + START_WAIT;
    while socket.exists() && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
}
