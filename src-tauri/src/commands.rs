//! The window's commands: each a one-line adapter over the `Daemon` handle (no logic here, so the
//! desktop, the socket API and the CLI behave the same). Errors are user-facing strings.

use sekia_daemon::{EventQuery, StoredEvent, WorkflowsReport};
use sekia_protocol::{AgentsResponse, Event, Payload, StatusResponse};
use tauri::State;

use crate::host::DaemonHost;

/// Source, type and payload of the event "Publish test event" sends when the UI names none.
pub const TEST_SOURCE: &str = "desktop";
pub const TEST_TYPE: &str = "desktop.test";

/// Most events one `recent_events` call returns.
pub const MAX_RECENT: usize = 200;

#[tauri::command]
pub async fn status(host: State<'_, DaemonHost>) -> Result<StatusResponse, String> {
    host.call(|d| async move { d.status().await }).await
}

#[tauri::command]
pub async fn agents(host: State<'_, DaemonHost>) -> Result<AgentsResponse, String> {
    host.call(|d| async move { d.agents().await }).await
}

#[tauri::command]
pub async fn workflows(host: State<'_, DaemonHost>) -> Result<WorkflowsReport, String> {
    host.call(|d| async move { d.workflows().await }).await
}

/// The newest events, newest first (`limit` defaults to 50, at most [`MAX_RECENT`]).
#[tauri::command]
pub async fn recent_events(
    host: State<'_, DaemonHost>,
    limit: Option<usize>,
) -> Result<Vec<StoredEvent>, String> {
    let query = EventQuery {
        limit: limit.unwrap_or(50).clamp(1, MAX_RECENT),
        ..EventQuery::default()
    };
    host.try_call(|d| async move { d.events(query).await.map(|page| page.items) })
        .await
}

/// Publishes a well-formed event on `sekia.events.<source>`, as `sekiactl events publish` does.
#[tauri::command]
pub async fn publish_test_event(
    host: State<'_, DaemonHost>,
    source: Option<String>,
    event_type: Option<String>,
    payload: Option<Payload>,
) -> Result<Event, String> {
    let source = source.unwrap_or_else(|| TEST_SOURCE.into());
    let event_type = event_type.unwrap_or_else(|| TEST_TYPE.into());
    let payload = payload.unwrap_or_else(default_payload);
    host.try_call(|d| async move { d.publish_event(&source, &event_type, payload).await })
        .await
}

fn default_payload() -> Payload {
    let mut p = Payload::new();
    p.insert("message".into(), "Hello from the sekia window".into());
    p
}
