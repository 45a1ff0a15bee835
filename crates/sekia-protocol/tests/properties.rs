//! Property-style tests over deterministic pseudo-random inputs (no extra
//! dependency: a fixed-seed xorshift generator).

use sekia_protocol::canonical::to_canonical_string;
use sekia_protocol::json::format_go_f64;
use sekia_protocol::signing::{sign, verify};
use sekia_protocol::types::Command;
use serde_json::{Map, Number, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn finite_f64(&mut self) -> f64 {
        loop {
            let f = f64::from_bits(self.next());
            if f.is_finite() {
                return f;
            }
        }
    }

    fn number(&mut self) -> Number {
        match self.below(6) {
            0 => Number::from(self.next()),
            1 => Number::from(self.next() as i64),
            2 => Number::from(self.below(1000)),
            // Uniform bit patterns: every magnitude, subnormals included.
            3 => Number::from_f64(self.finite_f64()).unwrap_or(Number::from(0)),
            // Values around the notation switches at 1e-6 and 1e21.
            4 => {
                let base = [1e-7, 1e-6, 1e20, 1e21, 0.1, 1.0][self.below(6) as usize];
                let f = base * (1.0 + (self.below(1000) as f64) / 997.0);
                let f = if self.below(2) == 0 { f } else { -f };
                Number::from_f64(f).unwrap_or(Number::from(0))
            }
            _ => Number::from_f64((self.next() as i64 as f64) / 1024.0).unwrap_or(Number::from(0)),
        }
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "_",
            "-",
            ".",
            "/",
            "\"",
            "\\",
            "<",
            ">",
            "&",
            "\n",
            "\r",
            "\t",
            "\u{0}",
            "\u{8}",
            "\u{c}",
            "\u{1b}",
            "\u{1f}",
            "\u{7f}",
            "é",
            "日本",
            "🎉",
            "\u{2028}",
            "\u{2029}",
            "\u{fffd}",
            "\u{ff61}",
            "\u{10ffff}",
            "\u{80}",
        ];
        let len = self.below(8);
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        let kinds = if depth >= 4 { 4 } else { 6 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => Value::Number(self.number()),
            3 => Value::String(self.string()),
            4 => Value::Array((0..self.below(5)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(self.object(depth + 1)),
        }
    }

    fn object(&mut self, depth: u32) -> Map<String, Value> {
        (0..self.below(6))
            .map(|_| (self.string(), self.value(depth)))
            .collect()
    }
}

/// What a Go peer sees after decoding: every number a float64.
fn as_go_value(v: &Value) -> Value {
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            Value::Number(Number::from_f64(f).unwrap_or(Number::from(0)))
        }
        Value::Array(items) => Value::Array(items.iter().map(as_go_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_go_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Exact (bitwise for numbers, so -0 != 0) equality.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x.to_bits() == y.to_bits(),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn canonical_output_parses_back_to_the_same_value() {
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    for i in 0..3000 {
        let v = rng.value(0);
        let text = to_canonical_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("case {i}: {text} does not parse: {e}"));
        assert!(
            same(&as_go_value(&v), &as_go_value(&back)),
            "case {i}: {v:?} -> {text} -> {back:?}"
        );
        // Canonical form is a fixed point.
        assert_eq!(to_canonical_string(&back).unwrap(), text, "case {i}");
        // No whitespace outside strings, no raw HTML characters or controls.
        assert!(
            !text.contains(['<', '>', '&', '\n', '\u{2028}', '\u{2029}']),
            "case {i}: {text}"
        );
    }
}

#[test]
fn go_floats_round_trip_through_the_parser() {
    // Every Go-formatted float parses back to the same bits. This relies on
    // serde_json's `float_roundtrip` feature: Go's strconv parses correctly
    // rounded, so a lossy parser would break signatures of Go-signed
    // commands carrying such numbers.
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..100_000 {
        let f = rng.finite_f64();
        let text = format_go_f64(f);
        let back: f64 = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN);
        assert_eq!(back.to_bits(), f.to_bits(), "{f:e} -> {text} -> {back:e}");
        // Notation follows Go's thresholds.
        let abs = f.abs();
        let exponent = abs != 0.0 && !(1e-6..1e21).contains(&abs);
        assert_eq!(text.contains('e'), exponent, "{text}");
        assert!(!text.ends_with(".0"), "{text}");
        assert!(!text.contains("e0") && !text.contains("e-0"), "{text}");
        if exponent && abs >= 1.0 {
            assert!(text.contains("e+"), "{text}");
        }
    }
}

#[test]
fn random_commands_sign_and_verify() {
    let mut rng = Rng(42);
    for i in 0..300 {
        let payload = if rng.below(10) == 0 {
            None
        } else {
            Some(rng.object(0))
        };
        let mut cmd = Command {
            command: rng.string(),
            payload,
            source: rng.string(),
            signature: String::new(),
        };
        let secret = format!("secret-{i}-{}", rng.string());
        sign(&mut cmd, &secret).unwrap();
        assert_eq!(verify(&cmd, &secret), Ok(()), "case {i}");
        // Survives a trip over the wire.
        let wire = serde_json::to_string(&cmd).unwrap();
        let back: Command = serde_json::from_str(&wire).unwrap();
        assert_eq!(verify(&back, &secret), Ok(()), "case {i}: {wire}");
        let wire = sekia_protocol::json::to_string(&cmd).unwrap();
        let back: Command = serde_json::from_str(&wire).unwrap();
        assert_eq!(verify(&back, &secret), Ok(()), "case {i}: {wire}");
        // Any other secret fails.
        assert!(verify(&cmd, &format!("{secret}x")).is_err(), "case {i}");
    }
}
