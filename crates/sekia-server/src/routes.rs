//! Routes of the local API. Each handler is one call into the `Daemon` handle.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use futures::Stream;
use sekia_daemon::{CommandQuery, Daemon, DaemonError, EventQuery, LiveFilter, OutcomeFilter};
use sekia_protocol::{Event, Payload};
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
        .route("/api/v1/events", get(events).post(publish))
        .route("/api/v1/events/stream", get(stream))
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
async fn stream(State(d): State<Daemon>, Query(p): Query<StreamParams>) -> Response {
    let receiver = match d.live_events() {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    let filter = LiveFilter {
        source: given(p.source),
        event_type: given(p.event_type),
    };
    Sse::new(live_stream(receiver, filter))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn live_stream(
    receiver: tokio::sync::broadcast::Receiver<std::sync::Arc<sekia_daemon::StoredEvent>>,
    filter: LiveFilter,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    use tokio::sync::broadcast::error::RecvError;
    futures::stream::unfold((receiver, filter), |(mut rx, filter)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if filter.matches(&e) => {
                    let data = serde_json::to_string(&*e).unwrap_or_default();
                    return Some((
                        Ok(SseEvent::default().event("event").data(data)),
                        (rx, filter),
                    ));
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    let note = SseEvent::default().event("lagged").data(n.to_string());
                    return Some((Ok(note), (rx, filter)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
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
