//! Google's REST APIs (Gmail v1, Calendar v3) over the retrying [`HttpClient`].
//!
//! URLs are built from segments, each percent-encoded, so an id from a command
//! payload (`a/../b`, a calendar id with `@` and `#`) cannot change the path.
//! Google's error body (`{"error": {"code", "message", "status"}}`) becomes the
//! error text through the shared client.

use std::sync::Arc;

use reqwest::{Method, Url};
use sekia_accounts::TokenSource;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ConnectorError;
use crate::http::{ApiRequest, AuthScheme, HttpClient, HttpError, HttpResponse};

/// A base URL from config, without a trailing `/`, so segments append cleanly.
pub fn base_url(key: &str, value: &str) -> Result<Url, ConnectorError> {
    let mut url = Url::parse(value).map_err(|e| ConnectorError::config(format!("{key}: {e}")))?;
    if url.cannot_be_a_base() {
        return Err(ConnectorError::config(format!(
            "{key} cannot be a base URL"
        )));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

/// `<base>/<seg>/<seg>…`, each segment percent-encoded.
pub fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

/// Authenticated calls for one Google account.
#[derive(Clone)]
pub struct GoogleApi {
    http: HttpClient,
    tokens: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for GoogleApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleApi").finish_non_exhaustive()
    }
}

impl GoogleApi {
    pub fn new(http: HttpClient, tokens: Arc<dyn TokenSource>) -> Self {
        Self { http, tokens }
    }

    /// One call; the answer is a 2xx.
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<HttpResponse, HttpError> {
        self.send(ApiRequest::new(method, url), body).await
    }

    /// [`Self::call`] for a call that creates something (a sent mail, a new event): not
    /// sent again when a failure leaves it unclear whether Google carried it out.
    pub async fn call_at_most_once(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<HttpResponse, HttpError> {
        self.send(ApiRequest::new(method, url).at_most_once(true), body)
            .await
    }

    async fn send(
        &self,
        mut req: ApiRequest,
        body: Option<Value>,
    ) -> Result<HttpResponse, HttpError> {
        req.json = body;
        self.http
            .send(&req, Some((self.tokens.as_ref(), AuthScheme::Bearer)))
            .await
    }

    /// A GET whose answer is read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, HttpError> {
        self.call(Method::GET, url, None).await?.json()
    }
}
