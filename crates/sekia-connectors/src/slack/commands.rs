//! The four commands of sekia-slack, with sekia's names and arguments:
//!
//! | command | payload | Web API |
//! |---|---|---|
//! | `send_message` | channel, text, blocks? | `chat.postMessage` |
//! | `update_message` | channel, timestamp, text, blocks? | `chat.update` |
//! | `add_reaction` | channel, timestamp, emoji | `reactions.add` |
//! | `send_reply` | channel, thread_ts, text, blocks? | `chat.postMessage` with `thread_ts` |
//!
//! `blocks` is Block Kit: an array of block objects (or that array as JSON
//! text); `text` is then the notification fallback and may be empty. `emoji` is
//! a name without colons (`:tada:` is accepted too).

use std::sync::Arc;

use async_trait::async_trait;
use sekia_accounts::TokenSource;
use serde_json::{Map, Value};

use super::api::SlackApi;
use crate::agent::CommandHandler;
use crate::command::{Args, CommandError};

/// The command names, in sekia's order (the registration lists them).
pub const COMMANDS: [&str; 4] = [
    "send_message",
    "update_message",
    "add_reaction",
    "send_reply",
];

/// Runs Slack commands with one bot token.
pub struct SlackCommands {
    api: Arc<SlackApi>,
    bot_token: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for SlackCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackCommands")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

/// `blocks`, checked: a list of objects that each have a `type`.
fn blocks(args: &Args<'_>) -> Result<Option<Vec<Value>>, CommandError> {
    let list = match args.opt_str("blocks") {
        // Block Kit Builder hands out JSON text; take that as well.
        Ok(Some(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(a)) => a,
            _ => {
                return Err(CommandError::BadValue {
                    field: "blocks".into(),
                    reason: "is text but not a JSON array of blocks".into(),
                });
            }
        },
        Ok(None) => return Ok(None),
        Err(_) => match args.opt_array("blocks")? {
            Some(a) => a.clone(),
            None => return Ok(None),
        },
    };
    for (i, block) in list.iter().enumerate() {
        let Value::Object(obj) = block else {
            return Err(CommandError::WrongType {
                field: format!("blocks[{i}]"),
                expected: "an object",
            });
        };
        let path = format!("blocks[{i}]");
        Args::nested(obj, &path).non_empty_str("type")?;
    }
    Ok(Some(list))
}

/// `text`, required as in sekia; empty only when blocks carry the content.
fn text<'a>(args: &Args<'a>, blocks: Option<&Vec<Value>>) -> Result<&'a str, CommandError> {
    let text = args.str("text")?;
    if text.is_empty() && blocks.is_none_or(Vec::is_empty) {
        return Err(CommandError::BadValue {
            field: "text".into(),
            reason: "must not be empty when there are no blocks".into(),
        });
    }
    Ok(text)
}

impl SlackCommands {
    pub fn new(api: Arc<SlackApi>, bot_token: Arc<dyn TokenSource>) -> Self {
        Self { api, bot_token }
    }

    async fn call(&self, method: &str, body: Map<String, Value>) -> Result<(), CommandError> {
        self.api
            .call(method, self.bot_token.as_ref(), Some(Value::Object(body)))
            .await?;
        Ok(())
    }

    /// `send_message` and `send_reply`: `chat.postMessage`, in a thread when
    /// `thread_field` names the thread's timestamp.
    async fn post(&self, args: Args<'_>, thread_field: Option<&str>) -> Result<(), CommandError> {
        let channel = args.non_empty_str("channel")?;
        let thread_ts = match thread_field {
            Some(f) => Some(args.non_empty_str(f)?),
            None => None,
        };
        let blocks = blocks(&args)?;
        let text = text(&args, blocks.as_ref())?;
        let mut body = Map::new();
        body.insert("channel".into(), channel.into());
        body.insert("text".into(), text.into());
        if let Some(b) = blocks {
            body.insert("blocks".into(), Value::Array(b));
        }
        if let Some(ts) = thread_ts {
            body.insert("thread_ts".into(), ts.into());
        }
        self.call("chat.postMessage", body).await
    }

    async fn update_message(&self, args: Args<'_>) -> Result<(), CommandError> {
        let channel = args.non_empty_str("channel")?;
        let ts = args.non_empty_str("timestamp")?;
        let blocks = blocks(&args)?;
        let text = text(&args, blocks.as_ref())?;
        let mut body = Map::new();
        body.insert("channel".into(), channel.into());
        body.insert("ts".into(), ts.into());
        body.insert("text".into(), text.into());
        if let Some(b) = blocks {
            body.insert("blocks".into(), Value::Array(b));
        }
        self.call("chat.update", body).await
    }

    async fn add_reaction(&self, args: Args<'_>) -> Result<(), CommandError> {
        let channel = args.non_empty_str("channel")?;
        let ts = args.non_empty_str("timestamp")?;
        let emoji = args.non_empty_str("emoji")?;
        let name = emoji.trim().trim_matches(':');
        if name.is_empty() {
            return Err(CommandError::BadValue {
                field: "emoji".into(),
                reason: "must name an emoji, e.g. thumbsup".into(),
            });
        }
        let mut body = Map::new();
        body.insert("channel".into(), channel.into());
        body.insert("timestamp".into(), ts.into());
        body.insert("name".into(), name.into());
        self.call("reactions.add", body).await
    }
}

#[async_trait]
impl CommandHandler for SlackCommands {
    async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError> {
        match command {
            "send_message" => self.post(args, None).await,
            "send_reply" => self.post(args, Some("thread_ts")).await,
            "update_message" => self.update_message(args).await,
            "add_reaction" => self.add_reaction(args).await,
            other => Err(CommandError::Unknown(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> sekia_protocol::Payload {
        match v {
            Value::Object(m) => m,
            _ => sekia_protocol::Payload::new(),
        }
    }

    #[test]
    fn blocks_are_checked_and_named() {
        let p = payload(json!({"blocks": [{"type": "section"}, {"text": "x"}]}));
        let err = blocks(&Args::new(Some(&p))).unwrap_err().to_string();
        assert_eq!(err, "missing required field: blocks[1].type");
        let p = payload(json!({"blocks": "[{\"type\":\"divider\"}]"}));
        assert_eq!(
            blocks(&Args::new(Some(&p))).unwrap(),
            Some(vec![json!({"type": "divider"})])
        );
        let p = payload(json!({"blocks": 3}));
        assert_eq!(
            blocks(&Args::new(Some(&p))).unwrap_err().to_string(),
            "blocks must be an array"
        );
        let p = payload(json!({"blocks": {}}));
        assert_eq!(blocks(&Args::new(Some(&p))).unwrap(), None);
    }

    #[test]
    fn text_may_be_empty_only_with_blocks() {
        let p = payload(json!({"text": ""}));
        let a = Args::new(Some(&p));
        assert!(text(&a, None).is_err());
        assert_eq!(
            text(&a, Some(&vec![json!({"type": "divider"})])).unwrap(),
            ""
        );
        let p = payload(json!({}));
        assert_eq!(
            text(&Args::new(Some(&p)), None).unwrap_err().to_string(),
            "missing required field: text"
        );
    }
}
