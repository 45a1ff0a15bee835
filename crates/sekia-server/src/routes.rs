//! Routes of the local API. Each handler is one call into the `Daemon` handle.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use sekia_daemon::{Daemon, DaemonError};
use sekia_protocol::Event;
use serde::Deserialize;

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
        .route(
            "/api/v1/workflows",
            get(|State(d): State<Daemon>| async move { Json(d.workflows().await) }),
        )
        .route("/api/v1/workflows/reload", post(reload))
        .route("/api/v1/workflows/dry-run", post(dry_run))
        .fallback(not_found)
        .with_state(daemon)
}

async fn reload(State(d): State<Daemon>) -> Response {
    match d.reload_workflows().await {
        Ok(_) => Json(serde_json::json!({ "status": "reloaded" })).into_response(),
        Err(e) => error(e),
    }
}

/// The dry-run request: the workflow's source, its file name (for error locations), the
/// event, and what `sekia.ai` should answer.
#[derive(Deserialize)]
struct DryRun {
    source: String,
    #[serde(default = "default_file_name")]
    file_name: String,
    event: Event,
    #[serde(default)]
    ai_answer: Option<String>,
}

fn default_file_name() -> String {
    "workflow.lua".into()
}

async fn dry_run(State(d): State<Daemon>, Json(r): Json<DryRun>) -> Response {
    Json(
        d.dry_run(&r.source, &r.file_name, r.event, r.ai_answer)
            .await,
    )
    .into_response()
}

fn error(e: DaemonError) -> Response {
    let status = match e {
        DaemonError::WorkflowsDisabled => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "no such route" })),
    )
        .into_response()
}
