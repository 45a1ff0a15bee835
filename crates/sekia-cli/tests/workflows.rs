//! `sekiactl workflows` against a running sekiad: list (with a file that failed to load, and
//! where), reload, sign, and the dry run that sends nothing.

// They drive sekiad over its Unix socket in temporary folders (Windows serves a named pipe).
#![cfg(unix)]

mod common;

use common::*;

const RESPONDER: &str = "sekia.on(\"sekia.events.test\", function(event)\n  sekia.log(\"info\", \"got \" .. event.type)\n  sekia.command(\"test-agent\", \"handle\", { title = event.payload.title })\nend)\n";
const BROKEN: &str = "sekia.on(\"sekia.events.test\", function(event)\n  local x = \nend)\n";

#[test]
fn list_reload_sign_and_dry_run() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".config/sekia/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("responder.lua"), RESPONDER).unwrap();
    std::fs::write(dir.join("broken.lua"), BROKEN).unwrap();
    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);

    let list = sb.sekiactl(&["workflows"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(
        text.contains("responder") && text.contains("sekia.events.test"),
        "{text}"
    );
    assert!(
        text.contains("Not loaded: broken.lua:3:"),
        "the syntax error is shown with its line: {text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&sb.sekiactl(&["workflows", "list", "--json"]).stdout).unwrap();
    assert_eq!(json["workflows"][0]["name"], "responder");
    assert_eq!(json["workflows"][0]["handlers"], 1);
    assert!(stdout(&sb.sekiactl(&["status"])).contains("Workflows:    1"));

    let reload = sb.sekiactl(&["workflows", "reload"]);
    assert_eq!(
        stdout(&reload).trim(),
        "Workflows reloaded.",
        "{}",
        stderr(&reload)
    );

    // Dry run: prints the command and the log line as JSON lines; nothing is sent.
    let event = sb.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"id":"evt_1","type":"test.created","source":"test","timestamp":1700000000,"payload":{"title":"Crash"}}"#,
    )
    .unwrap();
    let run = sb.sekiactl(&[
        "workflows",
        "test",
        dir.join("responder.lua").to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let lines: Vec<serde_json::Value> = stdout(&run)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("got test.created")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("handle") && l.to_string().contains("Crash")),
        "{lines:?}"
    );

    let bad = sb.sekiactl(&[
        "workflows",
        "test",
        dir.join("broken.lua").to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("broken.lua:3"), "{}", stderr(&bad));

    let skills = sb.path().join("skills/triage");
    std::fs::create_dir_all(&skills).unwrap();
    std::fs::write(
        skills.join("SKILL.md"),
        "---\nname: triage\n---\nSort things.\n",
    )
    .unwrap();
    std::fs::write(skills.join("handler.lua"), "-- nothing\n").unwrap();
    let skills_dir = sb.path().join("skills");
    let sign = sb.sekiactl(&[
        "workflows",
        "sign",
        "--dir",
        dir.to_str().unwrap(),
        "--skills-dir",
        skills_dir.to_str().unwrap(),
    ]);
    assert!(sign.status.success(), "{}", stderr(&sign));
    assert!(
        stdout(&sign).contains("Signed 2 workflow(s)"),
        "{}",
        stdout(&sign)
    );
    let manifest = std::fs::read_to_string(dir.join("workflows.sha256")).unwrap();
    assert!(manifest.contains("  responder.lua"), "{manifest}");
    assert!(
        stdout(&sign).contains("Signed 1 skill handler(s)"),
        "{}",
        stdout(&sign)
    );
    let skills_manifest = std::fs::read_to_string(skills_dir.join("skills.sha256")).unwrap();
    assert!(
        skills_manifest.contains("triage/handler.lua"),
        "{skills_manifest}"
    );

    let (status, log) = terminate(daemon);
    assert!(status.success(), "{log}");
}
