//! A client for the local API, over the Unix socket or, on Windows, the named pipe (what
//! `sekiactl` uses).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "cannot connect to sekiad at {socket}: {source} (is sekiad running? start it with `sekiad`)"
    )]
    NotRunning {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to sekiad at {socket}: {message}")]
    Transport { socket: PathBuf, message: String },
    #[error("sekiad returned HTTP {status}: {message}")]
    Status {
        status: u16,
        message: String,
        /// The input field at fault, when the daemon named one.
        field: Option<String>,
    },
    #[error("unexpected answer from sekiad: {0}")]
    Decode(String),
}

#[derive(Debug, Clone)]
pub struct ApiClient {
    socket: PathBuf,
}

impl ApiClient {
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path`, decoded from JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let body = self.request(Method::GET, path, None).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// The raw body of `GET path` (for `--json`, printed as the daemon sent it).
    pub async fn get_raw(&self, path: &str) -> Result<Bytes, ClientError> {
        self.request(Method::GET, path, None).await
    }

    /// `POST path` with an optional JSON body, decoded from JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let answer = self.request(Method::POST, path, body).await?;
        serde_json::from_slice(&answer).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Follows a Server-Sent Events stream: calls `on_event(event_name, data)` for each
    /// event until it returns `false` or the daemon ends the stream.
    pub async fn follow_events(
        &self,
        path: &str,
        mut on_event: impl FnMut(&str, &str) -> bool,
    ) -> Result<(), ClientError> {
        let response = self.send(Method::GET, path, None).await?;
        let status = response.status();
        let mut body = response.into_body();
        if status != StatusCode::OK {
            let bytes = body
                .collect()
                .await
                .map_err(|e| self.transport(&e))?
                .to_bytes();
            return Err(status_error(status, &bytes));
        }
        let mut buffer = String::new();
        let (mut name, mut data) = (String::new(), String::new());
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| self.transport(&e))?;
            let Some(chunk) = frame.data_ref() else {
                continue;
            };
            buffer.push_str(&String::from_utf8_lossy(chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    let event = if name.is_empty() {
                        "message"
                    } else {
                        name.as_str()
                    };
                    if !data.is_empty() && !on_event(event, &data) {
                        return Ok(());
                    }
                    name.clear();
                    data.clear();
                } else if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim_start().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
        }
        Ok(())
    }

    fn transport(&self, e: &dyn std::fmt::Display) -> ClientError {
        ClientError::Transport {
            socket: self.socket.clone(),
            message: e.to_string(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        #[cfg(unix)]
        let stream = tokio::net::UnixStream::connect(&self.socket).await;
        #[cfg(windows)]
        let stream = crate::pipe::connect(&self.socket).await;
        let stream = stream.map_err(|source| ClientError::NotRunning {
            socket: self.socket.clone(),
            source,
        })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.transport(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "sekiad");
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| self.transport(&e))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| self.transport(&e))
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Bytes, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.transport(&e))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(status_error(status, &bytes));
        }
        Ok(bytes)
    }
}

/// The daemon's `{"error": "..."}` (or its plain text) as an error.
fn status_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    let json = serde_json::from_slice::<serde_json::Value>(bytes).ok();
    let text = |key: &str| {
        json.as_ref()
            .and_then(|v| v.get(key))
            .and_then(|e| e.as_str())
            .map(String::from)
    };
    ClientError::Status {
        status: status.as_u16(),
        message: text("error").unwrap_or_else(|| String::from_utf8_lossy(bytes).trim().to_string()),
        field: text("field"),
    }
}
