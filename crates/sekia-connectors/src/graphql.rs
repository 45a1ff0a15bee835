//! A GraphQL endpoint over the retrying [`HttpClient`].
//!
//! GraphQL services answer most failures with HTTP 200 and an `errors` list
//! (`{"errors": [{"message": …, "extensions": {…}}]}`). Such an answer is a
//! failure here, carrying the service's own message, even when `data` is
//! partly filled: a mutation that reports errors did not do what was asked.
//! Transport failures (429, 5xx, network) are retried by the [`HttpClient`];
//! a 4xx with a GraphQL body fails with its `errors[0].message` as any 4xx does.

use std::sync::Arc;

use reqwest::{Method, Url};
use sekia_accounts::TokenSource;
use serde_json::{Value, json};

use crate::command::CommandError;
use crate::http::{ApiRequest, AuthScheme, HttpClient, HttpError};

/// Why a GraphQL call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphqlError {
    /// No answer (after retries), or a refusal by HTTP status.
    #[error("{0}")]
    Http(#[from] HttpError),
    /// The service answered with `errors`: their messages, joined by `; `, and the
    /// first error's `extensions.code` if it has one.
    #[error("{message}")]
    Errors {
        message: String,
        code: Option<String>,
    },
    /// An answer that is not a GraphQL response.
    #[error("unexpected GraphQL response: {0}")]
    Decode(String),
}

impl From<GraphqlError> for CommandError {
    fn from(e: GraphqlError) -> Self {
        match e {
            GraphqlError::Http(h) => CommandError::Http(h),
            other => CommandError::Service(other.to_string()),
        }
    }
}

/// One GraphQL endpoint with one credential. Cheap to clone.
#[derive(Clone)]
pub struct GraphqlClient {
    http: HttpClient,
    tokens: Arc<dyn TokenSource>,
    scheme: AuthScheme,
    url: Url,
}

impl std::fmt::Debug for GraphqlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlClient")
            .field("url", &self.url.as_str())
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl GraphqlClient {
    pub fn new(
        http: HttpClient,
        tokens: Arc<dyn TokenSource>,
        scheme: AuthScheme,
        url: Url,
    ) -> Self {
        Self {
            http,
            tokens,
            scheme,
            url,
        }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends `{"query", "variables"}` and returns `data`.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, GraphqlError> {
        self.send(query, variables, false).await
    }

    /// [`Self::query`] for a mutation that creates something: not sent again when a
    /// failure leaves it unclear whether the service carried it out.
    pub async fn mutate_at_most_once(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<Value, GraphqlError> {
        self.send(query, variables, true).await
    }

    async fn send(
        &self,
        query: &str,
        variables: Value,
        at_most_once: bool,
    ) -> Result<Value, GraphqlError> {
        let req = ApiRequest::new(Method::POST, self.url.clone())
            .json(json!({"query": query, "variables": variables}))
            .at_most_once(at_most_once);
        let response = self
            .http
            .send(&req, Some((self.tokens.as_ref(), self.scheme)))
            .await?;
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| GraphqlError::Decode(e.to_string()))?;
        data_of(body)
    }
}

/// `data` of a GraphQL response body, or its `errors` as a failure.
pub fn data_of(mut body: Value) -> Result<Value, GraphqlError> {
    if let Some(errors) = body.get("errors").and_then(Value::as_array)
        && !errors.is_empty()
    {
        let messages: Vec<&str> = errors
            .iter()
            .map(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
            })
            .collect();
        let code = errors[0]
            .pointer("/extensions/code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Err(GraphqlError::Errors {
            message: messages.join("; "),
            code,
        });
    }
    match body.get_mut("data").map(Value::take) {
        Some(Value::Null) | None => Err(GraphqlError::Decode("no data and no errors".into())),
        Some(data) => Ok(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_win_over_data() {
        let e = data_of(json!({"data": {"x": null}, "errors": [
            {"message": "Entity not found: Issue", "extensions": {"code": "INVALID_INPUT"}},
            {"message": "second"}
        ]}))
        .unwrap_err();
        assert_eq!(e.to_string(), "Entity not found: Issue; second");
        assert!(matches!(e, GraphqlError::Errors { code: Some(c), .. } if c == "INVALID_INPUT"));
        assert_eq!(data_of(json!({"data": {"a": 1}})).unwrap(), json!({"a": 1}));
        assert!(data_of(json!({"data": null})).is_err());
        assert!(data_of(json!({"errors": []})).is_err());
    }
}
