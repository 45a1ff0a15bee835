//! The UI's TypeScript types are generated from the Rust types, never written by hand: this test
//! renders them (ts-rs) and fails when the committed copy in `ui/src/lib/api/` is stale.
//! `SEKIA_BLESS=1 cargo test -p sekia-daemon --test ts_bindings` rewrites it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sekia_daemon::api::{self, ApiCall, DaemonStatus};
use ts_rs::{Config, TS};

fn ui_api_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/api")
}

/// Every file the generator writes, relative path → contents.
fn render() -> BTreeMap<String, String> {
    let out = tempfile::tempdir().expect("temp dir");
    let cfg = Config::new()
        .with_large_int("number")
        .with_out_dir(out.path());
    ApiCall::export_all(&cfg).expect("export ApiCall");
    DaemonStatus::export_all(&cfg).expect("export DaemonStatus");
    export_results(&cfg);
    let mut files = BTreeMap::new();
    collect(out.path(), out.path(), &mut files);
    let mut index = String::from(
        "// Generated from the Rust types by crates/sekia-daemon/tests/ts_bindings.rs. Do not edit.\n\n",
    );
    for name in files.keys() {
        let module = name.trim_end_matches(".ts");
        let ty = module.rsplit('/').next().unwrap_or(module);
        index.push_str(&format!(
            "export type {{ {ty} }} from \"./generated/{module}\";\n"
        ));
    }
    index.push('\n');
    let results = api::result_types(&cfg);
    for name in files.keys() {
        let module = name.trim_end_matches(".ts");
        let ty = module.rsplit('/').next().unwrap_or(module);
        let used = results.iter().any(|(_, r)| {
            r.split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|word| word == ty)
        });
        if used {
            index.push_str(&format!(
                "import type {{ {ty} }} from \"./generated/{module}\";\n"
            ));
        }
    }
    index.push_str("\n/** The result of each call, by `cmd`. */\nexport type ApiResults = {\n");
    for (cmd, ty) in results {
        index.push_str(&format!("  {cmd}: {ty};\n"));
    }
    index.push_str("};\n");
    let mut all: BTreeMap<String, String> = files
        .into_iter()
        .map(|(k, v)| (format!("generated/{k}"), v))
        .collect();
    all.insert("generated.ts".into(), index);
    all
}

/// The result types are exported with their dependencies, like the call type.
fn export_results(cfg: &Config) {
    use sekia_daemon::{
        AccountsReport, Disconnected, LogLine, SavedWorkflow, Settings, SettingsSaved,
        SignInStarted, WorkflowSource, WorkflowsReport,
    };
    use sekia_protocol::{AgentsResponse, Event};
    use sekia_store::{Page, StoredCommand, StoredEvent};
    use sekia_workflow::{DryRunReport, Template};
    AgentsResponse::export_all(cfg).unwrap();
    sekia_protocol::ConfigReloadResponse::export_all(cfg).unwrap();
    WorkflowsReport::export_all(cfg).unwrap();
    api::Reloaded::export_all(cfg).unwrap();
    api::PauseState::export_all(cfg).unwrap();
    api::Done::export_all(cfg).unwrap();
    WorkflowSource::export_all(cfg).unwrap();
    SavedWorkflow::export_all(cfg).unwrap();
    Template::export_all(cfg).unwrap();
    DryRunReport::export_all(cfg).unwrap();
    Page::<StoredEvent>::export_all(cfg).unwrap();
    StoredCommand::export_all(cfg).unwrap();
    Event::export_all(cfg).unwrap();
    LogLine::export_all(cfg).unwrap();
    Settings::export_all(cfg).unwrap();
    SettingsSaved::export_all(cfg).unwrap();
    AccountsReport::export_all(cfg).unwrap();
    SignInStarted::export_all(cfg).unwrap();
    Disconnected::export_all(cfg).unwrap();
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "ts") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn committed(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    if dir.join("generated").is_dir() {
        collect(&dir.join("generated"), &dir.join("generated"), &mut files);
    }
    let mut all: BTreeMap<String, String> = files
        .into_iter()
        .map(|(k, v)| (format!("generated/{k}"), v))
        .collect();
    if let Ok(index) = std::fs::read_to_string(dir.join("generated.ts")) {
        all.insert("generated.ts".into(), index);
    }
    all
}

#[test]
fn typescript_bindings_are_current() {
    let fresh = render();
    let dir = ui_api_dir();
    if std::env::var("SEKIA_BLESS").is_ok_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(dir.join("generated"));
        for (name, text) in &fresh {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        return;
    }
    let old = committed(&dir);
    let stale: Vec<&String> = fresh
        .keys()
        .filter(|k| old.get(*k) != fresh.get(*k))
        .chain(old.keys().filter(|k| !fresh.contains_key(*k)))
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/lib/api is stale ({stale:?}); run `SEKIA_BLESS=1 cargo test -p sekia-daemon --test ts_bindings` and commit"
    );
}

#[test]
fn every_call_has_one_result_type() {
    let cfg = Config::new();
    let union = ApiCall::inline(&cfg);
    let results = api::result_types(&cfg);
    let mut cmds: Vec<&str> = results.iter().map(|(c, _)| *c).collect();
    for cmd in &cmds {
        assert!(
            union.contains(&format!("\"cmd\": \"{cmd}\"")),
            "{cmd} is not an ApiCall: {union}"
        );
    }
    let n = union.matches("\"cmd\":").count();
    cmds.dedup();
    assert_eq!(
        n,
        cmds.len(),
        "ApiCall has {n} calls, result_types lists {}",
        cmds.len()
    );
}
