//! Golden vectors pinning byte compatibility with Go sekia.
//!
//! Canonical JSON expectations are written by hand from Go's
//! `encoding/json` rules (Go 1.22+). Signature hex values were computed
//! independently with Python's `hmac`/`hashlib` over the expected canonical
//! strings, e.g.
//! `python3 -c 'import hmac,hashlib;print(hmac.new(b"secret", b"...", hashlib.sha256).hexdigest())'`.

use sekia_protocol::canonical::{signing_bytes, to_canonical_string};
use sekia_protocol::signing::{SignatureError, compute_signature, sign, verify};
use sekia_protocol::types::*;
use sekia_protocol::{json, subjects};
use serde_json::{Map, Value, json};

/// Parses JSON text the way a payload arrives from the wire.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad test input {text}: {e}"))
}

fn canon(text: &str) -> String {
    to_canonical_string(&parse(text)).unwrap()
}

fn obj(text: &str) -> Map<String, Value> {
    match parse(text) {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

// ---------------------------------------------------------------- canonical

#[test]
fn canonical_scalars_and_empties() {
    assert_eq!(canon("null"), "null");
    assert_eq!(canon("true"), "true");
    assert_eq!(canon("false"), "false");
    assert_eq!(canon("{}"), "{}");
    assert_eq!(canon("[]"), "[]");
    assert_eq!(canon(r#""""#), r#""""#);
    assert_eq!(canon(" { \"a\" : [ 1 , 2 ] } "), r#"{"a":[1,2]}"#);
}

#[test]
fn canonical_sorts_keys_at_every_depth() {
    assert_eq!(
        canon(r#"{"b":1,"a":{"z":true,"B":null,"a":[]},"A":"x","é":1,"e":2,"~":3,"aa":0,"a_":0}"#),
        r#"{"A":"x","a":{"B":null,"a":[],"z":true},"a_":0,"aa":0,"b":1,"e":2,"~":3,"é":1}"#
    );
    // Bytewise UTF-8 order, not UTF-16 order: U+FF61 (EF BD A1) sorts
    // before U+1F600 (F0 9F 98 80), though in UTF-16 the surrogate D83D
    // would sort first.
    assert_eq!(
        canon("{\"\u{1F600}\":1,\"\u{FF61}\":2,\"z\":3}"),
        "{\"z\":3,\"\u{FF61}\":2,\"\u{1F600}\":1}"
    );
    // Objects inside arrays are sorted too; array order is kept.
    assert_eq!(
        canon(r#"[{"y":1,"x":2},[{"d":[{"c":0,"b":0}],"a":0}]]"#),
        r#"[{"x":2,"y":1},[{"a":0,"d":[{"b":0,"c":0}]}]]"#
    );
}

#[test]
fn canonical_arrays() {
    assert_eq!(
        canon(r#"[3,"a",[],{},[null,true,false]]"#),
        r#"[3,"a",[],{},[null,true,false]]"#
    );
}

#[test]
fn canonical_strings() {
    // Unicode text is written raw.
    assert_eq!(canon(r#""é日本🎉""#), "\"é日本🎉\"");
    assert_eq!(canon(r#""\u00e9\u65e5\ud83c\udf89""#), "\"é日🎉\"");
    // HTML characters are escaped, '/' is not.
    assert_eq!(
        canon(r#""<script>&</script>""#),
        r#""\u003cscript\u003e\u0026\u003c/script\u003e""#
    );
    // JS line terminators.
    assert_eq!(canon(r#""a\u2028b\u2029c""#), r#""a\u2028b\u2029c""#);
    assert_eq!(canon("\"a\u{2028}b\""), r#""a\u2028b""#);
    // Quote and backslash.
    assert_eq!(canon(r#""q\"b\\s""#), r#""q\"b\\s""#);
    // Control characters: short forms for \b \t \n \f \r, \u00xx (lowercase)
    // for the rest; DEL (0x7f) stays raw.
    assert_eq!(
        canon(r#""\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f \u007f""#),
        "\"\\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u001b\\u001f \u{7f}\""
    );
    // Escaping applies to keys as well.
    assert_eq!(canon(r#"{"<k>":"\n"}"#), r#"{"\u003ck\u003e":"\n"}"#);
}

#[test]
fn canonical_numbers() {
    let cases: &[(&str, &str)] = &[
        // integers
        ("0", "0"),
        ("42", "42"),
        ("-3", "-3"),
        ("42.0", "42"),
        ("1.0e2", "100"),
        // large: plain below 1e21, exponent from 1e21 on
        ("1e20", "100000000000000000000"),
        ("100000000000000000000", "100000000000000000000"),
        ("999999999999999900000", "999999999999999900000"),
        ("1e21", "1e+21"),
        ("1000000000000000000000", "1e+21"),
        ("-1e21", "-1e+21"),
        ("1.5e300", "1.5e+300"),
        ("1e100", "1e+100"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        // integers beyond 2^53 are rounded to float64 first (ties to even)
        ("9007199254740993", "9007199254740992"),
        ("9007199254740992", "9007199254740992"),
        ("123456789012345678", "123456789012345680"),
        ("18446744073709551615", "18446744073709552000"),
        ("-9223372036854775808", "-9223372036854776000"),
        // fractions
        ("0.1", "0.1"),
        ("1.5", "1.5"),
        ("123.456", "123.456"),
        ("-0.5", "-0.5"),
        ("12345678.9", "12345678.9"),
        ("0.30000000000000004", "0.30000000000000004"),
        // tiny: plain down to 1e-6, exponent below
        ("0.000001", "0.000001"),
        ("1e-6", "0.000001"),
        ("0.0000015", "0.0000015"),
        ("1e-7", "1e-7"),
        ("0.0000001", "1e-7"),
        ("9.99e-7", "9.99e-7"),
        ("-1e-7", "-1e-7"),
        ("1.5e-10", "1.5e-10"),
        ("-1.5e-10", "-1.5e-10"),
        ("1e-10", "1e-10"),
        ("5e-324", "5e-324"),
        // negative zero survives
        ("-0", "-0"),
        ("-0.0", "-0"),
        ("0.0", "0"),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input), *want, "input {input}");
        // ... and inside a payload
        assert_eq!(
            canon(&format!(r#"{{"n":{input}}}"#)),
            format!(r#"{{"n":{want}}}"#),
            "payload {input}"
        );
    }
}

#[test]
fn canonical_of_constructed_values() {
    // Values built in Rust (not parsed) go through the same rules.
    let v = json!({"f": 1.0, "u": u64::MAX, "i": -7, "s": "<&>", "n": null});
    assert_eq!(
        to_canonical_string(&v).unwrap(),
        r#"{"f":1,"i":-7,"n":null,"s":"\u003c\u0026\u003e","u":18446744073709552000}"#
    );
}

#[test]
fn signing_bytes_shape() {
    assert_eq!(
        signing_bytes(
            "add_label",
            Some(&obj(r#"{"number":42,"label":"bug"}"#)),
            "workflow:auto-label"
        )
        .unwrap(),
        r#"{"command":"add_label","payload":{"label":"bug","number":42},"source":"workflow:auto-label"}"#
    );
    assert_eq!(
        signing_bytes("ping", None, "test").unwrap(),
        r#"{"command":"ping","payload":null,"source":"test"}"#
    );
    assert_eq!(
        signing_bytes("ping", Some(&Map::new()), "test").unwrap(),
        r#"{"command":"ping","payload":{},"source":"test"}"#
    );
    assert_eq!(
        signing_bytes("a<b", None, "x&y").unwrap(),
        r#"{"command":"a\u003cb","payload":null,"source":"x\u0026y"}"#
    );
}

// ---------------------------------------------------------------- signatures

struct Vector {
    secret: &'static str,
    command: &'static str,
    payload: Option<&'static str>,
    source: &'static str,
    canonical: &'static str,
    hex: &'static str,
}

const VECTORS: &[Vector] = &[
    // The command of Go's TestSignAndVerify.
    Vector {
        secret: "test-secret-key",
        command: "add_label",
        payload: Some(r#"{"owner":"acme","repo":"app","number":42,"label":"bug"}"#),
        source: "workflow:auto-labeler",
        canonical: r#"{"command":"add_label","payload":{"label":"bug","number":42,"owner":"acme","repo":"app"},"source":"workflow:auto-labeler"}"#,
        hex: "1f29915c9b9883a1c145e5ce432855c89aae3fca4f98ba7767f3ef1bb05f7e58",
    },
    // HTML characters, U+2028, exponent/tiny/negative-zero/rounded numbers,
    // nested sorting, and a non-ASCII secret (keyed by its UTF-8 bytes).
    Vector {
        secret: "s3cr\u{e9}t",
        command: "create_comment",
        payload: Some(
            r#"{"body":"<b>Tom & Jerry</b>","count":1e21,"ratio":0.5,"tiny":1e-7,"big":9007199254740993,"neg":-0,"nested":{"z":[1,2.5,"\u2028"],"a":null},"list":[]}"#,
        ),
        source: "mcp",
        canonical: r#"{"command":"create_comment","payload":{"big":9007199254740992,"body":"\u003cb\u003eTom \u0026 Jerry\u003c/b\u003e","count":1e+21,"list":[],"neg":-0,"nested":{"a":null,"z":[1,2.5,"\u2028"]},"ratio":0.5,"tiny":1e-7},"source":"mcp"}"#,
        hex: "9aec8543a6d39570b32afc7570c46f471e926f56218b528674f6a79aee029b87",
    },
    // Nil payload (Go nil map) signs as null ...
    Vector {
        secret: "secret",
        command: "ping",
        payload: None,
        source: "test",
        canonical: r#"{"command":"ping","payload":null,"source":"test"}"#,
        hex: "47518b342d703b802a4d14a7dde1fe5618d1582cc3b5e009c59cd2f4a3e37acc",
    },
    // ... and differently from an empty one.
    Vector {
        secret: "secret",
        command: "ping",
        payload: Some("{}"),
        source: "test",
        canonical: r#"{"command":"ping","payload":{},"source":"test"}"#,
        hex: "0c3452053d08ff20f13f479c864cd303f892b7bfffa6d1029270723dc5f4d581",
    },
    Vector {
        secret: "secret",
        command: "add_label",
        payload: Some(r#"{"label":"bug","number":42}"#),
        source: "workflow:auto-label",
        canonical: r#"{"command":"add_label","payload":{"label":"bug","number":42},"source":"workflow:auto-label"}"#,
        hex: "85595c0f1f384c938fd2437536f9673dda418d5a5de9620fad806a5f98b5aca4",
    },
];

fn vector_command(v: &Vector) -> Command {
    Command {
        command: v.command.to_owned(),
        payload: v.payload.map(obj),
        source: v.source.to_owned(),
        signature: String::new(),
    }
}

#[test]
fn signature_vectors() {
    for v in VECTORS {
        let mut cmd = vector_command(v);
        assert_eq!(
            signing_bytes(&cmd.command, cmd.payload.as_ref(), &cmd.source).unwrap(),
            v.canonical
        );
        assert_eq!(compute_signature(&cmd, v.secret).unwrap(), v.hex);
        sign(&mut cmd, v.secret).unwrap();
        assert_eq!(cmd.signature, v.hex);
        assert_eq!(verify(&cmd, v.secret), Ok(()));
    }
}

#[test]
fn go_signed_command_from_the_wire_verifies() {
    // A command as a Go workflow would publish it, numbers and all.
    let wire = r#"{"command":"create_comment","payload":{"big":9007199254740992,"body":"\u003cb\u003eTom \u0026 Jerry\u003c/b\u003e","count":1e+21,"list":[],"neg":-0,"nested":{"a":null,"z":[1,2.5,"\u2028"]},"ratio":0.5,"tiny":1e-7},"source":"mcp","signature":"9aec8543a6d39570b32afc7570c46f471e926f56218b528674f6a79aee029b87"}"#;
    let cmd: Command = serde_json::from_str(wire).unwrap();
    assert_eq!(verify(&cmd, "s3cr\u{e9}t"), Ok(()));
    // Go output of the same command is byte-identical to the input.
    assert_eq!(json::to_string(&cmd).unwrap(), wire);
    // A nil payload stays nil through decoding and verifies.
    let wire = r#"{"command":"ping","payload":null,"source":"test","signature":"47518b342d703b802a4d14a7dde1fe5618d1582cc3b5e009c59cd2f4a3e37acc"}"#;
    let cmd: Command = serde_json::from_str(wire).unwrap();
    assert_eq!(cmd.payload, None);
    assert_eq!(verify(&cmd, "secret"), Ok(()));
    assert_eq!(serde_json::to_string(&cmd).unwrap(), wire);
}

fn signed(secret: &str) -> Command {
    let mut cmd = Command::new(
        "add_label",
        obj(r#"{"label":"bug","number":42}"#),
        "workflow:test",
    );
    sign(&mut cmd, secret).unwrap();
    cmd
}

#[test]
fn tampering_is_detected() {
    let secret = "my-secret";
    let cmd = signed(secret);
    assert_eq!(verify(&cmd, secret), Ok(()));

    let mut c = cmd.clone();
    if let Some(p) = c.payload.as_mut() {
        p.insert("label".into(), json!("critical"));
    }
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));

    let mut c = cmd.clone();
    if let Some(p) = c.payload.as_mut() {
        p.insert("number".into(), json!(42.5));
    }
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));

    let mut c = cmd.clone();
    c.payload = None;
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));

    let mut c = cmd.clone();
    c.command = "close_issue".into();
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));

    let mut c = cmd.clone();
    c.source = "workflow:evil".into();
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));

    assert_eq!(verify(&cmd, "other-secret"), Err(SignatureError::Invalid));

    // Truncated, uppercase (Go compares hex text), garbage signatures.
    let mut c = cmd.clone();
    c.signature.pop();
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));
    let mut c = cmd.clone();
    c.signature = c.signature.to_uppercase();
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));
    let mut c = cmd.clone();
    c.signature = "not hex".into();
    assert_eq!(verify(&c, secret), Err(SignatureError::Invalid));
}

#[test]
fn empty_secret_and_unsigned() {
    // Empty secret: signing is off and everything verifies.
    let mut cmd = Command::new("add_label", obj(r#"{"label":"bug"}"#), "workflow:test");
    sign(&mut cmd, "").unwrap();
    assert_eq!(cmd.signature, "");
    assert_eq!(verify(&cmd, ""), Ok(()));
    let mut forged = cmd.clone();
    forged.signature = "deadbeef".into();
    assert_eq!(verify(&forged, ""), Ok(()));
    // Secret set, no signature: rejected as missing.
    assert_eq!(verify(&cmd, "my-secret"), Err(SignatureError::Missing));
}

#[test]
fn signing_is_deterministic_and_order_independent() {
    let secret = "deterministic-test";
    let a = {
        let mut c = Command::new(
            "create_comment",
            obj(r#"{"body":"hello","number":1}"#),
            "workflow:reviewer",
        );
        sign(&mut c, secret).unwrap();
        c
    };
    let b = {
        let mut c = Command::new(
            "create_comment",
            obj(r#"{"number":1.0,"body":"hello"}"#),
            "workflow:reviewer",
        );
        sign(&mut c, secret).unwrap();
        c
    };
    assert_eq!(a.signature.len(), 64);
    assert_eq!(a.signature, b.signature);
    assert_eq!(a.signature, signed_again(&a, secret));
}

fn signed_again(cmd: &Command, secret: &str) -> String {
    let mut c = cmd.clone();
    c.signature.clear();
    sign(&mut c, secret).unwrap();
    c.signature
}

// ---------------------------------------------------------------- wire types

/// Parse, re-serialise with the Go formatter and with plain serde_json,
/// compare with the (Go-written) input byte for byte. Plain serde_json does
/// not HTML-escape, so it is only compared when the input has no such escape.
fn round_trip<T>(wire: &str) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let value: T = serde_json::from_str(wire).unwrap();
    assert_eq!(json::to_string(&value).unwrap(), wire);
    if !wire.contains("\\u00") {
        assert_eq!(serde_json::to_string(&value).unwrap(), wire);
    }
    value
}

#[test]
fn event_round_trip() {
    let e: Event = round_trip(
        r#"{"id":"evt_6f1c2a9e-3b1d-4f5a-9c8e-2d7b1a0e4f11","type":"github.issue.opened","source":"github","timestamp":1700000000,"payload":{"number":42,"title":"Crash on start"}}"#,
    );
    assert_eq!(e.event_type, "github.issue.opened");
    assert_eq!(e.timestamp, 1_700_000_000);
    assert_eq!(e.payload["number"], json!(42));
}

#[test]
fn command_round_trip() {
    let sig = "85595c0f1f384c938fd2437536f9673dda418d5a5de9620fad806a5f98b5aca4";
    let c: Command = round_trip(&format!(
        r#"{{"command":"add_label","payload":{{"label":"bug","number":42}},"source":"workflow:auto-label","signature":"{sig}"}}"#
    ));
    assert_eq!(verify(&c, "secret"), Ok(()));
    let c: Command = round_trip(
        r#"{"command":"add_label","payload":{"label":"bug","number":42},"source":"workflow:auto-label"}"#,
    );
    assert_eq!(c.signature, "");
    assert_eq!(verify(&c, "secret"), Err(SignatureError::Missing));
}

#[test]
fn registration_round_trip() {
    let r: Registration = round_trip(
        r#"{"name":"github-agent","version":"0.2.3","capabilities":["webhooks","polling"],"commands":["add_label","create_comment"]}"#,
    );
    assert_eq!(r.config_schema, None);
    round_trip::<Registration>(
        r#"{"name":"x","version":"1","capabilities":[],"commands":[],"config_schema":{"type":"object"}}"#,
    );
}

#[test]
fn heartbeat_round_trip() {
    let h: Heartbeat = round_trip(
        r#"{"name":"github-agent","status":"running","last_event":"2024-01-02T03:04:05.123456789+01:00","events_processed":7,"errors":1}"#,
    );
    assert_eq!(h.status, STATUS_RUNNING);
    round_trip::<Heartbeat>(
        r#"{"name":"a","status":"running","last_event":"0001-01-01T00:00:00Z","events_processed":0,"errors":0}"#,
    );
}

#[test]
fn api_round_trips() {
    let s: StatusResponse = round_trip(
        r#"{"status":"ok","uptime":"1h2m3s","nats_running":true,"started_at":"2024-01-02T03:04:05.5Z","agent_count":1,"workflow_count":2}"#,
    );
    assert_eq!(s.uptime, sekia_protocol::format_go_duration_secs(3723));
    assert_eq!(
        s.started_at,
        sekia_protocol::format_go_time(1_704_164_645, 500_000_000, 0).unwrap()
    );
    let a: AgentsResponse = round_trip(
        r#"{"agents":[{"name":"github-agent","version":"0.2.3","status":"running","capabilities":["webhooks","polling"],"commands":["add_label"],"registered_at":"2024-01-02T03:04:05.123456789+01:00","last_heartbeat":"2024-01-02T03:05:05.5+01:00","events_processed":7,"errors":1},{"name":"slack-agent","version":"","status":"unknown","capabilities":[],"commands":[],"registered_at":"0001-01-01T00:00:00Z","last_heartbeat":"2024-01-02T03:04:05Z","events_processed":0,"errors":0}]}"#,
    );
    assert_eq!(a.agents.len(), 2);
    round_trip::<AgentsResponse>(r#"{"agents":[]}"#);
    // Go escapes '>' in the pattern; we decode and re-emit it identically.
    let w: WorkflowsResponse = round_trip(
        r#"{"workflows":[{"name":"auto-label","file_path":"/home/u/.config/sekia/workflows/auto-label.lua","handlers":2,"patterns":["sekia.events.github","sekia.events.\u003e"],"loaded_at":"2024-01-02T03:04:05.000000001Z","events":10,"errors":0}]}"#,
    );
    assert_eq!(w.workflows[0].patterns[1], "sekia.events.>");
    round_trip::<WorkflowsResponse>(r#"{"workflows":[]}"#);
    round_trip::<ConfigReloadResponse>(r#"{"status":"reload_requested","target":"*"}"#);
    round_trip::<ConfigReloadResponse>(r#"{"status":"reload_requested","target":"github-agent"}"#);
}

#[test]
fn go_nulls_and_missing_fields_decode_to_zero_values() {
    // Go writes nil slices/maps as null.
    let r: Registration =
        serde_json::from_str(r#"{"name":"a","version":"","capabilities":null,"commands":null}"#)
            .unwrap();
    assert!(r.capabilities.is_empty() && r.commands.is_empty());
    // ... and we emit empty lists.
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"name":"a","version":"","capabilities":[],"commands":[]}"#
    );
    let r: Registration = serde_json::from_str(r#"{"name":"a","config_schema":null}"#).unwrap();
    assert_eq!(r.config_schema, None);
    // An empty config_schema is omitted, like Go's omitempty on a map.
    let r = Registration {
        config_schema: Some(Map::new()),
        ..Registration::default()
    };
    assert!(!serde_json::to_string(&r).unwrap().contains("config_schema"));

    let e: Event = serde_json::from_str(
        r#"{"id":"evt_x","type":"t","source":"s","timestamp":1,"payload":null}"#,
    )
    .unwrap();
    assert!(e.payload.is_empty());
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"id":"evt_x","type":"t","source":"s","timestamp":1,"payload":{}}"#
    );

    let h: Heartbeat = serde_json::from_str(r#"{"name":"a","last_event":null}"#).unwrap();
    assert_eq!(h.last_event, sekia_protocol::GO_ZERO_TIME);
    assert_eq!(h.status, "");
    let h: Heartbeat = serde_json::from_str("{}").unwrap();
    assert_eq!(h, Heartbeat::default());

    let a: AgentsResponse = serde_json::from_str(
        r#"{"agents":[{"name":"x","capabilities":null,"commands":null,"status":null}],"extra":1}"#,
    )
    .unwrap();
    assert_eq!(a.agents[0].registered_at, sekia_protocol::GO_ZERO_TIME);
    assert!(a.agents[0].capabilities.is_empty());
    let w: WorkflowsResponse = serde_json::from_str(r#"{"workflows":null}"#).unwrap();
    assert!(w.workflows.is_empty());

    // Missing payload on a command is Go's nil map, written back as null.
    let c: Command = serde_json::from_str(r#"{"command":"x","source":"y"}"#).unwrap();
    assert_eq!(c.payload, None);
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"command":"x","payload":null,"source":"y"}"#
    );
}

#[test]
fn go_formatter_escapes_like_go() {
    let mut payload = Map::new();
    payload.insert("html".into(), json!("<a href=\"x\">&</a>"));
    payload.insert("ratio".into(), json!(1.0));
    payload.insert("ls".into(), json!("\u{2028}"));
    let e = Event {
        id: "evt_1".into(),
        event_type: "t".into(),
        source: "s".into(),
        timestamp: -1,
        payload,
    };
    assert_eq!(
        json::to_string(&e).unwrap(),
        r#"{"id":"evt_1","type":"t","source":"s","timestamp":-1,"payload":{"html":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e","ls":"\u2028","ratio":1}}"#
    );
    assert_eq!(
        json::to_vec(&e).unwrap(),
        json::to_string(&e).unwrap().into_bytes()
    );
}

// ---------------------------------------------------------------- events, subjects

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.iter()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[test]
fn event_ids_are_unique_uuid_v4() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let e = Event::new("github.issue.opened", "github", Map::new(), 1_700_000_000);
        let uuid = e.id.strip_prefix("evt_").expect("evt_ prefix");
        assert!(is_uuid_v4(uuid), "{uuid}");
        assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
        assert!(seen.insert(e.id));
    }
    let e = Event::new("t", "s", Map::new(), 123);
    assert_eq!(
        (e.event_type.as_str(), e.source.as_str(), e.timestamp),
        ("t", "s", 123)
    );
    let now = Event::new_now("t", "s", Map::new());
    assert!(now.timestamp > 1_700_000_000);
    assert!(new_event_id().starts_with("evt_"));
}

#[test]
fn subject_constants() {
    assert_eq!(subjects::REGISTRY, "sekia.registry");
    assert_eq!(subjects::HEARTBEAT_ALL, "sekia.heartbeat.>");
    assert_eq!(subjects::EVENTS_ALL, "sekia.events.>");
    assert_eq!(subjects::COMMANDS_ALL, "sekia.commands.>");
    assert_eq!(subjects::CONFIG_RELOAD, "sekia.config.reload");
    assert_eq!(
        subjects::heartbeat("github-agent").unwrap(),
        "sekia.heartbeat.github-agent"
    );
    assert_eq!(subjects::events("github").unwrap(), "sekia.events.github");
    assert_eq!(
        subjects::commands("github-agent").unwrap(),
        "sekia.commands.github-agent"
    );
    assert_eq!(
        subjects::config_reload_target("sekiad").unwrap(),
        "sekia.config.reload.sekiad"
    );
    assert!(subjects::subject_matches(
        subjects::EVENTS_ALL,
        &subjects::events("github").unwrap()
    ));
}
