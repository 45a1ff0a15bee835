//! The seven commands of sekia-github, with sekia's names and arguments:
//!
//! | command | payload |
//! |---|---|
//! | `add_label` | owner, repo, number, label |
//! | `remove_label` | owner, repo, number, label |
//! | `create_comment` | owner, repo, number, body |
//! | `close_issue`, `reopen_issue` | owner, repo, number |
//! | `approve_pr` | owner, repo, number, body? (no-op if this token's user already approves) |
//! | `add_to_project` | owner, repo, number, project_id, fields? `[{field_id, text\|number\|date\|single_select_option_id\|iteration_id}]` |
//!
//! `add_to_project` resolves issues as well as pull requests (sekia only PRs).

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::api::GithubApi;
use crate::agent::CommandHandler;
use crate::command::{Args, CommandError};

/// The command names, in sekia's order (the registration lists them).
pub const COMMANDS: [&str; 7] = [
    "add_label",
    "remove_label",
    "create_comment",
    "close_issue",
    "reopen_issue",
    "approve_pr",
    "add_to_project",
];

/// Runs GitHub commands against one account.
#[derive(Debug)]
pub struct GithubCommands {
    api: Arc<GithubApi>,
}

struct Target<'a> {
    owner: &'a str,
    repo: &'a str,
    number: String,
    number_int: i64,
}

fn target<'a>(args: &Args<'a>) -> Result<Target<'a>, CommandError> {
    let owner = args.non_empty_str("owner")?;
    let repo = args.non_empty_str("repo")?;
    let number = args.int("number")?;
    if number <= 0 {
        return Err(CommandError::BadValue {
            field: "number".into(),
            reason: "must be a positive issue or pull request number".into(),
        });
    }
    Ok(Target {
        owner,
        repo,
        number: number.to_string(),
        number_int: number,
    })
}

impl GithubCommands {
    pub fn new(api: Arc<GithubApi>) -> Self {
        Self { api }
    }

    fn issue_url(&self, t: &Target<'_>, rest: &[&str]) -> reqwest::Url {
        let mut segs = vec!["repos", t.owner, t.repo, "issues", t.number.as_str()];
        segs.extend_from_slice(rest);
        self.api.url(&segs)
    }

    async fn add_label(&self, args: Args<'_>) -> Result<(), CommandError> {
        let t = target(&args)?;
        let label = args.non_empty_str("label")?;
        let url = self.issue_url(&t, &["labels"]);
        self.api
            .call(Method::POST, url, Some(json!([label])))
            .await?;
        Ok(())
    }

    async fn remove_label(&self, args: Args<'_>) -> Result<(), CommandError> {
        let t = target(&args)?;
        let label = args.non_empty_str("label")?;
        let url = self.issue_url(&t, &["labels", label]);
        self.api.call(Method::DELETE, url, None).await?;
        Ok(())
    }

    async fn create_comment(&self, args: Args<'_>) -> Result<(), CommandError> {
        let t = target(&args)?;
        let body = args.str("body")?;
        let url = self.issue_url(&t, &["comments"]);
        self.api
            .call_at_most_once(Method::POST, url, Some(json!({"body": body})))
            .await?;
        Ok(())
    }

    async fn set_state(&self, args: Args<'_>, state: &str) -> Result<(), CommandError> {
        let t = target(&args)?;
        let url = self.issue_url(&t, &[]);
        self.api
            .call(Method::PATCH, url, Some(json!({"state": state})))
            .await?;
        Ok(())
    }

    async fn approve_pr(&self, args: Args<'_>) -> Result<(), CommandError> {
        let t = target(&args)?;
        let body = args.opt_str("body")?;
        let me: Value = self
            .api
            .call(Method::GET, self.api.url(&["user"]), None)
            .await?
            .json()?;
        let me = me.get("login").and_then(Value::as_str).unwrap_or_default();
        if !me.is_empty() && self.approved_by(&t, me).await? {
            tracing::info!(
                owner = t.owner,
                repo = t.repo,
                number = t.number_int,
                "pull request already approved by this account; not approving again"
            );
            return Ok(());
        }
        let mut review = Map::new();
        review.insert("event".into(), "APPROVE".into());
        if let Some(b) = body.filter(|b| !b.is_empty()) {
            review.insert("body".into(), b.into());
        }
        let url = self.api.url(&[
            "repos",
            t.owner,
            t.repo,
            "pulls",
            t.number.as_str(),
            "reviews",
        ]);
        self.api
            .call_at_most_once(Method::POST, url, Some(Value::Object(review)))
            .await?;
        Ok(())
    }

    /// Whether `login`'s latest approving-or-not review of the PR is an approval.
    /// Comments do not change a review state, so they are skipped; a later
    /// "changes requested" or a dismissal undoes an approval.
    async fn approved_by(&self, t: &Target<'_>, login: &str) -> Result<bool, CommandError> {
        let mut url = self.api.url(&[
            "repos",
            t.owner,
            t.repo,
            "pulls",
            t.number.as_str(),
            "reviews",
        ]);
        url.query_pairs_mut().append_pair("per_page", "100");
        let mut latest: Option<String> = None;
        let mut next = Some(url);
        while let Some(u) = next.take() {
            let response = self.api.call(Method::GET, u, None).await?;
            let reviews: Vec<Value> = response.json()?;
            for r in &reviews {
                let by = r
                    .get("user")
                    .and_then(|u| u.get("login"))
                    .and_then(Value::as_str);
                let state = r.get("state").and_then(Value::as_str).unwrap_or_default();
                if by == Some(login) && state != "COMMENTED" && state != "PENDING" {
                    latest = Some(state.to_owned());
                }
            }
            next = response.header("link").and_then(super::api::next_link);
        }
        Ok(latest.as_deref() == Some("APPROVED"))
    }

    async fn add_to_project(&self, args: Args<'_>) -> Result<(), CommandError> {
        let t = target(&args)?;
        let project_id = args.non_empty_str("project_id")?;
        let mut fields = Vec::new();
        let paths: Vec<String>;
        if let Some(list) = args.opt_array("fields")? {
            paths = (0..list.len()).map(|i| format!("fields[{i}]")).collect();
            for (item, path) in list.iter().zip(&paths) {
                let Value::Object(obj) = item else {
                    return Err(CommandError::WrongType {
                        field: path.clone(),
                        expected: "an object",
                    });
                };
                let f = Args::nested(obj, path);
                let field_id = f.non_empty_str("field_id")?.to_owned();
                let mut value = Map::new();
                if let Some(v) = f.opt_str("text")? {
                    value.insert("text".into(), v.into());
                }
                if let Some(v) = f.opt_f64("number")? {
                    value.insert("number".into(), v.into());
                }
                if let Some(v) = f.opt_str("date")? {
                    value.insert("date".into(), v.into());
                }
                if let Some(v) = f.opt_str("single_select_option_id")? {
                    value.insert("singleSelectOptionId".into(), v.into());
                }
                if let Some(v) = f.opt_str("iteration_id")? {
                    value.insert("iterationId".into(), v.into());
                }
                if value.is_empty() {
                    return Err(CommandError::BadValue {
                        field: path.clone(),
                        reason:
                            "needs one of text, number, date, single_select_option_id, iteration_id"
                                .into(),
                    });
                }
                fields.push((field_id, Value::Object(value)));
            }
        }

        let data = self
            .api
            .graphql(
                "query($owner: String!, $repo: String!, $number: Int!) {
  repository(owner: $owner, name: $repo) {
    issueOrPullRequest(number: $number) {
      ... on Issue { id }
      ... on PullRequest { id }
    }
  }
}",
                json!({"owner": t.owner, "repo": t.repo, "number": t.number_int}),
            )
            .await?;
        let content_id = data
            .pointer("/repository/issueOrPullRequest/id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                CommandError::Service(format!(
                    "issue or pull request {}/{}#{} not found",
                    t.owner, t.repo, t.number
                ))
            })?
            .to_owned();

        let data = self
            .api
            .graphql(
                "mutation($projectId: ID!, $contentId: ID!) {
  addProjectV2ItemById(input: {projectId: $projectId, contentId: $contentId}) {
    item { id }
  }
}",
                json!({"projectId": project_id, "contentId": content_id}),
            )
            .await?;
        let item_id = data
            .pointer("/addProjectV2ItemById/item/id")
            .and_then(Value::as_str)
            .ok_or_else(|| CommandError::Service("add to project: no item id returned".into()))?
            .to_owned();

        for (field_id, value) in fields {
            self.api
                .graphql(
                    "mutation($projectId: ID!, $itemId: ID!, $fieldId: ID!, $value: ProjectV2FieldValue!) {
  updateProjectV2ItemFieldValue(input: {projectId: $projectId, itemId: $itemId, fieldId: $fieldId, value: $value}) {
    projectV2Item { id }
  }
}",
                    json!({"projectId": project_id, "itemId": item_id, "fieldId": field_id, "value": value}),
                )
                .await
                .map_err(|e| CommandError::Service(format!("set field {field_id}: {e}")))?;
        }
        Ok(())
    }
}

#[async_trait]
impl CommandHandler for GithubCommands {
    async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError> {
        match command {
            "add_label" => self.add_label(args).await,
            "remove_label" => self.remove_label(args).await,
            "create_comment" => self.create_comment(args).await,
            "close_issue" => self.set_state(args, "closed").await,
            "reopen_issue" => self.set_state(args, "open").await,
            "approve_pr" => self.approve_pr(args).await,
            "add_to_project" => self.add_to_project(args).await,
            other => Err(CommandError::Unknown(other.to_owned())),
        }
    }
}
