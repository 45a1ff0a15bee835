//! The per-event conversions on the hot path (event → Lua table, `sekia.command`
//! payload → JSON bytes) done in one protected call each, on the raw Luau
//! stack, instead of one mlua API call per field.
//!
//! Each mlua call locks the VM, checks the stack and keeps registry references
//! to the strings and tables it returns; per event that cost more than the
//! conversions themselves. The results are those of [`crate::convert`]'s
//! `map_to_lua` and `encode_payload` (the tests compare them): same tables, same
//! bytes, same errors.
//!
//! Safety: the code below only uses the Luau C API on stack slots it checked
//! (`lua_checkstack`) and pushed itself, reads strings only while they are on
//! the stack, restores the stack top, and never panics. Code that allocates in
//! Lua runs in [`Lua::exec_raw`]'s protected call when a memory limit is set
//! (an allocation error then unwinds to it); without a limit, allocations
//! cannot fail short of the process running out of memory, and mlua itself
//! then calls the same functions unprotected.

use std::ffi::c_int;

use mlua::ffi;
use mlua::{Lua, Table};
use serde_json::{Map, Value as Json};

use sekia_protocol::Event;

use crate::convert::{ConvertError, MAX_DEPTH, Member, encode_number, push_numeric_key};

/// The event table's keys, created once per VM: pushing them is cheaper than
/// interning them again for every event.
pub(crate) struct EventKeys([mlua::LuaString; 5]);

impl EventKeys {
    pub fn new(lua: &Lua) -> mlua::Result<Self> {
        Ok(Self([
            lua.create_string("id")?,
            lua.create_string("type")?,
            lua.create_string("source")?,
            lua.create_string("timestamp")?,
            lua.create_string("payload")?,
        ]))
    }
}

/// Builds the event table `{id, type, source, timestamp, payload}`
/// (`payload` as [`crate::convert::map_to_lua`] converts it).
///
/// `protect`: whether allocation may fail (a memory limit is set), so the Luau
/// calls must run in a protected call; without a limit they run directly, as
/// mlua itself does then.
pub(crate) fn event_table(
    lua: &Lua,
    keys: &EventKeys,
    e: &Event,
    protect: bool,
) -> mlua::Result<Table> {
    let too_deep = || mlua::Error::runtime("event payload nested too deeply");
    let [k1, k2, k3, k4, k5] = &keys.0;
    if protect {
        let mut built = false;
        // SAFETY: see the module docs. The keys are the arguments (1..=5). On
        // failure `build_event` leaves values on the stack; `exec_raw`
        // restores it.
        let t = unsafe {
            lua.exec_raw::<mlua::MultiValue>((k1, k2, k3, k4, k5), |state| {
                built = build_event(state, 1, e)
            })?
        };
        return match t.into_iter().last() {
            Some(mlua::Value::Table(t)) if built => Ok(t),
            _ => Err(too_deep()),
        };
    }
    lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: see the module docs; the stack is left as it was found.
        unsafe {
            let top = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, 5) == 0 {
                return Err(mlua::Error::StackError);
            }
            let t = (|| {
                for k in [k1, k2, k3, k4, k5] {
                    raw.push(k)?;
                }
                if build_event(state, top + 1, e) {
                    raw.pop::<Table>()
                } else {
                    Err(too_deep())
                }
            })();
            ffi::lua_settop(state, top);
            t
        }
    })
}

/// Pushes the event table, with the five keys at stack index `keys`..; false
/// as [`push_map`].
#[must_use]
unsafe fn build_event(state: *mut ffi::lua_State, keys: c_int, e: &Event) -> bool {
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return false;
        }
        ffi::lua_createtable(state, 0, 5);
        for (i, v) in [&e.id, &e.event_type, &e.source].into_iter().enumerate() {
            ffi::lua_pushvalue(state, keys + i as c_int);
            push_bytes(state, v.as_bytes());
            ffi::lua_rawset(state, -3);
        }
        ffi::lua_pushvalue(state, keys + 3);
        ffi::lua_pushnumber(state, e.timestamp as f64);
        ffi::lua_rawset(state, -3);
        ffi::lua_pushvalue(state, keys + 4);
        if !push_map(state, &e.payload) {
            return false;
        }
        ffi::lua_rawset(state, -3);
        true
    }
}

unsafe fn push_bytes(state: *mut ffi::lua_State, b: &[u8]) {
    // `lua_pushlstring_` (mlua's `lua_pushlstring` also reads the string back),
    // never with the dangling pointer of an empty slice.
    let p = if b.is_empty() {
        c"".as_ptr()
    } else {
        b.as_ptr().cast()
    };
    unsafe { ffi::lua_pushlstring_(state, p, b.len()) }
}

/// Pushes a JSON object as a table; `null` members are left out. False (with
/// the stack left partly filled) if the Lua stack cannot grow: nesting in the
/// thousands, which the bus's JSON decoder never produces.
#[must_use]
unsafe fn push_map(state: *mut ffi::lua_State, map: &Map<String, Json>) -> bool {
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return false;
        }
        ffi::lua_createtable(state, 0, map.len().min(c_int::MAX as usize) as c_int);
        for (k, v) in map {
            if !v.is_null() {
                push_bytes(state, k.as_bytes());
                if !push_json(state, v) {
                    return false;
                }
                ffi::lua_rawset(state, -3);
            }
        }
        true
    }
}

/// Pushes a JSON value (never `null` at this point: the caller decides what a
/// `null` is). False as [`push_map`].
#[must_use]
unsafe fn push_json(state: *mut ffi::lua_State, v: &Json) -> bool {
    unsafe {
        match v {
            Json::Null => ffi::lua_pushnil(state),
            Json::Bool(b) => ffi::lua_pushboolean(state, c_int::from(*b)),
            Json::Number(n) => ffi::lua_pushnumber(state, n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => push_bytes(state, s.as_bytes()),
            Json::Array(items) => {
                if ffi::lua_checkstack(state, 4) == 0 {
                    return false;
                }
                ffi::lua_createtable(state, items.len().min(c_int::MAX as usize) as c_int, 0);
                for (i, item) in items.iter().enumerate() {
                    match item {
                        // `sekia.null`, so that the other elements keep their indexes.
                        Json::Null => ffi::lua_pushlightuserdata(state, std::ptr::null_mut()),
                        other => {
                            if !push_json(state, other) {
                                return false;
                            }
                        }
                    }
                    ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
                }
            }
            Json::Object(map) => return push_map(state, map),
        }
        true
    }
}

/// [`crate::convert::encode_payload`] on the raw stack. It only reads the
/// table, so it needs no protected call (it allocates nothing in Lua; only the
/// stack may grow, checked as mlua checks it).
pub(crate) fn encode_payload(
    lua: &Lua,
    table: &Table,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    let start = out.len();
    let res = lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: see the module docs; the stack is left as it was found.
        unsafe {
            let top = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, 8) == 0 {
                return Err(ConvertError::Lua(mlua::Error::StackError));
            }
            let r = raw.push(table).map_err(ConvertError::Lua).and_then(|()| {
                match encode_table(state, ffi::lua_gettop(state), 0, out)? {
                    true => Ok(()),
                    false => Err(ConvertError::NotAnObject),
                }
            });
            ffi::lua_settop(state, top);
            r
        }
    });
    if res.is_err() {
        out.truncate(start);
    }
    res
}

/// mlua's name of a Lua type (what `Value::type_name` says).
fn type_name(t: c_int) -> &'static str {
    match t {
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA => "lightuserdata",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TINTEGER => "integer",
        ffi::LUA_TVECTOR => "vector",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TUSERDATA => "userdata",
        ffi::LUA_TTHREAD => "thread",
        ffi::LUA_TBUFFER => "buffer",
        _ => "other",
    }
}

/// A number as mlua classifies it: an integer when it is an exact `i64`
/// (`-0.0` is not).
fn as_integer(n: f64) -> Option<i64> {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        let i = n as i64;
        if (i as f64).to_bits() == n.to_bits() {
            return Some(i);
        }
    }
    None
}

/// A number at `idx` (a `number` or Luau `integer`): (value as f64, integer?).
unsafe fn number_at(state: *mut ffi::lua_State, idx: c_int, t: c_int) -> (f64, Option<i64>) {
    unsafe {
        if t == ffi::LUA_TINTEGER {
            let i = ffi::lua_tointeger64(state, idx, std::ptr::null_mut());
            (i as f64, Some(i))
        } else {
            let n = ffi::lua_tonumber(state, idx);
            (n, as_integer(n))
        }
    }
}

/// The bytes of the string at `idx` (valid while it stays on the stack).
unsafe fn str_at<'a>(state: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    unsafe {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(state, idx, &mut len);
        if p.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(p.cast(), len)
    }
}

fn write_lossy_str(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(text) => sekia_protocol::json::write_go_str_bytes(out, text),
        Err(_) => sekia_protocol::json::write_go_str_bytes(out, &String::from_utf8_lossy(b)),
    }
}

unsafe fn encode_value(
    state: *mut ffi::lua_State,
    idx: c_int,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    unsafe {
        let t = ffi::lua_type(state, idx);
        match t {
            ffi::LUA_TNIL => out.extend_from_slice(b"null"),
            ffi::LUA_TBOOLEAN => {
                if ffi::lua_toboolean(state, idx) != 0 {
                    out.extend_from_slice(b"true")
                } else {
                    out.extend_from_slice(b"false")
                }
            }
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(state, idx).is_null() => {
                out.extend_from_slice(b"null")
            }
            ffi::LUA_TNUMBER | ffi::LUA_TINTEGER => encode_number(number_at(state, idx, t).0, out)?,
            ffi::LUA_TSTRING => write_lossy_str(out, str_at(state, idx)),
            ffi::LUA_TTABLE => {
                encode_table(state, idx, depth + 1, out)?;
            }
            other => {
                return Err(ConvertError::Unsupported {
                    kind: type_name(other),
                    path: String::new(),
                });
            }
        }
        Ok(())
    }
}

/// [`crate::convert`]'s `encode_table` on the raw stack: the table at the
/// absolute index `idx`.
unsafe fn encode_table(
    state: *mut ffi::lua_State,
    idx: c_int,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<bool, ConvertError> {
    if depth > MAX_DEPTH {
        return Err(ConvertError::TooDeep);
    }
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return Err(ConvertError::Lua(mlua::Error::StackError));
        }
        let base = out.len();
        let mut named: Vec<Member> = Vec::new();
        let mut indexed: Vec<(i64, usize, usize)> = Vec::new();
        let mut other_numeric: Vec<Member> = Vec::new();
        let mut max_index: i64 = 0;
        let mut iter: c_int = 0;
        loop {
            iter = ffi::lua_rawiter(state, idx, iter);
            if iter < 0 {
                break;
            }
            // Key at -2, value at -1.
            let top = ffi::lua_gettop(state);
            let vidx = top;
            let kt = ffi::lua_type(state, top - 1);
            match kt {
                ffi::LUA_TSTRING => {
                    let key = out.len();
                    let b = str_at(state, top - 1);
                    let text = match std::str::from_utf8(b) {
                        Ok(text) => std::borrow::Cow::Borrowed(text),
                        Err(_) => String::from_utf8_lossy(b),
                    };
                    out.extend_from_slice(text.as_bytes());
                    let quoted = out.len();
                    sekia_protocol::json::write_go_str_bytes(out, &text);
                    let value = out.len();
                    encode_value(state, vidx, depth, out)
                        .map_err(|e| e.within(&format!(".{text}")))?;
                    named.push(Member {
                        key,
                        quoted,
                        value,
                        end: out.len(),
                    });
                }
                ffi::LUA_TNUMBER | ffi::LUA_TINTEGER => match number_at(state, top - 1, kt) {
                    (_, Some(i)) if i >= 1 => {
                        let value = out.len();
                        encode_value(state, vidx, depth, out)
                            .map_err(|e| e.within(&format!("[{i}]")))?;
                        max_index = max_index.max(i);
                        indexed.push((i, value, out.len()));
                    }
                    (_, Some(i)) => {
                        let m = push_numeric_key(out, &i.to_string());
                        encode_value(state, vidx, depth, out)
                            .map_err(|e| e.within(&format!("[{i}]")))?;
                        other_numeric.push(Member {
                            end: out.len(),
                            ..m
                        });
                    }
                    (n, None) => {
                        let name = sekia_protocol::json::format_go_f64(n);
                        let m = push_numeric_key(out, &name);
                        encode_value(state, vidx, depth, out)
                            .map_err(|e| e.within(&format!("[{name}]")))?;
                        other_numeric.push(Member {
                            end: out.len(),
                            ..m
                        });
                    }
                },
                other => {
                    return Err(ConvertError::BadKey {
                        kind: type_name(other),
                        path: String::new(),
                    });
                }
            }
            ffi::lua_settop(state, top - 2);
        }
        crate::convert::assemble(out, base, named, indexed, other_numeric, max_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Value as LuaValue;

    #[test]
    fn encode_payload_matches_convert() {
        let lua = Lua::new();
        lua.globals().set("null", LuaValue::NULL).unwrap();
        lua.globals()
            .set("f", lua.create_function(|_, ()| Ok(())).unwrap())
            .unwrap();
        let cases = [
            "return {}",
            "return {a=1,b={c='d'}}",
            "return {id='evt_1', t=5, title='hello <&>', z=2.5, n=-0.0, big=2^60, neg=-7}",
            "return {x={1,2,3}, y={1,nil,3}, w={[1]=1,[4]=4}, q={[10]=1}}",
            "return {1,2,x=3}",
            "return {[1.5]=1, a=2}",
            "return {[-1]=1, [0]=2, [-0.0]=3, s='x'}",
            "return {[1]=1,['1']=2}",
            "return {a={[2]=1,['2']=2}}",
            "return {a={b=f}}",
            "return {a={1,2,{c=0/0}}}",
            "return {a={1,2,{c=1/0}}}",
            "return {[true]=1}",
            "return {a={[f]=1}}",
            "return {a={[null]=1}}",
            "return {1,2}",
            "return {{}}",
            "return {a={}, b={{}}, c={null, 1}, d=null, e=true, f=false}",
            "local t = {} t.self = t return t",
            "return {['\\u{2028}k\\n']='\\0\\u{7f}\\u{2029}', ['\\xff']='\\xfe', ['\\xfe']=1}",
            "return {a = {[1e300]=1, [-2^63]=2, [2^63]=4, [3]=3}}",
            "return {[1]=1,[2]=2,[3]=3,[7]=7}",
            "return {[1]=1,[2]=2,[3]=3,[8]=8}",
            "return {a={1e21, 1e-7, 0.1, 123456789012345678, -2^53, 2^53, 2^53+2}}",
            "return {v=vector.create(1,2,3)}",
        ];
        for src in cases {
            let t: Table = match lua.load(src).eval() {
                Ok(t) => t,
                Err(e) => panic!("{src}: {e}"),
            };
            let mut want = b"prefix".to_vec();
            let want = crate::convert::encode_payload(&t, &mut want)
                .map(|()| String::from_utf8(want[6..].to_vec()).unwrap())
                .map_err(|e| e.to_string());
            let reference = crate::convert::table_to_payload(&t)
                .map(|p| sekia_protocol::json::to_string(&p).unwrap())
                .map_err(|e| e.to_string());
            assert_eq!(want, reference, "{src}");
            let mut out = b"prefix".to_vec();
            let got = encode_payload(&lua, &t, &mut out)
                .map(|()| String::from_utf8(out[6..].to_vec()).unwrap())
                .map_err(|e| e.to_string());
            if got.is_err() {
                assert_eq!(out, b"prefix", "{src}");
            }
            assert_eq!(got, want, "{src}");
        }
    }

    #[test]
    fn event_table_matches_map_to_lua() {
        let lua = Lua::new();
        let payload: Json = serde_json::from_str(
            r#"{"a":[1,null,3,null],"b":null,"c":{"d":[[],{}],"e":"x<y\u0000","z":"","f":true,"g":false},
                "h":1.5,"i":-0.0,"j":12345678901234567890,"k":"","l":[{"m":null}]}"#,
        )
        .unwrap();
        let Json::Object(payload) = payload else {
            unreachable!()
        };
        let e = Event {
            id: "evt_1".into(),
            event_type: "t.x".into(),
            source: "src".into(),
            timestamp: 1_700_000_000,
            payload: payload.clone(),
        };
        let keys = EventKeys::new(&lua).unwrap();
        let t = event_table(&lua, &keys, &e, false).unwrap();
        let t2 = event_table(&lua, &keys, &e, true).unwrap();
        assert_eq!(
            crate::convert::lua_to_json(&LuaValue::Table(t2)).unwrap(),
            crate::convert::lua_to_json(&LuaValue::Table(t.clone())).unwrap()
        );
        let reference = crate::convert::map_to_lua(&lua, &payload).unwrap();
        lua.globals().set("t", t.clone()).unwrap();
        lua.globals().set("r", reference.clone()).unwrap();
        let got = crate::convert::lua_to_json(&LuaValue::Table(t.get("payload").unwrap())).unwrap();
        let want = crate::convert::lua_to_json(&LuaValue::Table(reference)).unwrap();
        assert_eq!(got, want);
        let same: bool = lua
            .load(
                "return #t.payload.a == #r.a and t.payload.a[2] == r.a[2] and t.payload.a[4] == r.a[4] \
                 and t.payload.b == nil and #t.payload.c.d == 2 and t.payload.j == r.j",
            )
            .eval()
            .unwrap();
        assert!(same);
        assert_eq!(t.get::<String>("id").unwrap(), "evt_1");
        assert_eq!(t.get::<String>("type").unwrap(), "t.x");
        assert_eq!(t.get::<String>("source").unwrap(), "src");
        assert_eq!(t.get::<f64>("timestamp").unwrap(), 1_700_000_000.0);
        assert_eq!(t.len().unwrap(), 0);
    }
}
