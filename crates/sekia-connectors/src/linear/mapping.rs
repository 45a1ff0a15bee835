//! Linear issues and comments to sekia events: the types and payload fields of
//! sekia-linear (`internal/linear/poller.go`), so sekia workflows run unchanged.
//!
//! - issue: `linear.issue.created` when created after the previous watermark,
//!   else `linear.issue.completed` when in a done state, else
//!   `linear.issue.updated`; payload `id, identifier, title, state (name),
//!   priority, team (key), url, labels`, + `description` when not empty, +
//!   `assignee` (name) when assigned.
//! - comment: `linear.comment.created` with `id, body, author (user name),
//!   issue_id, issue_identifier`.
//!
//! sekia decided "done" by English state names only; the state's `type`
//! (`completed`, `canceled`) counts too, so renamed or translated states work.

use sekia_protocol::Payload;
use serde_json::Value;

use super::api::{Comment, Issue};

pub const ISSUE_CREATED: &str = "linear.issue.created";
pub const ISSUE_UPDATED: &str = "linear.issue.updated";
pub const ISSUE_COMPLETED: &str = "linear.issue.completed";
pub const COMMENT_CREATED: &str = "linear.comment.created";

/// sekia's done state names.
const DONE_NAMES: [&str; 4] = ["Done", "Completed", "Canceled", "Cancelled"];
/// Linear's done state types.
const DONE_TYPES: [&str; 2] = ["completed", "canceled"];

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// Whether the issue is in a completed or canceled state.
pub fn is_done(issue: &Issue) -> bool {
    let Some(state) = &issue.state else {
        return false;
    };
    state
        .name
        .as_deref()
        .is_some_and(|n| DONE_NAMES.contains(&n))
        || state
            .kind
            .as_deref()
            .is_some_and(|t| DONE_TYPES.contains(&t))
}

/// A number as Go's encoder writes a float64: whole values without a fraction.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::from(0), Value::Number)
    }
}

/// The event type and payload of a changed issue. `created` is whether it was
/// created after the previous watermark.
pub fn issue_event(issue: &Issue, created: bool) -> (&'static str, Payload) {
    let event_type = if created {
        ISSUE_CREATED
    } else if is_done(issue) {
        ISSUE_COMPLETED
    } else {
        ISSUE_UPDATED
    };
    let labels: Vec<Value> = issue
        .labels
        .as_ref()
        .map(|l| {
            l.nodes
                .iter()
                .map(|n| Value::String(text(&n.name)))
                .collect()
        })
        .unwrap_or_default();
    let mut p = Payload::new();
    p.insert("id".into(), issue.id.clone().into());
    p.insert("identifier".into(), text(&issue.identifier).into());
    p.insert("title".into(), text(&issue.title).into());
    p.insert(
        "state".into(),
        issue
            .state
            .as_ref()
            .map(|s| text(&s.name))
            .unwrap_or_default()
            .into(),
    );
    p.insert("priority".into(), number(issue.priority.unwrap_or(0.0)));
    p.insert(
        "team".into(),
        issue
            .team
            .as_ref()
            .map(|t| text(&t.key))
            .unwrap_or_default()
            .into(),
    );
    p.insert("url".into(), text(&issue.url).into());
    p.insert("labels".into(), Value::Array(labels));
    if let Some(d) = issue.description.as_deref().filter(|d| !d.is_empty()) {
        p.insert("description".into(), d.into());
    }
    if let Some(a) = &issue.assignee {
        p.insert("assignee".into(), text(&a.name).into());
    }
    (event_type, p)
}

/// The payload of `linear.comment.created`.
pub fn comment_event(comment: &Comment) -> (&'static str, Payload) {
    let issue = comment.issue.clone().unwrap_or_default();
    let mut p = Payload::new();
    p.insert("id".into(), comment.id.clone().into());
    p.insert("body".into(), text(&comment.body).into());
    p.insert(
        "author".into(),
        comment
            .user
            .as_ref()
            .map(|u| text(&u.name))
            .unwrap_or_default()
            .into(),
    );
    p.insert("issue_id".into(), text(&issue.id).into());
    p.insert("issue_identifier".into(), text(&issue.identifier).into());
    (COMMENT_CREATED, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(v: Value) -> Issue {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn issue_payload_and_types() {
        let i = issue(json!({
            "id": "u1", "identifier": "ENG-1", "title": "T", "description": "",
            "priority": 2.0, "url": "https://linear.app/x/issue/ENG-1",
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "state": {"name": "Fertig", "type": "completed"}, "team": {"id": "t", "key": "ENG"},
            "assignee": null, "labels": {"nodes": [{"name": "bug"}]}
        }));
        let (t, p) = issue_event(&i, false);
        assert_eq!(t, ISSUE_COMPLETED);
        assert_eq!(
            Value::Object(p),
            json!({"id": "u1", "identifier": "ENG-1", "title": "T", "state": "Fertig",
                   "priority": 2, "team": "ENG", "url": "https://linear.app/x/issue/ENG-1",
                   "labels": ["bug"]})
        );
        assert_eq!(issue_event(&i, true).0, ISSUE_CREATED);
        let j = issue(
            json!({"id": "u2", "state": {"name": "In Progress", "type": "started"},
                             "description": "d", "assignee": {"name": "Ann"}}),
        );
        let (t, p) = issue_event(&j, false);
        assert_eq!(t, ISSUE_UPDATED);
        assert_eq!(p["description"], "d");
        assert_eq!(p["assignee"], "Ann");
        assert_eq!(p["labels"], json!([]));
    }
}
