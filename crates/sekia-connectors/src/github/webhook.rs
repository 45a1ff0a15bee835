//! The webhook receiver: `POST <webhook.path>` on `webhook.listen`.
//!
//! In order, as sekia: no secret configured → 403; `X-Hub-Signature-256` missing
//! or not `sha256=<hex HMAC-SHA256(secret, body)>` → 401 (constant-time compare);
//! no `X-GitHub-Event` → 400. Then, unlike sekia, a delivery whose
//! `X-GitHub-Delivery` id was already accepted is dropped (GitHub redelivers on
//! timeouts and from the "Redeliver" button): 200 `{"status":"duplicate"}`. A
//! mapped event is published (200 `accepted`), anything else is 200 `ignored`.
//! Bodies over 10 MiB are refused (413) before any of this.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sekia_protocol::Secret;
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::mapping::map_webhook;
use crate::agent::EventSink;

/// Largest accepted delivery (GitHub caps payloads at 25 MB, sekia read 10 MiB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// Delivery ids remembered for duplicate detection (~100 bytes each).
pub const DEDUP_CAPACITY: usize = 10_000;

/// Remembers the last [`DEDUP_CAPACITY`] delivery ids, oldest forgotten first.
#[derive(Debug, Default)]
pub struct DeliveryIds {
    order: VecDeque<String>,
    seen: HashSet<String>,
    capacity: usize,
}

impl DeliveryIds {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ..Self::default()
        }
    }

    /// Records `id`; false if it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.seen.insert(id.to_owned());
        true
    }

    /// Forgets `id` (its delivery failed, so a redelivery must be taken).
    pub fn remove(&mut self, id: &str) {
        if self.seen.remove(id) {
            self.order.retain(|x| x != id);
        }
    }
}

struct WebhookState {
    secret: Secret,
    sink: EventSink,
    deliveries: Mutex<DeliveryIds>,
}

/// Whether `header` is `sha256=` + the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature_valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    bool::from(expected.as_slice().ct_eq(given.as_slice()))
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.secret.is_empty() {
        return reply(
            StatusCode::FORBIDDEN,
            json!({"error": "webhook secret not configured"}),
        );
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !signature_valid(
        state.secret.expose().as_bytes(),
        &body,
        header("x-hub-signature-256"),
    ) {
        tracing::warn!("webhook delivery with a missing or invalid signature refused");
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid signature"}),
        );
    }
    let Some(event) = header("x-github-event").filter(|e| !e.is_empty()) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "missing X-GitHub-Event header"}),
        );
    };
    let delivery = header("x-github-delivery").unwrap_or_default().to_owned();
    if !delivery.is_empty() {
        let fresh = state
            .deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(&delivery);
        if !fresh {
            tracing::debug!(%delivery, event, "duplicate webhook delivery dropped");
            return reply(StatusCode::OK, json!({"status": "duplicate"}));
        }
    }
    let forget = || {
        if !delivery.is_empty() {
            state
                .deliveries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&delivery);
        }
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            forget();
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("body is not JSON: {e}")}),
            );
        }
    };
    let Some((event_type, payload)) = map_webhook(event, &parsed) else {
        tracing::debug!(event, %delivery, "webhook event ignored");
        return reply(StatusCode::OK, json!({"status": "ignored"}));
    };
    match state.sink.publish(&event_type, payload).await {
        Ok(()) => {
            tracing::debug!(%event_type, %delivery, "webhook event published");
            reply(StatusCode::OK, json!({"status": "accepted"}))
        }
        Err(e) => {
            forget();
            tracing::warn!(error = %e, %event_type, "webhook event not published");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "event could not be published"}),
            )
        }
    }
}

/// The router, for tests that want to drive it without a socket.
pub fn router(path: &str, secret: Secret, sink: EventSink) -> Router {
    let state = Arc::new(WebhookState {
        secret,
        sink,
        deliveries: Mutex::new(DeliveryIds::new(DEDUP_CAPACITY)),
    });
    Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves `router` on `listener` until `cancel` fires.
pub async fn serve(listener: TcpListener, router: Router, cancel: CancellationToken) {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "webhook server listening");
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "webhook server failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_is_bounded() {
        let mut d = DeliveryIds::new(2);
        assert!(d.insert("a"));
        assert!(!d.insert("a"));
        assert!(d.insert("b"));
        assert!(d.insert("c"));
        assert!(d.insert("a"), "oldest forgotten");
        d.remove("a");
        assert!(d.insert("a"));
        assert!(d.order.len() <= 2 && d.seen.len() <= 2);
    }

    #[test]
    fn signatures() {
        let body = b"{}";
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_valid(b"s", body, Some(&good)));
        assert!(!signature_valid(b"t", body, Some(&good)));
        assert!(!signature_valid(b"s", body, None));
        assert!(!signature_valid(b"s", body, Some("sha256=zz")));
        assert!(!signature_valid(b"s", body, Some(&good[7..])));
    }
}
