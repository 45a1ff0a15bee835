//! Token values and the names of accounts.
//!
//! A token is only ever held in a [`Secret`] (sekia-protocol's, shared with the config), whose
//! `Debug` and `Display` never print the value, so a token cannot end up in a log line or an
//! error message by formatting something that holds it.

use std::fmt;
use std::time::Duration;

use crate::error::AccountError;
pub use sekia_protocol::Secret;

/// What a sign-in or refresh yields.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: Secret,
    /// Absent for providers whose tokens do not expire (GitHub OAuth apps) or are not renewable.
    pub refresh_token: Option<Secret>,
    /// Unix seconds, from the injected clock plus `expires_in`; `None`: no expiry given.
    pub expires_at: Option<i64>,
    /// The scopes granted (the provider's answer, else those asked for).
    pub scopes: Vec<String>,
    /// Usually `Bearer`.
    pub token_type: String,
}

impl TokenSet {
    /// Whether the access token expires within `margin` of `now` (unix seconds).
    pub fn expires_within(&self, now: i64, margin: Duration) -> bool {
        let margin = i64::try_from(margin.as_secs()).unwrap_or(i64::MAX);
        self.expires_at
            .is_some_and(|at| now.saturating_add(margin) >= at)
    }

    /// Whether the access token is past its expiry at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// One account: a provider plus a name the user tells accounts of one service apart by
/// (usually the e-mail or login). Several accounts per provider are fine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId {
    provider: String,
    name: String,
}

impl AccountId {
    /// `provider` is a provider id (`[a-z0-9_-]+`); `name` is any non-empty text without
    /// control characters.
    pub fn new(provider: &str, name: &str) -> Result<Self, AccountError> {
        let provider_ok = !provider.is_empty()
            && provider
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !provider_ok {
            return Err(AccountError::InvalidAccountId {
                reason: "the provider id must be lowercase letters, digits, '-' or '_'",
            });
        }
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(AccountError::InvalidAccountId {
                reason: "the account name must be non-empty text without control characters",
            });
        }
        Ok(Self {
            provider: provider.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("tok-123");
        assert!(!format!("{s} {s:?}").contains("tok-123"));
        assert_eq!(s.expose(), "tok-123");
    }

    #[test]
    fn expiry_with_margin() {
        let t = TokenSet {
            access_token: Secret::new("a"),
            refresh_token: None,
            expires_at: Some(1000),
            scopes: vec![],
            token_type: "Bearer".into(),
        };
        let five = Duration::from_secs(300);
        assert!(!t.expires_within(699, five));
        assert!(t.expires_within(700, five));
        assert!(!t.is_expired(999));
        assert!(t.is_expired(1000));
        let forever = TokenSet {
            expires_at: None,
            ..t
        };
        assert!(!forever.expires_within(i64::MAX - 1, five));
    }

    #[test]
    fn account_ids() {
        assert!(AccountId::new("google", "me@example.com").is_ok());
        assert!(AccountId::new("Google", "x").is_err());
        assert!(AccountId::new("google", " ").is_err());
        assert!(AccountId::new("google", "a\nb").is_err());
        assert_eq!(
            AccountId::new("github", "octo").unwrap().to_string(),
            "github:octo"
        );
    }
}
