//! A retrying HTTP client shared by the connectors.
//!
//! - 429, 5xx and network errors are retried with exponential backoff and
//!   jitter, up to [`RetryPolicy::max_retries`]. A request marked
//!   [`ApiRequest::at_most_once`] (it creates something: a Slack message, an
//!   issue, a sent mail) is not sent again after a 5xx or a network error that
//!   may have reached the service — a retry could do it twice — and fails with
//!   a message that says so; only a refused connection or a rate limit (the
//!   service did nothing) is retried for it. A server that says how long to
//!   wait (`Retry-After` in seconds or as an HTTP date, or `X-RateLimit-Reset` as
//!   Unix seconds) is obeyed instead, unless that is longer than
//!   [`RetryPolicy::max_wait`]: then the request fails at once rather than
//!   holding the agent's queue for an hour.
//! - Rate limits that are not 429: GitHub's 403 with `x-ratelimit-remaining: 0`
//!   or a `Retry-After`; Google's 403 with reason `rateLimitExceeded` or
//!   `userRateLimitExceeded`; Linear's 400 with the GraphQL error code
//!   `RATELIMITED`.
//! - Any other 4xx fails at once with the service's own message (`message`,
//!   `error_description`, `error`, or `errors[0].message` of the JSON body).
//! - 2xx and 304 (a conditional request that found nothing new) are answers.
//! - The token is fetched from the [`TokenSource`] for every attempt, so a token
//!   refreshed while we wait is the one used. It only ever goes into a header
//!   marked sensitive; no error carries it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use sekia_accounts::TokenSource;
use sekia_protocol::Clock;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How hard to retry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for each next one.
    #[serde(with = "humantime_serde_compat")]
    pub base_delay: Duration,
    /// Longest computed backoff.
    #[serde(with = "humantime_serde_compat")]
    pub max_delay: Duration,
    /// Longest wait a server may ask for (`Retry-After`, rate-limit reset) that we
    /// accept; beyond it the request fails with the service's message.
    #[serde(with = "humantime_serde_compat")]
    pub max_wait: Duration,
    /// Time limit of one attempt.
    #[serde(with = "humantime_serde_compat")]
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0-based), with jitter: a random
    /// point in the upper half of the doubled delay, so agents that failed
    /// together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .base_delay
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max_delay);
        let half = doubled / 2;
        let span = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if span == 0 {
            0
        } else {
            getrandom::u64().unwrap_or(0) % (span + 1)
        };
        half + Duration::from_millis(jitter)
    }
}

/// Durations as Go-style text (`30s`, `500ms`, `1h30m`) in config files.
pub(crate) mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!("{s:?} is not a duration like 30s or 1m: {e}"))
        })
    }
}

/// How a token goes into `Authorization`: the accounts crate's, so an account's scheme is
/// passed through unchanged.
pub use sekia_accounts::AuthScheme;

/// One request; kept whole so that it can be sent again.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub json: Option<Value>,
    /// Sending it twice could do it twice; see the module docs.
    pub at_most_once: bool,
}

impl ApiRequest {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            json: None,
            at_most_once: false,
        }
    }

    /// Marks a request that creates something, so that an answer that leaves it unclear
    /// whether it was carried out is not followed by a second copy.
    pub fn at_most_once(mut self, yes: bool) -> Self {
        self.at_most_once = yes;
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.json = Some(body);
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }
}

/// A final answer (2xx or 304).
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::Decode(format!("unexpected response body: {e}")))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request did not get an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The service refused (4xx) or kept failing (5xx, 429 after the retries).
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// The service could not be reached (after the retries).
    #[error("network error: {0}")]
    Network(String),
    /// No token to send.
    #[error("no usable credentials: {0}")]
    Credentials(String),
    /// An answer we could not read.
    #[error("{0}")]
    Decode(String),
    /// The agent is stopping.
    #[error("cancelled: the agent is stopping")]
    Cancelled,
}

impl HttpError {
    /// The HTTP status, for a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The retrying client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client that stops retrying (and waiting) when `cancel` fires.
    pub fn new(
        user_agent: &str,
        policy: RetryPolicy,
        clock: Arc<dyn Clock>,
        cancel: CancellationToken,
    ) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(policy.attempt_timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| HttpError::Network(e.to_string()))?;
        Ok(Self {
            inner,
            policy,
            clock,
            cancel,
        })
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends `req` (with the token from `tokens`, if any), retrying as the module
    /// docs say, and returns the first 2xx or 304 answer.
    pub async fn send(
        &self,
        req: &ApiRequest,
        tokens: Option<(&dyn TokenSource, AuthScheme)>,
    ) -> Result<HttpResponse, HttpError> {
        let mut retry = 0u32;
        loop {
            let outcome = self.attempt(req, tokens).await;
            let wait = match outcome {
                Attempt::Done(result) => return result,
                Attempt::Retry { error, wait } => {
                    if retry >= self.policy.max_retries || self.cancel.is_cancelled() {
                        return Err(error);
                    }
                    let wait = match wait {
                        Some(w) if w > self.policy.max_wait => {
                            return Err(match error {
                                HttpError::Status { status, message } => HttpError::Status {
                                    status,
                                    message: format!(
                                        "{message} (rate limited; the service asks to wait {}s, more than the {}s allowed)",
                                        w.as_secs(),
                                        self.policy.max_wait.as_secs()
                                    ),
                                },
                                other => other,
                            });
                        }
                        Some(w) => w,
                        None => self.policy.backoff(retry),
                    };
                    tracing::debug!(
                        method = %req.method,
                        path = req.url.path(),
                        retry = retry + 1,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "retrying request"
                    );
                    wait
                }
            };
            retry += 1;
            tokio::select! {
                () = self.cancel.cancelled() => return Err(HttpError::Cancelled),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn attempt(
        &self,
        req: &ApiRequest,
        tokens: Option<(&dyn TokenSource, AuthScheme)>,
    ) -> Attempt {
        let mut builder = self
            .inner
            .request(req.method.clone(), req.url.clone())
            .headers(req.headers.clone());
        if let Some((source, scheme)) = tokens {
            let token = match source.access_token().await {
                Ok(t) => t,
                Err(e) if e.is_transient() => {
                    return Attempt::Retry {
                        error: HttpError::Credentials(e.to_string()),
                        wait: None,
                    };
                }
                Err(e) => return Attempt::Done(Err(HttpError::Credentials(e.to_string()))),
            };
            let text = match scheme {
                AuthScheme::Bearer => format!("Bearer {}", token.expose()),
                AuthScheme::Raw => token.expose().to_owned(),
            };
            let Ok(mut value) = HeaderValue::from_str(&text) else {
                return Attempt::Done(Err(HttpError::Credentials(
                    "the token contains characters that cannot go in a header".into(),
                )));
            };
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        if let Some(body) = &req.json {
            builder = builder.json(body);
        }
        // An attempt under way is not cut off when the agent stops (a half-done
        // write is worse than a short wait, bounded by `attempt_timeout`); only
        // the retries are skipped.
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                // A refused connection sent nothing; any later failure may have been after
                // the service read the request.
                let unsent = e.is_connect();
                // without_url: the URL has no secret, but keep messages short.
                let error = HttpError::Network(e.without_url().to_string());
                return if req.at_most_once && !unsent {
                    Attempt::Done(Err(not_sent_again(error)))
                } else {
                    Attempt::Retry { error, wait: None }
                };
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let error = HttpError::Network(e.without_url().to_string());
                return if req.at_most_once {
                    Attempt::Done(Err(not_sent_again(error)))
                } else {
                    Attempt::Retry { error, wait: None }
                };
            }
        };
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Attempt::Done(Ok(HttpResponse {
                status,
                headers,
                body,
            }));
        }
        let error = HttpError::Status {
            status: status.as_u16(),
            message: service_message(&body, status),
        };
        if is_rate_limit(status, &headers, &body) {
            let wait = server_wait(&headers, self.clock.now());
            Attempt::Retry { error, wait }
        } else if status.is_server_error() && req.at_most_once {
            Attempt::Done(Err(not_sent_again(error)))
        } else if status.is_server_error() {
            let wait = server_wait(&headers, self.clock.now());
            Attempt::Retry { error, wait }
        } else {
            Attempt::Done(Err(error))
        }
    }
}

/// The failure of an at-most-once request, saying why it was not retried.
fn not_sent_again(error: HttpError) -> HttpError {
    const WHY: &str = "not sent again: the service may have carried it out";
    match error {
        HttpError::Status { status, message } => HttpError::Status {
            status,
            message: format!("{message} ({WHY})"),
        },
        HttpError::Network(m) => HttpError::Network(format!("{m} ({WHY})")),
        other => other,
    }
}

/// Whether a refusal is a rate limit (wait and try again) rather than a final no.
pub fn is_rate_limit(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::FORBIDDEN => {
            header_str(headers, "x-ratelimit-remaining") == Some("0")
                || headers.contains_key("retry-after")
                || google_reason(body)
                    .is_some_and(|r| r == "rateLimitExceeded" || r == "userRateLimitExceeded")
        }
        StatusCode::BAD_REQUEST => graphql_code(body).is_some_and(|c| c == "RATELIMITED"),
        _ => false,
    }
}

/// Google's `error.errors[0].reason`.
fn google_reason(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/errors/0/reason")?
        .as_str()
        .map(str::to_owned)
}

/// A GraphQL answer's `errors[0].extensions.code`.
fn graphql_code(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/errors/0/extensions/code")?
        .as_str()
        .map(str::to_owned)
}

enum Attempt {
    Done(Result<HttpResponse, HttpError>),
    Retry {
        error: HttpError,
        wait: Option<Duration>,
    },
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// How long the server asked us to wait: `Retry-After` (seconds or HTTP date),
/// else `X-RateLimit-Reset` (Unix seconds) when the limit is used up.
pub fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(v) = header_str(headers, "retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(v) {
            let at = SystemTime::from(at);
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    let remaining = header_str(headers, "x-ratelimit-remaining");
    if remaining.is_some_and(|r| r != "0") {
        return None;
    }
    let reset = header_str(headers, "x-ratelimit-reset")?
        .parse::<u64>()
        .ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
    // One second more: the reset time is rounded down to the second.
    Some(at.duration_since(now).unwrap_or(Duration::ZERO) + Duration::from_secs(1))
}

/// The service's explanation of a refusal, from the usual JSON error shapes,
/// else the start of the body, else the status text.
pub fn service_message(body: &[u8], status: StatusCode) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let first_error = v
            .get("errors")
            .and_then(|e| e.get(0))
            .and_then(|e| e.get("message").or_else(|| e.get("code")))
            .and_then(Value::as_str);
        let message = ["message", "error_description", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            // Google: {"error": {"code": 404, "message": "…", "status": "NOT_FOUND"}}
            .or_else(|| v.pointer("/error/message").and_then(Value::as_str));
        match (message, first_error) {
            (Some(m), Some(e)) if m != e => return format!("{m}: {e}"),
            (Some(m), _) => return m.to_owned(),
            (None, Some(e)) => return e.to_owned(),
            (None, None) => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no message").to_owned();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_from_headers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(server_wait(&h, now), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Tue, 14 Nov 2023 22:13:30 GMT"),
        );
        assert_eq!(server_wait(&h, now), Some(Duration::from_secs(10)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000005"));
        assert_eq!(server_wait(&h, now), Some(Duration::from_secs(6)));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        assert_eq!(server_wait(&h, now), None);
    }

    #[test]
    fn messages_from_bodies() {
        let s = StatusCode::NOT_FOUND;
        assert_eq!(
            service_message(br#"{"message":"Not Found"}"#, s),
            "Not Found"
        );
        assert_eq!(
            service_message(
                br#"{"message":"Validation Failed","errors":[{"code":"invalid"}]}"#,
                s
            ),
            "Validation Failed: invalid"
        );
        assert_eq!(service_message(br#"{"errors":[{"message":"x"}]}"#, s), "x");
        assert_eq!(service_message(b"", s), "Not Found");
        assert_eq!(service_message(b"plain", s), "plain");
        assert_eq!(
            service_message(
                br#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#,
                s
            ),
            "Requested entity was not found."
        );
    }

    #[test]
    fn rate_limits_in_each_services_shape() {
        let none = HeaderMap::new();
        let google = br#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"status":"PERMISSION_DENIED"}}"#;
        assert!(is_rate_limit(StatusCode::FORBIDDEN, &none, google));
        let denied = br#"{"error":{"code":403,"message":"Insufficient Permission","errors":[{"reason":"insufficientPermissions"}]}}"#;
        assert!(!is_rate_limit(StatusCode::FORBIDDEN, &none, denied));
        let linear = br#"{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}"#;
        assert!(is_rate_limit(StatusCode::BAD_REQUEST, &none, linear));
        let invalid = br#"{"errors":[{"message":"bad","extensions":{"code":"INVALID_INPUT"}}]}"#;
        assert!(!is_rate_limit(StatusCode::BAD_REQUEST, &none, invalid));
        let mut github = HeaderMap::new();
        github.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert!(is_rate_limit(StatusCode::FORBIDDEN, &github, b"{}"));
        assert!(is_rate_limit(StatusCode::TOO_MANY_REQUESTS, &none, b""));
        assert!(!is_rate_limit(StatusCode::NOT_FOUND, &github, b""));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d3 = p.backoff(3);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800));
            let d9 = p.backoff(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000));
        }
    }
}
