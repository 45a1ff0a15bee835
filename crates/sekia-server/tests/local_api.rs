//! The local API on the platform's transport — the Unix socket, or on Windows the named pipe
//! (`crates/sekia-server/src/pipe.rs`, which only the Windows CI job runs) — answered through
//! `ApiClient` as `sekiactl` uses it: a second server on the same name is refused as "already
//! running", and after shutdown the name can be served again.

mod common;

use std::path::PathBuf;

use sekia_protocol::StatusResponse;
use sekia_server::{ApiClient, ApiServer, SocketError};

fn endpoint(dir: &std::path::Path) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(format!(
            r"\\.\pipe\sekia-test-{}-{}",
            std::process::id(),
            dir.file_name().unwrap().to_string_lossy()
        ))
    } else {
        dir.join("run/sekiad.sock")
    }
}

/// A daemon in a temporary folder, served on its endpoint, and a client of it.
struct Served {
    dir: tempfile::TempDir,
    daemon: sekia_daemon::Daemon,
    path: PathBuf,
    server: ApiServer,
    client: ApiClient,
}

async fn served() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::daemon(dir.path()).await;
    let path = endpoint(dir.path());
    let server = ApiServer::bind(daemon.clone(), &path).await.unwrap();
    let client = ApiClient::new(&path);
    Served {
        dir,
        daemon,
        path,
        server,
        client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_answered_exclusive_and_served_again_after_shutdown() {
    let Served {
        dir: _dir,
        daemon,
        path,
        server,
        client,
    } = served().await;
    let status: StatusResponse = client.get("/api/v1/status").await.unwrap();
    assert_eq!(status.status, "ok");

    match ApiServer::bind(daemon.clone(), &path).await {
        Err(SocketError::AlreadyRunning(p)) => assert_eq!(p, path),
        other => panic!(
            "a second server must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
    // The refused attempt left the first one serving.
    let again: StatusResponse = client.get("/api/v1/status").await.unwrap();
    assert_eq!(again.status, "ok");

    server.shutdown().await;
    assert!(
        client
            .get::<StatusResponse>("/api/v1/status")
            .await
            .is_err()
    );
    let server = ApiServer::bind(daemon.clone(), &path).await.unwrap();
    let back: StatusResponse = client.get("/api/v1/status").await.unwrap();
    assert_eq!(back.status, "ok");
    server.shutdown().await;
    daemon.shutdown().await;
}

/// The status stream sends the status at once and again when it changes (here: pause), without
/// being asked, and each problem keeps its kind on the wire.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_stream_follows_changes() {
    let Served {
        dir,
        daemon,
        server,
        client,
        ..
    } = served().await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let follower = tokio::spawn(async move {
        client
            .follow_events("/api/v1/status/stream", |name, data| {
                assert_eq!(name, "status");
                tx.send(serde_json::from_str(data).unwrap()).is_ok()
            })
            .await
    });
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>| {
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("a status within 10 s")
            .unwrap()
    };
    let first = next(&mut rx).await;
    assert_eq!(first["status"], "ok");
    assert_eq!(first["paused"], false);
    assert_eq!(first["attention"], serde_json::json!([]));

    daemon.set_paused(true).unwrap();
    let paused = next(&mut rx).await;
    assert_eq!(paused["paused"], true);

    // A workflow that does not load: a `workflow_error` with its words.
    std::fs::write(dir.path().join("workflows/broken.lua"), "this is not lua").unwrap();
    daemon.reload_workflows().await.unwrap();
    let broken = loop {
        let s = next(&mut rx).await;
        if s["attention"].as_array().is_some_and(|a| !a.is_empty()) {
            break s;
        }
    };
    let item = &broken["attention"][0];
    assert_eq!(item["kind"], "workflow_error");
    assert!(
        item["text"].as_str().unwrap().contains("broken.lua"),
        "{item}"
    );

    follower.abort();
    server.shutdown().await;
    daemon.shutdown().await;
}
