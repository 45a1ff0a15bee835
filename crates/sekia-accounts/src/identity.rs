//! Who a token belongs to, asked of the service itself: the check that a pasted token works
//! before it is stored, and the "connected as …" the account shows after a sign-in.

use serde_json::Value;

use crate::error::AccountError;
use crate::provider::Provider;
use crate::secret::Secret;

/// Answers beyond this are not identity answers.
const MAX_BODY: usize = 256 * 1024;

/// How the token goes into the `Authorization` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <token>` (OAuth tokens, GitHub PATs, Slack tokens).
    Bearer,
    /// `Authorization: <token>` (Linear personal API keys).
    Raw,
}

/// The account's name at the service: a GitHub login, a Google e-mail address, a Linear
/// e-mail, a Slack workspace and bot user.
pub async fn look_up(
    http: &reqwest::Client,
    provider: &Provider,
    token: &Secret,
    scheme: AuthScheme,
) -> Result<String, AccountError> {
    let api = provider.api_url.trim_end_matches('/');
    let json = match provider.id.as_str() {
        "github" => get(http, provider, &format!("{api}/user"), token, scheme).await?,
        "google" => {
            get(
                http,
                provider,
                &format!("{api}/gmail/v1/users/me/profile"),
                token,
                scheme,
            )
            .await?
        }
        "linear" => {
            let query =
                serde_json::json!({"query": "{ viewer { name email } organization { name } }"});
            post(http, provider, api, token, scheme, Body::Json(&query)).await?
        }
        "slack" => {
            let json = post(
                http,
                provider,
                &format!("{api}/auth.test"),
                token,
                scheme,
                Body::Empty,
            )
            .await?;
            slack_ok(provider, &json, "the bot token (xoxb-…)")?;
            json
        }
        _ => serde_json::json!({}),
    };
    identity_of(provider, &json).ok_or_else(|| AccountError::ApiRejected {
        provider: provider.display_name.clone(),
        message: "its answer did not say who the token belongs to".into(),
    })
}

/// Checks a Slack app-level token (`xapp-…`) by asking for a Socket Mode URL, the one call
/// such a token is for (`auth.test` refuses app-level tokens). The URL is not used.
pub async fn check_slack_app_token(
    http: &reqwest::Client,
    provider: &Provider,
    token: &Secret,
) -> Result<(), AccountError> {
    let api = provider.api_url.trim_end_matches('/');
    let json = post(
        http,
        provider,
        &format!("{api}/apps.connections.open"),
        token,
        AuthScheme::Bearer,
        Body::Empty,
    )
    .await?;
    slack_ok(provider, &json, "the app-level token (xapp-…)")
}

fn identity_of(provider: &Provider, json: &Value) -> Option<String> {
    let s = |v: &Value, path: &[&str]| -> Option<String> {
        let mut at = v;
        for k in path {
            at = at.get(k)?;
        }
        at.as_str().filter(|t| !t.is_empty()).map(str::to_owned)
    };
    match provider.id.as_str() {
        "github" => s(json, &["login"]),
        "google" => s(json, &["emailAddress"]),
        "linear" => {
            let who = s(json, &["data", "viewer", "email"])
                .or_else(|| s(json, &["data", "viewer", "name"]))?;
            Some(match s(json, &["data", "organization", "name"]) {
                Some(org) => format!("{who} ({org})"),
                None => who,
            })
        }
        "slack" => {
            let team = s(json, &["team"])?;
            Some(match s(json, &["user"]) {
                Some(user) => format!("{team} (bot {user})"),
                None => team,
            })
        }
        _ => None,
    }
}

fn slack_ok(provider: &Provider, json: &Value, which: &str) -> Result<(), AccountError> {
    if json.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let code = json
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("no error code");
    let hint = match code {
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked" => {
            "check that it was copied whole and that the app is still installed"
        }
        "not_allowed_token_type" => "this kind of token does not belong here",
        _ => "check the token and the app's settings",
    };
    Err(AccountError::ApiRejected {
        provider: provider.display_name.clone(),
        message: format!(
            "{} refused {which} ({}); {hint}",
            provider.display_name,
            clip(code)
        ),
    })
}

pub(crate) enum Body<'a> {
    Empty,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

async fn get(
    http: &reqwest::Client,
    provider: &Provider,
    url: &str,
    token: &Secret,
    scheme: AuthScheme,
) -> Result<Value, AccountError> {
    let url = provider.endpoint("API URL", url)?;
    send(provider, authorize(http.get(url), token, scheme)).await
}

pub(crate) async fn post(
    http: &reqwest::Client,
    provider: &Provider,
    url: &str,
    token: &Secret,
    scheme: AuthScheme,
    body: Body<'_>,
) -> Result<Value, AccountError> {
    let url = provider.endpoint("API URL", url)?;
    let request = authorize(http.post(url), token, scheme);
    let request = match body {
        Body::Empty => request.header(reqwest::header::CONTENT_LENGTH, "0"),
        Body::Json(v) => request.json(v),
        Body::Form(f) => request.form(f),
    };
    send(provider, request).await
}

fn authorize(
    request: reqwest::RequestBuilder,
    token: &Secret,
    scheme: AuthScheme,
) -> reqwest::RequestBuilder {
    let value = match scheme {
        AuthScheme::Bearer => format!("Bearer {}", token.expose()),
        AuthScheme::Raw => token.expose().to_owned(),
    };
    request
        .header(reqwest::header::AUTHORIZATION, value)
        .header(reqwest::header::ACCEPT, "application/json")
        // GitHub refuses requests without a User-Agent.
        .header(reqwest::header::USER_AGENT, "sekia")
}

/// Sends and reads a JSON answer; a 4xx is the service refusing the token, with its message.
pub(crate) async fn send(
    provider: &Provider,
    request: reqwest::RequestBuilder,
) -> Result<Value, AccountError> {
    let unreachable = |message: String| AccountError::ApiUnreachable {
        provider: provider.display_name.clone(),
        message,
    };
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(crate::token_endpoint::describe_reqwest(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| unreachable(crate::token_endpoint::describe_reqwest(&e)))?;
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(unreachable(format!("it answered HTTP {}", status.as_u16())));
    }
    let json: Value = if body.is_empty() || body.len() > MAX_BODY {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    if !status.is_success() {
        // GitHub and Google put the reason in `message` / `error.message`; Linear in
        // `errors[0].message`.
        let reason = json
            .get("message")
            .or_else(|| json.pointer("/error/message"))
            .or_else(|| json.pointer("/errors/0/message"))
            .and_then(Value::as_str)
            .map(clip)
            .unwrap_or_else(|| "no reason given".into());
        let hint = if matches!(status.as_u16(), 401 | 403) {
            "; check that the token was copied whole, has not expired and has the scopes sekia needs"
        } else {
            ""
        };
        return Err(AccountError::ApiRejected {
            provider: provider.display_name.clone(),
            message: format!(
                "{} did not accept the token (HTTP {}: {reason}){hint}",
                provider.display_name,
                status.as_u16()
            ),
        });
    }
    Ok(json)
}

/// A service's message, cut short: it goes into an error the UI shows.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_from_documented_answers() {
        let p = |id| crate::provider::builtin(id).unwrap();
        let gh = serde_json::json!({"login": "octocat", "id": 1});
        assert_eq!(identity_of(&p("github"), &gh).as_deref(), Some("octocat"));
        let google = serde_json::json!({"emailAddress": "me@example.com", "historyId": "1"});
        assert_eq!(
            identity_of(&p("google"), &google).as_deref(),
            Some("me@example.com")
        );
        let linear = serde_json::json!({"data": {"viewer": {"name": "Ann", "email": "ann@acme.io"}, "organization": {"name": "Acme"}}});
        assert_eq!(
            identity_of(&p("linear"), &linear).as_deref(),
            Some("ann@acme.io (Acme)")
        );
        let slack =
            serde_json::json!({"ok": true, "team": "Acme", "user": "sekia", "team_id": "T1"});
        assert_eq!(
            identity_of(&p("slack"), &slack).as_deref(),
            Some("Acme (bot sekia)")
        );
        assert!(identity_of(&p("github"), &serde_json::json!({})).is_none());
    }

    #[test]
    fn slack_errors_say_which_token_and_what_to_do() {
        let p = crate::provider::builtin("slack").unwrap();
        let e = slack_ok(
            &p,
            &serde_json::json!({"ok": false, "error": "invalid_auth"}),
            "the bot token (xoxb-…)",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bot token") && e.contains("invalid_auth"), "{e}");
    }
}
