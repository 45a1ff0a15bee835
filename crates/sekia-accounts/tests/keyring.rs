//! The OS keychain path against a real Secret Service (gnome-keyring in a private D-Bus
//! session). Run with:
//!
//!     scripts/accounts-setup.sh with-keyring cargo test -p sekia-accounts
//!
//! Without that session these tests fail (saying so), unless SEKIA_NO_KEYRING=1 is set, in
//! which case they print that they were skipped.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::MockServer;
use sekia_accounts::{
    Account, AccountId, RefreshPolicy, Secret, StoreKind, TokenSet, TokenSource, choose_store,
};
use sekia_protocol::clock::ManualClock;

/// True when a keyring session is there; false (after saying so) when skipping is asked for.
fn keyring_session(test: &str) -> bool {
    let marker = std::env::var("SEKIA_KEYRING_SESSION").is_ok_and(|v| v == "1");
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if marker && bus {
        return true;
    }
    if std::env::var("SEKIA_NO_KEYRING").is_ok_and(|v| v == "1") {
        // Straight to stderr: the harness would swallow eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: SEKIA_NO_KEYRING=1 (no Secret Service session)"
        );
        return false;
    }
    panic!(
        "{test} needs a Secret Service: run the tests as \
         `scripts/accounts-setup.sh with-keyring cargo test -p sekia-accounts` \
         (a private dbus-run-session with an unlocked gnome-keyring), or set SEKIA_NO_KEYRING=1 \
         to skip the keychain tests (SEKIA_KEYRING_SESSION={}, DBUS_SESSION_BUS_ADDRESS {})",
        std::env::var("SEKIA_KEYRING_SESSION").unwrap_or_default(),
        if bus { "set" } else { "unset" }
    );
}

fn tokens(access: &str, refresh: &str, expires_at: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh)),
        expires_at: Some(expires_at),
        scopes: vec!["read".into()],
        token_type: "Bearer".into(),
    }
}

#[test]
fn keychain_is_chosen_and_keeps_several_accounts() {
    if !keyring_session("keychain_is_chosen_and_keeps_several_accounts") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let choice = choose_store(&tmp.path().join("accounts"), || {
        Ok(age::x25519::Identity::generate())
    })
    .unwrap();
    assert_eq!(
        choice.kind,
        StoreKind::Keyring,
        "{:?}",
        choice.why_not_keyring
    );
    assert!(choice.why_not_keyring.is_none());
    let store = choice.store;

    let work = AccountId::new("google", "me@work.example").unwrap();
    let home = AccountId::new("google", "me@home.example").unwrap();
    store.delete(&work).unwrap();
    store.delete(&home).unwrap();
    assert!(store.load(&work).unwrap().is_none());

    store
        .save(&work, &tokens("work-access", "work-refresh", 100))
        .unwrap();
    store
        .save(&home, &tokens("home-access", "home-refresh", 200))
        .unwrap();
    store
        .save(&work, &tokens("work-access-2", "work-refresh-2", 300))
        .unwrap();

    let w = store.load(&work).unwrap().unwrap();
    assert_eq!(w.access_token.expose(), "work-access-2");
    assert_eq!(w.refresh_token.unwrap().expose(), "work-refresh-2");
    assert_eq!(w.expires_at, Some(300));
    let h = store.load(&home).unwrap().unwrap();
    assert_eq!(h.access_token.expose(), "home-access");

    store.delete(&work).unwrap();
    assert!(store.load(&work).unwrap().is_none());
    assert!(store.load(&home).unwrap().is_some());
    store.delete(&home).unwrap();
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing written to the file store"
    );
}

#[tokio::test]
async fn a_refresh_lands_in_the_keychain() {
    if !keyring_session("a_refresh_lands_in_the_keychain") {
        return;
    }
    let server = MockServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let choice = choose_store(&tmp.path().join("accounts"), || {
        Ok(age::x25519::Identity::generate())
    })
    .unwrap();
    assert_eq!(choice.kind, StoreKind::Keyring);
    let clock = ManualClock::new(1_700_000_000);
    let id = AccountId::new("mock", "keyring-refresh").unwrap();
    let account = Account::new(
        id.clone(),
        server.provider(),
        choice.store.clone(),
        reqwest::Client::new(),
        Arc::new(clock.clone()),
        RefreshPolicy::default(),
    );
    account
        .connect(tokens("old-access", "rt-keyring", 1_700_000_060))
        .await
        .unwrap();
    let fresh = account.access_token().await.unwrap();
    assert_ne!(fresh.expose(), "old-access");
    let store = choice.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.load(&id).unwrap().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.access_token.expose(), fresh.expose());
    account.disconnect().await.unwrap();
}
