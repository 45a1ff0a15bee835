//! Random values for the flow: the PKCE pair (RFC 7636, S256) and the `state`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::AccountError;

/// `n` random bytes from the OS, base64url without padding.
pub(crate) fn random_token(n: usize) -> Result<String, AccountError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)
        .map_err(|e| AccountError::Internal(format!("no randomness from the OS: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// A code verifier (32 random bytes → 43 characters, the RFC's minimum length and all
/// unreserved characters) and its S256 challenge.
pub(crate) fn pkce_pair() -> Result<(String, String), AccountError> {
    let verifier = random_token(32)?;
    Ok((challenge(&verifier), verifier))
}

pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (c, v) = pkce_pair().unwrap();
        assert_eq!(v.len(), 43);
        assert_eq!(challenge(&v), c);
        assert_ne!(random_token(16).unwrap(), random_token(16).unwrap());
    }
}
