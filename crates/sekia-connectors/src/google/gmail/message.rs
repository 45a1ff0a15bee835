//! A fetched Gmail message as sekia's `gmail.message.received` payload:
//! `id, thread_id, message_id, from, to, subject, body, snippet, date, labels`.
//!
//! `body` is the first `text/plain` part (depth first, attachments skipped);
//! without one, the first `text/html` part turned into text (scripts and styles
//! dropped), as sekia does.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sekia_protocol::Payload;
use serde_json::Value;

use super::api::{Message, Part};

/// Event type of a new message.
pub const MESSAGE_RECEIVED: &str = "gmail.message.received";

/// Gmail's base64url, which comes with or without padding.
pub const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Width HTML is laid out at; wide, so that paragraphs stay mostly one line.
const HTML_TEXT_WIDTH: usize = 400;

/// The event payload for `m`.
pub fn payload(m: &Message) -> Payload {
    let mut p = Payload::new();
    let s = |v: &str| Value::String(v.to_owned());
    p.insert("id".into(), s(&m.id));
    p.insert("thread_id".into(), s(&m.thread_id));
    p.insert("message_id".into(), s(m.header("Message-ID")));
    p.insert("from".into(), s(m.header("From")));
    p.insert("to".into(), s(m.header("To")));
    p.insert("subject".into(), s(m.header("Subject")));
    p.insert("body".into(), Value::String(body_text(m)));
    p.insert("snippet".into(), s(&m.snippet));
    p.insert("date".into(), s(m.header("Date")));
    p.insert(
        "labels".into(),
        Value::Array(m.label_ids.iter().map(|l| s(l)).collect()),
    );
    p
}

/// The message's text: plain part, else HTML as text, else "".
pub fn body_text(m: &Message) -> String {
    let Some(root) = &m.payload else {
        return String::new();
    };
    if let Some(text) = find_part(root, "text/plain").and_then(decode) {
        return text;
    }
    find_part(root, "text/html")
        .and_then(decode)
        .map(|html| html_to_text(&html))
        .unwrap_or_default()
}

/// The first inline part of `mime` type, depth first.
fn find_part<'a>(part: &'a Part, mime: &str) -> Option<&'a Part> {
    let is_attachment = !part.filename.is_empty()
        || part
            .body
            .as_ref()
            .is_some_and(|b| b.attachment_id.is_some());
    if part.mime_type.eq_ignore_ascii_case(mime) && !is_attachment {
        return Some(part);
    }
    part.parts.iter().find_map(|p| find_part(p, mime))
}

fn decode(part: &Part) -> Option<String> {
    let data = part.body.as_ref()?.data.as_deref()?;
    let bytes = BASE64URL.decode(data.trim()).ok()?;
    // Gmail hands parts over in UTF-8; anything else is shown, not dropped.
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// HTML as plain text: scripts, styles and the head dropped, no decoration,
/// trailing spaces and runs of blank lines removed.
pub fn html_to_text(html: &str) -> String {
    let rendered = html2text::config::plain_no_decorate()
        .raw_mode(true)
        .string_from_read(html.as_bytes(), HTML_TEXT_WIDTH)
        .unwrap_or_default();
    let mut out = String::with_capacity(rendered.len());
    let mut blank_run = 0;
    for line in rendered.lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn prefers_plain_text_and_skips_attachments() {
        let m: Message = serde_json::from_value(json!({
            "id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "snippet": "hi",
            "payload": {"mimeType": "multipart/mixed", "headers": [{"name": "subject", "value": "S"}],
                "parts": [
                    {"mimeType": "text/plain", "filename": "a.txt", "body": {"attachmentId": "x"}},
                    {"mimeType": "multipart/alternative", "parts": [
                        {"mimeType": "text/html", "body": {"data": b64("<p>html</p>")}},
                        {"mimeType": "text/plain", "body": {"data": b64("plain ü")}}
                    ]}
                ]}
        }))
        .unwrap();
        assert_eq!(body_text(&m), "plain ü");
        assert_eq!(m.header("Subject"), "S");
    }

    #[test]
    fn html_becomes_text_without_scripts() {
        let text = html_to_text(
            "<html><head><style>p{color:red}</style><script>alert(1)</script></head>\
             <body><p>Hello <b>there</b></p><p>Second &amp; last</p></body></html>",
        );
        assert!(text.contains("Hello there"), "{text:?}");
        assert!(text.contains("Second & last"), "{text:?}");
        assert!(
            !text.contains("alert") && !text.contains("color"),
            "{text:?}"
        );
    }
}
