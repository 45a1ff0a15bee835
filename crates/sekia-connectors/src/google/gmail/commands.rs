//! sekia-google's Gmail commands, with sekia's names and arguments:
//!
//! | command | payload |
//! |---|---|
//! | `send_email` | to, subject, body |
//! | `reply_email` | thread_id, to, subject, body, in_reply_to? |
//! | `add_label`, `remove_label` | message_id, label (an id like `Label_12`/`STARRED`, or a name) |
//! | `archive`, `trash`, `untrash`, `delete` | message_id (`delete` is permanent) |
//!
//! `reply_email` without `in_reply_to` threads under the thread's last message
//! (its Message-ID, and its References plus that id), which sekia left empty.

use std::sync::Arc;

use sekia_protocol::Clock;
use tokio::sync::OnceCell;

use super::api::GmailApi;
use super::mime::{self, Mailbox, Outgoing};
use crate::command::{Args, CommandError};

/// Gmail command names, in sekia's order.
pub const GMAIL_COMMANDS: [&str; 8] = [
    "send_email",
    "reply_email",
    "add_label",
    "remove_label",
    "archive",
    "trash",
    "untrash",
    "delete",
];

/// Runs Gmail commands for one mailbox.
pub struct GmailCommands {
    api: GmailApi,
    clock: Arc<dyn Clock>,
    /// `gmail.from`, or the profile's address, looked up once.
    from: OnceCell<Vec<Mailbox>>,
    from_config: String,
}

impl std::fmt::Debug for GmailCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailCommands").finish_non_exhaustive()
    }
}

impl GmailCommands {
    pub fn new(api: GmailApi, from_config: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            api,
            clock,
            from: OnceCell::new(),
            from_config: from_config.to_owned(),
        }
    }

    pub async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError> {
        match command {
            "send_email" => self.send(args, false).await,
            "reply_email" => self.send(args, true).await,
            "add_label" => self.label(args, true).await,
            "remove_label" => self.label(args, false).await,
            "archive" => {
                let id = args.non_empty_str("message_id")?;
                Ok(self.api.modify(id, &[], &["INBOX"]).await?)
            }
            "trash" | "untrash" => {
                let id = args.non_empty_str("message_id")?;
                Ok(self.api.post_action(id, command).await?)
            }
            "delete" => {
                let id = args.non_empty_str("message_id")?;
                Ok(self.api.delete(id).await?)
            }
            other => Err(CommandError::Unknown(other.to_owned())),
        }
    }

    async fn from(&self) -> Result<&[Mailbox], CommandError> {
        let list = self
            .from
            .get_or_try_init(|| async {
                if !self.from_config.is_empty() {
                    return mime::parse_mailboxes("gmail.from", &self.from_config);
                }
                let profile = self.api.profile().await?;
                mime::parse_mailboxes("profile emailAddress", &profile.email_address)
            })
            .await?;
        Ok(list)
    }

    async fn send(&self, args: Args<'_>, reply: bool) -> Result<(), CommandError> {
        let thread_id = if reply {
            Some(args.non_empty_str("thread_id")?)
        } else {
            None
        };
        let to = mime::parse_mailboxes("to", args.str("to")?)?;
        let subject = args.str("subject")?;
        mime::check_header_value("subject", subject)?;
        let body = args.str("body")?;
        let (mut in_reply_to, mut references) = (Vec::new(), Vec::new());
        if let Some(thread) = thread_id {
            match args
                .opt_str("in_reply_to")?
                .filter(|s| !s.trim().is_empty())
            {
                Some(id) => {
                    in_reply_to = mime::parse_message_ids("in_reply_to", id)?;
                    references = in_reply_to.clone();
                }
                None => (in_reply_to, references) = self.thread_headers(thread).await?,
            }
        }
        let mail = Outgoing {
            from: self.from().await?.to_vec(),
            to,
            subject: subject.to_owned(),
            body: body.to_owned(),
            in_reply_to,
            references,
            date: self.clock.unix_secs(),
        };
        let raw = mime::build_raw(&mail)?;
        self.api.send(raw, thread_id).await?;
        Ok(())
    }

    /// In-Reply-To and References for a reply to the thread's last message.
    async fn thread_headers(
        &self,
        thread_id: &str,
    ) -> Result<(Vec<String>, Vec<String>), CommandError> {
        let thread = self.api.thread_metadata(thread_id).await?;
        let Some(last) = thread.messages.last() else {
            return Ok((Vec::new(), Vec::new()));
        };
        // Headers of received mail are not ours to trust: unusable ones are dropped.
        let parent =
            mime::parse_message_ids("Message-ID", last.header("Message-ID")).unwrap_or_default();
        let mut references =
            mime::parse_message_ids("References", last.header("References")).unwrap_or_default();
        references.extend(parent.iter().cloned());
        Ok((parent, references))
    }

    async fn label(&self, args: Args<'_>, add: bool) -> Result<(), CommandError> {
        let id = args.non_empty_str("message_id")?;
        let label = args.non_empty_str("label")?;
        let label_id = self.resolve_label(label).await?;
        if add {
            self.api.modify(id, &[&label_id], &[]).await?;
        } else {
            self.api.modify(id, &[], &[&label_id]).await?;
        }
        Ok(())
    }

    /// A label id from an id or a name (exact name first, then ignoring case, as
    /// Gmail's names are unique regardless of case).
    async fn resolve_label(&self, label: &str) -> Result<String, CommandError> {
        let labels = self.api.labels().await?.labels;
        let found = labels
            .iter()
            .find(|l| l.id == label)
            .or_else(|| labels.iter().find(|l| l.name == label))
            .or_else(|| labels.iter().find(|l| l.name.eq_ignore_ascii_case(label)));
        match found {
            Some(l) => Ok(l.id.clone()),
            None => Err(CommandError::BadValue {
                field: "label".into(),
                reason: format!("no Gmail label has the id or name {label:?}"),
            }),
        }
    }
}
