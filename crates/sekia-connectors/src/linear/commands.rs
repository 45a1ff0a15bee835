//! The four commands of sekia-linear, with sekia's names and arguments:
//!
//! | command | payload | mutation |
//! |---|---|---|
//! | `create_issue` | team_id, title, description? | `issueCreate(input: {teamId, title, description})` |
//! | `update_issue` | issue_id, state_id?, assignee_id?, priority? (at least one) | `issueUpdate(id, input: {stateId, assigneeId, priority})` |
//! | `create_comment` | issue_id, body | `commentCreate(input: {issueId, body})` |
//! | `add_label` | issue_id, label_id | `issueAddLabel(id, labelId)` |
//!
//! A GraphQL `errors` answer fails the command with Linear's message; so does a
//! payload with `success: false`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::api::{self, LinearApi};
use crate::agent::CommandHandler;
use crate::command::{Args, CommandError};

/// The command names, in sekia's order (the registration lists them).
pub const COMMANDS: [&str; 4] = [
    "create_issue",
    "update_issue",
    "create_comment",
    "add_label",
];

/// Runs Linear commands with one credential.
#[derive(Debug)]
pub struct LinearCommands {
    api: Arc<LinearApi>,
}

impl LinearCommands {
    pub fn new(api: Arc<LinearApi>) -> Self {
        Self { api }
    }

    /// Sends a mutation and checks its `<field> { success }`. Mutations that create
    /// something are sent at most once: a second copy would be a second issue or comment.
    async fn mutate(&self, query: &str, field: &str, variables: Value) -> Result<(), CommandError> {
        let creates = query == api::ISSUE_CREATE || query == api::COMMENT_CREATE;
        let data = if creates {
            self.api.call_at_most_once(query, variables).await?
        } else {
            self.api.call(query, variables).await?
        };
        match data.get(field).and_then(|p| p.get("success")) {
            Some(Value::Bool(true)) => Ok(()),
            Some(Value::Bool(false)) => Err(CommandError::Service(format!(
                "Linear did not apply {field} (success: false)"
            ))),
            _ => Err(CommandError::Service(format!(
                "{field}: answer without a success flag"
            ))),
        }
    }

    async fn create_issue(&self, args: Args<'_>) -> Result<(), CommandError> {
        let mut input = Map::new();
        input.insert("teamId".into(), args.non_empty_str("team_id")?.into());
        input.insert("title".into(), args.non_empty_str("title")?.into());
        if let Some(d) = args.opt_str("description")? {
            input.insert("description".into(), d.into());
        }
        self.mutate(api::ISSUE_CREATE, "issueCreate", json!({"input": input}))
            .await
    }

    async fn update_issue(&self, args: Args<'_>) -> Result<(), CommandError> {
        let id = args.non_empty_str("issue_id")?;
        let mut input = Map::new();
        if let Some(s) = args.opt_str("state_id")? {
            input.insert("stateId".into(), s.into());
        }
        if let Some(a) = args.opt_str("assignee_id")? {
            input.insert("assigneeId".into(), a.into());
        }
        if args.opt_f64("priority")?.is_some() {
            let p = args.int("priority")?;
            if !(0..=4).contains(&p) {
                return Err(CommandError::BadValue {
                    field: "priority".into(),
                    reason: "must be 0 (none), 1 (urgent), 2 (high), 3 (normal) or 4 (low)".into(),
                });
            }
            input.insert("priority".into(), p.into());
        }
        if input.is_empty() {
            return Err(CommandError::BadValue {
                field: "update_issue".into(),
                reason: "needs at least one of state_id, assignee_id, priority".into(),
            });
        }
        self.mutate(
            api::ISSUE_UPDATE,
            "issueUpdate",
            json!({"id": id, "input": input}),
        )
        .await
    }

    async fn create_comment(&self, args: Args<'_>) -> Result<(), CommandError> {
        let issue_id = args.non_empty_str("issue_id")?;
        let body = args.non_empty_str("body")?;
        self.mutate(
            api::COMMENT_CREATE,
            "commentCreate",
            json!({"input": {"issueId": issue_id, "body": body}}),
        )
        .await
    }

    async fn add_label(&self, args: Args<'_>) -> Result<(), CommandError> {
        let issue_id = args.non_empty_str("issue_id")?;
        let label_id = args.non_empty_str("label_id")?;
        self.mutate(
            api::ISSUE_ADD_LABEL,
            "issueAddLabel",
            json!({"id": issue_id, "labelId": label_id}),
        )
        .await
    }
}

#[async_trait]
impl CommandHandler for LinearCommands {
    async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError> {
        match command {
            "create_issue" => self.create_issue(args).await,
            "update_issue" => self.update_issue(args).await,
            "create_comment" => self.create_comment(args).await,
            "add_label" => self.add_label(args).await,
            other => Err(CommandError::Unknown(other.to_owned())),
        }
    }
}
