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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_answered_exclusive_and_served_again_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::daemon(dir.path()).await;
    let path = endpoint(dir.path());

    let server = ApiServer::bind(daemon.clone(), &path).await.unwrap();
    let client = ApiClient::new(&path);
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
