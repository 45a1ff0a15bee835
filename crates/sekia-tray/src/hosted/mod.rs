//! The tray-host process (`sekia-tray`, Linux): the daemon, exactly as `sekiad` runs it, with
//! the tray, the notifications and start at login — and no WebKit. The desktop window is a
//! second process ([`window`]) that talks to this daemon over the local API and ends when it is
//! closed, so what stays in memory all day is this process (a few tens of MiB), not a webview's
//! (well over a hundred even with no window, once WebKit is linked).

mod item;
mod logfile;
mod login;
mod updates;
mod window;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ksni::TrayMethods;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

use crate::alerts::Alerts;
use crate::host::{DaemonHost, DaemonState, start_configured};
use crate::panel::{self, Panel};
use crate::summary::{summary, toggle_pause};
use item::{Action, StatusItem};
use login::StartAtLogin;

pub use logfile::log_dir;

/// How long the daemon may take to start before the tray shows it anyway.
const START_WAIT: Duration = Duration::from_secs(60);

/// Runs the tray host until Quit or a signal; the daemon then stops cleanly and its socket goes.
pub fn run() -> ExitCode {
    logfile::init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sekia-tray: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Registered before the daemon starts: a SIGTERM that comes once the socket answers must
    // find the handler, or the process dies and leaves the socket behind.
    let signals = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    let (Ok(term), Ok(int)) = signals else {
        eprintln!("sekia-tray: cannot listen for SIGTERM/SIGINT");
        return ExitCode::FAILURE;
    };
    let host = start_configured();
    if let DaemonState::Failed { error } = host.wait_settled(START_WAIT)
        && runtime.block_on(another_daemon_answers())
    {
        // A sekiad (or another tray host) owns the socket: the window talks to that one.
        tracing::info!("another sekia daemon is running; this tray host exits ({error})");
        eprintln!("sekia-tray: another sekia daemon is running: {error}");
        return ExitCode::SUCCESS;
    }
    runtime.block_on(serve(host.clone(), term, int));
    host.shutdown_blocking();
    tracing::info!("sekia-tray stopped");
    ExitCode::SUCCESS
}

/// The daemon's socket as the config sets it (the same files, environment and defaults as
/// `sekiad`), or the config's error.
fn configured_socket() -> Result<std::path::PathBuf, sekia_daemon::config::ConfigError> {
    use sekia_daemon::config::{LoadOptions, load};
    load(&LoadOptions::from_process(None)).map(|loaded| loaded.config.server.socket)
}

/// `sekia-tray --socket`: the configured socket's path on stdout; a config error on stderr.
pub fn print_socket() -> ExitCode {
    match configured_socket() {
        Ok(socket) => {
            println!("{}", socket.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn another_daemon_answers() -> bool {
    let Ok(socket) = configured_socket() else {
        return false;
    };
    sekia_server::ApiClient::new(socket)
        .get::<serde_json::Value>("/api/v1/status")
        .await
        .is_ok()
}

async fn serve(
    host: DaemonHost,
    mut term: tokio::signal::unix::Signal,
    mut int: tokio::signal::unix::Signal,
) {
    let (actions_tx, mut actions) = mpsc::unbounded_channel();
    let (panel_tx, mut panel_rx) = watch::channel(Panel::Dark);
    tokio::spawn(panel::follow(move |p| {
        let _ = panel_tx.send(p);
    }));
    let login = StartAtLogin::new();
    let item = StatusItem {
        summary: summary(&host).await,
        panel: Panel::Dark,
        start_at_login: login.is_on(),
        has_workflows: host.workflows_dir().is_some(),
        update: None,
        // Until a check says otherwise (a development build answers "unsupported").
        updates_supported: true,
        actions: actions_tx,
    };
    // Exported even before a panel's StatusNotifierWatcher is there: it registers when one comes.
    let tray = match item.assume_sni_available(true).spawn().await {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("no tray icon: {e}");
            None
        }
    };
    let mut wakeups = host.watch();
    let mut alerts = Alerts::default();
    // The colour scheme's watcher ends where there is no portal: then there is nothing to follow.
    let mut following_panel = true;
    // Update checks run beside the loop; each sends back whether it was asked for, and what it
    // found. None once the build has said it does not update itself.
    let (checked_tx, mut checked) = mpsc::unbounded_channel();
    let mut next_check = Some(tokio::time::Instant::now() + updates::START_DELAY);
    let mut announced: Option<String> = None;
    loop {
        let now = summary(&host).await;
        if let Some(alert) = alerts.observe(Instant::now(), &now.attention) {
            notify(&alert.title, &alert.body).await;
        }
        if let Some(tray) = &tray {
            let on = *panel_rx.borrow_and_update();
            tray.update(|t| {
                t.summary = now;
                t.panel = on;
            })
            .await;
        }
        tokio::select! {
            Some(action) = actions.recv() => match action {
                Action::Open => window::open(&[]),
                Action::CheckForUpdates => spawn_check(false, &checked_tx),
                Action::InstallUpdate => window::open(&[updates::UPDATE_ARG]),
                Action::TogglePause => {
                    if let Err(e) = toggle_pause(&host).await {
                        tracing::warn!("cannot pause workflows: {e}");
                    }
                }
                Action::OpenWorkflowsFolder => open_workflows_folder(&host),
                Action::ToggleStartAtLogin => {
                    let on = login.set(!login.is_on());
                    if let Some(tray) = &tray {
                        tray.update(|t| t.start_at_login = on).await;
                    }
                }
                Action::Quit => break,
            },
            changed = panel_rx.changed(), if following_panel => {
                following_panel = changed.is_ok();
            }
            alive = wakeups.next() => if !alive { break },
            () = sleep_until(next_check) => {
                next_check = Some(tokio::time::Instant::now() + updates::INTERVAL);
                spawn_check(true, &checked_tx);
            }
            Some((automatic, found)) = checked.recv() => {
                let shown = show_check(automatic, &found, &mut announced).await;
                if found == updates::Found::Unsupported {
                    next_check = None;
                }
                if let Some(tray) = &tray {
                    tray.update(|t| {
                        t.update = shown;
                        t.updates_supported = found != updates::Found::Unsupported;
                    })
                    .await;
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("quitting");
    if let Some(tray) = tray {
        tray.shutdown().await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn spawn_check(automatic: bool, done: &mpsc::UnboundedSender<(bool, updates::Found)>) {
    let done = done.clone();
    tokio::spawn(async move {
        let found = updates::check(automatic).await;
        let _ = done.send((automatic, found));
    });
}

/// Notifies what a check found — a release once per version; the rest only when the user
/// asked — and returns the version the tray offers.
async fn show_check(
    automatic: bool,
    found: &updates::Found,
    announced: &mut Option<String>,
) -> Option<String> {
    use updates::Found;
    match found {
        Found::Available { version } => {
            if announced.as_deref() != Some(version.as_str()) {
                *announced = Some(version.clone());
                notify(
                    &format!("sekia {version} is available"),
                    "Choose \"Update to\" in the tray menu to install it.",
                )
                .await;
            }
            Some(version.clone())
        }
        Found::UpToDate if !automatic => {
            notify("sekia is up to date", "This is the newest version.").await;
            None
        }
        Found::Unsupported if !automatic => {
            notify(
                "sekia does not update itself",
                "This is a development build.",
            )
            .await;
            None
        }
        Found::Failed(error) => {
            tracing::warn!("checking for updates: {error}");
            if !automatic {
                notify("sekia could not check for updates", error).await;
            }
            announced.clone()
        }
        _ => None,
    }
}

async fn notify(title: &str, body: &str) {
    let shown = notify_rust::Notification::new()
        .appname(crate::APP_NAME)
        .summary(title)
        .body(body)
        .show_async()
        .await;
    if let Err(e) = shown {
        tracing::warn!("cannot show a notification: {e}");
    }
}

fn open_workflows_folder(host: &DaemonHost) {
    let Some(dir) = host.workflows_dir() else {
        return;
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!("cannot create {}: {e}", dir.display());
        return;
    }
    if let Err(e) = open::that_detached(dir) {
        tracing::warn!("cannot open {}: {e}", dir.display());
    }
}
