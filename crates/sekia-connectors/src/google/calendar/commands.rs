//! sekia-google's Calendar commands, with sekia's names and arguments:
//!
//! | command | payload |
//! |---|---|
//! | `create_event` | summary, start, end, description?, location?, attendees? (emails) |
//! | `update_event` | event_id, summary?, description?, location?, start?, end? |
//! | `delete_event` | event_id |
//!
//! `start`/`end` are RFC 3339 (`2030-01-02T10:00:00+01:00`) or a date
//! (`2030-01-02`), which makes an all-day event (sekia always sent `dateTime`,
//! so it could not). An all-day `end` equal to `start` means that one day
//! (Google's end date is exclusive). `update_event` takes both forms too (sekia
//! needed raw RFC 3339).

use chrono::{DateTime, Days, NaiveDate};
use serde_json::{Map, Value, json};

use super::api::CalendarApi;
use crate::command::{Args, CommandError};

/// Calendar command names, in sekia's order.
pub const CALENDAR_COMMANDS: [&str; 3] = ["create_event", "update_event", "delete_event"];

/// A time from a command.
#[derive(Clone, Debug, PartialEq)]
enum When {
    Date(NaiveDate),
    Instant(String),
}

impl When {
    fn parse(field: &str, text: &str) -> Result<Self, CommandError> {
        let text = text.trim();
        if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Self::Date(d));
        }
        match DateTime::parse_from_rfc3339(text) {
            Ok(_) => Ok(Self::Instant(text.to_owned())),
            Err(_) => Err(CommandError::BadValue {
                field: field.to_owned(),
                reason: format!(
                    "{text:?} is neither RFC 3339 (2030-01-02T10:00:00Z) nor a date (2030-01-02)"
                ),
            }),
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Date(d) => json!({"date": d.format("%Y-%m-%d").to_string()}),
            Self::Instant(t) => json!({"dateTime": t}),
        }
    }
}

/// `start` and `end` for Google: both dates or both instants, end after start.
fn start_end(start: When, end: When) -> Result<(Value, Value), CommandError> {
    let bad = |reason: &str| CommandError::BadValue {
        field: "end".into(),
        reason: reason.to_owned(),
    };
    match (&start, &end) {
        (When::Date(s), When::Date(e)) => {
            if e < s {
                return Err(bad("is before start"));
            }
            // Google's all-day end is exclusive: a same-day end means one day.
            let e = if e == s {
                s.checked_add_days(Days::new(1)).unwrap_or(*e)
            } else {
                *e
            };
            Ok((start.json(), When::Date(e).json()))
        }
        (When::Instant(s), When::Instant(e)) => {
            let (s, e) = (
                DateTime::parse_from_rfc3339(s).map_err(|_| bad("unreadable"))?,
                DateTime::parse_from_rfc3339(e).map_err(|_| bad("unreadable"))?,
            );
            if e < s {
                return Err(bad("is before start"));
            }
            Ok((start.json(), end.json()))
        }
        _ => Err(bad(
            "must be a date when start is a date, and a time when start is a time",
        )),
    }
}

/// Runs Calendar commands for one calendar.
#[derive(Debug)]
pub struct CalendarCommands {
    api: CalendarApi,
}

impl CalendarCommands {
    pub fn new(api: CalendarApi) -> Self {
        Self { api }
    }

    pub async fn handle(&self, command: &str, args: Args<'_>) -> Result<(), CommandError> {
        match command {
            "create_event" => self.create(args).await,
            "update_event" => self.update(args).await,
            "delete_event" => {
                let id = args.non_empty_str("event_id")?;
                Ok(self.api.delete(id).await?)
            }
            other => Err(CommandError::Unknown(other.to_owned())),
        }
    }

    async fn create(&self, args: Args<'_>) -> Result<(), CommandError> {
        let summary = args.str("summary")?;
        let start = When::parse("start", args.non_empty_str("start")?)?;
        let end = When::parse("end", args.non_empty_str("end")?)?;
        let (start, end) = start_end(start, end)?;
        let mut body = Map::new();
        body.insert("summary".into(), summary.into());
        body.insert("start".into(), start);
        body.insert("end".into(), end);
        optional_texts(&args, &mut body)?;
        if let Some(list) = args.opt_array("attendees")? {
            let mut attendees = Vec::new();
            for (i, a) in list.iter().enumerate() {
                let email = a.as_str().filter(|s| s.contains('@')).ok_or_else(|| {
                    CommandError::BadValue {
                        field: format!("attendees[{i}]"),
                        reason: "must be an email address".into(),
                    }
                })?;
                attendees.push(json!({"email": email}));
            }
            body.insert("attendees".into(), Value::Array(attendees));
        }
        self.api.insert(Value::Object(body)).await?;
        Ok(())
    }

    async fn update(&self, args: Args<'_>) -> Result<(), CommandError> {
        let id = args.non_empty_str("event_id")?;
        let mut body = Map::new();
        if let Some(s) = args.opt_str("summary")? {
            body.insert("summary".into(), s.into());
        }
        optional_texts(&args, &mut body)?;
        let start = args
            .opt_str("start")?
            .map(|s| When::parse("start", s))
            .transpose()?;
        let end = args
            .opt_str("end")?
            .map(|s| When::parse("end", s))
            .transpose()?;
        match (start, end) {
            (Some(s), Some(e)) => {
                let (s, e) = start_end(s, e)?;
                body.insert("start".into(), s);
                body.insert("end".into(), e);
            }
            (Some(s), None) => {
                body.insert("start".into(), s.json());
            }
            (None, Some(e)) => {
                body.insert("end".into(), e.json());
            }
            (None, None) => {}
        }
        if body.is_empty() {
            return Err(CommandError::BadValue {
                field: "update_event".into(),
                reason: "needs at least one of summary, description, location, start, end".into(),
            });
        }
        self.api.patch(id, Value::Object(body)).await?;
        Ok(())
    }
}

fn optional_texts(args: &Args<'_>, body: &mut Map<String, Value>) -> Result<(), CommandError> {
    for key in ["description", "location"] {
        if let Some(v) = args.opt_str(key)? {
            body.insert(key.into(), v.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_make_all_day_events() {
        let (s, e) = start_end(
            When::parse("start", "2030-01-02").unwrap(),
            When::parse("end", "2030-01-02").unwrap(),
        )
        .unwrap();
        assert_eq!(s, json!({"date": "2030-01-02"}));
        assert_eq!(e, json!({"date": "2030-01-03"}));
        assert!(
            start_end(
                When::parse("start", "2030-01-02").unwrap(),
                When::parse("end", "2030-01-02T10:00:00Z").unwrap()
            )
            .is_err()
        );
        assert!(When::parse("start", "tomorrow").is_err());
    }
}
