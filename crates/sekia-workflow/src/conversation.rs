//! In-memory conversations for `sekia.conversation`, keyed
//! `platform:channel:thread`, trimmed to `max_history`, expired after `ttl`
//! without an append, and capped in number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::clock::Clock;
use crate::config::ConversationConfig;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `user`, `assistant`, or whatever the script appended.
    pub role: String,
    /// Text.
    pub content: String,
    /// When it was appended.
    pub timestamp: SystemTime,
}

#[derive(Debug)]
struct Conversation {
    messages: Vec<Message>,
    metadata: HashMap<String, String>,
    updated_at: SystemTime,
}

/// The conversation store; cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct ConversationStore {
    inner: Arc<Mutex<HashMap<String, Conversation>>>,
    config: ConversationConfig,
    clock: Arc<dyn Clock>,
}

/// The key of a conversation.
pub fn conversation_id(platform: &str, channel: &str, thread: &str) -> String {
    format!("{platform}:{channel}:{thread}")
}

impl ConversationStore {
    /// An empty store.
    pub fn new(config: ConversationConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::default(),
            config,
            clock,
        }
    }

    fn with<R>(&self, id: &str, f: impl FnOnce(&mut Conversation, SystemTime) -> R) -> R {
        let now = self.clock.now();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(id) && self.config.max_conversations > 0 {
            while map.len() >= self.config.max_conversations {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, c)| c.updated_at)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => map.remove(&k),
                    None => break,
                };
            }
        }
        let conv = map.entry(id.to_owned()).or_insert_with(|| Conversation {
            messages: Vec::new(),
            metadata: HashMap::new(),
            updated_at: now,
        });
        f(conv, now)
    }

    /// Creates the conversation if absent (does not refresh its TTL).
    pub fn get_or_create(&self, id: &str) {
        self.with(id, |_, _| ());
    }

    /// Appends a message, trims to `max_history`, refreshes the TTL.
    pub fn append(&self, id: &str, role: &str, content: &str) {
        let max = self.config.max_history;
        self.with(id, |c, now| {
            c.messages.push(Message {
                role: role.to_owned(),
                content: content.to_owned(),
                timestamp: now,
            });
            if max > 0 && c.messages.len() > max {
                let extra = c.messages.len() - max;
                c.messages.drain(..extra);
            }
            c.updated_at = now;
        });
    }

    /// A copy of the messages.
    pub fn history(&self, id: &str) -> Vec<Message> {
        self.with(id, |c, _| c.messages.clone())
    }

    /// Metadata value, "" if unset.
    pub fn metadata(&self, id: &str, key: &str) -> String {
        self.with(id, |c, _| c.metadata.get(key).cloned().unwrap_or_default())
    }

    /// Sets a metadata value.
    pub fn set_metadata(&self, id: &str, key: &str, value: &str) {
        self.with(id, |c, _| {
            c.metadata.insert(key.to_owned(), value.to_owned());
        });
    }

    /// Deletes conversations idle longer than `ttl`; returns how many.
    pub fn cleanup(&self) -> usize {
        let now = self.clock.now();
        let ttl = self.config.ttl;
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, c| {
            now.duration_since(c.updated_at)
                .map_or(true, |idle| idle < ttl)
        });
        before - map.len()
    }

    /// Number of live conversations.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn store(max_history: usize, max_conversations: usize) -> (ConversationStore, ManualClock) {
        let clock = ManualClock::new(1_700_000_000);
        let cfg = ConversationConfig {
            max_history,
            ttl: Duration::from_secs(60),
            max_conversations,
        };
        (ConversationStore::new(cfg, Arc::new(clock.clone())), clock)
    }

    #[test]
    fn append_trim_metadata() {
        let (s, _) = store(2, 10);
        let id = conversation_id("slack", "C1", "");
        assert_eq!(id, "slack:C1:");
        s.get_or_create(&id);
        assert!(s.history(&id).is_empty());
        s.append(&id, "user", "1");
        s.append(&id, "assistant", "2");
        s.append(&id, "user", "3");
        let h: Vec<_> = s.history(&id).into_iter().map(|m| m.content).collect();
        assert_eq!(h, vec!["2", "3"]);
        assert_eq!(s.metadata(&id, "k"), "");
        s.set_metadata(&id, "k", "v");
        assert_eq!(s.metadata(&id, "k"), "v");
    }

    #[test]
    fn ttl_cleanup_uses_clock() {
        let (s, clock) = store(0, 10);
        s.append("a", "user", "x");
        clock.advance(Duration::from_secs(30));
        s.append("b", "user", "y");
        clock.advance(Duration::from_secs(40));
        assert_eq!(s.cleanup(), 1);
        assert_eq!(s.len(), 1);
        assert_eq!(s.history("b").len(), 1);
    }

    #[test]
    fn number_of_conversations_is_capped() {
        let (s, clock) = store(0, 2);
        s.append("a", "user", "x");
        clock.advance(Duration::from_secs(1));
        s.append("b", "user", "x");
        clock.advance(Duration::from_secs(1));
        s.append("c", "user", "x");
        assert_eq!(s.len(), 2);
        assert!(s.history("b").len() == 1);
    }
}
