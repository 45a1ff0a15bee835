//! Durations written the way sekia's (Go) config writes them: `30s`, `5m`, `1h30m`, `500ms`.

use std::fmt;
use std::time::Duration as StdDuration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A config duration. A bare integer is refused: in Go it would silently mean nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub StdDuration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(StdDuration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self(StdDuration::from_millis(ms))
    }

    pub fn get(self) -> StdDuration {
        self.0
    }

    /// Parses `30s`, `5m`, `1h30m`, `1h 30m`, `500ms`, `0`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "0" {
            return Ok(Self(StdDuration::ZERO));
        }
        humantime::parse_duration(text).map(Self).map_err(|e| {
            format!("invalid duration {text:?} ({e}); write it like \"30s\", \"5m\" or \"1h30m\"")
        })
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Go's syntax (`30s`, `720h0m0s`, `500ms`), which sekia's config uses and which both this
/// parser and the UI read back: what the Settings page shows can be saved unchanged.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            f.write_str(&sekia_protocol::format_go_duration_secs(self.0.as_secs()))
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"5m\" or \"1h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(Duration::parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(Duration::parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(Duration::parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            Duration::parse("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(Duration::parse("0").unwrap(), Duration::from_secs(0));
        assert!(Duration::parse("soon").is_err());
        assert!(Duration::parse("30").is_err());
    }

    #[test]
    fn displays_in_go_syntax_and_reads_back() {
        assert_eq!(Duration::from_secs(5400).to_string(), "1h30m0s");
        assert_eq!(Duration::from_secs(30 * 86_400).to_string(), "720h0m0s");
        for d in [5400, 30 * 86_400, 30, 0] {
            let d = Duration::from_secs(d);
            assert_eq!(Duration::parse(&d.to_string()).unwrap(), d);
        }
        assert_eq!(Duration::from_millis(500).to_string(), "500ms");
        assert_eq!(Duration::from_secs(0).to_string(), "0s");
    }
}
