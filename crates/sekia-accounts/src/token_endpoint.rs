//! The token endpoint (RFC 6749 §4.1.3 and §6): exchanging a code and refreshing, and reading
//! the answer into a [`TokenSet`] or an error the caller can decide on.
//!
//! Client authentication is `client_secret_post` (id and secret in the form), which Google,
//! GitHub and Linear all take. `Accept: application/json` makes GitHub answer JSON instead of
//! a form. An `error` field wins over the status, because GitHub reports errors with 200.

use std::sync::Arc;

use sekia_protocol::clock::Clock;
use serde_json::Value;

use crate::error::AccountError;
use crate::provider::Provider;
use crate::secret::{Secret, TokenSet};

/// What to exchange.
pub(crate) enum Grant<'a> {
    Code {
        code: &'a str,
        redirect_uri: &'a str,
        verifier: Option<&'a str>,
    },
    Refresh {
        refresh_token: &'a Secret,
    },
}

/// Bodies beyond this are not token responses.
const MAX_BODY: usize = 64 * 1024;

pub(crate) async fn request(
    http: &reqwest::Client,
    provider: &Provider,
    clock: &Arc<dyn Clock>,
    grant: Grant<'_>,
) -> Result<TokenSet, AccountError> {
    let url = provider.endpoint("token URL", &provider.token_url)?;
    let client_id = provider.require_client_id()?;
    let mut form: Vec<(&str, &str)> = vec![("client_id", client_id)];
    if let Some(secret) = &provider.client_secret {
        form.push(("client_secret", secret.expose()));
    }
    // The secret we send, so it can be scrubbed from a provider's error description.
    let sent: Option<&str> = match &grant {
        Grant::Code {
            code,
            redirect_uri,
            verifier,
        } => {
            form.push(("grant_type", "authorization_code"));
            form.push(("code", code));
            form.push(("redirect_uri", redirect_uri));
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            Some(code)
        }
        Grant::Refresh { refresh_token } => {
            form.push(("grant_type", "refresh_token"));
            form.push(("refresh_token", refresh_token.expose()));
            Some(refresh_token.expose())
        }
    };
    let name = &provider.display_name;
    let unreachable = |message: String| AccountError::Unreachable {
        provider: name.clone(),
        message,
    };
    let response = http
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| unreachable(describe_reqwest(&e)))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(unreachable(format!("it answered HTTP {}", status.as_u16())));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| unreachable(describe_reqwest(&e)))?;
    let bad = |what: &str| AccountError::BadTokenResponse {
        provider: name.clone(),
        what: what.to_owned(),
    };
    if body.len() > MAX_BODY {
        return Err(bad("the answer is too large"));
    }
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str);

    if let Some(code) = field("error") {
        let scrub = |text: &str| {
            let mut t: String = text.chars().take(300).collect();
            for s in [sent, field("access_token"), field("refresh_token")]
                .into_iter()
                .flatten()
            {
                if !s.is_empty() {
                    t = t.replace(s, "***");
                }
            }
            t
        };
        return Err(AccountError::TokenEndpoint {
            provider: name.clone(),
            status: status.as_u16(),
            code: scrub(code),
            description: field("error_description").map(scrub),
        });
    }
    if !status.is_success() {
        return Err(AccountError::TokenEndpoint {
            provider: name.clone(),
            status: status.as_u16(),
            code: "no OAuth error code".into(),
            description: None,
        });
    }
    let Some(json) = json.as_ref().filter(|j| j.is_object()) else {
        return Err(bad("not a JSON object"));
    };
    let access_token = field("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token"))?;
    // expires_in is a number, but some providers send it as a string.
    let expires_in = match json.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    let scopes = match field("scope") {
        // GitHub separates with commas, everyone else with spaces.
        Some(s) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => provider.scopes.clone(),
    };
    Ok(TokenSet {
        access_token: Secret::new(access_token),
        refresh_token: field("refresh_token")
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        expires_at: expires_in.map(|s| clock.unix_secs().saturating_add(s.max(0))),
        scopes,
        token_type: field("token_type").unwrap_or("Bearer").to_owned(),
    })
}

/// A reqwest error without its URL, with its causes (connection refused, timeout, ...).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
