//! Connected accounts on the `Daemon` handle. Sign-in (OAuth with PKCE, tokens in the OS
//! keychain) is its own piece of work; until it lands this lists the providers sekia connects
//! to, each not connected, so the UI can show where accounts will live.

use serde::Serialize;
use ts_rs::TS;

use crate::daemon::Daemon;

/// How a provider signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SignIn {
    /// OAuth in the system browser.
    Oauth,
    /// A pasted token (Slack bot and app tokens).
    Token,
}

/// An account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    NotConnected,
    Connected,
    NeedsReconnect,
    Error,
}

/// One provider and the account connected to it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Account {
    /// `github`, `slack`, `google` or `linear`.
    pub provider: String,
    /// What the user reads: "GitHub", "Google (Gmail and Calendar)", …
    pub label: String,
    pub state: AccountState,
    /// Who is signed in ("connected as …").
    pub account: Option<String>,
    /// Why an account needs attention.
    pub message: Option<String>,
    pub sign_in: SignIn,
}

const PROVIDERS: [(&str, &str, SignIn); 4] = [
    ("github", "GitHub", SignIn::Oauth),
    ("slack", "Slack", SignIn::Token),
    ("google", "Google (Gmail and Calendar)", SignIn::Oauth),
    ("linear", "Linear", SignIn::Oauth),
];

impl Daemon {
    /// Every provider with its account state.
    pub async fn accounts(&self) -> Vec<Account> {
        PROVIDERS
            .iter()
            .map(|(provider, label, sign_in)| Account {
                provider: (*provider).to_owned(),
                label: (*label).to_owned(),
                state: AccountState::NotConnected,
                account: None,
                message: None,
                sign_in: *sign_in,
            })
            .collect()
    }
}
