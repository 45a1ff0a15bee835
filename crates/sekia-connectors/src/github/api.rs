//! GitHub's REST and GraphQL APIs over the retrying [`HttpClient`].
//!
//! URLs are built from segments (each one percent-encoded, so a label like
//! `good first issue` or `a/b` cannot change the path). GET requests for polling
//! are conditional: the ETag of the last answer per URL is sent as
//! `If-None-Match`, and a 304 (which costs no rate limit) means "nothing new".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::header::{ACCEPT, HeaderValue, IF_NONE_MATCH};
use reqwest::{Method, StatusCode, Url};
use sekia_accounts::TokenSource;
use serde_json::{Value, json};

use crate::command::CommandError;
use crate::error::ConnectorError;
use crate::http::{ApiRequest, AuthScheme, HttpClient, HttpError, HttpResponse};

/// Most remembered ETags; past it the map is cleared (a full answer is only a
/// little more expensive than a 304).
const MAX_ETAGS: usize = 4096;

/// One page of a list endpoint.
#[derive(Debug)]
pub enum Page {
    /// 304: same as last time.
    NotModified,
    Items {
        items: Vec<Value>,
        next: Option<Url>,
    },
}

/// A GitHub API client for one account.
pub struct GithubApi {
    http: HttpClient,
    tokens: Arc<dyn TokenSource>,
    base: Url,
    graphql: Url,
    etags: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl GithubApi {
    pub fn new(
        http: HttpClient,
        tokens: Arc<dyn TokenSource>,
        api_url: &str,
        graphql_url: &str,
    ) -> Result<Self, ConnectorError> {
        let mut base = Url::parse(api_url)
            .map_err(|e| ConnectorError::config(format!("github.api_url: {e}")))?;
        if base.cannot_be_a_base() {
            return Err(ConnectorError::config(
                "github.api_url cannot be a base URL",
            ));
        }
        // Segments are appended to the base's path; drop a trailing '/' first.
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        let graphql = Url::parse(graphql_url)
            .map_err(|e| ConnectorError::config(format!("github.graphql_url: {e}")))?;
        Ok(Self {
            http,
            tokens,
            base,
            graphql,
            etags: Mutex::new(HashMap::new()),
        })
    }

    /// `<api_url>/<seg>/<seg>…`, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> ApiRequest {
        ApiRequest::new(method, url)
            .header(
                ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            )
            .header(
                reqwest::header::HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static("2022-11-28"),
            )
    }

    /// Sends one REST call and returns the answer (2xx).
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<HttpResponse, HttpError> {
        self.send_rest(self.request(method, url), body).await
    }

    /// [`Self::call`] for a call that creates something (a comment, a review): not sent
    /// again when a failure leaves it unclear whether GitHub carried it out.
    pub async fn call_at_most_once(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<HttpResponse, HttpError> {
        self.send_rest(self.request(method, url).at_most_once(true), body)
            .await
    }

    async fn send_rest(
        &self,
        mut req: ApiRequest,
        body: Option<Value>,
    ) -> Result<HttpResponse, HttpError> {
        req.json = body;
        self.http
            .send(&req, Some((self.tokens.as_ref(), AuthScheme::Bearer)))
            .await
    }

    /// A conditional GET of one page of a list endpoint.
    pub async fn list_page(&self, url: Url) -> Result<Page, HttpError> {
        let key = url.to_string();
        let mut req = self.request(Method::GET, url);
        let known = self
            .etags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(etag) = known.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
            req = req.header(IF_NONE_MATCH, etag);
        }
        let response = self
            .http
            .send(&req, Some((self.tokens.as_ref(), AuthScheme::Bearer)))
            .await?;
        if response.status == StatusCode::NOT_MODIFIED {
            return Ok(Page::NotModified);
        }
        if let Some(etag) = response.header("etag") {
            let mut etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
            if etags.len() >= MAX_ETAGS {
                etags.clear();
            }
            etags.insert(key, etag.to_owned());
        }
        let items: Vec<Value> = response.json()?;
        let next = response.header("link").and_then(next_link);
        Ok(Page::Items { items, next })
    }

    /// A GraphQL call; returns `data`, or the first GraphQL error as the failure.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value, CommandError> {
        let req = self
            .request(Method::POST, self.graphql.clone())
            .json(json!({"query": query, "variables": variables}));
        let response = self
            .http
            .send(&req, Some((self.tokens.as_ref(), AuthScheme::Bearer)))
            .await?;
        let body: Value = response.json()?;
        if let Some(message) = body
            .get("errors")
            .and_then(|e| e.get(0))
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
        {
            return Err(CommandError::Service(format!("graphql error: {message}")));
        }
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<Url> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        if !is_next {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        Url::parse(target).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_next_links() {
        let h = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).unwrap().as_str(),
            "https://api.github.com/repositories/1/issues?page=2"
        );
        assert!(next_link(r#"<https://x/?page=1>; rel="prev""#).is_none());
    }
}
