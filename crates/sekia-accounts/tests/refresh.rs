//! Refresh against a real oauth2-mock-server, with a manual clock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::MockServer;
use sekia_accounts::{
    Account, AccountError, AccountId, AccountState, FileStore, Provider, RefreshPolicy, Secret,
    StoreKind, TokenSet, TokenSource, TokenStore,
};
use sekia_protocol::clock::ManualClock;

const T0: i64 = 1_700_000_000;

struct Setup {
    server: MockServer,
    clock: ManualClock,
    store: Arc<FileStore>,
    id: AccountId,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    Setup {
        server: MockServer::start(),
        clock: ManualClock::new(T0),
        store: Arc::new(FileStore::new(
            &dir.path().join("accounts"),
            age::x25519::Identity::generate(),
        )),
        id: AccountId::new("mock", "me@example.com").unwrap(),
        _dir: dir,
    }
}

fn policy() -> RefreshPolicy {
    RefreshPolicy {
        first_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..RefreshPolicy::default()
    }
}

impl Setup {
    fn account_with(
        &self,
        provider: Provider,
        store: Arc<dyn TokenStore>,
        policy: RefreshPolicy,
    ) -> Account {
        Account::new(
            self.id.clone(),
            provider,
            store,
            reqwest::Client::new(),
            Arc::new(self.clock.clone()),
            policy,
        )
    }

    fn account(&self) -> Account {
        self.account_with(self.server.provider(), self.store.clone(), policy())
    }
}

fn tokens(access: &str, refresh: Option<&str>, expires_at: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        refresh_token: refresh.map(Secret::new),
        expires_at: Some(expires_at),
        scopes: vec!["read".into()],
        token_type: "Bearer".into(),
    }
}

#[tokio::test]
async fn refreshes_five_minutes_before_expiry_and_stores_first() {
    let s = setup();
    let account = s.account();
    account
        .connect(tokens("old-access", Some("rt-seed-1"), T0 + 3600))
        .await
        .unwrap();
    assert_eq!(account.access_token().await.unwrap().expose(), "old-access");

    s.clock.advance(Duration::from_secs(3600 - 301));
    assert_eq!(account.access_token().await.unwrap().expose(), "old-access");
    assert!(
        s.server.lines("TOKEN").is_empty(),
        "no refresh outside the margin"
    );

    s.clock.advance(Duration::from_secs(1)); // now exactly 5 minutes before expiry
    let fresh = account.access_token().await.unwrap();
    assert_ne!(fresh.expose(), "old-access");
    let lines = s.server.wait_lines("TOKEN", 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("TOKEN grant_type=refresh_token")
            && lines[0].ends_with("refresh_token=rt-seed-1"),
        "{lines:?}"
    );

    // The new tokens were stored, with a new expiry from the clock and the rotated refresh token.
    let stored = s.store.load(&s.id).unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), fresh.expose());
    assert_eq!(stored.expires_at, Some(T0 + 3300 + 3600));
    let rotated = stored.refresh_token.unwrap();
    assert_ne!(rotated.expose(), "rt-seed-1");

    // A new handle (daemon restart) finds them without refreshing.
    let again = s.account();
    assert_eq!(again.access_token().await.unwrap().expose(), fresh.expose());
    assert_eq!(s.server.wait_lines("TOKEN", 1).len(), 1);
    assert_eq!(account.state(), AccountState::Connected);
}

#[tokio::test]
async fn invalid_grant_is_a_sticky_needs_reconnect() {
    let s = setup();
    let account = s.account();
    account
        .connect(tokens("old-access", Some("revoked-rt-77"), T0 + 10))
        .await
        .unwrap();
    let err = account.access_token().await.unwrap_err();
    assert!(matches!(err, AccountError::NeedsReconnect { .. }), "{err}");
    assert!(err.to_string().contains("sign in to it again"), "{err}");
    assert_eq!(account.state(), AccountState::NeedsReconnect);
    // The mock's description quotes the refresh token; it must not reach any error text.
    assert!(!format!("{err} {err:?}").contains("revoked-rt-77"));

    // Sticky: no further requests until a new sign-in.
    let err = account.access_token().await.unwrap_err();
    assert!(matches!(err, AccountError::NeedsReconnect { .. }));
    assert_eq!(s.server.wait_lines("TOKEN", 1).len(), 1);

    account
        .connect(tokens("after-reconnect", Some("rt-2"), T0 + 3600))
        .await
        .unwrap();
    assert_eq!(account.state(), AccountState::Connected);
    assert_eq!(
        account.access_token().await.unwrap().expose(),
        "after-reconnect"
    );
}

#[tokio::test]
async fn ten_concurrent_callers_one_refresh() {
    let s = setup();
    let mut provider = s.server.provider();
    // The mock holds the refresh for 300 ms, so all ten callers are waiting while it runs.
    provider.token_url = format!("{}/token?delay_ms=300", s.server.base);
    let account = Arc::new(s.account_with(provider, s.store.clone(), policy()));
    account
        .connect(tokens("old-access", Some("rt-seed-10"), T0 + 60))
        .await
        .unwrap();
    let calls = (0..10).map(|_| {
        let a = account.clone();
        tokio::spawn(async move { a.access_token().await.map(|t| t.expose().to_owned()) })
    });
    let results: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert!(
        results
            .iter()
            .all(|t| t == &results[0] && t != "old-access"),
        "{results:?}"
    );
    let lines = s.server.wait_lines("TOKEN", 1);
    assert_eq!(lines.len(), 1, "one refresh for ten callers: {lines:?}");
}

#[tokio::test]
async fn transient_failures_retry_with_backoff() {
    let s = setup();
    let account = s.account();
    account
        .connect(tokens("old-access", Some("flaky2-rt"), T0 + 10))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let fresh = account.access_token().await.unwrap();
    assert_ne!(fresh.expose(), "old-access");
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "50 + 100 ms of backoff"
    );
    assert_eq!(
        s.server.wait_lines("TOKEN", 3).len(),
        3,
        "two 503s, then success"
    );
}

#[tokio::test]
async fn transient_failure_keeps_a_still_valid_token_and_fails_an_expired_one() {
    let s = setup();
    let few = RefreshPolicy {
        attempts: 2,
        ..policy()
    };
    let account = s.account_with(s.server.provider(), s.store.clone(), few.clone());
    // Within the margin but not expired: the caller gets the current token.
    account
        .connect(tokens("still-valid", Some("flaky9-a"), T0 + 100))
        .await
        .unwrap();
    assert_eq!(
        account.access_token().await.unwrap().expose(),
        "still-valid"
    );
    assert_eq!(s.server.wait_lines("TOKEN", 2).len(), 2);

    // Expired: the transient error, which says to check the network.
    s.clock.advance(Duration::from_secs(100));
    let err = account.access_token().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(
        account.state(),
        AccountState::Connected,
        "transient is not sticky"
    );
}

#[tokio::test]
async fn not_signed_in() {
    let s = setup();
    let err = s.account().access_token().await.unwrap_err();
    assert!(matches!(err, AccountError::NotSignedIn { .. }), "{err}");
}

/// A store whose saves can be made to fail.
struct FailingSaves {
    inner: Arc<FileStore>,
    fail: AtomicBool,
    saves: AtomicUsize,
}

impl TokenStore for FailingSaves {
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
    fn load(&self, a: &AccountId) -> Result<Option<TokenSet>, AccountError> {
        self.inner.load(a)
    }
    fn save(&self, a: &AccountId, t: &TokenSet) -> Result<(), AccountError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(AccountError::Internal("disk full (test)".into()));
        }
        self.inner.save(a, t)
    }
    fn delete(&self, a: &AccountId) -> Result<(), AccountError> {
        self.inner.delete(a)
    }
}

#[tokio::test]
async fn a_refreshed_token_is_not_used_before_it_is_stored() {
    let s = setup();
    let store = Arc::new(FailingSaves {
        inner: s.store.clone(),
        fail: AtomicBool::new(false),
        saves: AtomicUsize::new(0),
    });
    let account = s.account_with(s.server.provider(), store.clone(), policy());
    account
        .connect(tokens("old-access", Some("rt-seed-s"), T0 + 10))
        .await
        .unwrap();
    store.fail.store(true, Ordering::SeqCst);
    let err = account.access_token().await.unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(
        s.store.load(&s.id).unwrap().unwrap().access_token.expose(),
        "old-access"
    );

    // Once the store works, the refreshed tokens are saved and used, without a second refresh
    // (the provider may have rotated the refresh token; the old one could be dead).
    store.fail.store(false, Ordering::SeqCst);
    let fresh = account.access_token().await.unwrap();
    assert_ne!(fresh.expose(), "old-access");
    assert_eq!(
        s.store.load(&s.id).unwrap().unwrap().access_token.expose(),
        fresh.expose()
    );
    assert_eq!(s.server.wait_lines("TOKEN", 1).len(), 1);
}
