//! sekia's desktop shell: a Tauri 2 tray app around the daemon. The daemon runs with the same
//! config, data and socket as the headless `sekiad`, so `sekiactl` talks to the app as to
//! `sekiad`. On Linux it runs in the tray host (`sekia-tray`, crates/sekia-tray), a second
//! process without WebKit, and this process is the window alone, reaching the daemon over the
//! local API ([`split`]); on macOS and Windows (and a development build without the tray host)
//! the daemon and the tray are embedded here, on their own tokio runtime in a background thread.
//! The shell holds no business logic: each command is a one-line call into the [`Backend`].

mod backend;
mod commands;
#[cfg(target_os = "linux")]
mod painting;
#[cfg(target_os = "linux")]
mod split;
pub mod status_events;
#[cfg(feature = "embedded")]
mod tray;
pub mod updates;
mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sekia_server::ApiClient;
use serde::Deserialize;
use tauri::{AppHandle, Builder, Emitter, Manager, RunEvent, Runtime};

pub use backend::{Backend, BackendSlot};
pub use commands::{CallError, TEST_SOURCE, TEST_TYPE};
pub use sekia_tray::DaemonState;
#[cfg(feature = "embedded")]
pub use sekia_tray::{DaemonHost, alerts, host};
pub use status_events::{ATTENTION_EVENT, STATUS_EVENT};

/// Tauri event with the daemon's [`DaemonState`], sent on every change.
pub const STATE_EVENT: &str = "sekia:state";
/// Tauri event with each newly stored event (a `StoredEvent`), as it is committed to history.
pub const NEW_EVENT: &str = "sekia:event";

/// Size of one log file before it is rotated, and how many rotated files are kept.
const LOG_FILE_BYTES: u128 = 1024 * 1024;
const LOG_FILES_KEPT: usize = 5;

/// The argument a login start (autostart) passes: start in the tray, without the window.
pub use sekia_tray::HIDDEN_ARG;

/// The wiring shared by the app and the tests: commands and window behaviour. Plugins, the tray,
/// the daemon and the [`updates::Updates`] state are added by [`run`] (tests use the mock
/// runtime and their own).
pub fn build_app<R: Runtime>(b: Builder<R>) -> Builder<R> {
    b.manage(BackendSlot::default())
        .invoke_handler(tauri::generate_handler![
            commands::rpc,
            commands::autostart,
            commands::set_autostart,
            commands::updates,
            commands::check_for_updates,
            commands::install_update,
            commands::set_update_settings,
        ])
}

/// Whether an exit request should be refused: the last window closing asks to exit with no
/// code, and the app lives on in the tray; Quit and signals ask with a code and are let through.
pub fn keep_running_after(code: Option<i32>) -> bool {
    code.is_none()
}

#[cfg(feature = "embedded")]
/// Hands the embedded daemon's `host` to the app (as the commands' [`Backend`]) and forwards its
/// notifications to the UI as Tauri events: [`STATE_EVENT`], [`NEW_EVENT`], [`STATUS_EVENT`]
/// and [`ATTENTION_EVENT`].
pub fn attach<R: Runtime>(app: &AppHandle<R>, host: DaemonHost) {
    app.manage(host.clone());
    app.state::<BackendSlot>()
        .set(Backend::Embedded(host.clone()));
    follow_embedded_status(app.clone(), host.clone());
    let app = app.clone();
    let mut states = host.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut forwarding = false;
        loop {
            let state = states.borrow_and_update().clone();
            if !forwarding && let Some((mut rx, rt)) = host.live_events() {
                forwarding = true;
                let app = app.clone();
                rt.spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok(event) => {
                                let _ = app.emit(NEW_EVENT, &*event);
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                                log::warn!("the window skipped {n} live events");
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        }
                    }
                });
            }
            let _ = app.emit(STATE_EVENT, &state);
            if states.changed().await.is_err() {
                break;
            }
        }
    });
}

/// [`STATUS_EVENT`] and [`ATTENTION_EVENT`] from the embedded daemon: its status at once, then
/// whenever it may have changed.
#[cfg(feature = "embedded")]
fn follow_embedded_status<R: Runtime>(app: AppHandle<R>, host: DaemonHost) {
    tauri::async_runtime::spawn(async move {
        let mut seen = status_events::NewProblems::default();
        let mut watch = host.watch();
        loop {
            if let Ok(status) = host.call(|d| async move { d.daemon_status().await }).await {
                status_events::forward(&app, &mut seen, &status, &status.attention);
            }
            if !watch.next().await {
                break;
            }
        }
    });
}

/// The daemon logs through `tracing`: its lines go to the Logs page's ring and, through
/// tracing's `log-always` feature, to tauri-plugin-log's file as well. (Without an embedded
/// daemon there is nothing to collect: the tray host keeps its own ring.)
#[cfg(feature = "embedded")]
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    // Not `try_init`: that would also route `log` records into tracing, taking the `log`
    // logger that tauri-plugin-log must own.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(sekia_daemon::RecentLogs);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Hands a daemon that runs in another process to the app (as the commands' [`Backend`]) and
/// forwards its live events as [`NEW_EVENT`] and its status as [`STATUS_EVENT`] and
/// [`ATTENTION_EVENT`]. When it goes away (Quit in the tray host, or the
/// user's `sekiad` stopped), the window has nothing left to show and the app exits.
pub fn attach_remote<R: Runtime>(app: &AppHandle<R>, client: ApiClient) {
    app.state::<BackendSlot>()
        .set(Backend::Remote(client.clone()));
    follow_remote_status(app.clone(), client.clone());
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let socket = client.socket().to_path_buf();
        let _ = app.emit(STATE_EVENT, &DaemonState::Running { socket });
        let followed = client
            .follow_events("/api/v1/events/stream", |_, data| {
                match serde_json::from_str::<serde_json::Value>(data) {
                    Ok(event) => {
                        let _ = app.emit(NEW_EVENT, event);
                    }
                    Err(e) => log::warn!("a live event the window cannot read: {e}"),
                }
                true
            })
            .await;
        if let Err(e) = followed {
            log::info!("the daemon's live events ended: {e}");
        }
        let _ = app.emit(STATE_EVENT, &DaemonState::Stopped);
        log::info!("the daemon has stopped; the window closes");
        app.exit(0);
    });
}

/// The desktop app.
pub fn run() {
    // First: it sets the environment WebKit's processes inherit, while there is one thread.
    #[cfg(target_os = "linux")]
    let painting = painting::choose();
    #[cfg(feature = "embedded")]
    init_tracing();
    let args: Vec<String> = std::env::args().collect();
    if let Some(automatic) = updates::headless::requested(&args) {
        return updates::headless::run(Builder::default(), context(), automatic);
    }
    let hidden = args.iter().any(|a| a == HIDDEN_ARG);
    let show_update = args.iter().any(|a| a == updates::headless::UPDATE_ARG);
    // A login start wants no window: on Linux it only makes sure the tray host runs.
    #[cfg(target_os = "linux")]
    let early = if hidden {
        let connected = split::connect();
        if connected.is_ok() || !cfg!(feature = "embedded") {
            if let Err(e) = connected {
                eprintln!("sekia: {e}");
            }
            return;
        }
        Some(connected)
    } else {
        None
    };
    #[cfg(not(target_os = "linux"))]
    let early: Option<Result<ApiClient, String>> =
        Some(Err("no tray host on this platform".into()));
    // Whether this process holds the daemon (then closing the window keeps it running).
    let embedded = Arc::new(AtomicBool::new(false));
    let embedded_in_setup = Arc::clone(&embedded);
    let builder = Builder::default()
        // Single-instance first (Tauri documents it so), then opener, autostart, notification,
        // window-state and log.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::show_main(app)
        }))
        .plugin(tauri_plugin_opener::init())
        // "Start at login" (tray menu, Settings); a login start opens no window.
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .args([HIDDEN_ARG])
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        // Size and position are remembered; visibility is this app's own business.
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        // A rotating file in the app's log folder: 1 MiB each, the five newest kept (the
        // plugin's default keeps one file of 40 kB, too little to look back at a problem).
        .plugin(
            tauri_plugin_log::Builder::new()
                .level(log::LevelFilter::Info)
                .max_file_size(LOG_FILE_BYTES)
                .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(LOG_FILES_KEPT))
                .build(),
        );

    // Release builds only: the public key and the version rules are `plugins.updater` in
    // tauri.conf.json; the feed is chosen at each check (updates::settings).
    #[cfg(feature = "updater")]
    let builder = builder.plugin(tauri_plugin_updater::Builder::new().build());
    let app = build_app(builder)
        .setup(move |app| {
            #[cfg(unix)]
            keep_logs_private(app.handle());
            #[cfg(target_os = "linux")]
            log::info!("the window paints {painting}");
            match early {
                Some(connected) => choose(app.handle(), connected, &embedded_in_setup)?,
                // Linux: the window comes up at once while the tray host starts (it opens the
                // history and the connectors first); calls made meanwhile wait for it.
                #[cfg(target_os = "linux")]
                None => {
                    let app = app.handle().clone();
                    std::thread::Builder::new()
                        .name("sekia-connect".into())
                        .spawn(move || {
                            let connected = split::connect();
                            let main = app.clone();
                            let _ = app.run_on_main_thread(move || {
                                if let Err(e) = choose(&main, connected, &embedded_in_setup) {
                                    log::error!("{e}");
                                }
                            });
                        })?;
                }
                #[cfg(not(target_os = "linux"))]
                None => {}
            }
            app.manage(updates::Updates::for_app(app.handle()));
            #[cfg(feature = "updater")]
            updates::desktop::start(app.handle());
            // The window is made hidden (tauri.conf.json) and shown unless started at login.
            if !hidden {
                window::show_main(app.handle());
            }
            // From the tray host's "Update to vX.Y.Z…": the settings page, the update checked.
            if show_update {
                window::show_updates(app.handle());
            }
            Ok(())
        })
        .build(context())
        .expect("error while building the sekia desktop app");
    app.run(move |app, event| {
        // Embedded: closing the window destroys it (an idle tray app holds no webview memory);
        // the daemon keeps running and "Open sekia" makes a new window. With the tray host,
        // closing the window ends this process.
        if let RunEvent::ExitRequested { code, api, .. } = &event
            && embedded.load(Ordering::Relaxed)
            && keep_running_after(*code)
        {
            api.prevent_exit();
        }
        #[cfg(feature = "embedded")]
        if let RunEvent::Exit = event
            && let Some(host) = app.try_state::<DaemonHost>()
        {
            // However the app ends, an embedded daemon stops cleanly and its socket goes away.
            host.shutdown_blocking();
        }
        #[cfg(not(feature = "embedded"))]
        let _ = (app, event);
    });
}

/// Sets the app's daemon: the one that answered (`Ok`), else the embedded one where this build
/// has it, else the reason in the window.
fn choose<R: Runtime>(
    app: &AppHandle<R>,
    connected: Result<ApiClient, String>,
    embedded: &AtomicBool,
) -> tauri::Result<()> {
    match connected {
        Ok(client) => attach_remote(app, client),
        #[cfg(feature = "embedded")]
        Err(_) => {
            embedded.store(true, Ordering::Relaxed);
            #[cfg(unix)]
            quit_on_signals(app.clone());
            attach(app, sekia_tray::start_configured());
            tray::create(app)?;
            notify_problems(app.clone());
        }
        #[cfg(not(feature = "embedded"))]
        Err(error) => {
            let _ = embedded;
            log::error!("{error}");
            let _ = app.emit(
                STATE_EVENT,
                &DaemonState::Failed {
                    error: error.clone(),
                },
            );
            app.state::<BackendSlot>().set(Backend::Missing(error));
        }
    }
    Ok(())
}

/// [`STATUS_EVENT`] and [`ATTENTION_EVENT`] from a daemon in another process, over its status
/// stream. (A `sekiad` older than the stream answers 404: the window then polls, as before.)
fn follow_remote_status<R: Runtime>(app: AppHandle<R>, client: ApiClient) {
    tauri::async_runtime::spawn(async move {
        let mut seen = status_events::NewProblems::default();
        let followed = client
            .follow_events("/api/v1/status/stream", |_, data| {
                match serde_json::from_str::<serde_json::Value>(data) {
                    Ok(status) => {
                        let problems = status_events::Problems::deserialize(&status)
                            .map(|p| p.attention)
                            .unwrap_or_default();
                        status_events::forward(&app, &mut seen, &status, &problems);
                    }
                    Err(e) => log::warn!("a status the window cannot read: {e}"),
                }
                true
            })
            .await;
        if let Err(e) = followed {
            log::info!("the daemon's status stream ended: {e}");
        }
    });
}

/// The app's config and assets, made once (the UI is embedded in the binary).
fn context() -> tauri::Context {
    tauri::generate_context!()
}

/// Desktop notifications for workflow errors and agents going offline (see [`alerts`]), from
/// each [`STATUS_EVENT`].
#[cfg(feature = "embedded")]
fn notify_problems<R: Runtime>(app: AppHandle<R>) {
    use tauri::Listener;
    let alerts = std::sync::Mutex::new(alerts::Alerts::default());
    let notifier = app.clone();
    app.listen_any(STATUS_EVENT, move |event| {
        let Ok(status) = serde_json::from_str::<status_events::Problems>(event.payload()) else {
            return;
        };
        let alert = alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe(std::time::Instant::now(), &status.attention);
        if let Some(alert) = alert {
            notify(&notifier, &alert.title, &alert.body);
        }
    });
}

/// A desktop notification; one that cannot be shown is only logged.
#[cfg(any(feature = "embedded", feature = "updater"))]
fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        log::warn!("cannot show a notification: {e}");
    }
}

/// The log folder is the user's alone (0700): the log names workflows, agents and errors. (The
/// log plugin makes it with the default mode, before any setup code runs.)
#[cfg(unix)]
fn keep_logs_private<R: Runtime>(app: &AppHandle<R>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(dir) = app.path().app_log_dir() else {
        return;
    };
    if let Err(e) = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)) {
        log::warn!("cannot make {} private: {e}", dir.display());
    }
}

/// SIGTERM and SIGINT quit as the tray's Quit does, like `sekiad` on the same signals. (Windows
/// ends a GUI app through its windows' close and the session's end, which Tauri turns into
/// `RunEvent::Exit`, where the daemon is stopped as well.)
#[cfg(all(unix, feature = "embedded"))]
fn quit_on_signals<R: Runtime>(app: AppHandle<R>) {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered here, before the daemon starts, not inside the task: a SIGTERM that arrives
    // while the daemon already answers must find the handler (else it kills the process and
    // leaves the socket behind).
    let runtime = tauri::async_runtime::handle();
    let _entered = runtime.inner().enter();
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::warn!("cannot listen for SIGTERM/SIGINT");
        return;
    };
    tauri::async_runtime::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        log::info!("signal received; quitting");
        tray::quit(&app);
    });
}
