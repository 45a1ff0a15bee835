//! Where tokens are kept: the [`TokenStore`] trait, the stored form of a token set, and the
//! automatic choice between the OS keychain and the encrypted file.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::AccountError;
use crate::file_store::FileStore;
use crate::keyring_store::KeyringStore;
use crate::secret::{AccountId, Secret, TokenSet};

/// Keeps one token set per account. Calls block (D-Bus, file I/O): async code calls them
/// through `spawn_blocking`, as [`crate::Account`] does.
pub trait TokenStore: Send + Sync {
    /// Which kind of store this is, for status.
    fn kind(&self) -> StoreKind;
    /// The account's tokens, `None` if none are stored.
    fn load(&self, account: &AccountId) -> Result<Option<TokenSet>, AccountError>;
    /// Stores (replaces) the account's tokens.
    fn save(&self, account: &AccountId, tokens: &TokenSet) -> Result<(), AccountError>;
    /// Forgets the account's tokens; no error if there were none.
    fn delete(&self, account: &AccountId) -> Result<(), AccountError>;
}

/// Which store holds the tokens; serialized for the daemon's status as `keyring` or
/// `encrypted_file`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    Keyring,
    EncryptedFile,
    /// sekia's plain JSON token file (a standalone `sekia-agent google`).
    TokenFile,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreKind::Keyring => "the OS keychain",
            StoreKind::EncryptedFile => "an age-encrypted file",
            StoreKind::TokenFile => "a token file",
        })
    }
}

/// The outcome of [`choose_store`].
pub struct StoreChoice {
    pub store: Arc<dyn TokenStore>,
    pub kind: StoreKind,
    /// Why the keychain was not used (for status and the log); `None` when it is.
    pub why_not_keyring: Option<String>,
}

/// The OS keychain when one answers, else an age-encrypted file per account in `file_dir`
/// (created 0700), encrypted to the identity `identity` yields — asked for only when the file
/// is chosen, so a keychain user never gets a key file made for them.
pub fn choose_store(
    file_dir: &Path,
    identity: impl FnOnce() -> Result<age::x25519::Identity, AccountError>,
) -> Result<StoreChoice, AccountError> {
    let why = match KeyringStore::open().and_then(|k| k.probe().map(|()| k)) {
        Ok(keyring) => {
            return Ok(StoreChoice {
                store: Arc::new(keyring),
                kind: StoreKind::Keyring,
                why_not_keyring: None,
            });
        }
        Err(e) => e.to_string(),
    };
    tracing::info!(reason = %why, dir = %file_dir.display(), "no OS keychain answers; account tokens go to age-encrypted files");
    Ok(StoreChoice {
        store: Arc::new(FileStore::new(file_dir, identity()?)),
        kind: StoreKind::EncryptedFile,
        why_not_keyring: Some(why),
    })
}

/// The OS keychain, or the error saying why it cannot be used (`accounts.store = "keyring"`).
pub fn keyring_store() -> Result<StoreChoice, AccountError> {
    let keyring = KeyringStore::open()?;
    keyring.probe()?;
    Ok(StoreChoice {
        store: Arc::new(keyring),
        kind: StoreKind::Keyring,
        why_not_keyring: None,
    })
}

/// The encrypted files, without trying the keychain (`accounts.store = "file"`).
pub fn file_store(file_dir: &Path, identity: age::x25519::Identity) -> StoreChoice {
    StoreChoice {
        store: Arc::new(FileStore::new(file_dir, identity)),
        kind: StoreKind::EncryptedFile,
        why_not_keyring: Some("accounts.store is \"file\"".into()),
    }
}

/// The stored form: JSON with a version, in the keychain item or inside the age file.
/// No `Debug`: it holds plain token strings.
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    scopes: Vec<String>,
    token_type: String,
}

pub(crate) fn encode(tokens: &TokenSet) -> String {
    let stored = Stored {
        v: 1,
        access_token: tokens.access_token.expose().to_owned(),
        refresh_token: tokens.refresh_token.as_ref().map(|s| s.expose().to_owned()),
        expires_at: tokens.expires_at,
        scopes: tokens.scopes.clone(),
        token_type: tokens.token_type.clone(),
    };
    // Serializing plain strings, numbers and vectors cannot fail.
    serde_json::to_string(&stored).unwrap_or_default()
}

pub(crate) fn decode(account: &AccountId, text: &str) -> Result<TokenSet, AccountError> {
    // Only the position of a parse error is kept: serde's message can quote the input.
    let stored: Stored = serde_json::from_str(text).map_err(|e| AccountError::CorruptTokens {
        account: account.to_string(),
        line: e.line(),
        column: e.column(),
    })?;
    Ok(TokenSet {
        access_token: Secret::new(stored.access_token),
        refresh_token: stored.refresh_token.map(Secret::new),
        expires_at: stored.expires_at,
        scopes: stored.scopes,
        token_type: stored.token_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_and_corruption_without_content() {
        let id = AccountId::new("linear", "me").unwrap();
        let t = TokenSet {
            access_token: Secret::new("acc-tok"),
            refresh_token: Some(Secret::new("ref-tok")),
            expires_at: Some(42),
            scopes: vec!["read".into()],
            token_type: "Bearer".into(),
        };
        let back = decode(&id, &encode(&t)).unwrap();
        assert_eq!(back.access_token.expose(), "acc-tok");
        assert_eq!(back.refresh_token.unwrap().expose(), "ref-tok");
        assert_eq!(back.expires_at, Some(42));
        assert_eq!(back.scopes, ["read"]);
        let err = decode(&id, r#"{"v":1,"access_token":"leaky-tok","token_type":7}"#).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("leaky-tok"), "{err}");
    }
}
