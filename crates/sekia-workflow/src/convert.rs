//! Lua ⇄ JSON conversion (rules in the crate README, "Lua ⇄ JSON").
//!
//! Compatible with sekia where a script could notice (objects vs arrays, empty
//! table → `{}`, integral numbers without `.0`), but never silently lossy: JSON
//! `null` inside an array becomes `sekia.null` instead of shifting the indexes,
//! numeric keys of mixed tables are kept as string keys, and values JSON cannot
//! hold (functions, NaN, cycles) are errors.

use mlua::{Lua, Table, Value as LuaValue};
use serde_json::{Map, Number, Value as Json};

use sekia_protocol::Payload;

/// Deepest table nesting converted; deeper (or cyclic) tables are an error.
pub const MAX_DEPTH: usize = 100;

/// Largest magnitude an integral Lua number may have to be written as a JSON
/// integer (2^53: every integer below it is exact in a double).
const MAX_EXACT_INT: i64 = 1 << 53;

/// Why a Lua value cannot be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A function, coroutine, userdata, buffer or vector.
    #[error("cannot convert a {kind} to JSON{}", at_path(.path))]
    Unsupported {
        /// Lua type name.
        kind: &'static str,
        /// Where in the value (`.a.b[3]`), empty at the top.
        path: String,
    },
    /// NaN or ±infinity (Go's encoder refuses them too).
    #[error("cannot convert {value} to JSON{}", at_path(.path))]
    NonFinite {
        /// The number.
        value: f64,
        /// Where in the value.
        path: String,
    },
    /// A table key that is neither a string nor a number.
    #[error("cannot convert a table with a {kind} key to JSON{}", at_path(.path))]
    BadKey {
        /// Lua type name of the key.
        kind: &'static str,
        /// Where in the value.
        path: String,
    },
    /// A numeric key and a string key that spell the same (`{[1]=…, ["1"]=…}`).
    #[error("table has both the number key {key} and the string key \"{key}\"{}", at_path(.path))]
    DuplicateKey {
        /// The key as text.
        key: String,
        /// Where in the value.
        path: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`], usually a table that contains itself.
    #[error("table nesting deeper than {MAX_DEPTH} levels (does a table contain itself?)")]
    TooDeep,
    /// `publish`/`command` got a table that converts to a JSON array.
    #[error("expected a table with string keys")]
    NotAnObject,
    /// Reading the table failed inside Lua.
    #[error("{0}")]
    Lua(#[from] mlua::Error),
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

/// Converts a JSON value to Lua. `null` is `nil` at the top and as an object
/// member (the member is absent, as in sekia); inside an array it is `sekia.null`
/// ([`LuaValue::NULL`]) so the other elements keep their indexes.
pub fn json_to_lua(lua: &Lua, value: &Json) -> mlua::Result<LuaValue> {
    Ok(match value {
        Json::Null => LuaValue::Nil,
        Json::Bool(b) => LuaValue::Boolean(*b),
        Json::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => LuaValue::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                let v = match item {
                    Json::Null => LuaValue::NULL,
                    other => json_to_lua(lua, other)?,
                };
                t.raw_set(i + 1, v)?;
            }
            LuaValue::Table(t)
        }
        Json::Object(map) => LuaValue::Table(map_to_lua(lua, map)?),
    })
}

/// Converts a JSON object (an event payload) to a Lua table.
pub fn map_to_lua(lua: &Lua, map: &Map<String, Json>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, map.len())?;
    for (k, v) in map {
        if !v.is_null() {
            t.raw_set(k.as_str(), json_to_lua(lua, v)?)?;
        }
    }
    Ok(t)
}

/// Converts a Lua value to JSON (see the module docs for the rules).
pub fn lua_to_json(value: &LuaValue) -> Result<Json, ConvertError> {
    to_json(value, 0)
}

/// Converts a Lua table to an event/command payload: it must convert to a JSON
/// object (an empty table is `{}`); an array is [`ConvertError::NotAnObject`].
pub fn table_to_payload(table: &Table) -> Result<Payload, ConvertError> {
    match table_to_json(table, 0)? {
        Json::Object(map) => Ok(map),
        _ => Err(ConvertError::NotAnObject),
    }
}

impl ConvertError {
    /// Prepends a path segment while an error travels up (paths are only built
    /// on failure, never on the hot path).
    pub(crate) fn within(mut self, segment: &str) -> Self {
        match &mut self {
            ConvertError::Unsupported { path, .. }
            | ConvertError::NonFinite { path, .. }
            | ConvertError::BadKey { path, .. }
            | ConvertError::DuplicateKey { path, .. } => path.insert_str(0, segment),
            _ => {}
        }
        self
    }
}

fn to_json(value: &LuaValue, depth: usize) -> Result<Json, ConvertError> {
    Ok(match value {
        LuaValue::Nil => Json::Null,
        LuaValue::Boolean(b) => Json::Bool(*b),
        LuaValue::LightUserData(p) if p.0.is_null() => Json::Null,
        LuaValue::Integer(i) => number_json(*i as f64)?,
        LuaValue::Number(n) => number_json(*n)?,
        LuaValue::String(s) => Json::String(s.to_string_lossy()),
        LuaValue::Table(t) => table_to_json(t, depth + 1)?,
        other => {
            return Err(ConvertError::Unsupported {
                kind: other.type_name(),
                path: String::new(),
            });
        }
    })
}

/// Integral doubles that are exact become JSON integers (`42`, never `42.0`);
/// others stay doubles.
fn number_json(n: f64) -> Result<Json, ConvertError> {
    if !n.is_finite() {
        return Err(ConvertError::NonFinite {
            value: n,
            path: String::new(),
        });
    }
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INT as f64 && !(n == 0.0 && n.is_sign_negative()) {
        return Ok(Json::Number(Number::from(n as i64)));
    }
    Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
}

fn table_to_json(t: &Table, depth: usize) -> Result<Json, ConvertError> {
    if depth > MAX_DEPTH {
        return Err(ConvertError::TooDeep);
    }
    // String keys go straight into the object; numeric keys are set aside until
    // the table's shape (list, sparse list, mixed) is known.
    let mut map = Map::new();
    let mut indexed: Vec<(i64, Json)> = Vec::new();
    let mut other_numeric: Vec<(String, Json)> = Vec::new();
    let mut max_index: i64 = 0;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, v) = pair?;
        match k {
            LuaValue::String(s) => {
                let name = s.to_string_lossy();
                let j = to_json(&v, depth).map_err(|e| e.within(&format!(".{name}")))?;
                map.insert(name, j);
            }
            LuaValue::Integer(i) if i >= 1 => {
                let j = to_json(&v, depth).map_err(|e| e.within(&format!("[{i}]")))?;
                max_index = max_index.max(i);
                indexed.push((i, j));
            }
            LuaValue::Integer(i) => {
                let j = to_json(&v, depth).map_err(|e| e.within(&format!("[{i}]")))?;
                other_numeric.push((i.to_string(), j));
            }
            LuaValue::Number(n) => {
                let name = sekia_protocol::json::format_go_f64(n);
                let j = to_json(&v, depth).map_err(|e| e.within(&format!("[{name}]")))?;
                other_numeric.push((name, j));
            }
            other => {
                return Err(ConvertError::BadKey {
                    kind: other.type_name(),
                    path: String::new(),
                });
            }
        }
    }
    if map.is_empty() && other_numeric.is_empty() && !indexed.is_empty() {
        let count = indexed.len() as i64;
        // A list, possibly with holes: kept as an array with nulls when at least
        // half the slots are used, so `{1, nil, 3}` is `[1,null,3]`, not `{}`.
        if max_index <= count.saturating_mul(2) {
            let mut items = vec![Json::Null; max_index as usize];
            for (i, j) in indexed {
                items[(i - 1) as usize] = j;
            }
            return Ok(Json::Array(items));
        }
    }
    for (name, j) in indexed
        .into_iter()
        .map(|(i, j)| (i.to_string(), j))
        .chain(other_numeric)
    {
        if map.contains_key(&name) {
            return Err(ConvertError::DuplicateKey {
                key: name,
                path: String::new(),
            });
        }
        map.insert(name, j);
    }
    Ok(Json::Object(map))
}

/// Encodes a Lua table as a `publish`/`command` payload straight to the bytes
/// Go's `json.Marshal` writes for [`table_to_payload`]'s result (keys sorted,
/// Go escaping and number format), without building a [`Payload`]: same
/// accepted tables, same bytes, same errors. Appends to `out`; on error `out`
/// is left as it was.
///
/// Since every number of a converted table is an exact integer (|n| ≤ 2^53) or
/// a double, these bytes are also the payload's canonical form
/// ([`sekia_protocol::canonical`]), which command signatures cover.
pub fn encode_payload(table: &Table, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    let start = out.len();
    match encode_table(table, 0, out) {
        Ok(true) => Ok(()),
        Ok(false) => {
            out.truncate(start);
            Err(ConvertError::NotAnObject)
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

fn encode_value(value: &LuaValue, depth: usize, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    match value {
        LuaValue::Nil => out.extend_from_slice(b"null"),
        LuaValue::Boolean(true) => out.extend_from_slice(b"true"),
        LuaValue::Boolean(false) => out.extend_from_slice(b"false"),
        LuaValue::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        LuaValue::Integer(i) => encode_number(*i as f64, out)?,
        LuaValue::Number(n) => encode_number(*n, out)?,
        LuaValue::String(s) => {
            let b = s.as_bytes();
            match std::str::from_utf8(&b) {
                Ok(text) => sekia_protocol::json::write_go_str_bytes(out, text),
                Err(_) => {
                    sekia_protocol::json::write_go_str_bytes(out, &String::from_utf8_lossy(&b))
                }
            }
        }
        LuaValue::Table(t) => {
            encode_table(t, depth + 1, out)?;
        }
        other => {
            return Err(ConvertError::Unsupported {
                kind: other.type_name(),
                path: String::new(),
            });
        }
    }
    Ok(())
}

/// [`number_json`] written out: exact integers as integers, other finite
/// numbers as Go prints a `float64`.
pub(crate) fn encode_number(n: f64, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    if !n.is_finite() {
        return Err(ConvertError::NonFinite {
            value: n,
            path: String::new(),
        });
    }
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INT as f64 && !(n == 0.0 && n.is_sign_negative()) {
        let mut i = n as i64;
        if i < 0 {
            out.push(b'-');
            i = -i;
        }
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (i % 10) as u8;
            i /= 10;
            if i == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[at..]);
    } else {
        out.extend_from_slice(sekia_protocol::json::format_go_f64(n).as_bytes());
    }
    Ok(())
}

/// One member of a table being encoded; all ranges index the output buffer:
/// the key as (lossy) UTF-8 for sorting, then the key as a JSON string, then
/// the encoded value, back to back.
#[derive(Clone, Copy)]
pub(crate) struct Member {
    pub key: usize,
    pub quoted: usize,
    pub value: usize,
    pub end: usize,
}

/// [`table_to_json`] written out: appends the table's JSON to `out` and
/// returns whether it is an object. Members are encoded in `pairs` order (so
/// the first failing one is the one reported, as in [`table_to_json`]), then
/// assembled in their final order after them, and moved down into place.
fn encode_table(t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<bool, ConvertError> {
    if depth > MAX_DEPTH {
        return Err(ConvertError::TooDeep);
    }
    let base = out.len();
    let mut named: Vec<Member> = Vec::new();
    // (index, value start, value end)
    let mut indexed: Vec<(i64, usize, usize)> = Vec::new();
    let mut other_numeric: Vec<Member> = Vec::new();
    let mut max_index: i64 = 0;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, v) = pair?;
        match k {
            LuaValue::String(s) => {
                let key = out.len();
                let b = s.as_bytes();
                let text = match std::str::from_utf8(&b) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(&b),
                };
                out.extend_from_slice(text.as_bytes());
                let quoted = out.len();
                sekia_protocol::json::write_go_str_bytes(out, &text);
                let value = out.len();
                encode_value(&v, depth, out).map_err(|e| e.within(&format!(".{text}")))?;
                named.push(Member {
                    key,
                    quoted,
                    value,
                    end: out.len(),
                });
            }
            LuaValue::Integer(i) if i >= 1 => {
                let value = out.len();
                encode_value(&v, depth, out).map_err(|e| e.within(&format!("[{i}]")))?;
                max_index = max_index.max(i);
                indexed.push((i, value, out.len()));
            }
            LuaValue::Integer(i) => {
                let name = i.to_string();
                let m = push_numeric_key(out, &name);
                encode_value(&v, depth, out).map_err(|e| e.within(&format!("[{i}]")))?;
                other_numeric.push(Member {
                    end: out.len(),
                    ..m
                });
            }
            LuaValue::Number(n) => {
                let name = sekia_protocol::json::format_go_f64(n);
                let m = push_numeric_key(out, &name);
                encode_value(&v, depth, out).map_err(|e| e.within(&format!("[{name}]")))?;
                other_numeric.push(Member {
                    end: out.len(),
                    ..m
                });
            }
            other => {
                return Err(ConvertError::BadKey {
                    kind: other.type_name(),
                    path: String::new(),
                });
            }
        }
    }
    assemble(out, base, named, indexed, other_numeric, max_index)
}

/// Writes the members encoded after `base` as the table's JSON (array or
/// object, as `table_to_json` decides), moves it down to `base` and returns
/// whether it is an object.
pub(crate) fn assemble(
    out: &mut Vec<u8>,
    base: usize,
    mut named: Vec<Member>,
    indexed: Vec<(i64, usize, usize)>,
    other_numeric: Vec<Member>,
    max_index: i64,
) -> Result<bool, ConvertError> {
    let assembled = out.len();
    let is_object;
    if named.is_empty()
        && other_numeric.is_empty()
        && !indexed.is_empty()
        && max_index <= (indexed.len() as i64).saturating_mul(2)
    {
        // A list, possibly with holes (see `table_to_json`).
        let mut slots: Vec<Option<(usize, usize)>> = vec![None; max_index as usize];
        for (i, s, e) in indexed {
            slots[(i - 1) as usize] = Some((s, e));
        }
        out.push(b'[');
        for (n, slot) in slots.into_iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            match slot {
                Some((s, e)) => out.extend_from_within(s..e),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b']');
        is_object = false;
    } else {
        // String keys: sorted bytewise (as `serde_json::Map`); distinct Lua
        // strings that read the same after the lossy UTF-8 conversion keep the
        // last one in `pairs` order, as a map insert would.
        named.sort_by(|a, b| out[a.key..a.quoted].cmp(&out[b.key..b.quoted]));
        let mut members = named;
        let mut kept = 0;
        for n in 0..members.len() {
            let m = members[n];
            if kept > 0
                && out[members[kept - 1].key..members[kept - 1].quoted] == out[m.key..m.quoted]
            {
                members[kept - 1] = m;
            } else {
                members[kept] = m;
                kept += 1;
            }
        }
        members.truncate(kept);
        let strings = members.len();
        // Numeric keys become strings; one spelling a string key is an error.
        // (Two numeric keys never spell the same: integers print without a
        // point or exponent, other numbers with one, or beyond i64.)
        let mut numeric: Vec<Member> = Vec::new();
        for (i, s, e) in indexed {
            let name = i.to_string();
            let m = push_numeric_key(out, &name);
            out.extend_from_within(s..e);
            numeric.push(Member {
                end: out.len(),
                ..m
            });
        }
        numeric.extend(other_numeric);
        for m in &numeric {
            let name = &out[m.key..m.quoted];
            if members[..strings]
                .binary_search_by(|x| out[x.key..x.quoted].cmp(name))
                .is_ok()
            {
                let key = String::from_utf8_lossy(name).into_owned();
                out.truncate(base);
                return Err(ConvertError::DuplicateKey {
                    key,
                    path: String::new(),
                });
            }
        }
        if !numeric.is_empty() {
            members.extend(numeric);
            members.sort_by(|a, b| out[a.key..a.quoted].cmp(&out[b.key..b.quoted]));
        }
        let assembled_at = out.len();
        out.push(b'{');
        for (n, m) in members.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_within(m.quoted..m.value);
            out.push(b':');
            out.extend_from_within(m.value..m.end);
        }
        out.push(b'}');
        out.copy_within(assembled_at.., base);
        out.truncate(base + (out.len() - assembled_at));
        return Ok(true);
    }
    out.copy_within(assembled.., base);
    out.truncate(base + (out.len() - assembled));
    Ok(is_object)
}

/// Writes a numeric key's name (ASCII: digits, `-`, `.`, `e`, `+`) for
/// sorting and quoted, and returns the member with its value starting next.
pub(crate) fn push_numeric_key(out: &mut Vec<u8>, name: &str) -> Member {
    let key = out.len();
    out.extend_from_slice(name.as_bytes());
    let quoted = out.len();
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
    let value = out.len();
    Member {
        key,
        quoted,
        value,
        end: value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(lua: &Lua, src: &str) -> Result<Json, ConvertError> {
        let v: LuaValue = lua.load(src).eval().map_err(ConvertError::Lua)?;
        lua_to_json(&v)
    }

    #[test]
    fn scalars() {
        let lua = Lua::new();
        assert_eq!(roundtrip(&lua, "return 42").unwrap().to_string(), "42");
        assert_eq!(roundtrip(&lua, "return 10/4").unwrap().to_string(), "2.5");
        assert_eq!(roundtrip(&lua, "return 'x'").unwrap(), Json::from("x"));
        assert_eq!(roundtrip(&lua, "return true").unwrap(), Json::from(true));
        assert_eq!(roundtrip(&lua, "return nil").unwrap(), Json::Null);
        assert!(roundtrip(&lua, "return 0/0").is_err());
        assert!(roundtrip(&lua, "return print").is_err());
    }

    #[test]
    fn tables() {
        let lua = Lua::new();
        let j = |s: &str| roundtrip(&lua, s).unwrap().to_string();
        assert_eq!(j("return {}"), "{}");
        assert_eq!(j("return {1,2,3}"), "[1,2,3]");
        assert_eq!(j("return {1,nil,3}"), "[1,null,3]");
        assert_eq!(j("return {a=1,b={c='d'}}"), r#"{"a":1,"b":{"c":"d"}}"#);
        assert_eq!(j("return {1,2,x=3}"), r#"{"1":1,"2":2,"x":3}"#);
        assert_eq!(j("return {[10]=1}"), r#"{"10":1}"#);
        assert_eq!(j("return {[1.5]=1}"), r#"{"1.5":1}"#);
        assert!(roundtrip(&lua, "return {[1]=1,['1']=2}").is_err());
        assert!(roundtrip(&lua, "return {[true]=1}").is_err());
        assert!(matches!(
            roundtrip(&lua, "local t = {} t.self = t return t"),
            Err(ConvertError::TooDeep)
        ));
        let e = roundtrip(&lua, "return {a={b=print}}").unwrap_err();
        assert!(e.to_string().contains(".a.b"), "{e}");
    }

    #[test]
    fn json_null_in_arrays_keeps_indexes() {
        let lua = Lua::new();
        let v: Json = serde_json::from_str(r#"{"a":[1,null,3],"b":null}"#).unwrap();
        let t = json_to_lua(&lua, &v).unwrap();
        lua.globals().set("t", t.clone()).unwrap();
        let n: i64 = lua.load("return #t.a").eval().unwrap();
        assert_eq!(n, 3);
        let third: f64 = lua.load("return t.a[3]").eval().unwrap();
        assert_eq!(third, 3.0);
        assert_eq!(lua_to_json(&t).unwrap().to_string(), r#"{"a":[1,null,3]}"#);
    }

    /// The direct encoder must give the bytes `table_to_payload` + Go encoding
    /// give, and the same errors.
    #[test]
    fn encode_payload_matches_table_to_payload() {
        let lua = Lua::new();
        lua.globals().set("null", LuaValue::NULL).unwrap();
        let cases = [
            "return {}",
            "return {a=1,b={c='d'}}",
            "return {id='evt_1', t=5, title='hello <&>', z=2.5, n=-0.0, big=2^60, neg=-7}",
            "return {x={1,2,3}, y={1,nil,3}, w={[1]=1,[4]=4}, q={[10]=1}}",
            "return {1,2,x=3}",
            "return {[1.5]=1, a=2}",
            "return {[-1]=1, [0]=2, s='x'}",
            "return {[1]=1,['1']=2}",
            "return {a={[2]=1,['2']=2}}",
            "return {a={b=print}}",
            "return {a={1,2,{c=0/0}}}",
            "return {[true]=1}",
            "return {1,2}",
            "return {{}}",
            "return {a={}, b={{}}, c={null, 1}, d=null, e=true, f=false}",
            "local t = {} t.self = t return t",
            "return {['\\u{2028}k\\n']='\\0\\u{7f}\\u{2029}', ['\\xff']='\\xfe', ['\\xfe']=1}",
            "return {a = {[1e300]=1, [-2^63]=2, [3]=3}}",
            "return {[1]=1,[2]=2,[3]=3,[7]=7}",
            "return {[1]=1,[2]=2,[3]=3,[8]=8}",
            "return {1e21, 1e-7, 0.1, 123456789012345678}",
        ];
        for src in cases {
            let t: Table = lua.load(src).eval().unwrap();
            let want = table_to_payload(&t)
                .map(|p| sekia_protocol::json::to_vec(&p).unwrap())
                .map_err(|e| e.to_string());
            let mut out = b"prefix".to_vec();
            let got = encode_payload(&t, &mut out)
                .map(|()| out[6..].to_vec())
                .map_err(|e| e.to_string());
            if got.is_err() {
                assert_eq!(out, b"prefix", "{src}");
            }
            assert_eq!(
                got.as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
                want.as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
                "{src}"
            );
            if let Ok(p) = table_to_payload(&t) {
                let canon = sekia_protocol::canonical::to_canonical_string(&Json::Object(p));
                assert_eq!(canon.unwrap().into_bytes(), got.unwrap(), "{src}");
            }
        }
    }

    #[test]
    fn payload_rejects_arrays() {
        let lua = Lua::new();
        let t: Table = lua.load("return {1,2}").eval().unwrap();
        assert!(matches!(
            table_to_payload(&t),
            Err(ConvertError::NotAnObject)
        ));
        let t: Table = lua.load("return {}").eval().unwrap();
        assert!(table_to_payload(&t).unwrap().is_empty());
    }
}
