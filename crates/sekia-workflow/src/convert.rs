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
    fn within(mut self, segment: &str) -> Self {
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
