//! An account's access token, kept valid: refreshed before expiry, one refresh at a time,
//! stored before it is handed out, and a sticky "needs reconnect" when the provider no longer
//! accepts the refresh token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sekia_protocol::clock::Clock;
use serde::Serialize;

use crate::error::AccountError;
use crate::provider::Provider;
use crate::secret::{AccountId, Secret, TokenSet};
use crate::store::TokenStore;
use crate::token_endpoint::{self, Grant};

/// Something that hands out a valid access token.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn access_token(&self) -> Result<Secret, AccountError>;
}

/// An account's health, for status; serialized as `connected` / `needs_reconnect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Connected,
    /// The provider rejected the refresh token (or there is none and the access token
    /// expired). Sticky: no request is made until [`Account::connect`] is called with fresh
    /// tokens from a new sign-in.
    NeedsReconnect,
}

/// When to refresh and how hard to retry.
#[derive(Clone, Debug)]
pub struct RefreshPolicy {
    /// Refresh when the token expires within this. Default 5 minutes.
    pub margin: Duration,
    /// Tries per refresh, the first included, for transient failures (network, 5xx, 429).
    pub attempts: u32,
    /// Wait after the first failure; doubled after each, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(5 * 60),
            attempts: 4,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// OAuth error codes that mean "this refresh token is dead": RFC 6749's `invalid_grant`,
/// GitHub's `bad_refresh_token`, Slack's `token_revoked`.
const DEAD_GRANT: [&str; 3] = ["invalid_grant", "bad_refresh_token", "token_revoked"];

struct Cache {
    tokens: Option<TokenSet>,
    /// Refreshed tokens the store refused: saved before anything else, never handed out
    /// before that (the provider may have rotated the refresh token; losing it means a
    /// reconnect).
    unsaved: bool,
}

/// One account's tokens.
pub struct Account {
    id: AccountId,
    provider: Provider,
    store: Arc<dyn TokenStore>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    policy: RefreshPolicy,
    state: Mutex<AccountState>,
    cache: Mutex<Cache>,
    /// Held for the slow path (load, refresh, save): concurrent callers queue here and find
    /// the fresh token when they get it.
    refresh: tokio::sync::Mutex<()>,
}

impl Account {
    pub fn new(
        id: AccountId,
        provider: Provider,
        store: Arc<dyn TokenStore>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        policy: RefreshPolicy,
    ) -> Self {
        Self {
            id,
            provider,
            store,
            http,
            clock,
            policy,
            state: Mutex::new(AccountState::Connected),
            cache: Mutex::new(Cache {
                tokens: None,
                unsaved: false,
            }),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub fn id(&self) -> &AccountId {
        &self.id
    }

    pub fn state(&self) -> AccountState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores tokens from a (new) sign-in and clears a needs-reconnect state.
    pub async fn connect(&self, tokens: TokenSet) -> Result<(), AccountError> {
        let _guard = self.refresh.lock().await;
        self.save(tokens.clone()).await?;
        *self.cache_lock() = Cache {
            tokens: Some(tokens),
            unsaved: false,
        };
        self.set_state(AccountState::Connected);
        Ok(())
    }

    /// Marks the account as needing a new sign-in (a state remembered from an earlier run).
    pub fn set_needs_reconnect(&self) {
        self.set_state(AccountState::NeedsReconnect);
    }

    /// The stored tokens, as they are (for revoking them when the account is removed).
    pub async fn stored_tokens(&self) -> Result<Option<TokenSet>, AccountError> {
        let _guard = self.refresh.lock().await;
        if let Some(t) = self.cache_lock().tokens.clone() {
            return Ok(Some(t));
        }
        let (store, id) = (self.store.clone(), self.id.clone());
        blocking(move || store.load(&id)).await
    }

    /// When the access token expires (unix seconds), if known and loaded.
    pub fn expires_at(&self) -> Option<i64> {
        self.cache_lock().tokens.as_ref().and_then(|t| t.expires_at)
    }

    /// Forgets the account's tokens (sign out).
    pub async fn disconnect(&self) -> Result<(), AccountError> {
        let _guard = self.refresh.lock().await;
        let (store, id) = (self.store.clone(), self.id.clone());
        blocking(move || store.delete(&id)).await?;
        self.cache_lock().tokens = None;
        Ok(())
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, s: AccountState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    fn needs_reconnect(&self) -> AccountError {
        AccountError::NeedsReconnect {
            account: self.id.to_string(),
            provider: self.provider.display_name.clone(),
        }
    }

    fn check_state(&self) -> Result<(), AccountError> {
        match self.state() {
            AccountState::Connected => Ok(()),
            AccountState::NeedsReconnect => Err(self.needs_reconnect()),
        }
    }

    /// The cached access token if it is stored and not within the margin of expiry.
    fn fresh_cached(&self) -> Option<Secret> {
        let cache = self.cache_lock();
        let t = cache.tokens.as_ref().filter(|_| !cache.unsaved)?;
        (!t.expires_within(self.clock.unix_secs(), self.policy.margin))
            .then(|| t.access_token.clone())
    }

    async fn save(&self, tokens: TokenSet) -> Result<(), AccountError> {
        let (store, id) = (self.store.clone(), self.id.clone());
        blocking(move || store.save(&id, &tokens)).await
    }

    /// The slow path, under the refresh lock.
    async fn load_or_refresh(&self) -> Result<Secret, AccountError> {
        self.check_state()?;
        let (cached, unsaved) = {
            let c = self.cache_lock();
            (c.tokens.clone(), c.unsaved)
        };
        let current = match cached {
            Some(t) if unsaved => {
                self.save(t.clone()).await?;
                self.cache_lock().unsaved = false;
                t
            }
            Some(t) => t,
            None => {
                let (store, id) = (self.store.clone(), self.id.clone());
                let loaded = blocking(move || store.load(&id)).await?.ok_or_else(|| {
                    AccountError::NotSignedIn {
                        account: self.id.to_string(),
                    }
                })?;
                self.cache_lock().tokens = Some(loaded.clone());
                loaded
            }
        };
        let now = self.clock.unix_secs();
        if !current.expires_within(now, self.policy.margin) {
            return Ok(current.access_token);
        }
        let Some(refresh_token) = current.refresh_token.clone() else {
            if current.is_expired(now) {
                self.set_state(AccountState::NeedsReconnect);
                return Err(self.needs_reconnect());
            }
            // Not renewable but still valid for a little while: use it.
            return Ok(current.access_token);
        };
        let refreshed = match self.refresh_with_retry(&refresh_token).await {
            Ok(t) => t,
            Err(AccountError::TokenEndpoint { code, .. })
                if DEAD_GRANT.contains(&code.as_str()) =>
            {
                tracing::warn!(account = %self.id, code, "refresh token rejected; the account needs to be reconnected");
                self.set_state(AccountState::NeedsReconnect);
                return Err(self.needs_reconnect());
            }
            // Still valid for a few minutes: better than failing the caller now.
            Err(e) if e.is_transient() && !current.is_expired(self.clock.unix_secs()) => {
                tracing::warn!(account = %self.id, error = %e, "token refresh failed; using the current token until it expires");
                return Ok(current.access_token);
            }
            Err(e) => return Err(e),
        };
        let refreshed = TokenSet {
            // Google answers a refresh without a new refresh token: the old one stays valid.
            refresh_token: refreshed.refresh_token.or(Some(refresh_token)),
            scopes: if refreshed.scopes.is_empty() {
                current.scopes
            } else {
                refreshed.scopes
            },
            ..refreshed
        };
        let saved = self.save(refreshed.clone()).await;
        let access = refreshed.access_token.clone();
        *self.cache_lock() = Cache {
            tokens: Some(refreshed),
            unsaved: saved.is_err(),
        };
        saved.map(|()| access)
    }

    async fn refresh_with_retry(&self, refresh_token: &Secret) -> Result<TokenSet, AccountError> {
        let mut backoff = self.policy.first_backoff;
        let attempts = self.policy.attempts.max(1);
        for attempt in 1.. {
            let result = token_endpoint::request(
                &self.http,
                &self.provider,
                &self.clock,
                Grant::Refresh { refresh_token },
            )
            .await;
            match result {
                Err(e) if e.is_transient() && attempt < attempts => {
                    tracing::info!(account = %self.id, attempt, error = %e, retry_in = ?backoff, "token refresh failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.policy.max_backoff);
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }
}

#[async_trait]
impl TokenSource for Account {
    async fn access_token(&self) -> Result<Secret, AccountError> {
        self.check_state()?;
        if let Some(token) = self.fresh_cached() {
            return Ok(token);
        }
        let _guard = self.refresh.lock().await;
        // Whoever held the lock before us may have refreshed already.
        if let Some(token) = self.fresh_cached() {
            self.check_state()?;
            return Ok(token);
        }
        self.load_or_refresh().await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, AccountError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AccountError::Internal(format!("token store task failed: {e}")))?
}
