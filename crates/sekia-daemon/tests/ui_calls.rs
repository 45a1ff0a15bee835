//! What the UI does through `Daemon::call` (the desktop's IPC and the dashboard's `/api/v1/rpc`
//! both end here): edit a workflow with the engine's own error at its line, fix it and see it
//! handle the next event; pause and resume; templates; settings written into the config file
//! with comments kept and the API key never shown back; logs; malformed calls.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use sekia_bus::{Bus, LocalBus};
use sekia_daemon::{ApiCall, Config, Daemon, ManualClock};
use sekia_protocol::Event;
use serde_json::{Value, json};

const BROKEN: &str = "sekia.on(\"sekia.events.test\", function(event)\n  local x = 1\n  sekia.command(\"agent\" \"go\", {})\nend)\n";
const FIXED: &str = "sekia.on(\"sekia.events.test\", function(event)\n  sekia.command(\"agent\", \"go\", { id = event.id })\nend)\n";

struct Fixture {
    daemon: Daemon,
    bus: Arc<dyn Bus>,
    dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.path = dir.path().join("history/sekia.db");
    config.workflows.dir = dir.path().join("workflows");
    config.workflows.hot_reload = false;
    config.skills.dir = Default::default();
    config.file = dir.path().join("config/sekia.toml");
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
    let daemon = Daemon::start_on(
        config,
        bus.clone(),
        Arc::new(ManualClock::new(1_700_000_000)),
    )
    .await
    .unwrap();
    Fixture { daemon, bus, dir }
}

async fn call(d: &Daemon, call: Value) -> Result<Value, String> {
    let call: ApiCall = serde_json::from_value(call).map_err(|e| e.to_string())?;
    d.call(call).await.map_err(|e| e.to_string())
}

async fn publish(bus: &Arc<dyn Bus>) -> Event {
    let event = Event::new("test.created", "test", Default::default(), 1_700_000_000);
    bus.publish(
        "sekia.events.test",
        serde_json::to_vec(&event).unwrap().into(),
    )
    .await
    .unwrap();
    event
}

#[tokio::test]
async fn a_syntax_error_comes_back_at_its_line_and_the_fix_handles_the_next_event() {
    let f = start().await;
    let d = &f.daemon;
    let saved = call(
        d,
        json!({"cmd": "save_workflow", "args": {"name": "go.lua", "source": BROKEN}}),
    )
    .await
    .unwrap();
    let err = &saved["load_error"];
    assert_eq!(err["kind"], "syntax", "{saved}");
    assert_eq!(
        err["line"], 3,
        "the missing `)` is reported where Luau sees it: {saved}"
    );
    let report = call(d, json!({"cmd": "workflows"})).await.unwrap();
    assert_eq!(report["workflows"].as_array().unwrap().len(), 0);
    assert_eq!(report["load_errors"][0]["file"], "go.lua");

    let saved = call(
        d,
        json!({"cmd": "save_workflow", "args": {"name": "go.lua", "source": FIXED}}),
    )
    .await
    .unwrap();
    assert!(saved["load_error"].is_null(), "{saved}");
    let source = call(
        d,
        json!({"cmd": "workflow_source", "args": {"name": "go.lua"}}),
    )
    .await
    .unwrap();
    assert_eq!(source["source"], FIXED);

    let mut commands = f.bus.subscribe("sekia.commands.agent").await.unwrap();
    let event = publish(&f.bus).await;
    let msg = tokio::time::timeout(Duration::from_secs(10), commands.next())
        .await
        .expect("the saved workflow handles the next event")
        .unwrap();
    let command: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(command["payload"]["id"], event.id.as_str());

    // Paused: the event reaches no workflow. Resumed: the next one does.
    let p = call(d, json!({"cmd": "pause_workflows"})).await.unwrap();
    assert_eq!(p["paused"], true);
    assert_eq!(
        call(d, json!({"cmd": "status"})).await.unwrap()["paused"],
        true
    );
    publish(&f.bus).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), commands.next())
            .await
            .is_err(),
        "no command while paused"
    );
    call(d, json!({"cmd": "resume_workflows"})).await.unwrap();
    let event = publish(&f.bus).await;
    let msg = tokio::time::timeout(Duration::from_secs(10), commands.next())
        .await
        .unwrap()
        .unwrap();
    let command: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(command["payload"]["id"], event.id.as_str());

    call(
        d,
        json!({"cmd": "delete_workflow", "args": {"name": "go.lua"}}),
    )
    .await
    .unwrap();
    assert!(!f.dir.path().join("workflows/go.lua").exists());
    let report = call(d, json!({"cmd": "workflows"})).await.unwrap();
    assert_eq!(report["workflows"].as_array().unwrap().len(), 0);
    let gone = call(
        d,
        json!({"cmd": "workflow_source", "args": {"name": "go.lua"}}),
    )
    .await;
    assert!(gone.unwrap_err().contains("not found"));
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn names_outside_the_folder_and_malformed_calls_are_refused_with_the_field() {
    let f = start().await;
    let d = &f.daemon;
    for name in ["../x.lua", "a/b.lua", "x.txt", ".x.lua"] {
        let err = call(
            d,
            json!({"cmd": "save_workflow", "args": {"name": name, "source": "x"}}),
        )
        .await
        .unwrap_err();
        assert!(err.contains("field `name`"), "{name}: {err}");
    }
    let big = "-".repeat(1024 * 1024 + 1);
    let err = call(
        d,
        json!({"cmd": "save_workflow", "args": {"name": "a.lua", "source": big}}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("field `source`"), "{err}");
    let err = call(d, json!({"cmd": "no_such_call"})).await.unwrap_err();
    assert!(err.contains("unknown variant"), "{err}");
    let err = call(
        d,
        json!({"cmd": "save_workflow", "args": {"name": "a.lua"}}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("source"), "{err}");
    // A misspelt filter is an error naming it, not a silent "everything".
    let err = call(d, json!({"cmd": "events", "args": {"type": "github.*"}}))
        .await
        .unwrap_err();
    assert!(err.contains("unknown field `type`"), "{err}");
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn templates_status_events_and_logs() {
    let f = start().await;
    let d = &f.daemon;
    let templates = call(d, json!({"cmd": "workflow_templates"})).await.unwrap();
    assert_eq!(templates.as_array().unwrap().len(), 7);
    let published = call(
        d,
        json!({"cmd": "publish_event", "args": {"source": "desktop", "type": "desktop.test"}}),
    )
    .await
    .unwrap();
    let id = published["id"].as_str().unwrap().to_owned();
    let mut found = Value::Null;
    for _ in 0..100 {
        if let Ok(e) = call(d, json!({"cmd": "event", "args": {"id": id}})).await {
            found = e;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found["type"], "desktop.test");
    let page = call(d, json!({"cmd": "events", "args": {"source": "desktop"}}))
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], id.as_str());
    let status = call(d, json!({"cmd": "status"})).await.unwrap();
    assert_eq!(status["status"], "ok");
    assert_eq!(status["history"], true);
    assert!(status["events_today"].as_u64().is_some());
    let accounts = call(d, json!({"cmd": "accounts"})).await.unwrap();
    assert_eq!(accounts["providers"].as_array().unwrap().len(), 4);
    assert_eq!(accounts["accounts"], json!([]));
    let logs = call(d, json!({"cmd": "logs", "args": {"level": "error"}}))
        .await
        .unwrap();
    assert!(logs.is_array());
    f.daemon.shutdown().await;
}

#[tokio::test]
async fn settings_keep_the_files_comments_and_never_show_the_key() {
    let f = start().await;
    let d = &f.daemon;
    let file = f.dir.path().join("config/sekia.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "# my notes\n[ai]\n# the model I like\nmodel = \"old\"\n",
    )
    .unwrap();

    let saved = call(
        d,
        json!({"cmd": "save_settings", "args": {
            "ai": {"model": "claude-x", "api_key": "sk-very-secret"},
            "workflows": {"handler_timeout": "45s"}
        }}),
    )
    .await
    .unwrap();
    let restart: Vec<&str> = saved["restart_required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(restart.contains(&"ai.model"), "{saved}");
    assert!(restart.contains(&"workflows.handler_timeout"), "{saved}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("# my notes") && text.contains("# the model I like"),
        "{text}"
    );
    assert!(text.contains("model = \"claude-x\""), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the file holds a key: 0600");
    }

    let settings = call(d, json!({"cmd": "settings"})).await.unwrap();
    assert_eq!(settings["ai"]["model"], "claude-x");
    assert_eq!(settings["ai"]["api_key_set"], true);
    assert_eq!(settings["workflows"]["handler_timeout"], "45s");
    assert!(
        !settings.to_string().contains("sk-very-secret"),
        "{settings}"
    );

    let err = call(
        d,
        json!({"cmd": "save_settings", "args": {"workflows": {"memory_limit": "lots"}}}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("workflows.memory_limit"), "{err}");
    assert!(!err.contains("sk-very-secret"));
    let err = call(
        d,
        json!({"cmd": "save_settings", "args": {"web": {"listen": "everywhere"}}}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("web.listen"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "a refused change writes nothing"
    );
    f.daemon.shutdown().await;
}
