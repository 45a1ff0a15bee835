//! The global `sekia` table and `print` (inventory §4.5), with sekia's two error
//! conventions: bad arguments raise; `ai`, `ai_json` and `conv:reply` return
//! `(nil, err)`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mlua::{Function, Lua, MultiValue, Table, Value};

use sekia_protocol::{Command, Event, Pattern};

use crate::ai::Llm;
use crate::clock::{Clock, rfc3339};
use crate::conversation::ConversationStore;
use crate::error::{LastError, split_location};
use crate::output::{LogLevel, Sink};
use crate::skills::Skill;
use crate::stats::Stats;

/// Most handlers one workflow may register (a flood guard).
pub const MAX_HANDLERS: usize = 256;
/// Most schedules one workflow may register.
pub const MAX_SCHEDULES: usize = 32;

/// What the engine shares with every VM.
pub(crate) struct Services {
    pub llm: Option<Arc<dyn Llm>>,
    pub persona: String,
    pub skills: Arc<Vec<Skill>>,
    pub skills_index: String,
    pub conversations: Option<ConversationStore>,
    pub command_secret: String,
    pub hop_limit: u32,
    pub clock: Arc<dyn Clock>,
}

/// Per-VM state the `sekia` functions need. Holds no Lua values (they live in
/// the VM's app data), so there is no reference cycle through the VM.
pub(crate) struct VmCtx {
    pub name: String,
    pub file: String,
    pub source: String,
    pub sink: Arc<dyn Sink>,
    pub services: Arc<Services>,
    /// Handler patterns, read by the router without touching the VM.
    pub patterns: RwLock<Arc<[Pattern]>>,
    /// Hop count of the event being handled (publishes carry it + 1).
    pub hops: AtomicU32,
    /// True while the file's top-level code runs (`sekia.schedule` is allowed).
    pub loading: AtomicBool,
    pub stats: Arc<Stats>,
    /// The VM's memory limit (bytes, 0 = none), for [`crate::sandbox::without_limit`].
    pub memory_limit: usize,
    /// Buffer size the last encoded command needed, to size the next one's.
    pub command_size_hint: AtomicU32,
}

impl VmCtx {
    pub fn record_error(&self, lua_message: &str) {
        let (line, message) = split_location(&self.file, lua_message);
        self.stats.error(LastError {
            message,
            line,
            at: rfc3339(self.services.clock.now()),
        });
    }
}

/// Handlers in registration order (VM app data). An `Arc` snapshot, so that
/// delivering an event clones one pointer instead of one Lua reference per
/// handler, and `sekia.on` inside a handler cannot disturb the running dispatch.
#[derive(Default)]
pub(crate) struct Handlers(pub Arc<Vec<(Pattern, Function)>>);

/// Schedules registered at load (VM app data).
#[derive(Default)]
pub(crate) struct Schedules(pub Vec<(Duration, Function)>);

fn bad_arg(func: &str, n: usize, msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{func}' ({msg})"))
}

/// `sekia.command`'s bytes for a sink that takes them encoded (the bus): the
/// Go `json.Marshal` of the (signed) [`Command`], written straight from the
/// Lua table. Same checks, in the same order, and the same bytes as building
/// the [`Command`], [`sekia_protocol::sign`]ing it and encoding it: the
/// signature covers `{"command":…,"payload":…,"source":…}` with the payload
/// in canonical form, which for a converted table is the payload as published
/// (see [`crate::convert::encode_payload`]), so that prefix is written once and
/// serves both.
fn encode_command(
    lua: &Lua,
    c: &VmCtx,
    agent: &str,
    command: &str,
    payload: &Table,
) -> mlua::Result<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(c.command_size_hint.load(Ordering::Relaxed) as usize);
    out.extend_from_slice(b"{\"command\":");
    sekia_protocol::json::write_go_str_bytes(&mut out, command);
    out.extend_from_slice(b",\"payload\":");
    crate::sandbox::without_limit(lua, c.memory_limit, || {
        crate::fastconv::encode_payload(lua, payload, &mut out)
    })
    .map_err(|e| bad_arg("command", 3, e))?;
    let subject =
        sekia_protocol::subjects::commands(agent).map_err(|e| bad_arg("command", 1, e))?;
    out.extend_from_slice(b",\"source\":");
    sekia_protocol::json::write_go_str_bytes(&mut out, &c.source);
    let secret = &c.services.command_secret;
    if !secret.is_empty() {
        let signature = sekia_protocol::signing::signature_of_parts(secret, &[&out, b"}"]);
        out.extend_from_slice(b",\"signature\":\"");
        out.extend_from_slice(signature.as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
    // The buffer also held the members before assembling them: size the next
    // one as this one ended up.
    c.command_size_hint
        .store(out.capacity().min(1 << 16) as u32, Ordering::Relaxed);
    Ok((subject, out))
}

/// Installs `sekia` and `print` into a fresh VM.
pub(crate) fn install(lua: &Lua, ctx: &Arc<VmCtx>) -> mlua::Result<()> {
    lua.set_app_data(Handlers::default());
    lua.set_app_data(Schedules::default());
    let sekia = lua.create_table()?;
    sekia.set("name", ctx.name.as_str())?;
    sekia.set("null", Value::NULL)?;

    let c = ctx.clone();
    sekia.set(
        "on",
        lua.create_function(move |lua, (pattern, f): (String, Function)| {
            let p = Pattern::new(&pattern)
                .map_err(|e| bad_arg("on", 1, format!("invalid pattern {pattern:?}: {e}")))?;
            let mut handlers = lua
                .app_data_mut::<Handlers>()
                .ok_or_else(|| mlua::Error::runtime("handlers unavailable"))?;
            if handlers.0.len() >= MAX_HANDLERS {
                return Err(mlua::Error::runtime(format!(
                    "too many handlers (at most {MAX_HANDLERS})"
                )));
            }
            let mut list: Vec<(Pattern, Function)> = handlers.0.iter().cloned().collect();
            list.push((p, f));
            handlers.0 = Arc::new(list);
            let patterns: Arc<[Pattern]> = handlers.0.iter().map(|(p, _)| p.clone()).collect();
            if let Ok(mut w) = c.patterns.write() {
                *w = patterns;
            }
            Ok(())
        })?,
    )?;

    let c = ctx.clone();
    sekia.set(
        "publish",
        lua.create_async_function(
            move |lua, (subject, event_type, payload): (String, String, Table)| {
                let c = c.clone();
                async move {
                    let payload = crate::sandbox::without_limit(&lua, c.memory_limit, || {
                        crate::convert::table_to_payload(&payload)
                    })
                    .map_err(|e| bad_arg("publish", 3, e))?;
                    let hops = c.hops.load(Ordering::Relaxed).saturating_add(1);
                    if hops > c.services.hop_limit {
                        let msg = format!(
                            "event chain stopped: publishing {event_type} on {subject} would be hop {hops} (limit {})",
                            c.services.hop_limit
                        );
                        c.sink.log(&c.name, LogLevel::Error, &msg);
                        c.record_error(&msg);
                        return Ok(());
                    }
                    let event = Event::new(
                        event_type,
                        c.source.clone(),
                        payload,
                        c.services.clock.unix_secs(),
                    );
                    c.sink
                        .publish_event(&subject, event, hops)
                        .await
                        .map_err(|e| mlua::Error::runtime(format!("sekia.publish: {e}")))
                }
            },
        )?,
    )?;

    let c = ctx.clone();
    sekia.set(
        "command",
        lua.create_async_function(
            move |lua, (agent, command, payload): (String, String, Table)| {
                let c = c.clone();
                async move {
                    if c.sink.takes_encoded_commands() {
                        let (subject, bytes) =
                            encode_command(&lua, &c, &agent, &command, &payload)?;
                        return c
                            .sink
                            .send_encoded_command(&subject, bytes)
                            .await
                            .map_err(|e| mlua::Error::runtime(format!("sekia.command: {e}")));
                    }
                    let payload = crate::sandbox::without_limit(&lua, c.memory_limit, || {
                        crate::convert::table_to_payload(&payload)
                    })
                    .map_err(|e| bad_arg("command", 3, e))?;
                    let subject = sekia_protocol::subjects::commands(&agent)
                        .map_err(|e| bad_arg("command", 1, e))?;
                    let mut cmd = Command::new(command, payload, c.source.clone());
                    if !c.services.command_secret.is_empty() {
                        sekia_protocol::sign(&mut cmd, &c.services.command_secret)
                            .map_err(|e| mlua::Error::runtime(format!("sekia.command: {e}")))?;
                    }
                    c.sink
                        .send_command(&agent, &subject, cmd)
                        .await
                        .map_err(|e| mlua::Error::runtime(format!("sekia.command: {e}")))
                }
            },
        )?,
    )?;

    let c = ctx.clone();
    sekia.set(
        "log",
        lua.create_function(move |_, (level, msg): (String, String)| {
            c.sink.log(&c.name, LogLevel::parse(&level), &msg);
            Ok(())
        })?,
    )?;

    let c = ctx.clone();
    sekia.set(
        "schedule",
        lua.create_function(move |lua, (seconds, f): (f64, Function)| {
            if !c.loading.load(Ordering::Relaxed) {
                return Err(mlua::Error::runtime(
                    "sekia.schedule can only be called while the workflow loads",
                ));
            }
            if seconds.is_nan() || seconds < 1.0 {
                return Err(bad_arg("schedule", 1, "interval must be at least 1 second"));
            }
            let mut s = lua
                .app_data_mut::<Schedules>()
                .ok_or_else(|| mlua::Error::runtime("schedules unavailable"))?;
            if s.0.len() >= MAX_SCHEDULES {
                return Err(mlua::Error::runtime(format!(
                    "too many schedules (at most {MAX_SCHEDULES})"
                )));
            }
            let secs = seconds.min(365.0 * 86400.0);
            s.0.push((Duration::from_secs_f64(secs), f));
            Ok(())
        })?,
    )?;

    let c = ctx.clone();
    sekia.set(
        "skill",
        lua.create_function(move |_, name: String| {
            Ok(crate::skills::full_instructions(&c.services.skills, &name))
        })?,
    )?;

    crate::api_ai::install(lua, &sekia, ctx)?;

    lua.globals().set("sekia", sekia)?;

    let c = ctx.clone();
    lua.globals().set(
        "print",
        lua.create_function(move |_, args: MultiValue| {
            let mut parts = Vec::with_capacity(args.len());
            for a in args.iter() {
                parts.push(a.to_string()?);
            }
            c.sink.log(&c.name, LogLevel::Info, &parts.join("\t"));
            Ok(())
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(secret: &str) -> VmCtx {
        VmCtx {
            name: "w<x>".into(),
            file: "w.lua".into(),
            source: "workflow:w<x>".into(),
            sink: Arc::new(crate::output::RecordingSink::default()),
            services: Arc::new(Services {
                llm: None,
                persona: String::new(),
                skills: Arc::new(Vec::new()),
                skills_index: String::new(),
                conversations: None,
                command_secret: secret.into(),
                hop_limit: 8,
                clock: Arc::new(crate::clock::SystemClock),
            }),
            patterns: RwLock::new(Arc::from(Vec::new())),
            hops: 0.into(),
            loading: false.into(),
            stats: Arc::new(Stats::default()),
            memory_limit: 1 << 20,
            command_size_hint: 16.into(),
        }
    }

    /// The bytes `sekia.command` publishes are those of building, signing and
    /// encoding a [`Command`], with and without a secret.
    #[test]
    fn encoded_command_matches_signed_command() {
        let lua = crate::sandbox::new_vm(1 << 20).unwrap().0;
        let cases = [
            "return {}",
            "return {id='evt_1', t=5, title='hello <&>\\u{2028}', z=2.5, big=2^60}",
            "return {a={1,nil,3}, b={x={y={}}}, [7]=1, n=-0.0}",
        ];
        for secret in ["", "s3cret"] {
            let c = ctx(secret);
            for src in cases {
                let t: Table = lua.load(src).eval().unwrap();
                let (subject, bytes) =
                    encode_command(&lua, &c, "agent-1", "do \"it\"", &t).unwrap();
                assert_eq!(subject, "sekia.commands.agent-1");
                let payload = crate::convert::table_to_payload(&t).unwrap();
                let mut cmd = Command::new("do \"it\"", payload, c.source.clone());
                sekia_protocol::sign(&mut cmd, secret).unwrap();
                let want = sekia_protocol::json::to_vec(&cmd).unwrap();
                assert_eq!(
                    String::from_utf8(bytes.clone()).unwrap(),
                    String::from_utf8(want).unwrap(),
                    "{src}"
                );
                let back: Command = serde_json::from_slice(&bytes).unwrap();
                sekia_protocol::verify(&back, secret).unwrap();
                assert_eq!(back.signature.is_empty(), secret.is_empty());
            }
            let t: Table = lua.load("return {1, 2}").eval().unwrap();
            let e = encode_command(&lua, &c, "agent-1", "x", &t).unwrap_err();
            assert!(
                e.to_string().contains("expected a table with string keys"),
                "{e}"
            );
            let t: Table = lua.load("return {}").eval().unwrap();
            let e = encode_command(&lua, &c, "bad agent", "x", &t).unwrap_err();
            assert!(
                e.to_string().contains("bad argument #1 to 'command'"),
                "{e}"
            );
        }
    }
}
