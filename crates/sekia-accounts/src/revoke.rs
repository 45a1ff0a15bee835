//! Revoking a token at the provider when an account is disconnected, where the provider
//! offers it: RFC 7009 endpoints (Google, Linear), Slack's `auth.revoke`, GitHub's
//! `DELETE /applications/{client_id}/token` for tokens of the user's own OAuth app.

use crate::error::AccountError;
use crate::identity::{self, AuthScheme, Body};
use crate::provider::Provider;
use crate::secret::{Secret, TokenSet};

/// What happened to the token at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The provider confirmed it no longer accepts the token.
    Revoked,
    /// The provider offers no way for sekia to revoke it; the text says what the user can do.
    NotOffered(String),
}

/// Revokes `tokens` (the refresh token where there is one: that ends the whole grant).
pub async fn revoke(
    http: &reqwest::Client,
    provider: &Provider,
    tokens: &TokenSet,
    pasted: bool,
) -> Result<Revocation, AccountError> {
    let api = provider.api_url.trim_end_matches('/');
    match provider.id.as_str() {
        "slack" => {
            let json = identity::post(
                http,
                provider,
                &format!("{api}/auth.revoke"),
                &tokens.access_token,
                AuthScheme::Bearer,
                Body::Empty,
            )
            .await?;
            if json.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
                Ok(Revocation::Revoked)
            } else {
                Err(AccountError::ApiRejected {
                    provider: provider.display_name.clone(),
                    message: "Slack did not revoke the bot token; remove the app from the workspace to be sure".into(),
                })
            }
        }
        "github" => match (&provider.client_id, &provider.client_secret) {
            (Some(id), Some(secret)) if !pasted => {
                let url =
                    provider.endpoint("API URL", &format!("{api}/applications/{id}/token"))?;
                let request = http
                    .delete(url)
                    .basic_auth(id, Some(secret.expose()))
                    .header(reqwest::header::USER_AGENT, "sekia")
                    .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                    .json(&serde_json::json!({"access_token": tokens.access_token.expose()}));
                identity::send(provider, request).await?;
                Ok(Revocation::Revoked)
            }
            _ => Ok(Revocation::NotOffered(
                "GitHub offers no way to revoke this token from sekia; delete it at \
                 https://github.com/settings/tokens (or under the OAuth app's settings)"
                    .into(),
            )),
        },
        _ => match &provider.revocation_url {
            Some(url) if !pasted => {
                let token: &Secret = tokens
                    .refresh_token
                    .as_ref()
                    .unwrap_or(&tokens.access_token);
                let hint = if tokens.refresh_token.is_some() {
                    "refresh_token"
                } else {
                    "access_token"
                };
                let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
                if let Some(id) = &provider.client_id {
                    form.push(("client_id", id));
                }
                if let Some(secret) = &provider.client_secret {
                    form.push(("client_secret", secret.expose()));
                }
                identity::post(
                    http,
                    provider,
                    url,
                    &tokens.access_token,
                    AuthScheme::Bearer,
                    Body::Form(&form),
                )
                .await?;
                Ok(Revocation::Revoked)
            }
            _ => Ok(Revocation::NotOffered(format!(
                "{} offers no way to revoke this token from sekia; revoke it in the service's settings",
                provider.display_name
            ))),
        },
    }
}
