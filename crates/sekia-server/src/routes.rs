//! Routes of the local API. Each handler is one call into the `Daemon` handle.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::Stream;
use sekia_daemon::{
    ApiCall, CommandQuery, Daemon, DaemonError, EventQuery, LiveFilter, OutcomeFilter,
};
use sekia_protocol::{Event, Payload};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most live-event (SSE) connections the dashboard serves at once.
pub const MAX_LIVE_CONNECTIONS: usize = 50;

/// What the handlers share: the daemon, and for the dashboard a cap on live connections.
#[derive(Clone)]
pub struct ApiState {
    pub daemon: Daemon,
    /// `None` on the private socket; `Some` on the dashboard.
    pub live_slots: Option<Arc<Semaphore>>,
}

impl FromRef<ApiState> for Daemon {
    fn from_ref(state: &ApiState) -> Daemon {
        state.daemon.clone()
    }
}

/// The API on the private socket: no connection cap (only this user can reach it).
pub fn router(daemon: Daemon) -> Router {
    api_router(ApiState {
        daemon,
        live_slots: None,
    })
}

pub(crate) fn api_router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/rpc", post(rpc))
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
        .route("/api/v1/config/reload", post(reload_config))
        .route("/api/v1/workflows/dry-run", post(dry_run))
        .route("/api/v1/events", get(events).post(publish))
        .route("/api/v1/events/stream", get(stream))
        .route("/api/v1/status/stream", get(status_stream))
        .route(
            "/api/v1/events/{id}",
            get(
                |State(d): State<Daemon>, Path(id): Path<String>| async move {
                    answer(d.event(&id).await)
                },
            ),
        )
        .route(
            "/api/v1/events/{id}/replay",
            post(
                |State(d): State<Daemon>, Path(id): Path<String>| async move {
                    answer(d.replay(&id).await)
                },
            ),
        )
        .route("/api/v1/commands", get(commands))
        .route(
            "/api/v1/commands/{id}",
            get(
                |State(d): State<Daemon>, Path(id): Path<String>| async move {
                    answer(d.command(&id).await)
                },
            ),
        )
        .route(
            "/api/v1/workflows/pause",
            post(|State(d): State<Daemon>| async move { answer(d.set_paused(true)) }),
        )
        .route(
            "/api/v1/workflows/resume",
            post(|State(d): State<Daemon>| async move { answer(d.set_paused(false)) }),
        )
        .fallback(not_found)
        .with_state(state)
}

/// `POST /api/v1/rpc` with `{"cmd","args"}`: the UI's one door, the same calls the desktop
/// makes over Tauri IPC. A malformed call names what is wrong with it.
async fn rpc(State(d): State<Daemon>, body: Bytes) -> Response {
    let call: ApiCall = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return error(DaemonError::invalid("call", e.to_string())),
    };
    answer(d.call(call).await)
}

async fn reload(State(d): State<Daemon>) -> Response {
    match d.reload_workflows().await {
        Ok(_) => Json(serde_json::json!({ "status": "reloaded" })).into_response(),
        Err(e) => error(e),
    }
}

/// sekia's `?target=NAME` (none or `*`: every agent).
#[derive(Deserialize)]
struct ReloadTarget {
    #[serde(default)]
    target: Option<String>,
}

async fn reload_config(State(d): State<Daemon>, Query(p): Query<ReloadTarget>) -> Response {
    match d.request_config_reload(p.target.as_deref()).await {
        Ok(r) => Json(r).into_response(),
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

/// History search: `?source=&type=&since=&until=&q=&limit=&cursor=`.
#[derive(Deserialize)]
struct EventsParams {
    source: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    q: Option<String>,
    #[serde(default)]
    limit: usize,
    cursor: Option<String>,
}

async fn events(State(d): State<Daemon>, Query(p): Query<EventsParams>) -> Response {
    let query = EventQuery {
        source: given(p.source),
        event_type: given(p.event_type),
        since: p.since,
        until: p.until,
        q: given(p.q),
        limit: p.limit,
        cursor: given(p.cursor),
    };
    answer(d.events(query).await)
}

/// Command history: `?agent=&command=&source=&outcome=&since=&until=&q=&limit=&cursor=`.
#[derive(Deserialize)]
struct CommandsParams {
    agent: Option<String>,
    command: Option<String>,
    source: Option<String>,
    outcome: Option<OutcomeFilter>,
    since: Option<i64>,
    until: Option<i64>,
    q: Option<String>,
    #[serde(default)]
    limit: usize,
    cursor: Option<String>,
}

async fn commands(State(d): State<Daemon>, Query(p): Query<CommandsParams>) -> Response {
    let query = CommandQuery {
        agent: given(p.agent),
        command: given(p.command),
        source: given(p.source),
        outcome: p.outcome,
        since: p.since,
        until: p.until,
        q: given(p.q),
        limit: p.limit,
        cursor: given(p.cursor),
    };
    answer(d.commands(query).await)
}

/// A test event: `{"source","type","payload"}`.
#[derive(Deserialize)]
struct Publish {
    source: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    payload: Payload,
}

async fn publish(State(d): State<Daemon>, Json(p): Json<Publish>) -> Response {
    answer(d.publish_event(&p.source, &p.event_type, p.payload).await)
}

#[derive(Deserialize)]
struct StreamParams {
    source: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// Server-Sent Events: one `event: event` with the stored event's JSON per new event that
/// passes the filter, as it is committed to history.
async fn stream(State(state): State<ApiState>, Query(p): Query<StreamParams>) -> Response {
    let slot = match live_slot(&state) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let receiver = match state.daemon.live_events() {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    let filter = LiveFilter {
        source: given(p.source),
        event_type: given(p.event_type),
    };
    Sse::new(live_stream(receiver, filter, slot))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A place among the dashboard's live connections (none are counted on the private socket).
fn live_slot(state: &ApiState) -> Result<Option<OwnedSemaphorePermit>, AllTaken> {
    let Some(slots) = &state.live_slots else {
        return Ok(None);
    };
    Arc::clone(slots)
        .try_acquire_owned()
        .map(Some)
        .map_err(|_| AllTaken)
}

/// Every live connection the dashboard serves is taken.
struct AllTaken;

impl IntoResponse for AllTaken {
    fn into_response(self) -> Response {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "error": format!("too many live connections (max {MAX_LIVE_CONNECTIONS})")
            })),
        )
            .into_response()
    }
}

/// `GET /api/v1/status/stream`: the `status` call's answer as a `status` event at once and
/// again whenever it may have changed (agents, accounts, workflows, pause, new events; see
/// `StatusWatch`), so a display follows the daemon without polling it.
async fn status_stream(State(state): State<ApiState>) -> Response {
    let slot = match live_slot(&state) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let watch = state.daemon.status_watch();
    let stream = futures::stream::unfold(
        (state.daemon, watch, slot, true),
        |(daemon, mut watch, slot, first)| async move {
            if !first {
                watch.next().await;
            }
            let status = daemon.daemon_status().await;
            let data = serde_json::to_string(&status).unwrap_or_default();
            let event = SseEvent::default().event("status").data(data);
            Some((Ok::<_, Infallible>(event), (daemon, watch, slot, false)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// `slot` is held for as long as the stream lives, so a closed connection frees its place.
fn live_stream(
    receiver: tokio::sync::broadcast::Receiver<std::sync::Arc<sekia_daemon::StoredEvent>>,
    filter: LiveFilter,
    slot: Option<OwnedSemaphorePermit>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    use tokio::sync::broadcast::error::RecvError;
    futures::stream::unfold(
        (receiver, filter, slot),
        |(mut rx, filter, slot)| async move {
            loop {
                match rx.recv().await {
                    Ok(e) if filter.matches(&e) => {
                        let data = serde_json::to_string(&*e).unwrap_or_default();
                        return Some((
                            Ok(SseEvent::default().event("event").data(data)),
                            (rx, filter, slot),
                        ));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => {
                        let note = SseEvent::default().event("lagged").data(n.to_string());
                        return Some((Ok(note), (rx, filter, slot)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
}

/// A query parameter counts only when it has text: `?source=` means "any source".
fn given(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.trim().is_empty())
}

fn answer<T: serde::Serialize>(result: Result<T, DaemonError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => error(e),
    }
}

fn error(e: DaemonError) -> Response {
    let status = match e {
        DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
        DaemonError::Invalid { .. }
        | DaemonError::Store(
            sekia_daemon::StoreError::BadCursor(_) | sekia_daemon::StoreError::BadQuery(_),
        ) => StatusCode::BAD_REQUEST,
        DaemonError::WorkflowsDisabled | DaemonError::HistoryDisabled => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        DaemonError::Account(ref a) if a.is_transient() => StatusCode::BAD_GATEWAY,
        DaemonError::Account(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = match &e {
        DaemonError::Invalid { field, .. } => {
            serde_json::json!({ "error": e.to_string(), "field": field })
        }
        _ => serde_json::json!({ "error": e.to_string() }),
    };
    (status, Json(body)).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "no such route" })),
    )
        .into_response()
}
