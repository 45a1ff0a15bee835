//! Event history through sekiad and sekiactl: publish a test event, see it arrive in
//! `events tail`, find it with `events search`, show it, replay it, and find it again after a
//! restart.

// They drive sekiad over its Unix socket in temporary folders (Windows serves a named pipe).
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn publish_tail_search_show_replay_and_restart() {
    let sb = Sandbox::new();
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);

    // `events tail` in the background, as a user would run it in another terminal.
    let mut tail = Command::new(env!("CARGO_BIN_EXE_sekiactl"))
        .args(["events", "tail", "--source", "test", "--json"])
        .env_clear()
        .envs(sb.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let tail_out = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(tail_out).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(300)); // let tail subscribe

    let out = sb.sekiactl(&[
        "events",
        "publish",
        "--source",
        "other",
        "--type",
        "noise.made",
        "--payload",
        r#"{"x":1}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sb.sekiactl(&[
        "events",
        "publish",
        "--source",
        "test",
        "--type",
        "test.created",
        "--payload",
        r#"{"title":"Crash on start <b>"}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).split_whitespace().nth(1).unwrap().to_string();
    assert!(id.starts_with("evt_"), "{}", stdout(&out));

    let line = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("tail shows the event as it arrives");
    let tailed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        tailed["id"],
        id.as_str(),
        "the filtered tail skipped the other source"
    );
    let _ = tail.kill();
    let _ = tail.wait();

    // Full-text search (the index fills behind ingest: poll briefly).
    wait_until("search to find the event", Duration::from_secs(10), || {
        let found = json(&sb.sekiactl(&["events", "search", "crash", "--json"]));
        found["items"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["id"] == id.as_str())
    });
    let table = stdout(&sb.sekiactl(&["events", "search", "--source", "test"]));
    assert!(
        table.starts_with("TIME") && table.contains("test.created") && table.contains(&id),
        "{table}"
    );
    let by_type = json(&sb.sekiactl(&["events", "search", "--type", "noise.*", "--json"]));
    assert_eq!(by_type["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_type["items"][0]["source"], "other");

    let shown = stdout(&sb.sekiactl(&["events", "show", &id]));
    assert!(
        shown.contains("Crash on start <b>") && shown.contains("test.created"),
        "{shown}"
    );

    let replay = sb.sekiactl(&["events", "replay", &id]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    let new_id = stdout(&replay)
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert_ne!(new_id, id);
    wait_until("the replay in history", Duration::from_secs(10), || {
        let out = sb.sekiactl(&["events", "show", &new_id, "--json"]);
        out.status.success() && json(&out)["replayed_from"] == id.as_str()
    });

    // Bad input: a clear error naming the field, nothing published.
    let bad = sb.sekiactl(&["events", "publish", "--source", "a.b", "--type", "t"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("field `source`"), "{}", stderr(&bad));
    let bad = sb.sekiactl(&[
        "events",
        "publish",
        "--source",
        "test",
        "--type",
        "t",
        "--payload",
        "[1]",
    ]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("JSON object"),
        "{}",
        stderr(&bad)
    );
    let missing = sb.sekiactl(&["events", "show", "evt_nope"]);
    assert!(
        !missing.status.success() && stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );

    // History survives a restart.
    let (status, log) = terminate(daemon);
    assert!(status.success(), "{log}");
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);
    let after = json(&sb.sekiactl(&["events", "search", "--json"]));
    assert_eq!(after["items"].as_array().unwrap().len(), 3, "{after}");
    let db = sb.home().join(".local/share/sekia/sekia.db");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o077,
        0,
        "history is private"
    );
    terminate(daemon);
}
