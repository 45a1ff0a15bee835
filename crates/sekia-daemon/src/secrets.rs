//! `ENC[...]` config values: age (X25519) ciphertexts, base64 (standard, padded) inside the
//! brackets, as sekia writes them. Also the identity lookup and key generation behind
//! `sekiactl secrets`.
//!
//! No function here puts a plaintext or a key into an error message.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;

/// An age X25519 identity (secret key).
pub use age::x25519::Identity;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use crate::fsperm;

#[derive(Debug, Error)]
pub enum SecretsError {
    #[error(
        "config contains ENC[...] values but no age identity is configured; set SEKIA_AGE_KEY, \
         SEKIA_AGE_KEY_FILE or secrets.identity, or create one with `sekiactl secrets keygen`"
    )]
    NoIdentity,
    #[error("age identity file {path}: {message}")]
    IdentityFile { path: PathBuf, message: String },
    #[error("SEKIA_AGE_KEY does not hold an age secret key (AGE-SECRET-KEY-1...)")]
    BadRawIdentity,
    #[error("the value is not of the form ENC[<base64>]")]
    NotEncrypted,
    #[error("the ENC[...] value is not valid base64")]
    BadBase64,
    #[error("cannot decrypt the ENC[...] value: {0}")]
    Decrypt(String),
    #[error("the decrypted value is not UTF-8 text")]
    NotUtf8,
    #[error(
        "{0}[...] values (AWS) are not supported by this build; encrypt the value with `sekiactl secrets encrypt` and use ENC[...]"
    )]
    Unsupported(&'static str),
    #[error("invalid age recipient (expected age1...)")]
    BadRecipient,
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a config string holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Sealed<'a> {
    Plain,
    Enc(&'a str),
    Kms,
    Asm,
}

/// sekia's rule: the whole value must be `PREFIX[` + non-empty inner + `]`.
pub fn classify(value: &str) -> Sealed<'_> {
    let inner = |prefix: &str| {
        value
            .strip_prefix(prefix)
            .and_then(|v| v.strip_suffix(']'))
            .filter(|v| !v.is_empty())
    };
    if let Some(inner) = inner("ENC[") {
        Sealed::Enc(inner)
    } else if inner("KMS[").is_some() {
        Sealed::Kms
    } else if inner("ASM[").is_some() {
        Sealed::Asm
    } else {
        Sealed::Plain
    }
}

/// The age identities to decrypt with, found in sekia's order: `SEKIA_AGE_KEY` (the key itself),
/// `SEKIA_AGE_KEY_FILE`, `secrets.identity`, then `~/.config/sekia/age.key` if it exists.
pub fn find_identities(
    env: &BTreeMap<String, String>,
    configured: &Path,
    home: Option<&Path>,
) -> Result<Option<Vec<x25519::Identity>>, SecretsError> {
    if let Some(raw) = env.get("SEKIA_AGE_KEY").filter(|v| !v.trim().is_empty()) {
        let ids = parse_identities(raw);
        return if ids.is_empty() {
            Err(SecretsError::BadRawIdentity)
        } else {
            Ok(Some(ids))
        };
    }
    let file = env
        .get("SEKIA_AGE_KEY_FILE")
        .filter(|v| !v.is_empty())
        .map(|p| crate::config::expand_tilde(Path::new(p), home))
        .or_else(|| (!configured.as_os_str().is_empty()).then(|| configured.to_path_buf()));
    if let Some(path) = file {
        return read_identity_file(&path).map(Some);
    }
    match home.map(default_key_path).filter(|p| p.is_file()) {
        Some(path) => read_identity_file(&path).map(Some),
        None => Ok(None),
    }
}

/// `~/.config/sekia/age.key`.
pub fn default_key_path(home: &Path) -> PathBuf {
    home.join(".config/sekia/age.key")
}

pub fn read_identity_file(path: &Path) -> Result<Vec<x25519::Identity>, SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SecretsError::IdentityFile {
        path: path.into(),
        message: e.to_string(),
    })?;
    let ids = parse_identities(&text);
    if ids.is_empty() {
        return Err(SecretsError::IdentityFile {
            path: path.into(),
            message: "no AGE-SECRET-KEY-1... line found".into(),
        });
    }
    Ok(ids)
}

/// Identity lines of an age key file; comments and blank lines skipped.
fn parse_identities(text: &str) -> Vec<x25519::Identity> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| x25519::Identity::from_str(l).ok())
        .collect()
}

/// Decrypts one `ENC[...]` value.
pub fn decrypt_value(value: &str, identities: &[x25519::Identity]) -> Result<String, SecretsError> {
    let Sealed::Enc(inner) = classify(value.trim()) else {
        return Err(SecretsError::NotEncrypted);
    };
    let ciphertext = STANDARD
        .decode(inner)
        .map_err(|_| SecretsError::BadBase64)?;
    let decryptor =
        age::Decryptor::new(&ciphertext[..]).map_err(|e| SecretsError::Decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => {
                SecretsError::Decrypt("wrong age key (no identity matches)".into())
            }
            other => SecretsError::Decrypt(other.to_string()),
        })?;
    let mut plain = Vec::new();
    reader
        .read_to_end(&mut plain)
        .map_err(|e| SecretsError::Decrypt(format!("corrupt ciphertext ({})", e.kind())))?;
    String::from_utf8(plain).map_err(|_| SecretsError::NotUtf8)
}

/// Encrypts `plaintext` to `recipient` as `ENC[<base64>]`.
pub fn encrypt_value(
    plaintext: &str,
    recipient: &x25519::Recipient,
) -> Result<String, SecretsError> {
    let ciphertext = age::encrypt(recipient, plaintext.as_bytes())
        .map_err(|e| SecretsError::Encrypt(e.to_string()))?;
    Ok(format!("ENC[{}]", STANDARD.encode(ciphertext)))
}

pub fn parse_recipient(text: &str) -> Result<x25519::Recipient, SecretsError> {
    x25519::Recipient::from_str(text.trim()).map_err(|_| SecretsError::BadRecipient)
}

/// Writes a new key file (0600 in a 0700 folder) in sekia's format and returns the public key.
/// An existing file is kept unless `force`.
pub fn keygen(path: &Path, force: bool, created_rfc3339: &str) -> Result<String, SecretsError> {
    let identity = x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let body = format!(
        "# created: {created_rfc3339}\n# public key: {public}\n{}\n",
        identity.to_string().expose_secret()
    );
    fsperm::write_private_file(path, body.as_bytes(), force).map_err(|source| SecretsError::Io {
        path: path.into(),
        source: if source.kind() == std::io::ErrorKind::AlreadyExists {
            std::io::Error::new(source.kind(), "a key file already exists; pass --force to replace it (values encrypted to the old key become unreadable)")
        } else {
            source
        },
    })?;
    Ok(public)
}

/// Walks every string in the config table, decrypting `ENC[...]` values in place. Errors carry
/// the dotted key. Identities are looked up only when an `ENC[...]` value exists.
pub(crate) fn resolve_config_values(
    table: &mut toml::Table,
    env: &BTreeMap<String, String>,
    configured_identity: &Path,
    home: Option<&Path>,
) -> Result<(), (String, SecretsError)> {
    let mut sealed = Vec::new();
    collect_sealed(table, "", &mut sealed);
    if sealed.is_empty() {
        return Ok(());
    }
    let mut identities: Option<Vec<x25519::Identity>> = None;
    for key in sealed {
        let Some(slot) = lookup_mut(table, &key) else {
            continue;
        };
        let Some(value) = slot.as_str() else { continue };
        let plain = match classify(value) {
            Sealed::Kms => return Err((key, SecretsError::Unsupported("KMS"))),
            Sealed::Asm => return Err((key, SecretsError::Unsupported("ASM"))),
            Sealed::Plain => continue,
            Sealed::Enc(_) => {
                if identities.is_none() {
                    identities = Some(
                        find_identities(env, configured_identity, home)
                            .map_err(|e| (key.clone(), e))?
                            .ok_or_else(|| (key.clone(), SecretsError::NoIdentity))?,
                    );
                }
                decrypt_value(value, identities.as_deref().unwrap_or_default())
                    .map_err(|e| (key.clone(), e))?
            }
        };
        *slot = toml::Value::String(plain);
    }
    Ok(())
}

fn collect_sealed(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) if classify(s) != Sealed::Plain => out.push(key),
            toml::Value::Table(t) => collect_sealed(t, &key, out),
            _ => {}
        }
    }
}

fn lookup_mut<'a>(table: &'a mut toml::Table, dotted: &str) -> Option<&'a mut toml::Value> {
    let mut parts = dotted.split('.');
    let mut current = table.get_mut(parts.next()?)?;
    for part in parts {
        current = current.as_table_mut()?.get_mut(part)?;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_including_empty_string() {
        let id = x25519::Identity::generate();
        for plain in ["hunter2", "", "ünïcode ✓"] {
            let enc = encrypt_value(plain, &id.to_public()).unwrap();
            assert!(enc.starts_with("ENC[") && enc.ends_with(']'));
            assert_eq!(
                decrypt_value(&enc, std::slice::from_ref(&id)).unwrap(),
                plain
            );
        }
    }

    #[test]
    fn wrong_key_and_corruption_are_errors_without_plaintext() {
        let id = x25519::Identity::generate();
        let other = x25519::Identity::generate();
        let enc = encrypt_value("s3cr3t-value", &id.to_public()).unwrap();
        let err = decrypt_value(&enc, &[other]).unwrap_err().to_string();
        assert!(err.contains("wrong age key"), "{err}");
        assert!(!err.contains("s3cr3t-value"));
        assert!(matches!(
            decrypt_value("ENC[!!!]", std::slice::from_ref(&id)),
            Err(SecretsError::BadBase64)
        ));
        let corrupt = format!(
            "ENC[{}]",
            STANDARD.encode(b"age-encryption.org/v1\ngarbage")
        );
        assert!(decrypt_value(&corrupt, &[id]).is_err());
    }

    #[test]
    fn classify_follows_sekia() {
        assert_eq!(classify("ENC[abc]"), Sealed::Enc("abc"));
        assert_eq!(classify("ENC[]"), Sealed::Plain);
        assert_eq!(classify("KMS[x]"), Sealed::Kms);
        assert_eq!(classify("ASM[name]"), Sealed::Asm);
        assert_eq!(classify("plain"), Sealed::Plain);
    }

    #[test]
    fn identity_lookup_order() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let a = x25519::Identity::generate();
        let env_key: BTreeMap<_, _> = [(
            "SEKIA_AGE_KEY".to_string(),
            a.to_string().expose_secret().to_string(),
        )]
        .into();
        let found = find_identities(&env_key, Path::new(""), Some(home))
            .unwrap()
            .unwrap();
        assert_eq!(found[0].to_public().to_string(), a.to_public().to_string());

        assert!(
            find_identities(&BTreeMap::new(), Path::new(""), Some(home))
                .unwrap()
                .is_none()
        );
        let pubkey = keygen(&default_key_path(home), false, "2026-01-01T00:00:00Z").unwrap();
        let found = find_identities(&BTreeMap::new(), Path::new(""), Some(home))
            .unwrap()
            .unwrap();
        assert_eq!(found[0].to_public().to_string(), pubkey);
        assert!(fsperm::is_private(&default_key_path(home)).unwrap());
        assert!(
            keygen(&default_key_path(home), false, "x").is_err(),
            "must refuse to overwrite"
        );
    }
}
