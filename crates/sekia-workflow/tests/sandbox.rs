//! Escape and exhaustion attempts (inventory §7 item 14 and the issue's list).
//! Each must fail (counted as a handler error, never reaching the `escaped`
//! command) and leave its workflow able to handle its next event.

mod common;

use std::time::Duration;

use common::{Harness, ponger};
use sekia_workflow::LoadErrorKind;
use serde_json::json;

/// (name, handler body). The body runs inside a handler; reaching the line after
/// it would send the `escaped` command.
const ATTEMPTS: &[(&str, &str)] = &[
    ("os_execute", "os.execute('id')"),
    ("io_open", "io.open('/etc/passwd')"),
    ("debug_getinfo", "debug.getinfo(1)"),
    ("load", "load('return 1')()"),
    ("loadstring", "loadstring('return 1')()"),
    ("dofile", "dofile('/etc/passwd')"),
    ("loadfile", "loadfile('/etc/passwd')"),
    ("require", "require('os')"),
    ("string_dump", "string.dump(function() end)"),
    ("getfenv", "getfenv(1).x = 1"),
    ("setfenv", "setfenv(1, {})"),
    ("newproxy", "newproxy(true)"),
    ("collectgarbage", "collectgarbage('count')"),
    ("gcinfo", "gcinfo()"),
    ("package", "local p = package.loaded"),
    ("coroutine", "coroutine.wrap(function() end)()"),
    ("env_table", "_ENV.os.execute('id')"),
    (
        "string_metatable",
        "getmetatable('').__index.upper = function() end",
    ),
    ("string_lib_patch", "string.rep = nil"),
    (
        "global_metatable",
        "setmetatable(_G, {__index = function() return 1 end})",
    ),
    ("rawset_global", "rawset(_G, 'print', nil)"),
    ("sekia_patch", "sekia.command = function() end"),
    ("infinite_loop", "while true do end"),
    (
        "pcall_loop",
        "while true do pcall(function() while true do end end) end",
    ),
    (
        "xpcall_loop",
        "while true do xpcall(function() while true do end end, function() end) end",
    ),
    (
        "deep_recursion",
        "local function f(n) return 1 + f(n + 1) end f(1)",
    ),
    ("string_rep_bomb", "local s = string.rep('x', 2^30)"),
    (
        "concat_doubling",
        "local s = 'x' while true do s = s .. s end",
    ),
    (
        "table_growth",
        "local t = {} for i = 1, 1e9 do t[i] = i end",
    ),
    (
        "table_of_strings",
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('y', 64) .. i end",
    ),
    (
        "pattern_backtrack_find",
        "string.find(string.rep('a', 5000), string.rep('a*', 30) .. 'b')",
    ),
    (
        "pattern_backtrack_gsub",
        "string.gsub(string.rep('a', 5000), '.-.-.-.-.-.-b', '')",
    ),
    (
        "looping_tostring_error",
        "error(setmetatable({}, {__tostring = function() while true do end end}))",
    ),
    (
        "looping_tostring_print",
        "print(setmetatable({}, {__tostring = function() while true do end end}))",
    ),
    ("schedule_at_runtime", "sekia.schedule(1, function() end)"),
    (
        "handler_flood",
        "for i = 1, 1000 do sekia.on('sekia.events.flood', function() end) end",
    ),
    ("unpack_bomb", "local n = select('#', unpack({}, 1, 1e8))"),
    (
        "cyclic_payload",
        "local t = {} t.t = t sekia.command('test', 'x', {t = t})",
    ),
    (
        "function_payload",
        "sekia.command('test', 'x', {f = print})",
    ),
    (
        "nan_payload",
        "sekia.publish('sekia.events.x', 't', {n = 0/0})",
    ),
];

fn workflow(name: &str, body: &str) -> String {
    format!(
        "{}sekia.on('sekia.events.attempt.{name}', function(ev)\n{body}\nsekia.command('test', 'escaped', {{name = '{name}'}})\nend)\n",
        ponger(name)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_and_exhaustion_attempts_fail_and_workflows_survive() {
    assert!(ATTEMPTS.len() >= 30);
    let sources: Vec<(String, String)> = ATTEMPTS
        .iter()
        .map(|(n, b)| (format!("{n}.lua"), workflow(n, b)))
        .collect();
    let files: Vec<(&str, &str)> = sources
        .iter()
        .map(|(f, s)| (f.as_str(), s.as_str()))
        .collect();
    let mut h = Harness::start(&files, |c| {
        c.handler_timeout = Duration::from_millis(300);
        c.memory_limit = 16 << 20;
    })
    .await;
    assert!(
        h.engine.load_errors().is_empty(),
        "{:?}",
        h.engine.load_errors()
    );
    assert_eq!(h.engine.count(), ATTEMPTS.len());
    for (name, _) in ATTEMPTS {
        h.publish(&format!("sekia.events.attempt.{name}"), json!({}))
            .await;
    }
    for (name, _) in ATTEMPTS {
        let s = h
            .wait_status(name, |s| s.info.errors >= 1 && s.info.events >= 1)
            .await;
        assert!(s.last_error.is_some(), "{name}");
    }
    for (name, _) in ATTEMPTS {
        h.assert_alive(name).await;
    }
    h.no_command(Duration::from_millis(100)).await;
    h.engine.shutdown().await;
}

/// Attempts in the top-level code of a file: the file is refused with the right
/// kind of error, and the engine (other workflows) is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_time_attempts_are_refused() {
    let cases: &[(&str, &str, LoadErrorKind)] = &[
        ("top_loop", "while true do end", LoadErrorKind::Timeout),
        (
            "top_pcall_loop",
            "while true do pcall(function() while true do end end) end",
            LoadErrorKind::Timeout,
        ),
        (
            "top_memory",
            "local s = 'x' while true do s = s .. s end",
            LoadErrorKind::Memory,
        ),
        (
            "top_schedule_flood",
            "for i = 1, 100 do sekia.schedule(1, function() end) end",
            LoadErrorKind::Runtime,
        ),
        (
            "top_short_schedule",
            "sekia.schedule(0.5, function() end)",
            LoadErrorKind::Runtime,
        ),
        (
            "bytecode",
            "\x1bLuaS\x00\x19\r\n\x1a\n",
            LoadErrorKind::Syntax,
        ),
        (
            "luau_bytecode",
            "\x03\x02\x00\x00\x01",
            LoadErrorKind::Syntax,
        ),
    ];
    let mut files: Vec<(String, String)> = cases
        .iter()
        .map(|(n, s, _)| (format!("{n}.lua"), s.to_string()))
        .collect();
    files.push(("ok.lua".into(), ponger("ok")));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, s)| (f.as_str(), s.as_str()))
        .collect();
    let mut h = Harness::start(&refs, |_| {}).await;
    let errors = h.engine.load_errors();
    for (name, _, kind) in cases {
        let e = errors
            .iter()
            .find(|e| e.error.file == format!("{name}.lua"))
            .unwrap_or_else(|| panic!("{name} loaded: {errors:?}"));
        assert_eq!(&e.error.kind, kind, "{name}: {:?}", e.error);
    }
    assert_eq!(h.engine.count(), 1);
    h.assert_alive("ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_keeps_the_useful_library() {
    let body = r##"
local parts = {}
for w in string.gmatch("a,b,c", "[^,]+") do table.insert(parts, w) end
sekia.command("test", "lib", {
  n = tostring(42), concat = "#" .. 42, half = tostring(10 / 2),
  up = string.upper("x"), floor = math.floor(3.7), max = math.max(1, 9),
  joined = table.concat(parts, "-"), unpacked = select("#", unpack({1, 2, 3})),
  num = tonumber("12"), ty = type({}), fmt = string.format("%d-%s", 3, "x"),
  print_is_fn = type(print) == "function",
})"##;
    let src = format!("sekia.on('sekia.events.lib', function(ev)\n{body}\nend)\n");
    let mut h = Harness::start(&[("lib.lua", &src)], |_| {}).await;
    h.publish("sekia.events.lib", json!({})).await;
    let (_, c) = h.next_command().await;
    assert_eq!(
        serde_json::Value::Object(c.payload.unwrap()),
        json!({"n": "42", "concat": "#42", "half": "5", "up": "X", "floor": 3, "max": 9,
               "joined": "a-b-c", "unpacked": 3, "num": 12, "ty": "table", "fmt": "3-x",
               "print_is_fn": true})
    );
}
