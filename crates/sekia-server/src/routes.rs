//! Routes of the local API. Each handler is one call into the `Daemon` handle.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use sekia_daemon::Daemon;

pub fn router(daemon: Daemon) -> Router {
    Router::new()
        .route(
            "/api/v1/status",
            get(|State(d): State<Daemon>| async move { Json(d.status().await) }),
        )
        .route(
            "/api/v1/agents",
            get(|State(d): State<Daemon>| async move { Json(d.agents().await) }),
        )
        .fallback(not_found)
        .with_state(daemon)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "no such route" })),
    )
        .into_response()
}
