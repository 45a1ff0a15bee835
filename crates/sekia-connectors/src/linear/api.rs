//! Linear's GraphQL API: the two list queries the poller reads (Relay-style
//! `nodes` + `pageInfo`, followed to the last page) and the four mutations the
//! commands send. Transport, retries and `errors` handling are the shared
//! [`GraphqlClient`]'s.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::graphql::{GraphqlClient, GraphqlError};

/// Items per page (sekia's `first: 50`).
pub const PAGE_SIZE: u32 = 50;
/// Pages read in one poll at most; a server that keeps saying `hasNextPage`
/// past this is treated as broken rather than read forever.
pub const MAX_PAGES: usize = 1000;

/// `issues(...)`: changed issues, newest change first (`orderBy: updatedAt`).
pub const ISSUES_QUERY: &str =
    "query SekiaIssues($filter: IssueFilter, $first: Int, $after: String) {
  issues(filter: $filter, first: $first, after: $after, orderBy: updatedAt) {
    nodes {
      id identifier title description priority url createdAt updatedAt
      state { name type }
      team { id key }
      assignee { name }
      labels { nodes { name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}";

/// `comments(...)`: new comments (`orderBy: createdAt`).
pub const COMMENTS_QUERY: &str =
    "query SekiaComments($filter: CommentFilter, $first: Int, $after: String) {
  comments(filter: $filter, first: $first, after: $after, orderBy: createdAt) {
    nodes {
      id body createdAt
      user { name }
      issue { id identifier }
    }
    pageInfo { hasNextPage endCursor }
  }
}";

pub const ISSUE_CREATE: &str = "mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}";

pub const ISSUE_UPDATE: &str = "mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success issue { id identifier } }
}";

pub const COMMENT_CREATE: &str = "mutation CommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}";

pub const ISSUE_ADD_LABEL: &str = "mutation IssueAddLabel($id: String!, $labelId: String!) {
  issueAddLabel(id: $id, labelId: $labelId) { success issue { id } }
}";

/// `{ name }`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Named {
    pub name: Option<String>,
}

/// `state { name type }`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WorkflowState {
    pub name: Option<String>,
    /// `triage`, `backlog`, `unstarted`, `started`, `completed`, `canceled`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `team { id key }`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TeamRef {
    pub id: Option<String>,
    pub key: Option<String>,
}

/// `issue { id identifier }`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IssueRef {
    pub id: Option<String>,
    pub identifier: Option<String>,
}

/// A `nodes` list.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Nodes<T> {
    #[serde(default = "Vec::new")]
    pub nodes: Vec<T>,
}

/// One issue as [`ISSUES_QUERY`] reads it. Everything but `id` may be absent or
/// `null` without failing the page.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub id: String,
    pub identifier: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Linear's `Float` (0 none, 1 urgent … 4 low).
    pub priority: Option<f64>,
    pub url: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub state: Option<WorkflowState>,
    pub team: Option<TeamRef>,
    pub assignee: Option<Named>,
    pub labels: Option<Nodes<Named>>,
}

/// One comment as [`COMMENTS_QUERY`] reads it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    pub body: Option<String>,
    pub created_at: Option<String>,
    pub user: Option<Named>,
    pub issue: Option<IssueRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    nodes: Vec<T>,
    page_info: PageInfo,
}

/// Which issues (and comments) to read: sekia's `poll.team_filter` (team key)
/// and/or `linear.team_id`.
#[derive(Clone, Debug, Default)]
pub struct TeamFilter {
    pub id: String,
    pub key: String,
}

impl TeamFilter {
    /// A `TeamFilter` input object, or `None` for all teams.
    fn to_graphql(&self) -> Option<Value> {
        let mut team = Map::new();
        if !self.id.is_empty() {
            team.insert("id".into(), json!({"eq": self.id}));
        }
        if !self.key.is_empty() {
            team.insert("key".into(), json!({"eq": self.key}));
        }
        (!team.is_empty()).then_some(Value::Object(team))
    }
}

/// The Linear API for one credential.
#[derive(Clone, Debug)]
pub struct LinearApi {
    client: GraphqlClient,
}

impl LinearApi {
    pub fn new(client: GraphqlClient) -> Self {
        Self { client }
    }

    /// Runs a query or mutation and returns `data`.
    pub async fn call(&self, query: &str, variables: Value) -> Result<Value, GraphqlError> {
        self.client.query(query, variables).await
    }

    /// Runs a mutation that creates something, at most once (see [`GraphqlClient::mutate_at_most_once`]).
    pub async fn call_at_most_once(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<Value, GraphqlError> {
        self.client.mutate_at_most_once(query, variables).await
    }

    /// Every issue updated at or after `since` (RFC 3339), all pages.
    pub async fn issues_since(
        &self,
        since: &str,
        team: &TeamFilter,
    ) -> Result<Vec<Issue>, GraphqlError> {
        let mut filter = Map::new();
        filter.insert("updatedAt".into(), json!({"gte": since}));
        if let Some(t) = team.to_graphql() {
            filter.insert("team".into(), t);
        }
        self.all_pages(ISSUES_QUERY, "issues", Value::Object(filter))
            .await
    }

    /// Every comment created at or after `since` (RFC 3339), all pages (sekia read
    /// only the first 50).
    pub async fn comments_since(
        &self,
        since: &str,
        team: &TeamFilter,
    ) -> Result<Vec<Comment>, GraphqlError> {
        let mut filter = Map::new();
        filter.insert("createdAt".into(), json!({"gte": since}));
        if let Some(t) = team.to_graphql() {
            filter.insert("issue".into(), json!({"team": t}));
        }
        self.all_pages(COMMENTS_QUERY, "comments", Value::Object(filter))
            .await
    }

    async fn all_pages<T: DeserializeOwned>(
        &self,
        query: &str,
        field: &str,
        filter: Value,
    ) -> Result<Vec<T>, GraphqlError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let data = self
                .call(
                    query,
                    json!({"filter": filter, "first": PAGE_SIZE, "after": after}),
                )
                .await?;
            let connection = data.get(field).cloned().unwrap_or(Value::Null);
            let page: Connection<T> = serde_json::from_value(connection)
                .map_err(|e| GraphqlError::Decode(format!("{field}: {e}")))?;
            out.extend(page.nodes);
            if !page.page_info.has_next_page {
                return Ok(out);
            }
            match page.page_info.end_cursor {
                // A cursor that does not move would loop forever.
                Some(c) if after.as_deref() != Some(c.as_str()) => after = Some(c),
                _ => {
                    return Err(GraphqlError::Decode(format!(
                        "{field}: hasNextPage without a new endCursor"
                    )));
                }
            }
        }
        Err(GraphqlError::Decode(format!(
            "{field}: more than {MAX_PAGES} pages in one poll"
        )))
    }
}
