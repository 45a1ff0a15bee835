//! Calendar events as sekia's payloads.
//!
//! `google.calendar.event.created|updated|deleted`: `id, summary, description,
//! location, start, end, status, organizer, attendees, html_link, calendar_id`,
//! plus `all_day`. Times are RFC 3339 with whole seconds; an all-day event's
//! dates read as midnight UTC, as sekia's did. A missing time (a cancelled
//! event carries little more than its id) is Go's zero time, which is what
//! sekia sent.
//!
//! `google.calendar.event.upcoming`: `id, summary, start, end, minutes_until,
//! location, html_link, calendar_id`.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use sekia_protocol::Payload;
use serde_json::Value;

use super::api::{CalEvent, EventTime};

pub const EVENT_CREATED: &str = "google.calendar.event.created";
pub const EVENT_UPDATED: &str = "google.calendar.event.updated";
pub const EVENT_DELETED: &str = "google.calendar.event.deleted";
pub const EVENT_UPCOMING: &str = "google.calendar.event.upcoming";

/// Go's `time.Time{}` in JSON.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An event time: the instant, and whether it was an all-day date.
pub fn parse_time(t: Option<&EventTime>) -> Option<(DateTime<FixedOffset>, bool)> {
    let t = t?;
    if let Some(dt) = t.date_time.as_deref() {
        return DateTime::parse_from_rfc3339(dt).ok().map(|d| (d, false));
    }
    let date = NaiveDate::parse_from_str(t.date.as_deref()?, "%Y-%m-%d").ok()?;
    let utc = date.and_hms_opt(0, 0, 0)?.and_utc();
    Some((utc.fixed_offset(), true))
}

fn format_time(t: Option<&EventTime>) -> String {
    parse_time(t).map_or_else(
        || GO_ZERO_TIME.to_owned(),
        |(d, _)| d.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// Unix seconds of an event time, if it reads.
pub fn unix(t: Option<&EventTime>) -> Option<i64> {
    parse_time(t).map(|(d, _)| d.timestamp())
}

/// `created` in Unix seconds, if it reads.
pub fn created_unix(e: &CalEvent) -> Option<i64> {
    DateTime::parse_from_rfc3339(&e.created)
        .ok()
        .map(|d| d.with_timezone(&Utc).timestamp())
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// The payload of created/updated/deleted.
pub fn change_payload(e: &CalEvent, calendar_id: &str) -> Payload {
    let mut p = Payload::new();
    p.insert("id".into(), s(&e.id));
    p.insert("summary".into(), s(&e.summary));
    p.insert("description".into(), s(&e.description));
    p.insert("location".into(), s(&e.location));
    p.insert("start".into(), Value::String(format_time(e.start.as_ref())));
    p.insert("end".into(), Value::String(format_time(e.end.as_ref())));
    p.insert("status".into(), s(&e.status));
    p.insert(
        "organizer".into(),
        s(e.organizer.as_ref().map_or("", |o| o.email.as_str())),
    );
    p.insert(
        "attendees".into(),
        Value::Array(e.attendees.iter().map(|a| s(&a.email)).collect()),
    );
    p.insert("html_link".into(), s(&e.html_link));
    p.insert("calendar_id".into(), s(calendar_id));
    p.insert(
        "all_day".into(),
        Value::Bool(parse_time(e.start.as_ref()).is_some_and(|(_, all_day)| all_day)),
    );
    p
}

/// The payload of upcoming, `now` in Unix seconds.
pub fn upcoming_payload(e: &CalEvent, calendar_id: &str, now: i64) -> Payload {
    let start = unix(e.start.as_ref()).unwrap_or(now);
    // Whole minutes, rounded up, never negative (sekia's ceil).
    let secs = (start - now).max(0);
    let minutes_until = (secs + 59) / 60;
    let mut p = Payload::new();
    p.insert("id".into(), s(&e.id));
    p.insert("summary".into(), s(&e.summary));
    p.insert("start".into(), Value::String(format_time(e.start.as_ref())));
    p.insert("end".into(), Value::String(format_time(e.end.as_ref())));
    p.insert("minutes_until".into(), Value::from(minutes_until));
    p.insert("location".into(), s(&e.location));
    p.insert("html_link".into(), s(&e.html_link));
    p.insert("calendar_id".into(), s(calendar_id));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(date: Option<&str>, dt: Option<&str>) -> EventTime {
        EventTime {
            date: date.map(str::to_owned),
            date_time: dt.map(str::to_owned),
        }
    }

    #[test]
    fn times_in_sekias_form() {
        assert_eq!(
            format_time(Some(&t(Some("2030-01-02"), None))),
            "2030-01-02T00:00:00Z"
        );
        assert_eq!(
            format_time(Some(&t(None, Some("2030-01-02T10:00:00+01:00")))),
            "2030-01-02T10:00:00+01:00"
        );
        assert_eq!(
            format_time(Some(&t(None, Some("2030-01-02T10:00:00.000Z")))),
            "2030-01-02T10:00:00Z"
        );
        assert_eq!(format_time(None), GO_ZERO_TIME);
    }

    #[test]
    fn minutes_until_rounds_up() {
        let e = CalEvent {
            start: Some(t(None, Some("2030-01-01T00:10:00Z"))),
            ..CalEvent::default()
        };
        let start = unix(e.start.as_ref()).unwrap();
        assert_eq!(upcoming_payload(&e, "c", start - 61)["minutes_until"], 2);
        assert_eq!(upcoming_payload(&e, "c", start)["minutes_until"], 0);
        assert_eq!(upcoming_payload(&e, "c", start + 5)["minutes_until"], 0);
    }
}
