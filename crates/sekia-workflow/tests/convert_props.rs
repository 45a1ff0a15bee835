//! Property tests: JSON → Lua → JSON keeps the value, up to the documented
//! normalisations (README "Lua ⇄ JSON"): object members whose value is null are
//! absent, an empty array becomes `{}`, and numbers compare as doubles.

use mlua::Lua;
use proptest::prelude::*;
use serde_json::{Map, Value};

use sekia_workflow::convert::{json_to_lua, lua_to_json};

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        (-1e300f64..1e300f64).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// What the round trip is documented to produce.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) if a.is_empty() => Value::Object(Map::new()),
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalise(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_lua_json_round_trip(v in json()) {
        let lua = Lua::new();
        let l = json_to_lua(&lua, &v).unwrap();
        let back = lua_to_json(&l).unwrap();
        prop_assert_eq!(normalise(&back), normalise(&v));
    }

    #[test]
    fn integral_numbers_print_without_fraction(n in -(1i64 << 53)..(1i64 << 53)) {
        let lua = Lua::new();
        let l = json_to_lua(&lua, &Value::from(n as f64)).unwrap();
        prop_assert_eq!(lua_to_json(&l).unwrap().to_string(), n.to_string());
        lua.globals().set("x", l).unwrap();
        let s: String = lua.load("return tostring(x)").eval().unwrap();
        prop_assert_eq!(s, n.to_string());
    }
}
