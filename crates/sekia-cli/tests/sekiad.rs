//! sekiad and sekiactl as a user runs them: real processes, a real socket, real files.

// They drive sekiad over its Unix socket in temporary folders (Windows serves a named pipe).
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn starts_without_config_and_answers_status_and_agents() {
    let sb = Sandbox::new();
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);

    let status = sb.sekiactl(&["status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let text = stdout(&status);
    assert!(text.contains("Status:       ok"), "{text}");
    assert!(text.contains("Agents:       0"), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&sb.sekiactl(&["status", "--json"]))).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["nats_running"], true);
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "status",
        "uptime",
        "nats_running",
        "started_at",
        "agent_count",
        "workflow_count",
    ] {
        assert!(keys.contains(&key), "missing {key} in {json}");
    }
    assert_eq!(
        stdout(&sb.sekiactl(&["agents"])).trim(),
        "No agents registered."
    );
    let agents: serde_json::Value =
        serde_json::from_str(&stdout(&sb.sekiactl(&["agents", "--json"]))).unwrap();
    assert_eq!(agents, serde_json::json!({ "agents": [] }));

    // Permissions: private folder, private socket.
    let socket = sb.socket();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(socket.parent().unwrap()), 0o700);

    let (status, log) = terminate(daemon);
    assert!(status.success(), "sekiad exited with {status}: {log}");
    assert!(!socket.exists(), "the socket is removed on shutdown");
    assert!(log.contains("sekiad stopped"), "{log}");
}

#[test]
fn starts_with_sekias_sample_config() {
    let mut sb = Sandbox::new();
    std::fs::write(sb.path().join("sekia.toml"), SEKIA_SAMPLE_CONFIG).unwrap();
    // The sample puts the socket in /tmp; tests run side by side, so move it with the
    // documented environment override (which also proves overrides work).
    let socket = sb.path().join("sock/sekiad.sock");
    sb.set("SEKIA_SERVER_SOCKET", socket.display().to_string());

    // The sample's `web.listen = ":8080"` is every interface, with no password: refused, with
    // the way out in the message, before anything starts.
    let out = sb.run_sekiad(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("web.listen") && err.contains("SEKIA_WEB_PASSWORD"),
        "{err}"
    );
    assert!(!socket.exists());

    // With a password (and a free port) the sample config runs as is.
    sb.set("SEKIA_WEB_USERNAME", "admin");
    sb.set("SEKIA_WEB_PASSWORD", "correct horse");
    sb.set("SEKIA_WEB_LISTEN", "127.0.0.1:0");
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);
    assert!(socket.exists());
    let (status, log) = terminate(daemon);
    assert!(status.success(), "{log}");
    assert!(log.contains("sekia.toml"), "names the file it read: {log}");
    assert!(
        log.contains("dashboard: http://127.0.0.1:"),
        "prints the dashboard address: {log}"
    );
    assert!(!log.contains("correct horse"), "never logs the password");
    assert!(
        !log.contains("unknown key"),
        "sekia's own keys are all known: {log}"
    );
}

#[test]
fn refuses_broken_config_with_file_line_column_and_key() {
    let sb = Sandbox::new();
    let path = sb.path().join("broken.toml");

    std::fs::write(&path, "[nats]\nport = \"four\"\n").unwrap();
    let out = sb.run_sekiad(&["--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:2:8: key `nats.port`", path.display())),
        "{err}"
    );

    std::fs::write(&path, "[workflows]\nhandler_timeout = \"soon\"\n").unwrap();
    let err = stderr(&sb.run_sekiad(&["--config", path.to_str().unwrap()]));
    assert!(
        err.contains(":2:19: key `workflows.handler_timeout`"),
        "{err}"
    );
    assert!(err.contains("invalid duration"), "{err}");

    std::fs::write(&path, "[server\nsocket = 1\n").unwrap();
    let err = stderr(&sb.run_sekiad(&["--config", path.to_str().unwrap()]));
    assert!(err.contains(&format!("{}:1:", path.display())), "{err}");

    let missing = sb.path().join("nope.toml");
    let out = sb.run_sekiad(&["--config", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not found"));
}

#[test]
fn unknown_key_is_a_warning_naming_it() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path().join("sekia.toml"),
        "[workflows]\nhot_reloda = true\n",
    )
    .unwrap();
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);
    let (_, log) = terminate(daemon);
    assert!(log.contains("unknown key `workflows.hot_reloda`"), "{log}");
}

#[test]
fn a_second_daemon_does_not_steal_the_socket() {
    let sb = Sandbox::new();
    let mut first = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut first);
    let second = sb.run_sekiad(&[]);
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("already running"),
        "{}",
        stderr(&second)
    );
    assert!(
        sb.sekiactl(&["status"]).status.success(),
        "the first daemon still answers"
    );
    terminate(first);
}

#[test]
fn sekiactl_without_daemon_says_so_plainly() {
    let sb = Sandbox::new();
    let out = sb.sekiactl(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot connect to sekiad at"), "{err}");
    assert!(err.contains("is sekiad running?"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
