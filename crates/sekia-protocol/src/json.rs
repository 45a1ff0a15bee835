//! Serialising the way Go's `encoding/json` (`json.Marshal`) does.
//!
//! serde_json differs from Go in two visible ways: it does not escape the
//! HTML-significant characters `<`, `>`, `&` nor U+2028/U+2029, and it writes
//! floats in its own style (`42.0`, `1e21`). Go peers parse either form, so
//! this only matters where bytes are compared (signatures, golden files,
//! caches), but emitting exactly what Go emits keeps the two implementations
//! interchangeable on the wire. [`to_string`] / [`to_vec`] use [`GoFormatter`]
//! to do that for any `Serialize` type; integers stay exact integers, as Go
//! writes `int`/`int64` fields.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// Appends `s` as a JSON string literal (with quotes), escaped exactly as Go's
/// `json.Marshal` escapes it (Go >= 1.22, `escapeHTML` on).
///
/// `"` and `\` get a backslash; `\n` `\r` `\t` `\b` `\f` use short escapes;
/// other bytes below 0x20 and `<` `>` `&` become `\u00XX` (lowercase hex);
/// U+2028 and U+2029 become `\u2028` / `\u2029`; everything else, including
/// DEL and non-ASCII text, is written as raw UTF-8.
pub fn write_go_str(out: &mut String, s: &str) {
    out.push('"');
    write_go_str_contents(out, s);
    out.push('"');
}

/// [`write_go_str`] without the surrounding quotes.
fn write_go_str_contents(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let short: &str = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            '\0'..='\u{1f}' | '<' | '>' | '&' => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if short.is_empty() {
            // ASCII by the match arm above, so `c as u8` is lossless.
            let b = c as u8;
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
}

/// [`write_go_str`] into a byte buffer: appends `s` as a JSON string literal
/// (with quotes), escaped exactly as Go's `json.Marshal` escapes it.
///
/// Scans bytes rather than chars: everything that needs an escape is ASCII,
/// except U+2028/U+2029 (UTF-8 `E2 80 A8` / `E2 80 A9`).
pub fn write_go_str_bytes(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Bytes that may start an escape: controls, `"`, `\`, `<`, `>`, `&`, and
    // 0xE2 (the first byte of U+2028/U+2029).
    const SPECIAL: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 0x20 {
            t[i] = true;
            i += 1;
        }
        t[b'"' as usize] = true;
        t[b'\\' as usize] = true;
        t[b'<' as usize] = true;
        t[b'>' as usize] = true;
        t[b'&' as usize] = true;
        t[0xe2] = true;
        t
    };
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !SPECIAL[usize::from(c)] {
            i += 1;
            continue;
        }
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0xe2 => {
                if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) {
                    out.extend_from_slice(&b[start..i]);
                    out.extend_from_slice(if b[i + 2] == 0xa8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
                continue;
            }
            // The other controls and `<` `>` `&`.
            _ => b"",
        };
        out.extend_from_slice(&b[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Formats a finite `f64` exactly as Go's `encoding/json` `floatEncoder`
/// does for a `float64`.
///
/// Go follows ECMAScript `Number.prototype.toString`: the shortest decimal
/// that round-trips, in plain notation (`42`, `-3`, `0.5`,
/// `100000000000000000000`) unless `abs < 1e-6` or `abs >= 1e21`, where it
/// uses exponent notation (`1e-7`, `1.5e-10`, `1e+21`). Negative zero is
/// `-0`. Rust's `{}` and `{:e}` also print shortest round-trip digits, so only
/// the notation switch and the `+` of positive exponents need adapting.
///
/// Non-finite values have no JSON form (Go's encoder fails on them); callers
/// must reject them first. This function writes `null` for them so it never
/// panics.
pub fn format_go_f64(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_owned();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust: "1e21", "1e-7", "1.5e-10". Go: "1e+21", "1e-7", "1.5e-10"
        // (Go's strconv writes "1e-07" and encoding/json strips that zero).
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => s,
        }
    } else {
        // Display never uses an exponent and prints integral values
        // without ".0", like Go's 'f' format with precision -1.
        format!("{f}")
    }
}

/// A serde_json [`Formatter`] producing Go `json.Marshal` output: compact,
/// Go string escaping (see [`write_go_str`]) and Go float formatting (see
/// [`format_go_f64`]).
///
/// Map key order is whatever the serialised type yields: struct fields in
/// declaration order (declare them in Go struct order), `serde_json::Map` in
/// key order (sorted unless serde_json's `preserve_order` feature is on).
#[derive(Debug, Default, Clone, Copy)]
pub struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_f64<W>(&mut self, writer: &mut W, value: f64) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        writer.write_all(format_go_f64(value).as_bytes())
    }

    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        // serde_json has already split off `"`, `\` and control characters
        // (its default `write_char_escape` matches Go for those); only the
        // HTML characters and U+2028/U+2029 are left to handle here.
        let needs_escape = fragment
            .chars()
            .any(|c| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'));
        if needs_escape {
            let mut buf = String::with_capacity(fragment.len() + 16);
            write_go_str_contents(&mut buf, fragment);
            writer.write_all(buf.as_bytes())
        } else {
            writer.write_all(fragment.as_bytes())
        }
    }
}

/// Serialises `value` to JSON bytes the way Go's `json.Marshal` would.
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Serialises `value` to a JSON string the way Go's `json.Marshal` would.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let bytes = to_vec(value)?;
    // The formatter only ever writes valid UTF-8 (input strings are `str`),
    // but go through the checked conversion rather than assume it.
    String::from_utf8(bytes).map_err(|e| {
        serde_json::Error::io(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_str(s: &str) -> String {
        let mut out = String::new();
        write_go_str(&mut out, s);
        out
    }

    #[test]
    fn string_escapes() {
        assert_eq!(go_str(""), r#""""#);
        assert_eq!(go_str("plain"), r#""plain""#);
        assert_eq!(go_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_str("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(
            go_str("\0\u{1}\u{1f}\u{7f}"),
            "\"\\u0000\\u0001\\u001f\u{7f}\""
        );
        assert_eq!(go_str("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(go_str("x\u{2028}y\u{2029}z"), r#""x\u2028y\u2029z""#);
        assert_eq!(go_str("é日本🎉/"), "\"é日本🎉/\"");
    }

    #[test]
    fn byte_writer_matches_string_writer() {
        let cases = [
            "",
            "plain",
            "a\"b\\c",
            "\n\r\t\u{8}\u{c}",
            "\0\u{1}\u{1f}\u{7f}",
            "<a&b>",
            "x\u{2028}y\u{2029}z\u{2027}\u{202a}",
            "é日本🎉/",
            "\u{2028}",
            "end\u{e2}",
            "\u{2000}\u{2027}\u{20ac}\u{e2}\u{2028}\u{2028}<",
        ];
        for s in cases {
            let mut b = Vec::new();
            write_go_str_bytes(&mut b, s);
            assert_eq!(String::from_utf8(b).unwrap(), go_str(s), "{s:?}");
            let mut b = Vec::new();
            write_go_str_bytes(&mut b, s);
            assert_eq!(b, serde_json_go(s), "{s:?}");
        }
    }

    #[test]
    fn byte_writer_every_char_below_u_10000() {
        let all: String = (0u32..0x1_0000).filter_map(char::from_u32).collect();
        let mut b = Vec::new();
        write_go_str_bytes(&mut b, &all);
        assert_eq!(String::from_utf8(b).unwrap(), go_str(&all));
    }

    fn serde_json_go(s: &str) -> Vec<u8> {
        to_vec(s).unwrap()
    }

    #[test]
    fn floats() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (42.0, "42"),
            (-3.0, "-3"),
            (0.5, "0.5"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (-1e21, "-1e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-1e-7, "-1e-7"),
            (1.5e-10, "1.5e-10"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for &(f, want) in cases {
            assert_eq!(format_go_f64(f), want, "{f:?}");
        }
        assert_eq!(format_go_f64(f64::NAN), "null");
    }

    #[test]
    fn formatter_matches_go() {
        #[derive(Serialize)]
        struct S<'a> {
            b: &'a str,
            a: f64,
            n: i64,
        }
        let s = S {
            b: "<\u{2028}\n\"",
            a: 1e21,
            n: 9_007_199_254_740_993,
        };
        assert_eq!(
            to_string(&s).unwrap(),
            r#"{"b":"\u003c\u2028\n\"","a":1e+21,"n":9007199254740993}"#
        );
    }
}
