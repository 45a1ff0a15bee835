//! Canonical JSON: the exact bytes Go's `json.Marshal` produces for a value
//! decoded into `any`.
//!
//! Command signatures are an HMAC over such bytes, and the Go verifier
//! re-marshals the payload *after decoding it* (objects become
//! `map[string]any`, every number a `float64`). To produce or check the same
//! signature we must reproduce that output bit for bit:
//!
//! - no whitespace;
//! - object keys sorted bytewise (UTF-8 byte order) at every depth;
//! - strings escaped as Go does (see [`crate::json::write_go_str`]): `<` `>`
//!   `&` U+2028 U+2029 and control characters escaped, the rest raw UTF-8;
//! - every number goes through `f64` first (so integers above 2^53 are
//!   rounded) and is printed as Go prints a `float64`
//!   (see [`crate::json::format_go_f64`]): `42`, `0.5`, `1e+21`, `1e-7`, `-0`.
//!
//! Keys are sorted explicitly rather than relying on `serde_json::Map`
//! iteration order, so the result stays correct even if another crate in the
//! build turns on serde_json's `preserve_order` feature.

use serde_json::{Map, Value};

use crate::json::{format_go_f64, write_go_str};

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A number that is not a finite `f64` (only possible with serde_json's
    /// `arbitrary_precision` feature). Go cannot decode it either, so a
    /// command carrying it could never verify on a Go agent.
    #[error("number {0} is not representable as a finite float64")]
    NumberOutOfRange(String),
}

/// Returns the canonical (Go `json.Marshal`) encoding of `value`.
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(64);
    write_canonical(&mut out, value)?;
    Ok(out)
}

/// Appends the canonical encoding of `value` to `out`.
///
/// On error `out` may hold a partial encoding.
pub fn write_canonical(out: &mut String, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => out.push_str(&format_go_f64(f)),
            _ => return Err(CanonicalError::NumberOutOfRange(n.to_string())),
        },
        Value::String(s) => write_go_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => write_canonical_object(out, map)?,
    }
    Ok(())
}

/// Appends the canonical encoding of a JSON object (keys sorted bytewise).
pub fn write_canonical_object(
    out: &mut String,
    map: &Map<String, Value>,
) -> Result<(), CanonicalError> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // `str` ordering is bytewise, which is what Go's `strings.Compare` does.
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_go_str(out, key);
        out.push(':');
        write_canonical(out, value)?;
    }
    out.push('}');
    Ok(())
}

/// The bytes a command signature covers: Go's
/// `json.Marshal(struct{Command; Payload map[string]any; Source})`, i.e.
/// `{"command":…,"payload":…,"source":…}` in that field order.
///
/// `payload: None` is Go's nil map and encodes as `null`; `Some(empty)`
/// encodes as `{}`. The two sign differently, which is why
/// [`crate::types::Command::payload`] keeps the distinction.
pub fn signing_bytes(
    command: &str,
    payload: Option<&Map<String, Value>>,
    source: &str,
) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(64);
    out.push_str("{\"command\":");
    write_go_str(&mut out, command);
    out.push_str(",\"payload\":");
    match payload {
        Some(map) => write_canonical_object(&mut out, map)?,
        None => out.push_str("null"),
    }
    out.push_str(",\"source\":");
    write_go_str(&mut out, source);
    out.push('}');
    Ok(out)
}
