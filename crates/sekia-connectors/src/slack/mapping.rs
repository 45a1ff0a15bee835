//! Socket Mode payloads → sekia events, with sekia-slack's types and payloads.
//!
//! | Slack | sekia type | payload |
//! |---|---|---|
//! | `message` (no subtype, or `thread_broadcast` / `file_share`) | `slack.message.received`, or `slack.mention` when the text has `<@BOT>` | channel, user, text, timestamp, + thread_ts |
//! | `app_mention` | `slack.mention` | as above |
//! | `reaction_added` | `slack.reaction.added` | user, reaction, channel, timestamp |
//! | `channel_created` | `slack.channel.created` | channel_id, channel_name, creator |
//! | `block_actions` (interactive), per action | `slack.action.button_clicked` or `slack.action.<type>` | action_id, value, block_id, action_type, user, user_name, channel, message_ts, trigger_id, message_text |
//!
//! Missing fields are `""`, as Go's zero values were. The bot's own messages
//! are dropped. Unlike sekia, `app_mention` is handled; an app that subscribes
//! to both `message.*` and `app_mention` gets each mention once, and an event
//! Slack delivers again (same `event_id`) is published once.

use std::collections::{HashSet, VecDeque};

use sekia_protocol::Payload;
use serde_json::Value;

use super::api::BotIdentity;

/// How many event ids / mention keys are remembered for de-duplication.
const RECENT_CAPACITY: usize = 2048;

/// One sekia event to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    pub event_type: String,
    pub payload: Payload,
}

/// A bounded set of recently seen keys (oldest forgotten first).
#[derive(Debug, Default)]
struct Recent {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl Recent {
    /// Remembers `key`; false when it was already there.
    fn insert(&mut self, key: String) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() >= RECENT_CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// Maps the payloads of one workspace's Socket Mode envelopes.
#[derive(Debug)]
pub struct Mapper {
    bot: BotIdentity,
    recent: Recent,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut at = v;
    for k in path {
        match at.get(k) {
            Some(next) => at = next,
            None => return "",
        }
    }
    at.as_str().unwrap_or("")
}

fn text_payload(pairs: &[(&str, &str)]) -> Payload {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

impl Mapper {
    pub fn new(bot: BotIdentity) -> Self {
        Self {
            bot,
            recent: Recent::default(),
        }
    }

    pub fn bot(&self) -> &BotIdentity {
        &self.bot
    }

    /// The events of an `events_api` envelope's payload (an `event_callback`).
    pub fn events_api(&mut self, payload: &Value) -> Vec<Mapped> {
        let event_id = str_at(payload, &["event_id"]);
        if !event_id.is_empty() && !self.recent.insert(format!("id:{event_id}")) {
            tracing::debug!(event_id, "event delivered again; already published");
            return Vec::new();
        }
        let Some(event) = payload.get("event") else {
            return Vec::new();
        };
        let mapped = match str_at(event, &["type"]) {
            "message" => self.message(event, false),
            "app_mention" => self.message(event, true),
            "reaction_added" => Some(Mapped {
                event_type: "slack.reaction.added".into(),
                payload: text_payload(&[
                    ("user", str_at(event, &["user"])),
                    ("reaction", str_at(event, &["reaction"])),
                    ("channel", str_at(event, &["item", "channel"])),
                    ("timestamp", str_at(event, &["item", "ts"])),
                ]),
            }),
            "channel_created" => Some(Mapped {
                event_type: "slack.channel.created".into(),
                payload: text_payload(&[
                    ("channel_id", str_at(event, &["channel", "id"])),
                    ("channel_name", str_at(event, &["channel", "name"])),
                    ("creator", str_at(event, &["channel", "creator"])),
                ]),
            }),
            other => {
                tracing::debug!(event_type = other, "slack event not mapped");
                None
            }
        };
        mapped.into_iter().collect()
    }

    fn message(&mut self, event: &Value, app_mention: bool) -> Option<Mapped> {
        // Edits, deletions, joins and bot posts are not new messages; the two
        // subtypes kept are messages a person wrote.
        if !matches!(
            str_at(event, &["subtype"]),
            "" | "thread_broadcast" | "file_share"
        ) {
            return None;
        }
        let user = str_at(event, &["user"]);
        let bot_id = str_at(event, &["bot_id"]);
        let own = (!self.bot.user_id.is_empty() && user == self.bot.user_id)
            || (!self.bot.bot_id.is_empty() && bot_id == self.bot.bot_id);
        if own {
            return None;
        }
        let text = str_at(event, &["text"]);
        let channel = str_at(event, &["channel"]);
        let ts = str_at(event, &["ts"]);
        let mention = app_mention
            || (!self.bot.user_id.is_empty() && text.contains(&format!("<@{}>", self.bot.user_id)));
        // Slack sends a mention as `message` and as `app_mention` when the app
        // subscribes to both; publish it once.
        if mention && !self.recent.insert(format!("mention:{channel}:{ts}")) {
            return None;
        }
        let mut payload = text_payload(&[
            ("channel", channel),
            ("user", user),
            ("text", text),
            ("timestamp", ts),
        ]);
        let thread_ts = str_at(event, &["thread_ts"]);
        if !thread_ts.is_empty() {
            payload.insert("thread_ts".into(), thread_ts.into());
        }
        Some(Mapped {
            event_type: if mention {
                "slack.mention"
            } else {
                "slack.message.received"
            }
            .into(),
            payload,
        })
    }

    /// The events of an `interactive` envelope's payload: one per block action.
    pub fn interactive(&self, payload: &Value) -> Vec<Mapped> {
        if str_at(payload, &["type"]) != "block_actions" {
            tracing::debug!(kind = str_at(payload, &["type"]), "interaction not mapped");
            return Vec::new();
        }
        let Some(actions) = payload.get("actions").and_then(Value::as_array) else {
            return Vec::new();
        };
        actions
            .iter()
            .map(|action| {
                let action_type = str_at(action, &["type"]);
                // Selects carry their choice in `selected_option` (sekia sent "").
                let mut value = str_at(action, &["value"]);
                if value.is_empty() {
                    value = str_at(action, &["selected_option", "value"]);
                }
                let event_type = if action_type == "button" {
                    "slack.action.button_clicked".to_owned()
                } else {
                    format!("slack.action.{action_type}")
                };
                Mapped {
                    event_type,
                    payload: text_payload(&[
                        ("action_id", str_at(action, &["action_id"])),
                        ("value", value),
                        ("block_id", str_at(action, &["block_id"])),
                        ("action_type", action_type),
                        ("user", str_at(payload, &["user", "id"])),
                        ("user_name", str_at(payload, &["user", "name"])),
                        ("channel", str_at(payload, &["channel", "id"])),
                        ("message_ts", str_at(payload, &["container", "message_ts"])),
                        ("trigger_id", str_at(payload, &["trigger_id"])),
                        ("message_text", str_at(payload, &["message", "text"])),
                    ]),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapper() -> Mapper {
        Mapper::new(BotIdentity {
            user_id: "UBOT".into(),
            bot_id: "BBOT".into(),
            team: "T".into(),
        })
    }

    fn callback(id: &str, event: Value) -> Value {
        json!({"type": "event_callback", "event_id": id, "event": event})
    }

    #[test]
    fn messages_mentions_and_own_posts() {
        let mut m = mapper();
        let e = m.events_api(&callback(
            "Ev1",
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.1", "thread_ts": "1.0"}),
        ));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].event_type, "slack.message.received");
        assert_eq!(
            Value::Object(e[0].payload.clone()),
            json!({"channel": "C1", "user": "U1", "text": "hi", "timestamp": "1.1", "thread_ts": "1.0"})
        );
        // Same event id again: dropped.
        assert!(
            m.events_api(&callback("Ev1", json!({"type": "message", "user": "U1"})))
                .is_empty()
        );
        // Own messages and edits: dropped.
        assert!(
            m.events_api(&callback(
                "Ev2",
                json!({"type": "message", "user": "UBOT", "text": "x"})
            ))
            .is_empty()
        );
        assert!(
            m.events_api(&callback(
                "Ev3",
                json!({"type": "message", "bot_id": "BBOT"})
            ))
            .is_empty()
        );
        assert!(
            m.events_api(&callback(
                "Ev4",
                json!({"type": "message", "subtype": "message_changed", "user": "U1"})
            ))
            .is_empty()
        );
        // A mention as `message`, then the same as `app_mention`: once.
        let mention = json!({"channel": "C1", "user": "U2", "text": "<@UBOT> help", "ts": "2.0"});
        let mut msg = mention.clone();
        msg["type"] = "message".into();
        let e = m.events_api(&callback("Ev5", msg));
        assert_eq!(e[0].event_type, "slack.mention");
        assert!(e[0].payload.get("thread_ts").is_none());
        let mut am = mention;
        am["type"] = "app_mention".into();
        assert!(m.events_api(&callback("Ev6", am)).is_empty());
    }

    #[test]
    fn reactions_channels_and_actions() {
        let mut m = mapper();
        let e = m.events_api(&callback(
            "Ev1",
            json!({"type": "reaction_added", "user": "U1", "reaction": "tada", "item": {"type": "message", "channel": "C1", "ts": "3.0"}}),
        ));
        assert_eq!(e[0].event_type, "slack.reaction.added");
        assert_eq!(
            Value::Object(e[0].payload.clone()),
            json!({"user": "U1", "reaction": "tada", "channel": "C1", "timestamp": "3.0"})
        );
        let a = m.interactive(&json!({
            "type": "block_actions",
            "user": {"id": "U1", "username": "ann", "name": "ann"},
            "channel": {"id": "C1"},
            "container": {"message_ts": "4.0"},
            "trigger_id": "T.1",
            "message": {"text": "pick"},
            "actions": [
                {"type": "button", "action_id": "ok", "block_id": "b", "value": "yes"},
                {"type": "static_select", "action_id": "s", "block_id": "b", "selected_option": {"value": "v2"}}
            ]
        }));
        assert_eq!(a[0].event_type, "slack.action.button_clicked");
        assert_eq!(a[1].event_type, "slack.action.static_select");
        assert_eq!(a[1].payload["value"], "v2");
        assert_eq!(a[0].payload["user_name"], "ann");
    }
}
