//! The age-encrypted file store, and `choose_store` falling back to it when no bus answers.

use sekia_accounts::{
    AccountError, AccountId, FileStore, Secret, StoreKind, TokenSet, TokenStore, choose_store,
};

fn tokens(access: &str) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(format!("{access}-refresh"))),
        expires_at: Some(1_700_003_600),
        scopes: vec!["read".into(), "write".into()],
        token_type: "Bearer".into(),
    }
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn round_trip_modes_and_several_accounts_per_provider() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/accounts");
    let store = FileStore::new(&dir, age::x25519::Identity::generate());
    assert_eq!(store.kind(), StoreKind::EncryptedFile);
    let alice = AccountId::new("google", "alice@example.com").unwrap();
    let bob = AccountId::new("google", "bob/../../etc@example.com").unwrap();
    assert!(store.load(&alice).unwrap().is_none());

    store.save(&alice, &tokens("alice-access")).unwrap();
    store.save(&bob, &tokens("bob-access")).unwrap();
    store.save(&alice, &tokens("alice-access-2")).unwrap();

    #[cfg(unix)]
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        2,
        "one file per account, no temp files left: {files:?}"
    );
    for f in &files {
        #[cfg(unix)]
        assert_eq!(mode(f), 0o600, "{}", f.display());
        assert_eq!(f.parent().unwrap(), dir, "names cannot escape the folder");
        let raw = std::fs::read(f).unwrap();
        assert!(raw.starts_with(b"age-encryption.org/v1"));
        assert!(
            !String::from_utf8_lossy(&raw).contains("access"),
            "encrypted at rest"
        );
    }

    let a = store.load(&alice).unwrap().unwrap();
    assert_eq!(a.access_token.expose(), "alice-access-2");
    assert_eq!(a.refresh_token.unwrap().expose(), "alice-access-2-refresh");
    assert_eq!(a.expires_at, Some(1_700_003_600));
    assert_eq!(a.scopes, ["read", "write"]);
    assert_eq!(
        store.load(&bob).unwrap().unwrap().access_token.expose(),
        "bob-access"
    );

    store.delete(&alice).unwrap();
    store.delete(&alice).unwrap();
    assert!(store.load(&alice).unwrap().is_none());
    assert!(store.load(&bob).unwrap().is_some());
}

#[test]
fn wrong_identity_and_damage_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let id = AccountId::new("linear", "me").unwrap();
    let writer = FileStore::new(tmp.path(), age::x25519::Identity::generate());
    writer.save(&id, &tokens("secret-access")).unwrap();

    let reader = FileStore::new(tmp.path(), age::x25519::Identity::generate());
    let err = reader.load(&id).unwrap_err();
    assert!(matches!(err, AccountError::Decrypt { .. }), "{err}");
    assert!(err.to_string().contains("wrong age key"), "{err}");
    assert!(!format!("{err} {err:?}").contains("secret-access"));

    std::fs::write(writer.path_of(&id), b"age-encryption.org/v1\ngarbage").unwrap();
    let err = writer.load(&id).unwrap_err();
    assert!(matches!(err, AccountError::Decrypt { .. }), "{err}");
}

/// Runs in a child process with a session bus address that leads nowhere, so the real
/// Secret Service connection fails and `choose_store` must pick the file.
#[test]
fn choose_store_falls_back_to_the_file_without_a_bus() {
    if std::env::var_os("SEKIA_ACCOUNTS_FALLBACK_CHILD").is_some() {
        let tmp = tempfile::tempdir().unwrap();
        let choice = choose_store(&tmp.path().join("accounts"), || {
            Ok(age::x25519::Identity::generate())
        })
        .unwrap();
        assert_eq!(choice.kind, StoreKind::EncryptedFile);
        assert_eq!(choice.store.kind(), StoreKind::EncryptedFile);
        let why = choice.why_not_keyring.unwrap();
        assert!(why.contains("keychain"), "{why}");
        let id = AccountId::new("github", "octo").unwrap();
        choice.store.save(&id, &tokens("gho")).unwrap();
        assert_eq!(
            choice
                .store
                .load(&id)
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "gho"
        );
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "choose_store_falls_back_to_the_file_without_a_bus",
            "--nocapture",
        ])
        .env("SEKIA_ACCOUNTS_FALLBACK_CHILD", "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/sekia-test-bus",
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the child must have run the check: {text}"
    );
}
