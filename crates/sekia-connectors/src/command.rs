//! What a command handler gets and returns: typed access to the payload, and
//! the error that becomes the `error` of a `command.failed` result.
//!
//! Field errors use sekia's wording (`missing required field: owner`,
//! `owner must be a string`) so workflows and docs written for sekia read the
//! same messages.

use sekia_protocol::Payload;
use serde_json::Value;

use crate::http::HttpError;

/// Why a command did not run or did not succeed. The `Display` text is what the
/// result event carries in `error`; it never contains a credential.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A required payload field is absent (or `null`).
    #[error("missing required field: {0}")]
    MissingField(String),
    /// A payload field has the wrong JSON type.
    #[error("{field} must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    /// A payload field has the right type but an unusable value.
    #[error("{field}: {reason}")]
    BadValue { field: String, reason: String },
    /// The agent does not know this command.
    #[error("unknown command: {0}")]
    Unknown(String),
    /// The command's signature is missing or wrong under the configured secret.
    #[error("rejected command: {0}")]
    Signature(#[from] sekia_protocol::SignatureError),
    /// The message on the command subject is not a command.
    #[error("invalid command message: {0}")]
    Decode(String),
    /// The agent's queue is full; the command was dropped.
    #[error("command queue is full ({0} waiting); command dropped")]
    QueueFull(usize),
    /// The agent stopped before the command was started.
    #[error("the agent stopped before running it")]
    Stopped,
    /// The service refused or could not be reached (after retries).
    #[error("{0}")]
    Http(#[from] HttpError),
    /// The service answered, but not with what the command needed.
    #[error("{0}")]
    Service(String),
}

/// Typed, named access to a command payload.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    payload: &'a Payload,
    /// Prefix for field names in errors (`fields[1].field_id`), empty at top level.
    path: &'a str,
}

static EMPTY: std::sync::LazyLock<Payload> = std::sync::LazyLock::new(Payload::new);

impl<'a> Args<'a> {
    /// The payload of a command; `None` (a `null` payload) has no fields.
    pub fn new(payload: Option<&'a Payload>) -> Self {
        Self {
            payload: payload.unwrap_or(&EMPTY),
            path: "",
        }
    }

    /// A nested object, with `path` naming it in errors.
    pub fn nested(payload: &'a Payload, path: &'a str) -> Self {
        Self { payload, path }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.payload.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &'static str) -> CommandError {
        CommandError::WrongType {
            field: self.name(key),
            expected,
        }
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&'a str, CommandError> {
        match self.get(key) {
            None => Err(CommandError::MissingField(self.name(key))),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    /// A required, non-empty string.
    pub fn non_empty_str(&self, key: &str) -> Result<&'a str, CommandError> {
        let s = self.str(key)?;
        if s.is_empty() {
            return Err(CommandError::BadValue {
                field: self.name(key),
                reason: "must not be empty".into(),
            });
        }
        Ok(s)
    }

    /// An optional string.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, CommandError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    /// A required whole number (Lua and Go send every number as a float, so
    /// `42.0` is accepted; `42.5` is not).
    pub fn int(&self, key: &str) -> Result<i64, CommandError> {
        match self.get(key) {
            None => Err(CommandError::MissingField(self.name(key))),
            Some(v) => as_int(v).ok_or_else(|| self.wrong(key, "a whole number")),
        }
    }

    /// An optional number.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, CommandError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a number")),
        }
    }

    /// An optional array.
    pub fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, CommandError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            // sekia's Lua bridge turns an empty table into `{}`, so an empty object is
            // an empty list here.
            Some(Value::Object(o)) if o.is_empty() => Ok(None),
            Some(_) => Err(self.wrong(key, "an array")),
        }
    }
}

fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    // Exactly representable integers only; 2^53 is where floats stop being exact.
    if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        Some(f as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        match v {
            Value::Object(m) => m,
            _ => Payload::new(),
        }
    }

    #[test]
    fn names_missing_and_mistyped_fields() {
        let p = payload(json!({"owner": 1, "number": 4.0, "n2": 4.5, "title": null, "s": "x"}));
        let a = Args::new(Some(&p));
        assert_eq!(
            a.str("repo").unwrap_err().to_string(),
            "missing required field: repo"
        );
        assert_eq!(
            a.str("title").unwrap_err().to_string(),
            "missing required field: title"
        );
        assert_eq!(
            a.str("owner").unwrap_err().to_string(),
            "owner must be a string"
        );
        assert_eq!(a.int("number").unwrap(), 4);
        assert_eq!(
            a.int("n2").unwrap_err().to_string(),
            "n2 must be a whole number"
        );
        assert_eq!(
            a.int("s").unwrap_err().to_string(),
            "s must be a whole number"
        );
        assert_eq!(a.opt_str("s").unwrap(), Some("x"));
        assert_eq!(a.opt_str("nope").unwrap(), None);
        let inner = payload(json!({"x": 1}));
        let n = Args::nested(&inner, "fields[0]");
        assert_eq!(
            n.str("field_id").unwrap_err().to_string(),
            "missing required field: fields[0].field_id"
        );
        assert!(Args::new(None).str("a").is_err());
    }
}
