//! The documented environment overrides: `SEKIA_<SECTION>_<KEY>` for every key (sekia's viper
//! setup never bound them), plus sekia's historical short names.

use std::collections::BTreeMap;

use toml::{Table, Value};

/// Short names sekia documents and actually honoured, mapped onto their keys.
const ALIASES: &[(&str, &str, &str)] = &[
    ("SEKIA_COMMAND_SECRET", "security", "command_secret"),
    ("SEKIA_NATS_TOKEN", "nats", "token"),
    ("SEKIA_WEB_USERNAME", "web", "username"),
    ("SEKIA_WEB_PASSWORD", "web", "password"),
    ("SEKIA_AI_API_KEY", "ai", "api_key"),
    ("SEKIA_NATS_URL", "nats", "url"),
];

/// One override that could not be applied: the variable, the key and why.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvError {
    pub var: String,
    pub key: String,
    pub message: String,
}

/// The environment variable that overrides `section.key`.
pub fn var_name(section: &str, key: &str) -> String {
    format!(
        "SEKIA_{}_{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

/// One key set from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// `section.key`
    pub key: String,
    pub var: String,
}

/// Applies overrides onto `table` (the full config, defaults included, so every key is present
/// and its type is known). Returns what was overridden, for the start-up log and for naming
/// the variable when a value turns out invalid later.
pub fn apply(table: &mut Table, env: &BTreeMap<String, String>) -> Result<Vec<Override>, EnvError> {
    let mut applied = Vec::new();
    let sections: Vec<String> = table.keys().cloned().collect();
    for section in sections {
        let Some(Value::Table(entries)) = table.get_mut(&section) else {
            continue;
        };
        let keys: Vec<String> = entries.keys().cloned().collect();
        for key in keys {
            let var = var_name(&section, &key);
            let alias = ALIASES
                .iter()
                .find(|(_, s, k)| *s == section && *k == key)
                .map(|(name, _, _)| *name);
            // The full name wins over the short alias when both are set.
            let (var, raw) = match env.get(&var) {
                Some(v) => (var, v),
                None => match alias.and_then(|a| env.get(a).map(|v| (a.to_string(), v))) {
                    Some(found) => found,
                    None => continue,
                },
            };
            let Some(current) = entries.get(&key) else {
                continue;
            };
            let value = typed_like(current, raw).map_err(|message| EnvError {
                var: var.clone(),
                key: format!("{section}.{key}"),
                message,
            })?;
            entries.insert(key.clone(), value);
            applied.push(Override {
                key: format!("{section}.{key}"),
                var,
            });
        }
    }
    Ok(applied)
}

/// Reads `raw` as the same TOML type as the key's current value.
fn typed_like(current: &Value, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    match current {
        Value::String(_) => Ok(Value::String(raw.to_string())),
        Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" | "" => Ok(Value::Boolean(false)),
            _ => Err(format!("expected true or false, got {raw:?}")),
        },
        Value::Integer(_) => raw
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("expected a whole number, got {raw:?}")),
        Value::Float(_) => raw
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("expected a number, got {raw:?}")),
        Value::Array(_) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
        Value::Table(_) | Value::Datetime(_) => {
            Err("this key cannot be set from the environment".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        toml::from_str("[nats]\ntoken = \"\"\nport = 0\n[workflows]\nhot_reload = true\n[ai]\ntemperature = 0.0\n")
            .unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn documented_names_apply_with_types() {
        let mut t = table();
        apply(
            &mut t,
            &env(&[
                ("SEKIA_NATS_PORT", "4222"),
                ("SEKIA_WORKFLOWS_HOT_RELOAD", "false"),
                ("SEKIA_AI_TEMPERATURE", "0.5"),
                ("SEKIA_NATS_TOKEN", "12345"),
            ]),
        )
        .unwrap();
        assert_eq!(t["nats"]["port"].as_integer(), Some(4222));
        assert_eq!(t["nats"]["token"].as_str(), Some("12345"));
        assert_eq!(t["workflows"]["hot_reload"].as_bool(), Some(false));
        assert_eq!(t["ai"]["temperature"].as_float(), Some(0.5));
    }

    #[test]
    fn bad_value_names_variable_and_key() {
        let mut t = table();
        let err = apply(&mut t, &env(&[("SEKIA_NATS_PORT", "lots")])).unwrap_err();
        assert_eq!(err.var, "SEKIA_NATS_PORT");
        assert_eq!(err.key, "nats.port");
    }
}
