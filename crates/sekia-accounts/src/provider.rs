//! The services sekia can hold accounts for, with the OAuth details each needs.
//!
//! The table is code, not config, so a fresh install knows the endpoints; every field a user
//! may need to change (a Google Workspace tenant, a GitHub Enterprise host, their own OAuth
//! app) can be overridden with [`ProviderOverrides`], which the daemon reads from its config.
//! sekia ships no client ids: an OAuth app is registered by the user (or the packager) and its
//! id given here.

use serde::{Deserialize, Serialize};

use crate::error::AccountError;
use crate::secret::Secret;

/// What can be pasted instead of signing in in the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastedToken {
    /// A GitHub fine-grained personal access token (`github_pat_…`).
    GithubPat,
    /// A Linear personal API key (`lin_api_…`).
    LinearApiKey,
    /// A Slack bot token (`xoxb-…`) plus an app-level token (`xapp-…`), checked with
    /// `auth.test` before saving.
    SlackBotAndAppToken,
}

/// One service's OAuth settings.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Stable id, used in account ids and config keys: `google`, `github`, ...
    pub id: String,
    /// For messages.
    pub display_name: String,
    pub auth_url: String,
    pub token_url: String,
    /// RFC 7009 revocation endpoint, where the provider has one.
    pub revocation_url: Option<String>,
    pub scopes: Vec<String>,
    /// How scopes are joined in the `scope` parameter (Linear wants commas).
    pub scope_separator: &'static str,
    /// Whether to send a PKCE S256 challenge.
    pub pkce: bool,
    /// Extra query parameters for the authorization URL.
    pub extra_auth_params: Vec<(String, String)>,
    /// False where accounts are added by pasting tokens only.
    pub browser_sign_in: bool,
    /// What may be pasted instead of signing in.
    pub pasted: Option<PastedToken>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// The service's API, for the identity lookup and for checking pasted tokens (GitHub's
    /// REST root, Slack's Web API root, Linear's GraphQL endpoint, Gmail's API root).
    pub api_url: String,
    /// An HTTPS page the user controls, registered as the OAuth redirect, that forwards the
    /// browser to the loopback listener: for Slack, which refuses `http://localhost`
    /// redirects. See [`crate::flow`] for what the page must do.
    pub redirect_url: Option<String>,
}

/// Config overrides for one provider; every field optional. `client_secret` may be an
/// `ENC[...]` value in the config file: the daemon decrypts it before this is deserialized.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverrides {
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub revocation_url: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub api_url: Option<String>,
    /// Slack: the HTTPS redirect page (`accounts.slack.redirect_url`); setting it turns on
    /// Slack's browser sign-in (OAuth v2).
    pub redirect_url: Option<String>,
}

/// The ids of the built-in providers.
pub const BUILTIN: [&str; 4] = ["google", "github", "linear", "slack"];

/// A built-in provider by id.
pub fn builtin(id: &str) -> Option<Provider> {
    let p = |display_name: &str,
             auth_url: &str,
             token_url: &str,
             revocation_url: Option<&str>,
             api_url: &str,
             scopes: &[&str]| Provider {
        id: id.to_owned(),
        display_name: display_name.to_owned(),
        auth_url: auth_url.to_owned(),
        token_url: token_url.to_owned(),
        revocation_url: revocation_url.map(str::to_owned),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        scope_separator: " ",
        pkce: true,
        extra_auth_params: Vec::new(),
        browser_sign_in: true,
        pasted: None,
        client_id: None,
        client_secret: None,
        api_url: api_url.to_owned(),
        redirect_url: None,
    };
    Some(match id {
        "google" => Provider {
            // offline + consent: without them Google gives a refresh token only on the very
            // first consent, and a reconnect would come back without one.
            extra_auth_params: vec![
                ("access_type".into(), "offline".into()),
                ("prompt".into(), "consent".into()),
            ],
            ..p(
                "Google",
                "https://accounts.google.com/o/oauth2/v2/auth",
                "https://oauth2.googleapis.com/token",
                Some("https://oauth2.googleapis.com/revoke"),
                "https://gmail.googleapis.com",
                &[
                    "https://www.googleapis.com/auth/gmail.modify",
                    "https://www.googleapis.com/auth/gmail.send",
                    "https://www.googleapis.com/auth/calendar",
                ],
            )
        },
        // GitHub's revocation is DELETE /applications/{client_id}/token with basic auth, not
        // RFC 7009, so no revocation_url. OAuth-app tokens do not expire unless the app opts in.
        "github" => Provider {
            pasted: Some(PastedToken::GithubPat),
            ..p(
                "GitHub",
                "https://github.com/login/oauth/authorize",
                "https://github.com/login/oauth/access_token",
                None,
                "https://api.github.com",
                &["repo", "read:user"],
            )
        },
        "linear" => Provider {
            scope_separator: ",",
            pasted: Some(PastedToken::LinearApiKey),
            ..p(
                "Linear",
                "https://linear.app/oauth/authorize",
                "https://api.linear.app/oauth/token",
                Some("https://api.linear.app/oauth/revoke"),
                "https://api.linear.app/graphql",
                &["read", "write"],
            )
        },
        // Slack accounts are added by pasting a bot token and an app-level token; OAuth v2
        // (the bot token; the app-level token for Socket Mode cannot come from OAuth and is
        // pasted with it) turns on with an HTTPS `redirect_url`, since Slack refuses
        // http://localhost redirects. Scopes: what the connector's events and commands need.
        "slack" => Provider {
            pkce: false,
            browser_sign_in: false,
            pasted: Some(PastedToken::SlackBotAndAppToken),
            scope_separator: ",",
            ..p(
                "Slack",
                "https://slack.com/oauth/v2/authorize",
                "https://slack.com/api/oauth.v2.access",
                None,
                "https://slack.com/api",
                &[
                    "app_mentions:read",
                    "channels:history",
                    "channels:read",
                    "chat:write",
                    "groups:history",
                    "im:history",
                    "mpim:history",
                    "reactions:read",
                    "reactions:write",
                ],
            )
        },
        _ => return None,
    })
}

impl Provider {
    /// This provider with the set fields of `o` replacing its own.
    pub fn with_overrides(mut self, o: &ProviderOverrides) -> Provider {
        if let Some(v) = &o.auth_url {
            self.auth_url = v.clone();
        }
        if let Some(v) = &o.token_url {
            self.token_url = v.clone();
        }
        if let Some(v) = &o.revocation_url {
            self.revocation_url = Some(v.clone());
        }
        if let Some(v) = &o.scopes {
            self.scopes = v.clone();
        }
        if let Some(v) = &o.client_id {
            self.client_id = Some(v.clone());
        }
        if let Some(v) = &o.client_secret {
            self.client_secret = Some(v.clone());
        }
        if let Some(v) = &o.api_url {
            self.api_url = v.trim_end_matches('/').to_owned();
        }
        if let Some(v) = o.redirect_url.as_deref().filter(|v| !v.trim().is_empty()) {
            self.redirect_url = Some(v.trim().to_owned());
            self.browser_sign_in = true;
        }
        self
    }

    /// Whether browser sign-in can start: the provider offers it and a client id is set.
    pub fn can_sign_in(&self) -> bool {
        self.browser_sign_in && self.require_client_id().is_ok()
    }

    /// The client id, or an error saying where to set it.
    pub(crate) fn require_client_id(&self) -> Result<&str, AccountError> {
        self.client_id
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| AccountError::NoClientId {
                provider: self.display_name.clone(),
            })
    }

    /// Parses an endpoint, refusing plain http except to a loopback host: tokens and client
    /// secrets cross these connections.
    pub(crate) fn endpoint(
        &self,
        which: &'static str,
        url: &str,
    ) -> Result<reqwest::Url, AccountError> {
        let bad = |reason| AccountError::BadEndpoint {
            provider: self.display_name.clone(),
            which,
            url: url.to_owned(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|_| bad("not a valid URL"))?;
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" => match parsed.host_str() {
                Some("127.0.0.1" | "localhost" | "[::1]") => Ok(parsed),
                _ => Err(bad(
                    "plain http is only allowed to 127.0.0.1/localhost; use https",
                )),
            },
            _ => Err(bad("the scheme must be https")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_complete() {
        for id in BUILTIN {
            let p = builtin(id).unwrap();
            assert_eq!(p.id, id);
            assert!(p.endpoint("auth URL", &p.auth_url).is_ok(), "{id}");
            assert!(p.endpoint("token URL", &p.token_url).is_ok(), "{id}");
            assert!(p.endpoint("API URL", &p.api_url).is_ok(), "{id}");
            if let Some(r) = &p.revocation_url {
                assert!(p.endpoint("revocation URL", r).is_ok(), "{id}");
            }
        }
        assert!(builtin("myspace").is_none());
        let google = builtin("google").unwrap();
        assert!(google.pkce);
        assert!(google.scopes.iter().any(|s| s.ends_with("gmail.modify")));
        assert!(
            google
                .extra_auth_params
                .contains(&("access_type".into(), "offline".into()))
        );
        assert!(!builtin("slack").unwrap().browser_sign_in);
        assert_eq!(builtin("linear").unwrap().scope_separator, ",");
    }

    #[test]
    fn overrides_replace_only_what_is_set() {
        let o: ProviderOverrides = serde_json::from_str(
            r#"{"token_url": "https://gh.example.com/token", "client_id": "abc", "client_secret": "s3cr3t"}"#,
        )
        .unwrap();
        let p = builtin("github").unwrap().with_overrides(&o);
        assert_eq!(p.token_url, "https://gh.example.com/token");
        assert_eq!(p.auth_url, "https://github.com/login/oauth/authorize");
        assert_eq!(p.client_id.as_deref(), Some("abc"));
        assert_eq!(p.client_secret.as_ref().unwrap().expose(), "s3cr3t");
        assert!(!format!("{o:?} {p:?}").contains("s3cr3t"));
        assert!(serde_json::from_str::<ProviderOverrides>(r#"{"client_secert": "x"}"#).is_err());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let p = builtin("google").unwrap();
        assert!(p.endpoint("token URL", "http://127.0.0.1:9/token").is_ok());
        assert!(p.endpoint("token URL", "http://example.com/token").is_err());
        assert!(p.endpoint("token URL", "ftp://example.com/token").is_err());
        assert!(p.require_client_id().is_err());
    }
}
