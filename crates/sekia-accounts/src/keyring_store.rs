//! Tokens in the OS keychain through `keyring-core`: the Secret Service (GNOME Keyring,
//! KWallet) on Linux, the login Keychain on macOS, the Credential Manager on Windows (the
//! latter two are built and tested by the macOS and Windows CI jobs, not on this machine). One item per account, service `sekia`, user
//! `account/<provider>/<name>`, holding the JSON of the token set.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use crate::error::AccountError;
use crate::secret::{AccountId, TokenSet};
use crate::store::{StoreKind, TokenStore, decode, encode};

const SERVICE: &str = "sekia";

/// The OS keychain.
pub struct KeyringStore {
    store: Arc<CredentialStore>,
}

impl KeyringStore {
    /// Connects to the platform keychain (on Linux: the Secret Service on the session bus).
    pub fn open() -> Result<Self, AccountError> {
        #[cfg(target_os = "linux")]
        {
            let store = zbus_secret_service_keyring_store::Store::new()
                .map_err(|e| keyring_error("connect", "-", e))?;
            Ok(Self::with_store(store))
        }
        #[cfg(target_os = "macos")]
        {
            let store = apple_native_keyring_store::keychain::Store::new()
                .map_err(|e| keyring_error("connect", "-", e))?;
            Ok(Self::with_store(store))
        }
        #[cfg(target_os = "windows")]
        {
            let store = windows_native_keyring_store::Store::new()
                .map_err(|e| keyring_error("connect", "-", e))?;
            Ok(Self::with_store(store))
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
        {
            Err(AccountError::Keyring {
                action: "connect",
                account: "-".into(),
                message: "this build has no keychain backend for this platform".into(),
            })
        }
    }

    /// Uses any keyring-core store (tests, other platforms).
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        Self { store }
    }

    /// Looks up an item that does not exist: "no entry" means the keychain answers.
    pub fn probe(&self) -> Result<(), AccountError> {
        let entry = self
            .store
            .build(SERVICE, "probe/does-not-exist", None)
            .map_err(|e| keyring_error("probe", "-", e))?;
        match entry.get_password() {
            Ok(_) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error("probe", "-", e)),
        }
    }

    fn entry(&self, account: &AccountId, action: &'static str) -> Result<Entry, AccountError> {
        let label = format!("sekia: {} account {}", account.provider(), account.name());
        let mods = HashMap::from([("label", label.as_str())]);
        self.store
            .build(SERVICE, &user(account), Some(&mods))
            .map_err(|e| keyring_error(action, &account.to_string(), e))
    }
}

fn user(account: &AccountId) -> String {
    format!("account/{}/{}", account.provider(), account.name())
}

impl TokenStore for KeyringStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Keyring
    }

    fn load(&self, account: &AccountId) -> Result<Option<TokenSet>, AccountError> {
        match self.entry(account, "read tokens")?.get_password() {
            Ok(text) => decode(account, &text).map(Some),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error("read tokens", &account.to_string(), e)),
        }
    }

    fn save(&self, account: &AccountId, tokens: &TokenSet) -> Result<(), AccountError> {
        self.entry(account, "store tokens")?
            .set_password(&encode(tokens))
            .map_err(|e| keyring_error("store tokens", &account.to_string(), e))
    }

    fn delete(&self, account: &AccountId) -> Result<(), AccountError> {
        match self.entry(account, "delete tokens")?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error("delete tokens", &account.to_string(), e)),
        }
    }
}

/// keyring-core's errors can carry the secret's bytes (`BadEncoding`, `BadDataFormat`): those
/// get our own words; the rest are platform messages without item contents.
pub(crate) fn keyring_error(action: &'static str, account: &str, e: KeyringError) -> AccountError {
    let message = match e {
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            "the stored item is not in the expected format; reconnect the account".to_owned()
        }
        KeyringError::Ambiguous(items) => format!(
            "{} keychain items match; remove the extra ones in the keychain manager",
            items.len()
        ),
        KeyringError::NoStorageAccess(inner) => {
            format!("the keychain is locked or refused access ({inner}); unlock it and try again")
        }
        other => other.to_string(),
    };
    AccountError::Keyring {
        action,
        account: account.to_owned(),
        message,
    }
}
