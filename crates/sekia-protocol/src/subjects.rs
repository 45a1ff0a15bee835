//! Bus subjects: the names sekia publishes on, their validation, and
//! NATS-style wildcard matching.
//!
//! Subjects are `.`-separated, non-empty tokens. Subscription patterns may
//! use `*` (exactly one token) and, as the last token, `>` (one or more
//! tokens). These are NATS semantics. Go sekia's own workflow matcher also
//! let `a.>` match `a` (zero tokens); we deliberately do not copy that quirk.
//!
//! Names spliced into a subject (agent names, event sources, reload targets)
//! are validated with [`validate_token`], so a name like `x.>` or `a b`
//! cannot turn a publish into a different subject or a wildcard.

use std::fmt;
use std::str::FromStr;

/// Registrations from starting agents.
pub const REGISTRY: &str = "sekia.registry";
/// Every agent heartbeat (what the registry subscribes to).
pub const HEARTBEAT_ALL: &str = "sekia.heartbeat.>";
/// Every event (what the workflow engine and the web event feed subscribe to).
pub const EVENTS_ALL: &str = "sekia.events.>";
/// Every command to every agent.
pub const COMMANDS_ALL: &str = "sekia.commands.>";
/// Config reload broadcast to the daemon and all agents (empty body).
pub const CONFIG_RELOAD: &str = "sekia.config.reload";

/// `sekia.heartbeat.<agent>`, where an agent sends its [`crate::Heartbeat`].
pub fn heartbeat(agent: &str) -> Result<String, SubjectError> {
    join("sekia.heartbeat.", agent)
}

/// `sekia.events.<source>`, where events of a source are published.
pub fn events(source: &str) -> Result<String, SubjectError> {
    join("sekia.events.", source)
}

/// `sekia.commands.<agent>`, which the named agent subscribes to.
pub fn commands(agent: &str) -> Result<String, SubjectError> {
    join("sekia.commands.", agent)
}

/// `sekia.config.reload.<name>`, a reload aimed at one agent or the daemon.
pub fn config_reload_target(name: &str) -> Result<String, SubjectError> {
    join("sekia.config.reload.", name)
}

fn join(prefix: &str, token: &str) -> Result<String, SubjectError> {
    validate_token(token)?;
    let mut s = String::with_capacity(prefix.len() + token.len());
    s.push_str(prefix);
    s.push_str(token);
    Ok(s)
}

/// Why a subject, pattern or token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The whole subject or pattern is empty.
    #[error("subject is empty")]
    Empty,
    /// `a..b`, a leading/trailing `.`, or an empty name.
    #[error("{0:?}: empty token")]
    EmptyToken(String),
    /// Whitespace or a control character; NATS cannot carry these.
    #[error("{subject:?}: invalid character {ch:?}")]
    InvalidChar {
        /// The rejected input.
        subject: String,
        /// The first offending character.
        ch: char,
    },
    /// `*` or `>` where only a concrete subject or name is allowed.
    #[error("{0:?}: wildcards are only allowed in subscription patterns")]
    Wildcard(String),
    /// `*`/`>` inside a longer token, or `>` not as the last token.
    #[error("{0:?}: '*' and '>' must be whole tokens, and '>' only the last one")]
    MisplacedWildcard(String),
    /// A name that would span several tokens.
    #[error("{0:?}: a name must not contain '.'")]
    Dot(String),
}

/// Whether an ASCII byte is whitespace or a control character: exactly the
/// ASCII chars for which `char::is_whitespace() || char::is_control()` holds.
#[inline]
fn is_ascii_invalid(b: u8) -> bool {
    b <= 0x20 || b == 0x7f
}

fn check_chars(s: &str) -> Result<(), SubjectError> {
    let found = if s.is_ascii() {
        s.bytes().find(|&b| is_ascii_invalid(b)).map(char::from)
    } else {
        s.chars().find(|c| c.is_whitespace() || c.is_control())
    };
    match found {
        Some(ch) => Err(SubjectError::InvalidChar {
            subject: s.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

fn has_wildcard_char(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'>')
}

/// Validates a concrete (publish) subject: non-empty tokens separated by
/// `.`, no whitespace or control characters, no `*` or `>` anywhere.
///
/// This runs on every publish, so a subject of printable ASCII (all of
/// sekia's) is checked in one pass over its bytes; anything else (non-ASCII,
/// whitespace, control characters) takes the general path. Both give the
/// same answer: token errors first, in token order, then the first invalid
/// character.
#[inline]
pub fn validate_subject(subject: &str) -> Result<(), SubjectError> {
    let bytes = subject.as_bytes();
    if bytes.is_empty() {
        return Err(SubjectError::Empty);
    }
    let mut token_len = 0usize;
    for &b in bytes {
        match b {
            b'.' => {
                if token_len == 0 {
                    return Err(SubjectError::EmptyToken(subject.to_owned()));
                }
                token_len = 0;
                continue;
            }
            // Every earlier token is non-empty and wildcard-free, and token
            // errors win over character errors: the general path agrees.
            b'*' | b'>' => return Err(SubjectError::Wildcard(subject.to_owned())),
            // A later token error would take precedence over this character,
            // and non-ASCII needs char-level checks: let the general path decide.
            b if b >= 0x80 || is_ascii_invalid(b) => return validate_subject_general(subject),
            _ => {}
        }
        token_len += 1;
    }
    if token_len == 0 {
        return Err(SubjectError::EmptyToken(subject.to_owned()));
    }
    Ok(())
}

/// [`validate_subject`] for any input, token by token.
#[cold]
fn validate_subject_general(subject: &str) -> Result<(), SubjectError> {
    if subject.is_empty() {
        return Err(SubjectError::Empty);
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return Err(SubjectError::EmptyToken(subject.to_owned()));
        }
        if has_wildcard_char(token) {
            return Err(SubjectError::Wildcard(subject.to_owned()));
        }
    }
    check_chars(subject)
}

/// Validates a subscription pattern: like [`validate_subject`], but a token
/// may be exactly `*`, and the last token may be exactly `>`.
pub fn validate_pattern(pattern: &str) -> Result<(), SubjectError> {
    if pattern.is_empty() {
        return Err(SubjectError::Empty);
    }
    let mut tokens = pattern.split('.').peekable();
    while let Some(token) = tokens.next() {
        let ok = match token {
            "" => return Err(SubjectError::EmptyToken(pattern.to_owned())),
            "*" => true,
            ">" => tokens.peek().is_none(),
            _ => !has_wildcard_char(token),
        };
        if !ok {
            return Err(SubjectError::MisplacedWildcard(pattern.to_owned()));
        }
    }
    check_chars(pattern)
}

/// Validates a name that becomes one subject token (agent name, event
/// source, reload target): non-empty, no `.`, no wildcards, no whitespace or
/// control characters.
pub fn validate_token(token: &str) -> Result<(), SubjectError> {
    if token.is_empty() {
        return Err(SubjectError::EmptyToken(String::new()));
    }
    if token.contains('.') {
        return Err(SubjectError::Dot(token.to_owned()));
    }
    if has_wildcard_char(token) {
        return Err(SubjectError::Wildcard(token.to_owned()));
    }
    check_chars(token)
}

/// Whether `subject` matches `pattern` with NATS semantics: `*` matches
/// exactly one token, a final `>` matches one or more remaining tokens, any
/// other token must be equal.
///
/// Allocation-free; it runs for every delivered message. It does not
/// validate: give it a pattern that passed [`validate_pattern`] (a `>` that
/// is not last is treated as if it were). For repeated matching against the
/// same pattern, [`Pattern`] is faster.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for p in pattern.split('.') {
        match p {
            ">" => return subject_tokens.next().is_some(),
            "*" => {
                if subject_tokens.next().is_none() {
                    return false;
                }
            }
            literal => {
                if subject_tokens.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    subject_tokens.next().is_none()
}

/// A validated subscription pattern, pre-analysed for fast matching.
///
/// The common shapes avoid tokenising the pattern on every match: a pattern
/// without wildcards is a string comparison, and `a.b.>` is a prefix test on
/// `a.b.`. Others keep their pre-split tokens. [`Pattern::matches`] gives the
/// same answer as [`subject_matches`] for every input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    raw: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    /// No wildcards.
    Exact,
    /// Literal tokens then `>`; the prefix is `raw[..len]`, trailing `.`
    /// included (empty for the pattern `>`).
    Prefix(usize),
    /// Anything with `*`.
    Tokens(Box<[Token]>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Token {
    Literal(Box<str>),
    One,
    Tail,
}

impl Pattern {
    /// Validates and compiles `pattern` (see [`validate_pattern`]).
    pub fn new(pattern: &str) -> Result<Self, SubjectError> {
        validate_pattern(pattern)?;
        let has_star = pattern.split('.').any(|t| t == "*");
        let kind = if has_star {
            Kind::Tokens(
                pattern
                    .split('.')
                    .map(|t| match t {
                        "*" => Token::One,
                        ">" => Token::Tail,
                        lit => Token::Literal(lit.into()),
                    })
                    .collect(),
            )
        } else if pattern == ">" {
            Kind::Prefix(0)
        } else if let Some(prefix) = pattern.strip_suffix(".>") {
            Kind::Prefix(prefix.len() + 1)
        } else {
            Kind::Exact
        };
        Ok(Self {
            raw: pattern.to_owned(),
            kind,
        })
    }

    /// Whether `subject` matches (NATS semantics, see [`subject_matches`]).
    #[inline]
    pub fn matches(&self, subject: &str) -> bool {
        match &self.kind {
            Kind::Exact => subject == self.raw,
            Kind::Prefix(len) => self
                .raw
                .get(..*len)
                .is_some_and(|prefix| subject.starts_with(prefix)),
            Kind::Tokens(tokens) => {
                let mut subject_tokens = subject.split('.');
                for token in tokens.iter() {
                    match token {
                        Token::Tail => return subject_tokens.next().is_some(),
                        Token::One => {
                            if subject_tokens.next().is_none() {
                                return false;
                            }
                        }
                        Token::Literal(lit) => {
                            if subject_tokens.next() != Some(&**lit) {
                                return false;
                            }
                        }
                    }
                }
                subject_tokens.next().is_none()
            }
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the pattern has no wildcards (matches exactly one subject).
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Exact)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for Pattern {
    type Err = SubjectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Pattern {
    type Error = SubjectError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl AsRef<str> for Pattern {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders() {
        assert_eq!(
            heartbeat("github-agent").unwrap(),
            "sekia.heartbeat.github-agent"
        );
        assert_eq!(events("github").unwrap(), "sekia.events.github");
        assert_eq!(
            commands("slack-agent").unwrap(),
            "sekia.commands.slack-agent"
        );
        assert_eq!(
            config_reload_target("sekiad").unwrap(),
            "sekia.config.reload.sekiad"
        );
        assert_eq!(events("mcp:notes").unwrap(), "sekia.events.mcp:notes");
        assert!(matches!(events("a.b"), Err(SubjectError::Dot(_))));
        assert!(matches!(commands(">"), Err(SubjectError::Wildcard(_))));
        assert!(matches!(commands("*"), Err(SubjectError::Wildcard(_))));
        assert!(matches!(heartbeat(""), Err(SubjectError::EmptyToken(_))));
        assert!(matches!(
            heartbeat("a b"),
            Err(SubjectError::InvalidChar { ch: ' ', .. })
        ));
        assert!(matches!(
            heartbeat("a\nb"),
            Err(SubjectError::InvalidChar { .. })
        ));
        assert!(matches!(
            heartbeat("a\u{0}"),
            Err(SubjectError::InvalidChar { .. })
        ));
        assert!(matches!(
            heartbeat("a\u{a0}"),
            Err(SubjectError::InvalidChar { .. })
        ));
        for p in [HEARTBEAT_ALL, EVENTS_ALL, COMMANDS_ALL] {
            validate_pattern(p).unwrap();
        }
        for s in [REGISTRY, CONFIG_RELOAD] {
            validate_subject(s).unwrap();
        }
    }

    #[test]
    fn subject_validation() {
        for ok in ["a", "sekia.events.github", "a.b-c_d:e/f", "日本.é"] {
            assert_eq!(validate_subject(ok), Ok(()), "{ok}");
        }
        let bad: &[(&str, SubjectError)] = &[
            ("", SubjectError::Empty),
            (".a", SubjectError::EmptyToken(".a".into())),
            ("a.", SubjectError::EmptyToken("a.".into())),
            ("a..b", SubjectError::EmptyToken("a..b".into())),
            ("a.*", SubjectError::Wildcard("a.*".into())),
            ("a.>", SubjectError::Wildcard("a.>".into())),
            ("a.b>", SubjectError::Wildcard("a.b>".into())),
            (
                "a b",
                SubjectError::InvalidChar {
                    subject: "a b".into(),
                    ch: ' ',
                },
            ),
            (
                "a.\tb",
                SubjectError::InvalidChar {
                    subject: "a.\tb".into(),
                    ch: '\t',
                },
            ),
        ];
        for (s, err) in bad {
            assert_eq!(validate_subject(s).as_ref(), Err(err), "{s:?}");
        }
    }

    #[test]
    fn pattern_validation() {
        for ok in [
            ">",
            "*",
            "a.>",
            "a.*",
            "*.b.>",
            "a.*.c",
            "sekia.events.github",
        ] {
            assert_eq!(validate_pattern(ok), Ok(()), "{ok}");
            Pattern::new(ok).unwrap();
        }
        for bad in ["a.>.b", ">.a", "a.b*", "a.*b", "a.>>", "a.b>"] {
            assert_eq!(
                validate_pattern(bad),
                Err(SubjectError::MisplacedWildcard(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(validate_pattern(""), Err(SubjectError::Empty));
        assert!(matches!(
            validate_pattern("a..>"),
            Err(SubjectError::EmptyToken(_))
        ));
        assert!(matches!(
            validate_pattern("a. >"),
            Err(SubjectError::MisplacedWildcard(_))
        ));
        assert!(matches!(
            validate_pattern("a.b c"),
            Err(SubjectError::InvalidChar { .. })
        ));
        assert!(Pattern::new("a.>.b").is_err());
    }

    #[test]
    fn matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("sekia.events.github", "sekia.events.github", true),
            ("sekia.events.github", "sekia.events.slack", false),
            ("sekia.events.github", "sekia.events.github.x", false),
            ("sekia.events.github", "sekia.events", false),
            ("sekia.events.*", "sekia.events.github", true),
            ("sekia.events.*", "sekia.events", false),
            ("sekia.events.*", "sekia.events.github.x", false),
            ("sekia.*.github", "sekia.events.github", true),
            ("*.events.*", "sekia.events.slack", true),
            ("sekia.events.>", "sekia.events.github", true),
            ("sekia.events.>", "sekia.events.github.issue.opened", true),
            // NATS: '>' needs at least one token (Go sekia matched here).
            ("sekia.events.>", "sekia.events", false),
            ("sekia.events.github.>", "sekia.events.github", false),
            ("sekia.events.>", "sekia.eventsx.github", false),
            ("sekia.events.>", "sekia.commands.github", false),
            ("sekia.*.>", "sekia.events.github", true),
            ("sekia.*.>", "sekia.events", false),
            (">", "sekia", true),
            (">", "sekia.events.github", true),
            ("*", "sekia", true),
            ("*", "sekia.events", false),
            ("sekia.heartbeat.>", "sekia.heartbeat.github-agent", true),
            ("sekia.registry", "sekia.registry", true),
        ];
        for &(pattern, subject, want) in cases {
            assert_eq!(
                subject_matches(pattern, subject),
                want,
                "{pattern} ~ {subject}"
            );
            let p = Pattern::new(pattern).unwrap();
            assert_eq!(p.matches(subject), want, "Pattern {pattern} ~ {subject}");
        }
    }

    #[test]
    fn pattern_accessors() {
        let p: Pattern = "sekia.events.>".parse().unwrap();
        assert_eq!(p.as_str(), "sekia.events.>");
        assert_eq!(p.to_string(), "sekia.events.>");
        assert!(!p.is_literal());
        assert!(Pattern::new("sekia.registry").unwrap().is_literal());
        assert!(Pattern::try_from("a.>.b").is_err());
    }

    /// Pattern::matches and subject_matches agree on every input, including
    /// malformed subjects, over a small exhaustive alphabet.
    #[test]
    fn pattern_agrees_with_subject_matches() {
        let patterns = [
            ">", "*", "a", "a.>", "a.*", "*.b", "a.b", "a.*.c", "*.*", "*.>", "a.b.>", "a.*.>",
        ];
        let parts = ["a", "b", "c", "", "ab"];
        let mut subjects = vec![String::new()];
        for x in parts {
            subjects.push(x.to_owned());
            for y in parts {
                subjects.push(format!("{x}.{y}"));
                for z in parts {
                    subjects.push(format!("{x}.{y}.{z}"));
                }
            }
        }
        for pattern in patterns {
            let p = Pattern::new(pattern).unwrap();
            for s in &subjects {
                assert_eq!(
                    p.matches(s),
                    subject_matches(pattern, s),
                    "{pattern} ~ {s:?}"
                );
            }
        }
    }

    /// The one-pass ASCII path of `validate_subject` and the general
    /// token-by-token path give the same result (error variant and payload)
    /// for every string over an alphabet covering each rule, up to 5 pieces.
    #[test]
    fn validate_subject_fast_path_agrees_with_general() {
        let alphabet = [
            "a", "bc", ".", "*", ">", " ", "\t", "\u{7f}", "\u{0}", "é", "\u{a0}", "\u{85}",
        ];
        let mut level = vec![String::new()];
        let mut checked = 0usize;
        for _ in 0..5 {
            let mut next = Vec::with_capacity(level.len() * alphabet.len());
            for s in &level {
                for piece in alphabet {
                    let t = format!("{s}{piece}");
                    assert_eq!(validate_subject(&t), validate_subject_general(&t), "{t:?}");
                    checked += 1;
                    next.push(t);
                }
            }
            level = next;
        }
        assert_eq!(validate_subject(""), validate_subject_general(""));
        assert!(checked > 200_000);
    }

    /// Cases carried over from sekia-bus's former private copy of these rules.
    #[test]
    fn bus_cases() {
        for s in ["a", "a.b", "sekia.events.github", "a-b_c.d1", "ü.ö"] {
            assert_eq!(validate_subject(s), Ok(()), "{s}");
            assert_eq!(validate_pattern(s), Ok(()), "{s}");
        }
        let invalid_char = |s: &str, ch: char| SubjectError::InvalidChar {
            subject: s.into(),
            ch,
        };
        let subjects = [
            ("", SubjectError::Empty),
            ("a..b", SubjectError::EmptyToken("a..b".into())),
            (".a", SubjectError::EmptyToken(".a".into())),
            ("a.", SubjectError::EmptyToken("a.".into())),
            (".", SubjectError::EmptyToken(".".into())),
            ("a b", invalid_char("a b", ' ')),
            ("a\tb", invalid_char("a\tb", '\t')),
            ("a\nb", invalid_char("a\nb", '\n')),
            ("a\u{a0}b", invalid_char("a\u{a0}b", '\u{a0}')),
            ("a\u{7f}", invalid_char("a\u{7f}", '\u{7f}')),
            (">", SubjectError::Wildcard(">".into())),
            ("a.>", SubjectError::Wildcard("a.>".into())),
            ("a.*", SubjectError::Wildcard("a.*".into())),
            ("*x", SubjectError::Wildcard("*x".into())),
            ("a.b>", SubjectError::Wildcard("a.b>".into())),
        ];
        for (s, err) in subjects {
            assert_eq!(validate_subject(s), Err(err), "{s:?}");
        }
        for p in ["*", ">", "a.*", "a.>", "*.b", "a.*.>", "*.*.*", "a.*.c"] {
            assert_eq!(validate_pattern(p), Ok(()), "{p}");
        }
        let patterns = [
            ("", SubjectError::Empty),
            ("a..b", SubjectError::EmptyToken("a..b".into())),
            ("a.>.b", SubjectError::MisplacedWildcard("a.>.b".into())),
            (">.a", SubjectError::MisplacedWildcard(">.a".into())),
            ("a b", invalid_char("a b", ' ')),
            ("*x", SubjectError::MisplacedWildcard("*x".into())),
            ("a.b*", SubjectError::MisplacedWildcard("a.b*".into())),
            (">x", SubjectError::MisplacedWildcard(">x".into())),
            ("a.>.", SubjectError::MisplacedWildcard("a.>.".into())),
        ];
        for (p, err) in patterns {
            assert_eq!(validate_pattern(p), Err(err), "{p:?}");
        }
        let table = [
            ("a", "a", true),
            ("a", "b", false),
            ("a.b", "a.b", true),
            ("a.b", "a.b.c", false),
            ("a.*", "a.b", true),
            ("a.*", "a", false),
            ("a.*", "a.b.c", false),
            ("a.>", "a.b", true),
            ("a.>", "a.b.c", true),
            ("a.>", "a", false),
            (">", "a", true),
            (">", "a.b.c", true),
            ("*", "a", true),
            ("*", "a.b", false),
            ("a.*.c", "a.b.c", true),
            ("a.*.c", "a.b.d", false),
            ("a.*.>", "a.b.c", true),
            ("a.*.>", "a.b", false),
            ("*.*", "a.b", true),
            ("ab", "a", false),
            ("a", "ab", false),
        ];
        for (p, s, want) in table {
            assert_eq!(subject_matches(p, s), want, "{p} ~ {s}");
            let parsed = Pattern::new(p).expect("valid pattern");
            assert_eq!(parsed.matches(s), want, "parsed {p} ~ {s}");
        }
    }
}
