//! What can go wrong with an account, each message saying what the user can do about it.
//!
//! No variant holds a token: fields are provider names, OAuth error codes, the provider's
//! `error_description` (scrubbed of any token we sent), paths and OS errors.

use std::path::PathBuf;
use std::time::Duration;

/// An error from signing in, storing tokens or refreshing them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// An account id with an unusable provider id or name.
    #[error("invalid account id: {reason}")]
    InvalidAccountId { reason: &'static str },

    /// The provider has no OAuth client id configured.
    #[error(
        "no OAuth client id for {provider}: register an OAuth app with the provider and set its \
         client_id (and client_secret, if it has one) in the {provider} provider settings"
    )]
    NoClientId { provider: String },

    /// The provider is added by pasting a token, not by signing in in the browser.
    #[error("{provider} accounts are not added by browser sign-in: {instead}")]
    NoBrowserSignIn {
        provider: String,
        instead: &'static str,
    },

    /// An endpoint URL that cannot be used.
    #[error(
        "the {which} of {provider} ({url}) cannot be used: {reason}; fix it in the provider settings"
    )]
    BadEndpoint {
        provider: String,
        which: &'static str,
        url: String,
        reason: &'static str,
    },

    /// The loopback listener could not be opened.
    #[error("cannot listen on 127.0.0.1 for the sign-in redirect: {source}")]
    Listen {
        #[source]
        source: std::io::Error,
    },

    /// The redirect did not carry the `state` we sent: possibly forged.
    #[error(
        "the sign-in redirect did not carry the expected state, so it was rejected; start the \
         sign-in again (if this keeps happening, another program may be sending requests to the \
         sign-in page)"
    )]
    StateMismatch,

    /// The user said no in the browser.
    #[error(
        "sign-in was cancelled in the browser; start it again and approve access to {provider} to connect the account"
    )]
    AccessDenied { provider: String },

    /// The provider's authorization endpoint answered with an error other than `access_denied`.
    #[error("{provider} refused the sign-in ({code}{}); check the provider settings (client id, scopes, redirect) and try again", describe(.description))]
    Authorization {
        provider: String,
        code: String,
        description: Option<String>,
    },

    /// The redirect had neither a code nor an error.
    #[error("the sign-in redirect carried no authorization code; start the sign-in again")]
    MissingCode,

    /// Nobody came back from the browser in time.
    #[error("no answer from the browser within {}; start the sign-in again", human(.after))]
    Timeout { after: Duration },

    /// The sign-in was cancelled from sekia.
    #[error("the sign-in was cancelled")]
    Cancelled,

    /// The token endpoint refused a request with an OAuth error (or a bare 4xx).
    #[error("the {provider} token endpoint refused the request (HTTP {status}, {code}{}); sign in again if this persists", describe(.description))]
    TokenEndpoint {
        provider: String,
        status: u16,
        code: String,
        description: Option<String>,
    },

    /// The token endpoint could not be reached or answered 5xx/429: worth retrying.
    #[error(
        "cannot reach the {provider} token endpoint: {message}; check the network connection and try again"
    )]
    Unreachable { provider: String, message: String },

    /// A success answer from the token endpoint that is not a usable token response.
    #[error("the {provider} token endpoint sent an unusable answer: {what}")]
    BadTokenResponse { provider: String, what: String },

    /// The service's API could not be reached or answered 5xx/429.
    #[error(
        "cannot reach the {provider} API: {message}; check the network connection and try again"
    )]
    ApiUnreachable { provider: String, message: String },

    /// The service's API refused a token (a pasted one, or one being revoked); the message
    /// is the service's reason and what to do.
    #[error("{message}")]
    ApiRejected { provider: String, message: String },

    /// No tokens are stored for the account.
    #[error("account {account} is not signed in; connect it first")]
    NotSignedIn { account: String },

    /// The provider no longer accepts the account's refresh token (revoked, expired, password
    /// changed). Sticky until the user signs in again.
    #[error(
        "account {account} needs to be reconnected: {provider} no longer accepts its sign-in \
         (revoked or expired); sign in to it again"
    )]
    NeedsReconnect { account: String, provider: String },

    /// The OS keychain failed.
    #[error("the OS keychain failed to {action} for account {account}: {message}")]
    Keyring {
        action: &'static str,
        account: String,
        message: String,
    },

    /// The encrypted token file could not be read or written.
    #[error("token file {path}: {message}")]
    File { path: PathBuf, message: String },

    /// The encrypted token file could not be decrypted.
    #[error("cannot decrypt token file {path}: {reason}")]
    Decrypt { path: PathBuf, reason: String },

    /// Stored tokens that do not parse (only the position is kept: serde's message could quote
    /// the token).
    #[error(
        "the stored tokens for account {account} are damaged (not valid at line {line}, column {column}); reconnect the account"
    )]
    CorruptTokens {
        account: String,
        line: usize,
        column: usize,
    },

    /// A background task died (a bug or a runtime shutting down).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AccountError {
    /// Whether trying the same request again later may succeed (network, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AccountError::Unreachable { .. } | AccountError::ApiUnreachable { .. }
        )
    }
}

fn describe(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!(": {d}"),
        _ => String::new(),
    }
}

fn human(d: &Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        let m = secs / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else if secs >= 1 {
        format!("{secs} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_reads_well() {
        let e = AccountError::Timeout {
            after: Duration::from_secs(300),
        };
        assert!(e.to_string().contains("within 5 minutes"), "{e}");
        let e = AccountError::Timeout {
            after: Duration::from_millis(200),
        };
        assert!(e.to_string().contains("within 200 ms"), "{e}");
    }

    const TOKEN: &str = "ya29.A0-leaked-token-value";

    /// Every variant, built the way the crate builds it where a token is at hand (keychain
    /// errors carrying the secret's bytes, stored JSON that does not parse).
    fn every_variant() -> Vec<AccountError> {
        let account = crate::AccountId::new("google", "me@example.com").unwrap();
        let with_token = format!(r#"{{"v":1,"access_token":"{TOKEN}","token_type":1}}"#);
        vec![
            AccountError::InvalidAccountId { reason: "r" },
            AccountError::NoClientId {
                provider: "Google".into(),
            },
            AccountError::NoBrowserSignIn {
                provider: "Slack".into(),
                instead: "paste",
            },
            AccountError::BadEndpoint {
                provider: "Google".into(),
                which: "token URL",
                url: "http://example.com".into(),
                reason: "plain http",
            },
            AccountError::Listen {
                source: std::io::Error::other("in use"),
            },
            AccountError::StateMismatch,
            AccountError::AccessDenied {
                provider: "Google".into(),
            },
            AccountError::Authorization {
                provider: "Google".into(),
                code: "invalid_scope".into(),
                description: Some("bad scope".into()),
            },
            AccountError::MissingCode,
            AccountError::Timeout {
                after: Duration::from_secs(300),
            },
            AccountError::Cancelled,
            AccountError::TokenEndpoint {
                provider: "Google".into(),
                status: 400,
                code: "invalid_grant".into(),
                description: None,
            },
            AccountError::Unreachable {
                provider: "Google".into(),
                message: "cannot connect".into(),
            },
            AccountError::BadTokenResponse {
                provider: "Google".into(),
                what: "no access_token".into(),
            },
            AccountError::ApiUnreachable {
                provider: "GitHub".into(),
                message: "cannot connect".into(),
            },
            AccountError::ApiRejected {
                provider: "GitHub".into(),
                message: "GitHub did not accept the token (HTTP 401: Bad credentials)".into(),
            },
            AccountError::NotSignedIn {
                account: account.to_string(),
            },
            AccountError::NeedsReconnect {
                account: account.to_string(),
                provider: "Google".into(),
            },
            crate::keyring_store::keyring_error(
                "read tokens",
                "google:me",
                keyring_core::Error::BadEncoding(TOKEN.as_bytes().to_vec()),
            ),
            crate::keyring_store::keyring_error(
                "read tokens",
                "google:me",
                keyring_core::Error::BadDataFormat(TOKEN.as_bytes().to_vec(), TOKEN.into()),
            ),
            AccountError::File {
                path: "/x".into(),
                message: "denied".into(),
            },
            AccountError::Decrypt {
                path: "/x".into(),
                reason: "wrong age key".into(),
            },
            crate::store::decode(&account, &with_token).unwrap_err(),
            AccountError::Internal("task failed".into()),
        ]
    }

    /// No wildcard: a new variant does not compile until it is added to `every_variant`.
    fn covered(e: &AccountError) -> &'static str {
        match e {
            AccountError::InvalidAccountId { .. } => "InvalidAccountId",
            AccountError::NoClientId { .. } => "NoClientId",
            AccountError::NoBrowserSignIn { .. } => "NoBrowserSignIn",
            AccountError::BadEndpoint { .. } => "BadEndpoint",
            AccountError::Listen { .. } => "Listen",
            AccountError::StateMismatch => "StateMismatch",
            AccountError::AccessDenied { .. } => "AccessDenied",
            AccountError::Authorization { .. } => "Authorization",
            AccountError::MissingCode => "MissingCode",
            AccountError::Timeout { .. } => "Timeout",
            AccountError::Cancelled => "Cancelled",
            AccountError::TokenEndpoint { .. } => "TokenEndpoint",
            AccountError::Unreachable { .. } => "Unreachable",
            AccountError::BadTokenResponse { .. } => "BadTokenResponse",
            AccountError::ApiUnreachable { .. } => "ApiUnreachable",
            AccountError::ApiRejected { .. } => "ApiRejected",
            AccountError::NotSignedIn { .. } => "NotSignedIn",
            AccountError::NeedsReconnect { .. } => "NeedsReconnect",
            AccountError::Keyring { .. } => "Keyring",
            AccountError::File { .. } => "File",
            AccountError::Decrypt { .. } => "Decrypt",
            AccountError::CorruptTokens { .. } => "CorruptTokens",
            AccountError::Internal(_) => "Internal",
        }
    }

    #[test]
    fn no_error_and_no_token_set_formats_a_token() {
        let all = every_variant();
        let names: std::collections::BTreeSet<_> = all.iter().map(covered).collect();
        assert_eq!(names.len(), 23, "every variant is checked: {names:?}");
        for e in &all {
            let text = format!("{e} | {e:?}");
            assert!(!text.contains(TOKEN) && !text.contains("leaked"), "{text}");
        }
        let t = crate::TokenSet {
            access_token: crate::Secret::new(TOKEN),
            refresh_token: Some(crate::Secret::new(format!("{TOKEN}-refresh"))),
            expires_at: Some(1),
            scopes: vec![],
            token_type: "Bearer".into(),
        };
        assert!(!format!("{t:?}").contains("leaked"));
    }
}
