//! Connected accounts on the `Daemon` handle: list, browser sign-in, pasted tokens,
//! disconnect. Sign-in, token storage and refresh are sekia-accounts'; this module keeps the
//! list of accounts, picks the store, and answers the API. See `service.rs`.

mod book;
mod service;

use std::sync::Arc;

use sekia_accounts::{AuthScheme, PastedToken, Secret, StoreKind, TokenSource};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use book::AccountKind;
pub(crate) use service::Accounts;

use crate::daemon::{Daemon, DaemonError};

/// `accounts`: where tokens are kept, what can be connected, what is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AccountsReport {
    /// `keyring` (the OS keychain) or `encrypted_file`.
    pub store: TokenStoreKind,
    /// Why the keychain is not used, when it is not.
    pub store_note: Option<String>,
    pub providers: Vec<ProviderInfo>,
    pub accounts: Vec<AccountInfo>,
    /// Browser sign-ins waiting for the user.
    pub sign_ins: Vec<SignInInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TokenStoreKind {
    Keyring,
    EncryptedFile,
}

/// A service sekia can hold accounts for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProviderInfo {
    /// `github`, `slack`, `google`, `linear`.
    pub id: String,
    /// "GitHub", "Google (Gmail and Calendar)", …
    pub label: String,
    /// Whether "Sign in" works now (the provider offers it and a client id is set).
    pub sign_in: bool,
    /// Why sign-in is not available, and what to do.
    pub sign_in_note: Option<String>,
    /// What may be pasted instead, if anything.
    pub paste: Option<PasteKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PasteKind {
    /// A fine-grained personal access token.
    GithubPat,
    /// A personal API key.
    LinearApiKey,
    /// A bot token and an app-level token.
    SlackBotAndAppToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Connected,
    /// The provider refused the account's sign-in (revoked or expired): sign in again.
    NeedsReconnect,
}

/// A connected account. Never carries a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AccountInfo {
    pub provider: String,
    /// The connector's agent name and command subject: `sekia.commands.<name>`.
    pub name: String,
    /// Who the account is at the service.
    pub identity: String,
    pub state: AccountState,
    pub kind: AccountKind,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub connected_at: i64,
    /// When the current access token expires (unix seconds), if it does and is loaded.
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
}

/// A browser sign-in in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SignInInfo {
    pub id: String,
    pub provider: String,
    pub name: Option<String>,
    /// The URL to open (again) in the browser.
    pub url: String,
    #[ts(type = "number")]
    pub started_at: i64,
}

/// `connect_account`: open `url` in the system browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SignInStarted {
    pub id: String,
    pub url: String,
}

/// `disconnect_account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Disconnected {
    pub name: String,
    /// Whether the provider confirmed the token is revoked.
    pub revoked: bool,
    /// What the user should still do at the provider, if anything.
    pub note: Option<String>,
}

const LABELS: [(&str, &str); 4] = [
    ("github", "GitHub"),
    ("slack", "Slack"),
    ("google", "Google (Gmail and Calendar)"),
    ("linear", "Linear"),
];

impl Daemon {
    pub(crate) fn accounts_service(&self) -> Result<&Arc<Accounts>, DaemonError> {
        self.inner()
            .accounts
            .as_ref()
            .map_err(|why| DaemonError::Accounts(format!("accounts are unavailable: {why}")))
    }

    /// Where tokens are kept, the providers and the connected accounts.
    pub async fn accounts(&self) -> Result<AccountsReport, DaemonError> {
        let accounts = self.accounts_service()?;
        accounts.sync_states();
        let providers = LABELS
            .iter()
            .filter_map(|(id, label)| {
                let p = accounts.providers.get(*id)?;
                let sign_in_note = if !p.browser_sign_in {
                    Some(format!(
                        "{} accounts are added by pasting tokens",
                        p.display_name
                    ))
                } else if !p.can_sign_in() {
                    Some(format!(
                        "set accounts.{id}.client_id (and client_secret) to the OAuth app you registered with {}, or paste a token",
                        p.display_name
                    ))
                } else {
                    None
                };
                Some(ProviderInfo {
                    id: (*id).to_owned(),
                    label: (*label).to_owned(),
                    sign_in: p.can_sign_in(),
                    sign_in_note,
                    paste: p.pasted.map(|k| match k {
                        PastedToken::GithubPat => PasteKind::GithubPat,
                        PastedToken::LinearApiKey => PasteKind::LinearApiKey,
                        PastedToken::SlackBotAndAppToken => PasteKind::SlackBotAndAppToken,
                    }),
                })
            })
            .collect();
        let list = accounts
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|e| AccountInfo {
                provider: e.record.provider.clone(),
                name: e.record.name.clone(),
                identity: e.record.identity.clone(),
                state: if e.record.needs_reconnect {
                    AccountState::NeedsReconnect
                } else {
                    AccountState::Connected
                },
                kind: e.record.kind,
                connected_at: e.record.connected_at,
                expires_at: e.account.expires_at(),
            })
            .collect();
        let mut sign_ins: Vec<SignInInfo> = accounts
            .sign_ins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, p)| p.outcome.borrow().is_none())
            .map(|(id, p)| SignInInfo {
                id: id.clone(),
                provider: p.provider.clone(),
                name: p.name.clone(),
                url: p.url.clone(),
                started_at: p.started_at,
            })
            .collect();
        sign_ins.sort_by_key(|s| s.started_at);
        let probe = Arc::clone(accounts);
        let (kind, store_note) = tokio::task::spawn_blocking(move || probe.store_kind())
            .await
            .map_err(|e| DaemonError::Accounts(format!("keychain probe failed: {e}")))?;
        Ok(AccountsReport {
            store: match kind {
                StoreKind::Keyring => TokenStoreKind::Keyring,
                _ => TokenStoreKind::EncryptedFile,
            },
            store_note,
            providers,
            accounts: list,
            sign_ins,
        })
    }

    /// Starts a browser sign-in; the caller opens `url`. The account appears in `accounts`
    /// once the user approves; `wait_sign_in` waits for that.
    pub async fn connect_account(
        &self,
        provider: &str,
        name: Option<String>,
        app_token: Option<Secret>,
    ) -> Result<SignInStarted, DaemonError> {
        let (id, url) = self
            .accounts_service()?
            .start_sign_in(provider, name, app_token)
            .await?;
        Ok(SignInStarted { id, url })
    }

    /// Waits until a sign-in ends; the connected account, or why it failed.
    pub async fn wait_sign_in(&self, id: &str) -> Result<AccountInfo, DaemonError> {
        let record = self.accounts_service()?.wait_sign_in(id).await?;
        self.account_info(&record.name).await
    }

    pub async fn cancel_sign_in(&self, id: &str) -> Result<(), DaemonError> {
        self.accounts_service()?.cancel_sign_in(id)
    }

    /// Adds an account from pasted tokens, after checking them with the service.
    pub async fn add_account_token(
        &self,
        provider: &str,
        name: Option<&str>,
        token: &Secret,
        app_token: Option<&Secret>,
    ) -> Result<AccountInfo, DaemonError> {
        let record = self
            .accounts_service()?
            .add_token(provider, name, token, app_token)
            .await?;
        self.account_info(&record.name).await
    }

    /// Revokes (where the provider allows), deletes the tokens, forgets the account.
    pub async fn disconnect_account(&self, name: &str) -> Result<Disconnected, DaemonError> {
        let (revoked, note) = self.accounts_service()?.disconnect(name).await?;
        Ok(Disconnected {
            name: name.to_owned(),
            revoked,
            note,
        })
    }

    async fn account_info(&self, name: &str) -> Result<AccountInfo, DaemonError> {
        self.accounts()
            .await?
            .accounts
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| DaemonError::NotFound(format!("account {name}")))
    }

    /// An account's token source and how its token is sent, for a connector.
    pub fn account_token(&self, name: &str) -> Option<(Arc<dyn TokenSource>, AuthScheme)> {
        self.inner().accounts.as_ref().ok()?.token_source(name)
    }

    /// A Slack account's app-level token (`xapp-…`), for Socket Mode.
    pub async fn slack_app_token(&self, name: &str) -> Result<Option<Secret>, DaemonError> {
        self.accounts_service()?.slack_app_token(name).await
    }

    /// Accounts that need the user: for the tray's attention state.
    pub(crate) fn accounts_attention(&self) -> Vec<crate::api::Attention> {
        use crate::api::{Attention, AttentionKind};
        let accounts = match &self.inner().accounts {
            Ok(a) => a,
            Err(why) => {
                return vec![Attention::new(
                    AttentionKind::Unavailable,
                    format!("accounts are unavailable: {why}"),
                )];
            }
        };
        accounts.sync_states();
        accounts
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| e.record.needs_reconnect)
            .map(|e| {
                Attention::new(
                    AttentionKind::AccountReconnect,
                    format!(
                        "account {} ({}) needs to be reconnected",
                        e.record.name, e.record.provider
                    ),
                )
            })
            .collect()
    }
}
