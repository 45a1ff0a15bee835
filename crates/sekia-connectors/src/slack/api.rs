//! Slack's Web API over the retrying [`HttpClient`].
//!
//! Every method is `POST <api_url>/<method>` with the token as
//! `Authorization: Bearer …`. Slack reports failures in the body with HTTP 200
//! (`{"ok": false, "error": "channel_not_found"}`), so a 2xx answer is only a
//! success when `ok` is true; the error code is what the failure says.
//! Rate limits are HTTP 429 with `Retry-After`, which [`HttpClient`] waits out.

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use sekia_accounts::TokenSource;
use serde_json::Value;

use crate::command::CommandError;
use crate::error::ConnectorError;
use crate::http::{ApiRequest, AuthScheme, HttpClient, HttpError};

/// Why a Web API call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SlackError {
    /// No answer, or an HTTP refusal (after the retries).
    #[error("slack {method}: {source}")]
    Http {
        method: String,
        #[source]
        source: HttpError,
    },
    /// Slack answered `ok: false`; `code` is its error code (`channel_not_found`).
    #[error("slack {method}: {code}")]
    Api { method: String, code: String },
}

impl SlackError {
    /// Slack's error code, for an `ok: false` answer.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::Http { .. } => None,
        }
    }

    /// Whether trying again later cannot help (a token Slack refuses, a method the
    /// token may not call): the caller waits longest before retrying.
    pub fn is_auth(&self) -> bool {
        matches!(
            self.code(),
            Some(
                "invalid_auth"
                    | "not_authed"
                    | "account_inactive"
                    | "token_revoked"
                    | "token_expired"
                    | "not_allowed_token_type"
                    | "missing_scope"
            )
        )
    }
}

impl From<SlackError> for CommandError {
    fn from(e: SlackError) -> Self {
        CommandError::Service(e.to_string())
    }
}

/// Who the bot token belongs to (`auth.test`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot's user id (`U…`): its own messages are not events.
    pub user_id: String,
    /// The bot id (`B…`).
    pub bot_id: String,
    pub team: String,
}

/// A Web API client for one workspace.
pub struct SlackApi {
    http: HttpClient,
    base: Url,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl SlackApi {
    pub fn new(http: HttpClient, api_url: &str) -> Result<Self, ConnectorError> {
        let mut base = Url::parse(api_url)
            .map_err(|e| ConnectorError::config(format!("slack.api_url: {e}")))?;
        if base.cannot_be_a_base() {
            return Err(ConnectorError::config("slack.api_url cannot be a base URL"));
        }
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        Ok(Self { http, base })
    }

    /// `<api_url>/<method>`.
    pub fn url(&self, method: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.push(method);
        }
        url
    }

    /// Calls `method` with `body` (JSON) or none, and returns the answer when `ok`.
    pub async fn call(
        &self,
        method: &str,
        token: &dyn TokenSource,
        body: Option<Value>,
    ) -> Result<Value, SlackError> {
        // A second chat.postMessage is a second message in the channel; the other methods
        // we call change nothing more when repeated.
        let mut req = ApiRequest::new(Method::POST, self.url(method))
            .at_most_once(method == "chat.postMessage");
        if let Some(body) = body {
            // Slack wants the charset spelled out for JSON bodies (else a
            // `missing_charset` warning).
            req = req
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )
                .json(body);
        }
        let http_err = |source| SlackError::Http {
            method: method.to_owned(),
            source,
        };
        let response = self
            .http
            .send(&req, Some((token, AuthScheme::Bearer)))
            .await
            .map_err(http_err)?;
        let answer: Value = response.json().map_err(http_err)?;
        if answer.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(answer);
        }
        let code = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_owned();
        Err(SlackError::Api {
            method: method.to_owned(),
            code,
        })
    }

    /// `auth.test` with the bot token: the bot's own user id.
    pub async fn auth_test(&self, bot_token: &dyn TokenSource) -> Result<BotIdentity, SlackError> {
        let answer = self.call("auth.test", bot_token, None).await?;
        let s = |k: &str| {
            answer
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(BotIdentity {
            user_id: s("user_id"),
            bot_id: s("bot_id"),
            team: s("team"),
        })
    }

    /// `apps.connections.open` with the app-level token: a fresh Socket Mode URL
    /// (single use; it carries a ticket, so it is never logged).
    pub async fn open_connection(&self, app_token: &dyn TokenSource) -> Result<String, SlackError> {
        let answer = self.call("apps.connections.open", app_token, None).await?;
        match answer.get("url").and_then(Value::as_str) {
            Some(url) if !url.is_empty() => Ok(url.to_owned()),
            _ => Err(SlackError::Api {
                method: "apps.connections.open".into(),
                code: "no url in the answer".into(),
            }),
        }
    }
}
