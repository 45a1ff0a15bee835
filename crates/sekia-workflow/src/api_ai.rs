//! `sekia.ai`, `sekia.ai_json` and `sekia.conversation` (async: a workflow
//! waiting on the LLM does not hold up the others).

use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, UserData, UserDataMethods, Value};

use crate::ai::{AiRequest, ChatMessage, NOT_CONFIGURED, build_system};
use crate::api::VmCtx;
use crate::conversation::conversation_id;
use crate::output::LogLevel;

/// Text raised by `sekia.conversation` without a store (sekia's exact text).
pub const CONVERSATIONS_NOT_CONFIGURED: &str =
    "conversations not configured: add [conversation] section to sekia.toml";

#[derive(Default)]
struct AiOpts {
    model: Option<String>,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    system: Option<String>,
}

/// sekia's option rules: wrong-typed fields are ignored, a non-table raises.
fn parse_opts(func: &str, v: Option<&Value>) -> mlua::Result<AiOpts> {
    let t = match v {
        None | Some(Value::Nil) => return Ok(AiOpts::default()),
        Some(Value::Table(t)) => t,
        Some(other) => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #2 to '{func}' (table expected, got {})",
                other.type_name()
            )));
        }
    };
    let num = |t: &Table, k: &str| -> Option<f64> {
        match t.raw_get::<Value>(k).ok()? {
            Value::Integer(i) => Some(i as f64),
            Value::Number(n) => Some(n),
            _ => None,
        }
    };
    let string = |t: &Table, k: &str| -> Option<String> {
        match t.raw_get::<Value>(k).ok()? {
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        }
    };
    Ok(AiOpts {
        model: string(t, "model").filter(|s| !s.is_empty()),
        max_tokens: num(t, "max_tokens")
            .filter(|n| *n >= 1.0)
            .map(|n| n.min(u32::MAX as f64) as u32),
        temperature: num(t, "temperature").filter(|n| *n >= 0.0),
        system: string(t, "system"),
    })
}

fn prompt_arg(func: &str, args: &MultiValue) -> mlua::Result<String> {
    match args.front() {
        Some(Value::String(s)) => Ok(s.to_string_lossy()),
        Some(Value::Integer(i)) => Ok(i.to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        other => Err(mlua::Error::runtime(format!(
            "bad argument #1 to '{func}' (string expected, got {})",
            other.map_or("no value", Value::type_name)
        ))),
    }
}

fn err_pair(lua: &Lua, msg: &str) -> mlua::Result<(Value, Value)> {
    Ok((Value::Nil, Value::String(lua.create_string(msg)?)))
}

async fn ask(
    c: &VmCtx,
    lua: &Lua,
    func: &str,
    args: MultiValue,
    json_mode: bool,
) -> mlua::Result<Result<String, (Value, Value)>> {
    let Some(llm) = c.services.llm.clone() else {
        return Ok(Err(err_pair(lua, NOT_CONFIGURED)?));
    };
    let prompt = prompt_arg(func, &args)?;
    let opts = parse_opts(func, args.get(1))?;
    let s = &c.services;
    let req = AiRequest {
        messages: vec![ChatMessage {
            role: "user".into(),
            content: prompt,
        }],
        system: build_system(
            json_mode,
            &s.persona,
            &s.skills_index,
            opts.system.as_deref(),
            llm.default_system(),
        ),
        model: opts.model,
        max_tokens: opts.max_tokens,
        temperature: opts.temperature,
    };
    match llm.complete(req).await {
        Ok(text) => Ok(Ok(text)),
        Err(e) => {
            let msg = e.to_string();
            c.sink
                .log(&c.name, LogLevel::Warn, &format!("{func}: {msg}"));
            Ok(Err(err_pair(lua, &msg)?))
        }
    }
}

/// Adds `ai`, `ai_json` and `conversation` to the `sekia` table.
pub(crate) fn install(lua: &Lua, sekia: &Table, ctx: &Arc<VmCtx>) -> mlua::Result<()> {
    let c = ctx.clone();
    sekia.set(
        "ai",
        lua.create_async_function(move |lua, args: MultiValue| {
            let c = c.clone();
            async move {
                match ask(&c, &lua, "ai", args, false).await? {
                    Ok(text) => Ok((Value::String(lua.create_string(&text)?), Value::Nil)),
                    Err(pair) => Ok(pair),
                }
            }
        })?,
    )?;

    let c = ctx.clone();
    sekia.set(
        "ai_json",
        lua.create_async_function(move |lua, args: MultiValue| {
            let c = c.clone();
            async move {
                let text = match ask(&c, &lua, "ai_json", args, true).await? {
                    Ok(text) => text,
                    Err(pair) => return Ok(pair),
                };
                match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v) => Ok((crate::convert::json_to_lua(&lua, &v)?, Value::Nil)),
                    Err(e) => err_pair(&lua, &format!("AI returned invalid JSON: {e}")),
                }
            }
        })?,
    )?;

    // Build the handle's metatable now, before the VM is sealed: mlua creates
    // userdata metatables lazily, which fails once the globals are read-only.
    drop(lua.create_userdata(ConvHandle {
        id: String::new(),
        ctx: ctx.clone(),
    })?);
    let c = ctx.clone();
    sekia.set(
        "conversation",
        lua.create_function(
            move |_, (platform, channel, thread): (String, String, Option<String>)| {
                let Some(store) = c.services.conversations.as_ref() else {
                    return Err(mlua::Error::runtime(CONVERSATIONS_NOT_CONFIGURED));
                };
                let id = conversation_id(&platform, &channel, thread.as_deref().unwrap_or(""));
                store.get_or_create(&id);
                Ok(ConvHandle { id, ctx: c.clone() })
            },
        )?,
    )?;
    Ok(())
}

/// The handle returned by `sekia.conversation`.
struct ConvHandle {
    id: String,
    ctx: Arc<VmCtx>,
}

impl ConvHandle {
    fn store(&self) -> mlua::Result<&crate::conversation::ConversationStore> {
        self.ctx
            .services
            .conversations
            .as_ref()
            .ok_or_else(|| mlua::Error::runtime(CONVERSATIONS_NOT_CONFIGURED))
    }
}

impl UserData for ConvHandle {
    fn add_fields<F: mlua::UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("id", |_, this| Ok(this.id.clone()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("append", |_, this, (role, content): (String, String)| {
            this.store()?.append(&this.id, &role, &content);
            Ok(())
        });
        methods.add_method("history", |lua, this, ()| {
            let history = this.store()?.history(&this.id);
            let t = lua.create_table_with_capacity(history.len(), 0)?;
            for (i, m) in history.iter().enumerate() {
                let row = lua.create_table_with_capacity(0, 2)?;
                row.set("role", m.role.as_str())?;
                row.set("content", m.content.as_str())?;
                t.raw_set(i + 1, row)?;
            }
            Ok(t)
        });
        methods.add_method(
            "metadata",
            |_, this, (key, value): (String, Option<String>)| {
                let store = this.store()?;
                Ok(match value {
                    Some(v) => {
                        store.set_metadata(&this.id, &key, &v);
                        None
                    }
                    None => Some(store.metadata(&this.id, &key)),
                })
            },
        );
        methods.add_async_method("reply", |lua, this, prompt: String| async move {
            let c = &this.ctx;
            let Some(llm) = c.services.llm.clone() else {
                return err_pair(&lua, NOT_CONFIGURED);
            };
            let store = this.store()?.clone();
            store.append(&this.id, "user", &prompt);
            let messages = store
                .history(&this.id)
                .into_iter()
                .map(|m| ChatMessage {
                    role: m.role,
                    content: m.content,
                })
                .collect();
            let s = &c.services;
            let req = AiRequest {
                messages,
                system: build_system(
                    false,
                    &s.persona,
                    &s.skills_index,
                    None,
                    llm.default_system(),
                ),
                ..AiRequest::default()
            };
            match llm.complete(req).await {
                Ok(text) => {
                    store.append(&this.id, "assistant", &text);
                    Ok((Value::String(lua.create_string(&text)?), Value::Nil))
                }
                Err(e) => {
                    let msg = e.to_string();
                    c.sink
                        .log(&c.name, LogLevel::Warn, &format!("reply: {msg}"));
                    err_pair(&lua, &msg)
                }
            }
        });
    }
}
