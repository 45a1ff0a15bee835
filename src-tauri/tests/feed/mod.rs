//! What both updater suites share: a release feed served on 127.0.0.1 (`latest.json` and the
//! downloads, every request recorded) and the app on Tauri's mock runtime with the updater
//! plugin and the real `plugins.updater` config, trusting a test key.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sekia_desktop::build_app;
use sekia_desktop::updates::UpdateError;
use serde_json::json;
use tauri::App;
use tauri::test::{MockRuntime, mock_builder};
use tauri_plugin_updater::Error as PluginError;
use url::Url;

/// The version tauri.conf.json gives the app under test.
pub const CURRENT: &str = "0.1.0";
/// Where the test feed is asked for, as a user would write it (the plugin fills `{{target}}`).
pub const FEED_PATH: &str = "/{{target}}/latest.json";

/// This machine's key in the feed's `platforms`, as the plugin looks it up.
pub fn platform() -> String {
    format!("linux-{}", std::env::consts::ARCH)
}

/// Files served on 127.0.0.1, and every path asked for.
#[derive(Default)]
pub struct Feed {
    files: Mutex<HashMap<String, Vec<u8>>>,
    requests: Mutex<Vec<String>>,
}

pub struct Server {
    feed: Arc<Feed>,
    addr: SocketAddr,
}

impl Server {
    pub fn start() -> Self {
        let feed = Arc::new(Feed::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&feed));
        tauri::async_runtime::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
        Self { feed, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        self.feed
            .files
            .lock()
            .unwrap()
            .insert(path.to_string(), bytes);
    }

    /// Publishes `latest.json` announcing `announced`, pointing at `file` (served as `bytes`)
    /// with `signature`.
    pub fn publish(&self, announced: &str, file: &str, bytes: Vec<u8>, signature: &str) {
        let path = format!("/download/{file}");
        let manifest = json!({
            "version": announced,
            "notes": format!("sekia {announced}"),
            "pub_date": "2026-12-01T12:00:00Z",
            "platforms": { platform(): { "url": self.url(&path), "signature": signature } },
        });
        self.put(&path, bytes);
        self.put("/linux/latest.json", serde_json::to_vec(&manifest).unwrap());
    }

    /// The feed the app asks, with the plugin's placeholders.
    pub fn feed_url(&self) -> Url {
        Url::parse(&self.url(FEED_PATH)).unwrap()
    }

    pub fn requests(&self) -> Vec<String> {
        self.feed.requests.lock().unwrap().clone()
    }
}

pub async fn serve(State(feed): State<Arc<Feed>>, uri: Uri) -> Response {
    feed.requests.lock().unwrap().push(uri.path().to_string());
    let Some(bytes) = feed.files.lock().unwrap().get(uri.path()).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !uri.path().starts_with("/download/") {
        return bytes.into_response();
    }
    // Downloads come in 16 KiB pieces a millisecond apart, as over a real line, so the
    // progress the app shows has steps to show.
    let length = bytes.len();
    let pieces: Vec<Vec<u8>> = bytes.chunks(16 * 1024).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(pieces).then(|piece| async move {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        Ok::<_, std::convert::Infallible>(piece)
    });
    ([(CONTENT_LENGTH, length)], Body::from_stream(stream)).into_response()
}

/// The real tauri.conf.json, as one `Context` (it embeds the UI, so it is made once).
pub fn context() -> tauri::Context<MockRuntime> {
    tauri::generate_context!()
}

/// The app as `run` wires it, with the updater plugin, on the mock runtime. The real
/// `plugins.updater` config, but trusting `pubkey` (as tauri.conf.json holds it) and allowing the test server's plain HTTP.
pub fn app(pubkey: &str) -> App<MockRuntime> {
    let mut context = context();
    let plugins = &mut context.config_mut().plugins.0;
    let mut updater = plugins["updater"].clone();
    updater["pubkey"] = json!(pubkey);
    updater["dangerousInsecureTransportProtocol"] = json!(true);
    plugins.insert("updater".into(), updater);
    let app = build_app(mock_builder())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(context)
        .unwrap();
    assert_eq!(app.package_info().version.to_string(), CURRENT);
    app
}

pub fn run<T>(f: impl Future<Output = T>) -> T {
    tauri::async_runtime::block_on(f)
}

/// `bytes` with one bit flipped in the middle, as a corrupted or tampered download.
pub fn flipped(bytes: &[u8]) -> Vec<u8> {
    let mut tampered = bytes.to_vec();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    tampered
}

/// The download was refused because its signature does not match its bytes.
pub fn assert_invalid_signature(err: &UpdateError) {
    assert!(
        matches!(
            err,
            UpdateError::Rejected(PluginError::Minisign(
                minisign_verify::Error::InvalidSignature
            ))
        ),
        "{err:?}"
    );
}

/// The download was refused because it was signed as `signed` but announced as `announced`.
pub fn assert_version_mismatch(err: &UpdateError, signed: &str, announced: &str) {
    assert!(
        matches!(
            err,
            UpdateError::Rejected(PluginError::SignedVersionMismatch { signed: s, announced: a })
                if s == signed && a == announced
        ),
        "{err:?}"
    );
}
