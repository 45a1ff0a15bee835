//! The command layer under Tauri's mock runtime, against a real embedded daemon (real SQLite
//! history, real Unix socket) in a temporary HOME and XDG_RUNTIME_DIR: no real files touched.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sekia_daemon::SystemClock;
use sekia_daemon::config::{Config, LoadOptions, load};
use sekia_desktop::{
    ATTENTION_EVENT, DaemonHost, DaemonState, NEW_EVENT, STATE_EVENT, STATUS_EVENT, TEST_SOURCE,
    TEST_TYPE, attach, attach_remote, build_app,
};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

const SETTLE: Duration = Duration::from_secs(20);

/// A temporary HOME and XDG_RUNTIME_DIR, and sekia's config loaded against them as `sekiad`
/// would load it (without touching this process's environment).
struct Sandbox {
    _dir: tempfile::TempDir,
    home: PathBuf,
    config: Config,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sekia-desktop")
            .tempdir()
            .unwrap();
        let home = dir.path().join("home");
        let run = dir.path().join("run");
        std::fs::create_dir_all(home.join(".config/sekia")).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        let env = BTreeMap::from([
            ("HOME".to_string(), home.display().to_string()),
            ("XDG_RUNTIME_DIR".to_string(), run.display().to_string()),
        ]);
        let config = load(&LoadOptions {
            explicit: None,
            search_dirs: vec![home.join(".config/sekia")],
            env,
            home: Some(home.clone()),
        })
        .unwrap()
        .config;
        Self {
            _dir: dir,
            home,
            config,
        }
    }

    fn socket(&self) -> PathBuf {
        self.config.server.socket.clone()
    }

    fn start(&self) -> DaemonHost {
        let host = DaemonHost::start(self.config.clone(), Arc::new(SystemClock));
        let state = host.wait_settled(SETTLE);
        assert!(
            matches!(
                state,
                DaemonState::Running { .. } | DaemonState::Failed { .. }
            ),
            "{state:?}"
        );
        host
    }
}

/// The app exactly as `run` wires its commands, on the mock runtime, with the real config
/// (capabilities and CSP) and `host` attached; plus its main window.
fn app(host: DaemonHost) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    app_with(|app| attach(app, host))
}

/// The app as `run` wires it when the daemon is in another process (the tray host, or a
/// `sekiad`): the commands reach it over its socket.
fn remote_app(socket: PathBuf) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    app_with(|app| attach_remote(app, sekia_server::ApiClient::new(socket)))
}

fn app_with(
    backend: impl FnOnce(&tauri::AppHandle<MockRuntime>),
) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = build_app(mock_builder())
        .build(tauri::generate_context!())
        .unwrap();
    backend(app.handle());
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, window)
}

/// Every payload of `event` the app emits, in order.
fn listen(app: &App<MockRuntime>, event: &str) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    app.listen_any(event, move |e| {
        let _ = tx.send(serde_json::from_str(e.payload()).unwrap());
    });
    rx
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

/// One call through the `rpc` command, as the UI's Tauri backend makes it.
fn call(window: &WebviewWindow<MockRuntime>, call: Value) -> Result<Value, Value> {
    invoke(window, "rpc", json!({ "call": call }))
}

/// Bad input is refused with the daemon's own message and the field at fault; a malformed
/// call never reaches the daemon (the field is `call`, as over HTTP).
fn refuses_bad_input_naming_the_field(window: &WebviewWindow<MockRuntime>) {
    let err = call(
        window,
        json!({"cmd": "publish_event", "args": {"source": "test", "type": " "}}),
    )
    .unwrap_err();
    assert!(err["error"].as_str().unwrap().contains("type"), "{err}");
    assert_eq!(err["field"], "type", "{err}");
    let err = call(window, json!({"cmd": "no_such_call"})).unwrap_err();
    assert_eq!(err["field"], "call", "{err}");
}

/// The next payload on `rx` that `wanted` accepts.
fn next_matching(rx: &mpsc::Receiver<Value>, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if wanted(&v) => return v,
            Ok(_) => {}
            Err(_) => panic!("no {what} within {SETTLE:?}"),
        }
    }
}

/// Pause, resume and a workflow that does not load reach the window as `sekia:status` and
/// `sekia:attention` without it asking; the problem is announced once, with its kind.
fn status_and_problems_are_pushed(
    app: &App<MockRuntime>,
    window: &WebviewWindow<MockRuntime>,
    workflows: &Path,
) {
    let statuses = listen(app, STATUS_EVENT);
    let problems = listen(app, ATTENTION_EVENT);
    call(window, json!({"cmd": "pause_workflows"})).unwrap();
    next_matching(&statuses, "paused status", |s| s["paused"] == true);
    call(window, json!({"cmd": "resume_workflows"})).unwrap();
    next_matching(&statuses, "resumed status", |s| s["paused"] == false);

    std::fs::create_dir_all(workflows).unwrap();
    let broken = workflows.join("broken.lua");
    std::fs::write(&broken, "this is not lua").unwrap();
    call(window, json!({"cmd": "reload_workflows"})).unwrap();
    let problem = problems.recv_timeout(SETTLE).expect("no sekia:attention");
    assert_eq!(problem["kind"], "workflow_error", "{problem}");
    assert!(
        problem["text"].as_str().unwrap().contains("broken.lua"),
        "{problem}"
    );
    next_matching(&statuses, "status with the problem", |s| {
        s["attention"].as_array().is_some_and(|a| !a.is_empty())
    });
    std::fs::remove_file(&broken).unwrap();
    call(window, json!({"cmd": "reload_workflows"})).unwrap();
    next_matching(&statuses, "status without the problem", |s| {
        s["attention"] == json!([])
    });
    assert!(
        problems.try_recv().is_err(),
        "a problem is announced once while it lasts"
    );
}

#[test]
fn the_daemons_status_and_problems_reach_the_window_as_events() {
    let sandbox = Sandbox::new();
    let (app, window) = app(sandbox.start());
    status_and_problems_are_pushed(&app, &window, &sandbox.config.workflows.dir);
}

fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + SETTLE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn status_agents_and_workflows_answer_and_sekiactl_sees_the_same_daemon() {
    let sandbox = Sandbox::new();
    let host = sandbox.start();
    assert_eq!(
        host.state(),
        DaemonState::Running {
            socket: sandbox.socket()
        }
    );
    assert!(
        sandbox
            .socket()
            .starts_with(sandbox.home.parent().unwrap().join("run"))
    );
    let (_app, window) = app(host.clone());

    let status = call(&window, json!({"cmd": "status"})).unwrap();
    assert_eq!(status["status"], "ok");
    assert_eq!(status["agent_count"], 0);
    assert_eq!(status["workflow_count"], 0);
    assert_eq!(
        call(&window, json!({"cmd": "agents"})).unwrap(),
        json!({"agents": []})
    );
    let workflows = call(&window, json!({"cmd": "workflows"})).unwrap();
    assert_eq!(workflows["workflows"], json!([]));

    // The socket is the one `sekiactl` uses: the same daemon answers there.
    assert!(is_socket(&sandbox.socket()));
    let over_socket: Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(sekia_server::ApiClient::new(sandbox.socket()).get("/api/v1/status"))
        .unwrap();
    assert_eq!(over_socket["status"], "ok");
    assert_eq!(over_socket["started_at"], status["started_at"]);

    host.shutdown_blocking();
}

#[test]
fn a_published_event_is_listed_and_forwarded_to_the_window_live() {
    let sandbox = Sandbox::new();
    let host = sandbox.start();
    let (app, window) = app(host.clone());
    let rx = listen(&app, NEW_EVENT);

    let published = call(
        &window,
        json!({"cmd": "publish_event", "args": {"source": "test", "type": "test.created", "payload": {"title": "Crash on start"}}}),
    )
    .unwrap();
    let id = published["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("evt_"), "{published}");

    let live = next_matching(&rx, "live event in the window", |ev| {
        ev["id"] == id.as_str()
    });
    assert_eq!(live["type"], "test.created");
    assert_eq!(live["source"], "test");
    assert_eq!(live["subject"], "sekia.events.test");
    let payload: Value = serde_json::from_str(live["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["title"], "Crash on start");

    let listed = eventually("the event in recent_events", || {
        let events = call(&window, json!({"cmd": "events", "args": {"limit": 10}})).unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .first()
            .cloned()
            .filter(|e| e["id"] == id.as_str())
    });
    assert_eq!(listed["type"], "test.created");

    // The test event the overview's button sends.
    let test = call(
        &window,
        json!({"cmd": "publish_event", "args": {"source": TEST_SOURCE, "type": TEST_TYPE}}),
    )
    .unwrap();
    assert_eq!(test["source"], TEST_SOURCE);

    refuses_bad_input_naming_the_field(&window);

    host.shutdown_blocking();
}

#[test]
fn a_second_daemon_on_the_same_socket_says_another_is_running() {
    let sandbox = Sandbox::new();
    let first = sandbox.start();
    assert!(matches!(first.state(), DaemonState::Running { .. }));

    let second = sandbox.start();
    let DaemonState::Failed { error } = second.state() else {
        panic!("a second daemon started: {:?}", second.state());
    };
    assert!(
        error.contains("another sekiad is already running"),
        "{error}"
    );

    let (_app, window) = app(second.clone());
    let err = call(&window, json!({"cmd": "status"})).unwrap_err();
    assert_eq!(err["error"].as_str().unwrap(), error);
    // The first daemon was not disturbed.
    assert!(is_socket(&sandbox.socket()));
    second.shutdown_blocking();
    first.shutdown_blocking();
}

#[test]
fn quitting_stops_the_daemon_and_removes_its_socket() {
    let sandbox = Sandbox::new();
    let host = sandbox.start();
    let (_app, window) = app(host.clone());
    assert!(is_socket(&sandbox.socket()));

    host.shutdown_blocking();
    assert_eq!(host.state(), DaemonState::Stopped);
    assert!(!sandbox.socket().exists(), "the socket was left behind");
    let err = call(&window, json!({"cmd": "status"})).unwrap_err();
    assert_eq!(err["error"], "sekia has stopped");
    host.shutdown_blocking(); // harmless twice
}

#[test]
fn a_config_error_is_shown_instead_of_a_daemon() {
    let host = DaemonHost::failed("sekia.toml:2:8: key `nats.port`: invalid type");
    let (_app, window) = app(host);
    let err = call(&window, json!({"cmd": "events", "args": {}})).unwrap_err();
    assert_eq!(
        err["error"],
        "sekia.toml:2:8: key `nats.port`: invalid type"
    );
}

#[test]
fn only_the_main_window_may_call_the_commands() {
    let host = DaemonHost::failed("not started");
    let (app, _main) = app(host);
    let other = WebviewWindowBuilder::new(&app, "other", Default::default())
        .build()
        .unwrap();
    let err = call(&other, json!({"cmd": "status"})).unwrap_err();
    assert!(err.as_str().unwrap().contains("not allowed"), "{err}");
}

#[test]
fn a_window_on_a_daemon_in_another_process_answers_as_an_embedded_one_and_gets_live_events() {
    let sandbox = Sandbox::new();
    let host = sandbox.start();
    let (app, window) = remote_app(sandbox.socket());
    let events = listen(&app, NEW_EVENT);
    let states = listen(&app, STATE_EVENT);

    let status = call(&window, json!({"cmd": "status"})).unwrap();
    assert_eq!(status["status"], "ok");
    let daemon = host.call(|d| async move { d.daemon_status().await });
    let daemon = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(daemon)
        .unwrap();
    let daemon = serde_json::to_value(daemon).unwrap();
    assert_eq!(
        status["started_at"], daemon["started_at"],
        "the same daemon"
    );

    // Live events come over the socket's event stream; it is followed from a task, so publish
    // until one arrives, then every later one is there.
    let first = eventually("a live event over the socket", || {
        call(
            &window,
            json!({"cmd": "publish_event", "args": {"source": "test", "type": "test.probe"}}),
        )
        .unwrap();
        events.recv_timeout(Duration::from_millis(500)).ok()
    });
    assert_eq!(first["type"], "test.probe");
    let published = call(
        &window,
        json!({"cmd": "publish_event", "args": {"source": "test", "type": "test.created", "payload": {"title": "Crash on start"}}}),
    )
    .unwrap();
    let live = next_matching(&events, "live event over the socket", |ev| {
        ev["id"] == published["id"]
    });
    assert_eq!(live["type"], "test.created");
    let payload: Value = serde_json::from_str(live["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["title"], "Crash on start");

    // Errors keep the daemon's message and the field at fault, as embedded.
    refuses_bad_input_naming_the_field(&window);
    // Status changes come over the socket's status stream.
    status_and_problems_are_pushed(&app, &window, &sandbox.config.workflows.dir);

    // The daemon going away (Quit in the tray host) is the window's end.
    host.shutdown_blocking();
    let stopped = next_matching(&states, "state after the daemon stopped", |s| {
        s["state"] == "stopped"
    });
    assert_eq!(stopped, json!({"state": "stopped"}));
}
