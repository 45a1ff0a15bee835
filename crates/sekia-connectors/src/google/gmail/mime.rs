//! Outgoing mail: RFC 5322 messages built with mail-builder, sent to Gmail as
//! base64url `raw`.
//!
//! sekia wrote headers by string concatenation, so a subject or address with
//! CR/LF could add headers (`Bcc:`) or a body. Here every header value from a
//! command is checked first: a line break or other control character is
//! refused with an error naming the field (silently stripping would send
//! something the workflow did not write). mail-builder then encodes non-ASCII
//! subjects and names (RFC 2047) and the UTF-8 body (quoted-printable or
//! base64, `charset="utf-8"`). `From` is always set.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;

use crate::command::CommandError;

/// One mailbox: optional display name and the address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub email: String,
}

/// What goes into one message.
#[derive(Clone, Debug, Default)]
pub struct Outgoing {
    pub from: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub body: String,
    /// Message-IDs, without angle brackets.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Unix seconds, for `Date`.
    pub date: i64,
}

fn bad(field: &str, reason: impl Into<String>) -> CommandError {
    CommandError::BadValue {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Refuses CR, LF and other control characters (tab is fine) in a header value.
pub fn check_header_value(field: &str, value: &str) -> Result<(), CommandError> {
    if value.contains(['\r', '\n']) {
        return Err(bad(
            field,
            "must not contain line breaks (CR/LF): they could add mail headers",
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad(field, "must not contain control characters"));
    }
    Ok(())
}

/// An address list as workflows write it: `a@x.com`, `Ann <a@x.com>`,
/// `"Doe, Ann" <a@x.com>`, separated by commas.
pub fn parse_mailboxes(field: &str, text: &str) -> Result<Vec<Mailbox>, CommandError> {
    check_header_value(field, text)?;
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle) = (false, false);
    for c in text.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if quoted || angle {
        return Err(bad(field, "has an unclosed quote or '<'"));
    }
    items.push(current);
    let list: Vec<Mailbox> = items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| parse_mailbox(field, s))
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(bad(field, "needs at least one address"));
    }
    Ok(list)
}

fn parse_mailbox(field: &str, text: &str) -> Result<Mailbox, CommandError> {
    let (name, email) = match text.rfind('<') {
        Some(open) => {
            let rest = &text[open + 1..];
            let close = rest
                .find('>')
                .ok_or_else(|| bad(field, format!("{text:?} has no closing '>'")))?;
            if !rest[close + 1..].trim().is_empty() {
                return Err(bad(field, format!("{text:?} has text after '>'")));
            }
            let name = text[..open].trim().trim_matches('"').trim();
            let name = (!name.is_empty()).then(|| name.to_owned());
            (name, rest[..close].trim())
        }
        None => (None, text),
    };
    check_email(field, email)?;
    Ok(Mailbox {
        name,
        email: email.to_owned(),
    })
}

/// A plain `local@domain`: no spaces, brackets, quotes or separators, which
/// could otherwise end the address early inside the header.
fn check_email(field: &str, email: &str) -> Result<(), CommandError> {
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && (domain.contains('.') || domain == "localhost")
    }) && !email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(field, format!("{email:?} is not an email address")))
    }
}

/// Message-IDs from `<a@x> <b@y>` (or without brackets), for threading headers.
pub fn parse_message_ids(field: &str, text: &str) -> Result<Vec<String>, CommandError> {
    check_header_value(field, text)?;
    let ids: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.iter().any(|id| id.contains(['<', '>'])) {
        return Err(bad(field, "is not a list of Message-IDs"));
    }
    Ok(ids)
}

fn address(list: &[Mailbox]) -> Address<'_> {
    let items: Vec<Address<'_>> = list
        .iter()
        .map(|m| Address::new_address(m.name.as_deref(), m.email.as_str()))
        .collect();
    if items.len() == 1 {
        items
            .into_iter()
            .next()
            .unwrap_or_else(|| Address::new_list(Vec::new()))
    } else {
        Address::new_list(items)
    }
}

/// A fresh Message-ID at the sender's domain (mail-builder would use "localhost").
fn message_id(from: &[Mailbox]) -> String {
    let domain = from
        .first()
        .and_then(|m| m.email.split_once('@'))
        .map_or("sekia.invalid", |(_, d)| d);
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = [0; 16];
    }
    format!("{}@{domain}", hex::encode(bytes))
}

/// The message as base64url text, for `messages.send` `raw`.
pub fn build_raw(mail: &Outgoing) -> Result<String, CommandError> {
    check_header_value("subject", &mail.subject)?;
    let mut builder = MessageBuilder::new()
        .from(address(&mail.from))
        .to(address(&mail.to))
        .subject(mail.subject.as_str())
        .date(Date::new(mail.date))
        .message_id(message_id(&mail.from))
        .text_body(mail.body.as_str());
    if !mail.in_reply_to.is_empty() {
        builder = builder.in_reply_to(MessageId::new_list(
            mail.in_reply_to.iter().map(String::as_str),
        ));
    }
    if !mail.references.is_empty() {
        builder = builder.references(MessageId::new_list(
            mail.references.iter().map(String::as_str),
        ));
    }
    let bytes = builder
        .write_to_vec()
        .map_err(|e| CommandError::Service(format!("cannot build the message: {e}")))?;
    Ok(URL_SAFE.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_address_lists() {
        let l = parse_mailboxes("to", r#"a@x.com, "Doe, Ann" <ann@y.org>,Bob <b@z.io>"#).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].name.as_deref(), Some("Doe, Ann"));
        assert_eq!(l[1].email, "ann@y.org");
        assert_eq!(l[2].email, "b@z.io");
        for bad in [
            "",
            "nobody",
            "a@x.com\r\nBcc: e@vil.com",
            "a b@x.com",
            "<a@x.com",
            "x <a@x.com> y",
        ] {
            assert!(parse_mailboxes("to", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_line_breaks_in_subject() {
        let mail = Outgoing {
            from: parse_mailboxes("from", "me@x.com").unwrap(),
            to: parse_mailboxes("to", "you@y.com").unwrap(),
            subject: "Hi\r\nBcc: evil@x.com".into(),
            ..Outgoing::default()
        };
        let err = build_raw(&mail).unwrap_err().to_string();
        assert!(err.starts_with("subject: "), "{err}");
    }

    #[test]
    fn message_ids() {
        assert_eq!(
            parse_message_ids("in_reply_to", "<a@x> <b@y>").unwrap(),
            vec!["a@x", "b@y"]
        );
        assert_eq!(parse_message_ids("r", "c@z").unwrap(), vec!["c@z"]);
    }
}
