//! Hot reload and integrity (inventory §7 items 10, 11).

mod common;

use std::time::Duration;

use common::{Harness, ponger, write};
use sekia_workflow::{LoadErrorKind, sign};

fn hot(c: &mut sekia_workflow::EngineConfig) {
    c.hot_reload = true;
    c.reload_debounce = Duration::from_millis(100);
}

async fn wait_for(h: &Harness, f: impl Fn(&Harness) -> bool) {
    let until = tokio::time::Instant::now() + common::WAIT;
    while !f(h) {
        assert!(tokio::time::Instant::now() < until, "condition never held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_add_change_syntax_error_delete() {
    let mut h = Harness::start(&[("a.lua", &ponger("a"))], hot).await;
    write(h.dir.path(), "b.lua", &ponger("b"));
    // (An editor may be seen between truncate and write: wait for the handler.)
    wait_for(&h, |h| h.status("b").is_some_and(|s| s.info.handlers == 1)).await;
    h.assert_alive("b").await;
    // A change with two handlers.
    write(
        h.dir.path(),
        "b.lua",
        &format!("{}sekia.on('sekia.events.z', function() end)", ponger("b")),
    );
    wait_for(&h, |h| h.status("b").is_some_and(|s| s.info.handlers == 2)).await;
    // A syntax error keeps the good version and is visible.
    write(h.dir.path(), "b.lua", "sekia.on(\n");
    wait_for(&h, |h| !h.engine.load_errors().is_empty()).await;
    let e = &h.engine.load_errors()[0];
    assert_eq!(e.error.kind, LoadErrorKind::Syntax);
    assert_eq!(e.error.file, "b.lua");
    assert!(e.error.line.is_some());
    assert!(h.status("b").unwrap().last_error.is_some());
    h.assert_alive("b").await;
    // Delete.
    std::fs::remove_file(h.dir.path().join("b.lua")).unwrap();
    wait_for(&h, |h| h.engine.count() == 1).await;
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_pass_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.lua", &ponger("a"));
    write(dir.path(), "b.lua", &ponger("b"));
    sign(dir.path()).unwrap();
    write(dir.path(), "b.lua", &format!("{}-- tampered", ponger("b")));
    write(dir.path(), "c.lua", &ponger("c"));
    let files: Vec<(&str, &str)> = Vec::new();
    let mut h = Harness::start(&files, |c| {
        c.dir = dir.path().to_path_buf();
        c.verify_integrity = true;
    })
    .await;
    assert_eq!(h.engine.count(), 1);
    let errs = h.engine.load_errors();
    assert_eq!(errs.len(), 2);
    assert!(
        errs.iter()
            .all(|e| e.error.kind == LoadErrorKind::Integrity)
    );
    assert!(
        errs.iter()
            .any(|e| e.error.message.contains("does not match"))
    );
    assert!(errs.iter().any(|e| e.error.message.contains("not listed")));
    h.assert_alive("a").await;
    // Re-signing fixes them.
    sign(dir.path()).unwrap();
    assert_eq!(h.engine.reload_all().await, 3);
    // Tampering with a running file and reloading unloads it.
    write(dir.path(), "a.lua", "-- evil");
    assert!(h.engine.load_file(&dir.path().join("a.lua")).await.is_err());
    assert_eq!(h.engine.count(), 2);
    assert!(h.status("a").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_manifest_refuses_everything() {
    let h = Harness::start(&[("a.lua", &ponger("a"))], |c| c.verify_integrity = true).await;
    assert_eq!(h.engine.count(), 0);
    assert!(
        h.engine.load_errors()[0]
            .error
            .message
            .contains("workflows.sha256")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_change_reloads_everything_including_skills() {
    let skills = tempfile::tempdir().unwrap();
    let d = skills.path().join("s1");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("SKILL.md"), "---\nname: s1\n---\nx").unwrap();
    std::fs::write(d.join("handler.lua"), ponger("skill:s1")).unwrap();
    sekia_workflow::sign_skills(skills.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.lua", &ponger("a"));
    sign(dir.path()).unwrap();
    let sd = skills.path().to_path_buf();
    let wd = dir.path().to_path_buf();
    let mut h = Harness::start(&[], move |c| {
        c.dir = wd;
        c.skills_dir = Some(sd);
        c.verify_integrity = true;
        hot(c);
    })
    .await;
    assert_eq!(h.engine.count(), 2, "{:?}", h.engine.load_errors());
    h.assert_alive("skill:s1").await;
    // A new file is refused until the manifest lists it; signing reloads all.
    write(dir.path(), "b.lua", &ponger("b"));
    wait_for(&h, |h| !h.engine.load_errors().is_empty()).await;
    sign(dir.path()).unwrap();
    wait_for(&h, |h| {
        h.engine.count() == 3 && h.engine.load_errors().is_empty()
    })
    .await;
    h.assert_alive("b").await;
    h.assert_alive("skill:s1").await;
}

/// Loading a file reads it; a watcher that took reads for changes reloaded forever (each load's
/// read announcing the next). Reading the file from outside must not reload it either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_file_is_not_a_change() {
    let h = Harness::start(&[("a.lua", &ponger("a"))], hot).await;
    let loaded_at = h.status("a").unwrap().info.loaded_at;
    for _ in 0..5 {
        let _ = std::fs::read_to_string(h.dir.path().join("a.lua")).unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        h.status("a").unwrap().info.loaded_at,
        loaded_at,
        "reads reloaded the workflow"
    );
    h.engine.shutdown().await;
}

/// A file loaded directly (as the UI's save does) is not loaded a second time when the watcher
/// then reports the same write: the running version and its counters stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_already_loaded_is_not_loaded_again() {
    let h = Harness::start(&[], hot).await;
    write(h.dir.path(), "c.lua", &ponger("c"));
    h.engine
        .load_file(&h.dir.path().join("c.lua"))
        .await
        .unwrap();
    let loaded_at = h.status("c").unwrap().info.loaded_at;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(h.status("c").unwrap().info.loaded_at, loaded_at);
    // A real change still reloads.
    write(
        h.dir.path(),
        "c.lua",
        &format!("{}sekia.on('sekia.events.z', function() end)", ponger("c")),
    );
    wait_for(&h, |h| h.status("c").is_some_and(|s| s.info.handlers == 2)).await;
    h.engine.shutdown().await;
}

/// A status display (the tray) waits on `Engine::changes` instead of polling: every hot-reload
/// outcome and pause must signal it, after the change is visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_a_display_shows_is_signalled() {
    let h = Harness::start(&[("a.lua", &ponger("a"))], hot).await;
    let mut changes = h.engine.changes();
    // Waits on the signal only (no polling): the state must be visible when a signal comes.
    let mut signalled_until = async |what: &str, holds: &dyn Fn() -> bool| {
        let until = tokio::time::Instant::now() + common::WAIT;
        while !holds() {
            tokio::time::timeout_at(until, changes.changed())
                .await
                .unwrap_or_else(|_| panic!("no change signal for {what}"))
                .unwrap();
        }
        changes.borrow_and_update();
    };
    write(h.dir.path(), "b.lua", &ponger("b"));
    signalled_until("a new file", &|| h.status("b").is_some()).await;
    write(h.dir.path(), "b.lua", "sekia.on(\n");
    signalled_until("a file that no longer loads", &|| {
        !h.engine.load_errors().is_empty()
    })
    .await;
    std::fs::remove_file(h.dir.path().join("b.lua")).unwrap();
    signalled_until("a deleted file", &|| h.engine.count() == 1).await;
    for paused in [true, false] {
        changes.borrow_and_update();
        h.engine.set_paused(paused);
        assert!(changes.has_changed().unwrap(), "paused = {paused} signals");
    }
    h.engine.shutdown().await;
}
