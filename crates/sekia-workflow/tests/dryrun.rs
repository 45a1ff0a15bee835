//! Dry runs: nothing is sent, everything is reported.

use sekia_protocol::{Event, Payload};
use sekia_workflow::{Output, dry_run};
use serde_json::json;

fn event(payload: serde_json::Value) -> Event {
    let p: Payload = serde_json::from_value(payload).unwrap();
    Event::new("github.issue.opened", "github", p, 1_700_000_000)
}

#[tokio::test]
async fn records_commands_publishes_logs_and_ai() {
    let src = r#"
sekia.on("sekia.events.github", function(e)
  local label = sekia.ai("classify " .. e.payload.title)
  sekia.log("info", "labelling " .. label)
  sekia.command("github", "add_label", {number = e.payload.number, label = label})
  sekia.publish("sekia.events.triage", "triaged", {n = e.payload.number})
end)"#;
    let r = dry_run(
        src,
        "triage.lua",
        event(json!({"title": "crash", "number": 42})),
        Some("bug".into()),
    )
    .await;
    assert!(r.matched);
    assert!(
        r.load_error.is_none() && r.handler_errors.is_empty(),
        "{r:?}"
    );
    assert_eq!(r.outputs.len(), 3);
    assert!(matches!(&r.outputs[0], Output::Log { message, .. } if message == "labelling bug"));
    match &r.outputs[1] {
        Output::Command {
            agent,
            subject,
            command,
        } => {
            assert_eq!(agent, "github");
            assert_eq!(subject, "sekia.commands.github");
            assert_eq!(command.payload.as_ref().unwrap()["number"], json!(42));
            assert_eq!(command.source, "workflow:triage");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&r.outputs[2], Output::Publish { subject, .. } if subject == "sekia.events.triage")
    );
    let lines = r.to_json_lines();
    assert_eq!(lines.lines().count(), 3);
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["kind"].is_string());
    }
}

#[tokio::test]
async fn reports_errors_with_file_and_line() {
    let r = dry_run("local x = \n\n = 3", "bad.lua", event(json!({})), None).await;
    let e = r.load_error.unwrap();
    assert_eq!(e.file, "bad.lua");
    assert_eq!(e.line, Some(3));
    let src = "sekia.on('sekia.events.github', function(e)\n  error('nope')\nend)";
    let r = dry_run(src, "h.lua", event(json!({})), None).await;
    assert_eq!(r.handler_errors, vec!["h.lua:2: nope".to_owned()]);
    assert!(r.to_json_lines().contains("handler_error"));
    let r = dry_run(
        "sekia.on('sekia.events.other', function() end)",
        "n.lua",
        event(json!({})),
        None,
    )
    .await;
    assert!(!r.matched);
}
