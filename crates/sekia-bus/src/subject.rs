//! NATS subject rules, kept private to this crate.
//!
//! These are a self-contained copy of the rules `sekia-protocol::subjects` will own;
//! they will be reconciled with it once that crate lands. Both buses use them, so a
//! subject that LocalBus accepts is one a NATS server accepts too, and a pattern
//! matches the same subjects on both.
//!
//! Rules (NATS semantics, slightly stricter on wildcard characters):
//! - a subject is tokens separated by `.`; no token is empty; nothing is whitespace
//!   or a control character;
//! - in a pattern, the token `*` matches exactly one token and the token `>` matches
//!   one or more trailing tokens, so `>` may only be the last token;
//! - a published subject contains no wildcard, and `*`/`>` never appear inside a
//!   longer token (NATS would treat `a*` as a literal; we reject it because it is
//!   almost always a mistaken pattern).

use std::fmt;

/// Why a subject or pattern was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectErrorKind {
    /// The subject is the empty string.
    Empty,
    /// Two dots in a row, or a leading or trailing dot.
    EmptyToken,
    /// A space, tab, newline or other whitespace/control character.
    Whitespace,
    /// `*` or `>` in a subject given to `publish` (only patterns may hold wildcards).
    WildcardInSubject,
    /// `>` somewhere other than the last token of a pattern.
    FullWildcardNotLast,
    /// `*` or `>` inside a longer token, such as `*x` or `a>`.
    PartialWildcard,
}

impl fmt::Display for SubjectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "subject is empty",
            Self::EmptyToken => "empty token (leading, trailing or double '.')",
            Self::Whitespace => "contains whitespace or a control character",
            Self::WildcardInSubject => {
                "wildcards ('*', '>') are only allowed in subscribe patterns"
            }
            Self::FullWildcardNotLast => "'>' must be the last token",
            Self::PartialWildcard => "'*' and '>' must stand alone as a whole token",
        })
    }
}

/// Checks one token; `wildcards` says whether `*`/`>` may stand as the whole token.
#[inline]
fn check_token(token: &str, is_last: bool, wildcards: bool) -> Result<(), SubjectErrorKind> {
    match token {
        "" => return Err(SubjectErrorKind::EmptyToken),
        "*" | ">" if !wildcards => return Err(SubjectErrorKind::WildcardInSubject),
        "*" => return Ok(()),
        ">" if is_last => return Ok(()),
        ">" => return Err(SubjectErrorKind::FullWildcardNotLast),
        _ => {}
    }
    for &b in token.as_bytes() {
        match b {
            b'*' | b'>' => {
                return Err(if wildcards {
                    SubjectErrorKind::PartialWildcard
                } else {
                    SubjectErrorKind::WildcardInSubject
                });
            }
            // ASCII whitespace and control characters (incl. DEL).
            0..=0x20 | 0x7f => return Err(SubjectErrorKind::Whitespace),
            _ => {}
        }
    }
    if !token.is_ascii() && token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SubjectErrorKind::Whitespace);
    }
    Ok(())
}

fn check(s: &str, wildcards: bool) -> Result<(), SubjectErrorKind> {
    if s.is_empty() {
        return Err(SubjectErrorKind::Empty);
    }
    let mut tokens = s.split('.').peekable();
    while let Some(token) = tokens.next() {
        check_token(token, tokens.peek().is_none(), wildcards)?;
    }
    Ok(())
}

/// Validates a subject to publish on: no wildcards.
///
/// This runs on every publish, so ASCII subjects (all of sekia's) are checked in
/// one pass over the bytes; anything else takes the general path.
#[inline]
pub(crate) fn validate_subject(subject: &str) -> Result<(), SubjectErrorKind> {
    let bytes = subject.as_bytes();
    if bytes.is_empty() {
        return Err(SubjectErrorKind::Empty);
    }
    let mut token_len = 0usize;
    for &b in bytes {
        match b {
            b'.' => {
                if token_len == 0 {
                    return Err(SubjectErrorKind::EmptyToken);
                }
                token_len = 0;
                continue;
            }
            b'*' | b'>' => return Err(SubjectErrorKind::WildcardInSubject),
            0..=0x20 | 0x7f => return Err(SubjectErrorKind::Whitespace),
            0x80.. => return check(subject, false),
            _ => {}
        }
        token_len += 1;
    }
    if token_len == 0 {
        return Err(SubjectErrorKind::EmptyToken);
    }
    Ok(())
}

/// Validates a subscribe pattern: `*` anywhere as a whole token, `>` only last.
pub(crate) fn validate_pattern(pattern: &str) -> Result<(), SubjectErrorKind> {
    check(pattern, true)
}

/// Whether `pattern` matches `subject` with NATS semantics.
///
/// Both are assumed valid (see [`validate_pattern`], [`validate_subject`]); on
/// invalid input the answer is merely unspecified, never a panic.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn subject_matches(pattern: &str, subject: &str) -> bool {
    tokens_match(pattern.split('.'), subject)
}

fn tokens_match<'a>(pattern: impl Iterator<Item = &'a str>, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for p in pattern {
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

/// A validated pattern, tokenised once at subscribe time so that matching on the
/// publish path does not re-parse it.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// No wildcard: matching is a string comparison.
    Literal(Box<str>),
    /// At least one wildcard token.
    Wild(Box<[Token]>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(Box<str>),
    /// `*`
    One,
    /// `>`
    Rest,
}

impl Pattern {
    /// Parses a pattern, validating it first.
    pub(crate) fn parse(pattern: &str) -> Result<Self, SubjectErrorKind> {
        validate_pattern(pattern)?;
        let wild = pattern.split('.').any(|t| t == "*" || t == ">");
        if !wild {
            return Ok(Self::Literal(pattern.into()));
        }
        let tokens = pattern
            .split('.')
            .map(|t| match t {
                "*" => Token::One,
                ">" => Token::Rest,
                lit => Token::Literal(lit.into()),
            })
            .collect();
        Ok(Self::Wild(tokens))
    }

    /// Whether this pattern matches a (valid) subject.
    #[inline]
    pub(crate) fn matches(&self, subject: &str) -> bool {
        match self {
            Self::Literal(lit) => **lit == *subject,
            Self::Wild(tokens) => {
                let mut subject_tokens = subject.split('.');
                for token in tokens.iter() {
                    match token {
                        Token::Rest => return subject_tokens.next().is_some(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_subjects() {
        for s in ["a", "a.b", "sekia.events.github", "a-b_c.d1", "ü.ö"] {
            assert_eq!(validate_subject(s), Ok(()), "{s}");
            assert_eq!(validate_pattern(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn invalid_subjects() {
        use SubjectErrorKind::*;
        let cases = [
            ("", Empty),
            ("a..b", EmptyToken),
            (".a", EmptyToken),
            ("a.", EmptyToken),
            (".", EmptyToken),
            ("a b", Whitespace),
            ("a\tb", Whitespace),
            ("a\nb", Whitespace),
            ("a\u{a0}b", Whitespace),
            ("a\u{7f}", Whitespace),
            (">", WildcardInSubject),
            ("a.>", WildcardInSubject),
            ("a.*", WildcardInSubject),
            ("*x", WildcardInSubject),
            ("a.b>", WildcardInSubject),
        ];
        for (s, kind) in cases {
            assert_eq!(validate_subject(s), Err(kind), "{s:?}");
        }
    }

    #[test]
    fn patterns() {
        use SubjectErrorKind::*;
        for p in ["*", ">", "a.*", "a.>", "*.b", "a.*.>", "*.*.*", "a.*.c"] {
            assert_eq!(validate_pattern(p), Ok(()), "{p}");
        }
        let bad = [
            ("", Empty),
            ("a..b", EmptyToken),
            ("a.>.b", FullWildcardNotLast),
            (">.a", FullWildcardNotLast),
            ("a b", Whitespace),
            ("*x", PartialWildcard),
            ("a.b*", PartialWildcard),
            (">x", PartialWildcard),
            ("a.>.", FullWildcardNotLast),
        ];
        for (p, kind) in bad {
            assert_eq!(validate_pattern(p), Err(kind), "{p:?}");
        }
    }

    #[test]
    fn matching_agrees_between_pattern_and_fn() {
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
            let parsed = Pattern::parse(p).expect("valid pattern");
            assert_eq!(parsed.matches(s), want, "parsed {p} ~ {s}");
        }
    }
}
