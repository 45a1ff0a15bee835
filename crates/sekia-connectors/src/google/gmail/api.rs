//! The Gmail v1 calls the connector makes, and the documented shapes of their
//! answers (only the fields read here).

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::google::api::{GoogleApi, join};
use crate::http::HttpError;

/// `users.getProfile`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub email_address: String,
    pub history_id: String,
}

/// `users.history.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HistoryList {
    pub history: Vec<HistoryRecord>,
    pub next_page_token: Option<String>,
    /// The mailbox's current history id.
    pub history_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HistoryRecord {
    pub id: String,
    pub messages_added: Vec<MessageAdded>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageAdded {
    pub message: MessageRef,
}

/// A message as lists name it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageRef {
    pub id: String,
    pub thread_id: String,
}

/// `users.messages.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageList {
    pub messages: Vec<MessageRef>,
    pub next_page_token: Option<String>,
}

/// `users.messages.get?format=full`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Message {
    pub id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    pub snippet: String,
    /// Milliseconds since the epoch, as a string.
    pub internal_date: String,
    pub payload: Option<Part>,
}

impl Message {
    /// The first header named `name` (case-insensitive), or "".
    pub fn header(&self, name: &str) -> &str {
        self.payload
            .as_ref()
            .and_then(|p| p.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)))
            .map_or("", |h| h.value.as_str())
    }

    /// `internalDate` in seconds, if it reads.
    pub fn internal_secs(&self) -> Option<i64> {
        self.internal_date.parse::<i64>().ok().map(|ms| ms / 1000)
    }
}

/// A MIME part.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Part {
    pub mime_type: String,
    pub filename: String,
    pub headers: Vec<Header>,
    pub body: Option<PartBody>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PartBody {
    /// base64url of the decoded part.
    pub data: Option<String>,
    pub attachment_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// `users.labels.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LabelList {
    pub labels: Vec<Label>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Label {
    pub id: String,
    pub name: String,
}

/// `users.threads.get?format=metadata`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Thread {
    pub messages: Vec<Message>,
}

/// Gmail calls for one mailbox (`gmail.user_id`).
#[derive(Debug, Clone)]
pub struct GmailApi {
    api: GoogleApi,
    base: Url,
    user: String,
}

impl GmailApi {
    pub fn new(api: GoogleApi, base: Url, user: &str) -> Self {
        Self {
            api,
            base,
            user: user.to_owned(),
        }
    }

    fn url(&self, rest: &[&str]) -> Url {
        let mut segs = vec!["gmail", "v1", "users", self.user.as_str()];
        segs.extend_from_slice(rest);
        join(&self.base, &segs)
    }

    pub async fn profile(&self) -> Result<Profile, HttpError> {
        self.api.get(self.url(&["profile"])).await
    }

    /// One page of `messageAdded` history after `start`.
    pub async fn history(
        &self,
        start: &str,
        page_token: Option<&str>,
    ) -> Result<HistoryList, HttpError> {
        let mut url = self.url(&["history"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("startHistoryId", start);
            q.append_pair("historyTypes", "messageAdded");
            q.append_pair("maxResults", "100");
            if let Some(t) = page_token {
                q.append_pair("pageToken", t);
            }
        }
        self.api.get(url).await
    }

    /// A whole message; `None` when it is gone (deleted since it was listed).
    pub async fn message(&self, id: &str) -> Result<Option<Message>, HttpError> {
        let mut url = self.url(&["messages", id]);
        url.query_pairs_mut().append_pair("format", "full");
        match self.api.get(url).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND.as_u16()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of the ids of messages matching the Gmail search `q`.
    pub async fn search(
        &self,
        q: &str,
        page_token: Option<&str>,
    ) -> Result<MessageList, HttpError> {
        let mut url = self.url(&["messages"]);
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("q", q);
            pairs.append_pair("maxResults", "500");
            if let Some(t) = page_token {
                pairs.append_pair("pageToken", t);
            }
        }
        self.api.get(url).await
    }

    pub async fn labels(&self) -> Result<LabelList, HttpError> {
        self.api.get(self.url(&["labels"])).await
    }

    /// The thread's messages with only the headers threading needs.
    pub async fn thread_metadata(&self, thread_id: &str) -> Result<Thread, HttpError> {
        let mut url = self.url(&["threads", thread_id]);
        url.query_pairs_mut()
            .append_pair("format", "metadata")
            .append_pair("metadataHeaders", "Message-ID")
            .append_pair("metadataHeaders", "References");
        self.api.get(url).await
    }

    pub async fn modify(
        &self,
        message_id: &str,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), HttpError> {
        let url = self.url(&["messages", message_id, "modify"]);
        self.api
            .call(
                Method::POST,
                url,
                Some(json!({"addLabelIds": add, "removeLabelIds": remove})),
            )
            .await?;
        Ok(())
    }

    /// `trash` or `untrash`.
    pub async fn post_action(&self, message_id: &str, action: &str) -> Result<(), HttpError> {
        let url = self.url(&["messages", message_id, action]);
        self.api.call(Method::POST, url, None).await?;
        Ok(())
    }

    /// Permanent deletion.
    pub async fn delete(&self, message_id: &str) -> Result<(), HttpError> {
        let url = self.url(&["messages", message_id]);
        self.api.call(Method::DELETE, url, None).await?;
        Ok(())
    }

    /// `messages.send` with the base64url `raw` message, in `thread_id` if given.
    pub async fn send(&self, raw: String, thread_id: Option<&str>) -> Result<(), HttpError> {
        let mut body = serde_json::Map::new();
        body.insert("raw".into(), Value::String(raw));
        if let Some(t) = thread_id {
            body.insert("threadId".into(), Value::String(t.to_owned()));
        }
        let url = self.url(&["messages", "send"]);
        self.api
            .call_at_most_once(Method::POST, url, Some(Value::Object(body)))
            .await?;
        Ok(())
    }
}
