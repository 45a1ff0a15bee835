//! HMAC-SHA256 command signatures, compatible with Go sekia's
//! `SignCommand` / `VerifyCommand`.
//!
//! The MAC is keyed with the UTF-8 bytes of the shared secret
//! (`security.command_secret`) and covers [`crate::canonical::signing_bytes`]
//! of the command; the signature is its lowercase hex. The target agent and
//! the subject are not covered and there is no nonce: this is Go's scheme,
//! kept for compatibility.
//!
//! Verification compares the hex text in constant time, as Go does
//! (`hmac.Equal` on the hex strings), so an uppercase-hex signature is
//! rejected just as a Go agent would reject it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::canonical::{CanonicalError, signing_bytes};
use crate::types::Command;

type HmacSha256 = Hmac<Sha256>;

/// Why a command was not signed or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A secret is configured but the command carries no signature.
    #[error("command is not signed but a command secret is configured")]
    Missing,
    /// The signature does not match the command under this secret.
    #[error("command signature is invalid")]
    Invalid,
    /// The payload has no canonical form, so it cannot be signed or checked.
    #[error("command payload cannot be canonicalised: {0}")]
    Canonical(#[from] CanonicalError),
}

/// The signature of `cmd` under `secret` (64 lowercase hex characters),
/// whatever `cmd.signature` currently holds. Computed even for an empty
/// secret; [`sign`] and [`verify`] are where "empty secret = signing off"
/// is decided.
pub fn compute_signature(cmd: &Command, secret: &str) -> Result<String, SignatureError> {
    let bytes = signing_bytes(&cmd.command, cmd.payload.as_ref(), &cmd.source)?;
    Ok(hex::encode(hmac_sha256(
        secret.as_bytes(),
        bytes.as_bytes(),
    )))
}

/// The signature (64 lowercase hex characters) of already-built
/// [`crate::canonical::signing_bytes`], given as consecutive parts (so that a
/// caller that has most of them in an output buffer need not copy them).
/// Same result as [`compute_signature`] on the command those bytes encode.
pub fn signature_of_parts(secret: &str, parts: &[&[u8]]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Signs `cmd` in place. With an empty secret signing is off and `cmd` is
/// left untouched, as in Go.
pub fn sign(cmd: &mut Command, secret: &str) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Ok(());
    }
    cmd.signature = compute_signature(cmd, secret)?;
    Ok(())
}

/// Checks `cmd.signature`.
///
/// - empty secret: verification is off, every command is accepted;
/// - secret set, no signature: [`SignatureError::Missing`];
/// - otherwise the signature must equal the expected lowercase hex
///   (constant-time comparison), else [`SignatureError::Invalid`].
pub fn verify(cmd: &Command, secret: &str) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Ok(());
    }
    if cmd.signature.is_empty() {
        return Err(SignatureError::Missing);
    }
    let expected = compute_signature(cmd, secret)?;
    if bool::from(expected.as_bytes().ct_eq(cmd.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

/// HMAC-SHA256 of `message` under `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (longer ones are hashed first), so
    // `new_from_slice` cannot fail. A panic is preferable to any fallback
    // MAC value, which would make forged signatures verify.
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}
