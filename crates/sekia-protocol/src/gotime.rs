//! Go's text forms of `time.Time` and `time.Duration`, as they appear in the
//! wire types (`Heartbeat.last_event`, `StatusResponse.started_at`/`uptime`,
//! …).
//!
//! Implemented with a small civil-from-days conversion instead of a date
//! library: the crate only ever needs to *print* these two forms, and keeping
//! it dependency-light keeps every other crate's build small.

use std::time::{SystemTime, UNIX_EPOCH};

/// Go's zero `time.Time` as `json.Marshal` writes it. Go peers send this for
/// "never" (e.g. `last_event` before the first event).
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Why a time cannot be written in Go's JSON form. Go's
/// `Time.MarshalJSON` fails in the same cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoTimeError {
    /// RFC 3339 has four-digit years only.
    #[error("year {0} outside of range [0,9999]")]
    YearOutOfRange(i64),
    /// The zone offset must be below 24 hours.
    #[error("timezone offset {0}s outside of range (-24h,+24h)")]
    OffsetOutOfRange(i32),
    /// Sub-second part must be below one second.
    #[error("nanoseconds {0} not below 1e9")]
    NanosOutOfRange(u32),
}

/// Formats an instant as Go's `time.RFC3339Nano`
/// (`2006-01-02T15:04:05.999999999Z07:00`), which is what Go's
/// `time.Time.MarshalJSON` writes (without the quotes).
///
/// `unix_secs`/`nanos` give the instant, `utc_offset_secs` the zone offset
/// to display it in (Go marshals times in the zone they carry, usually
/// `Local`). The fraction has its trailing zeros trimmed and is omitted when
/// zero; offset 0 prints `Z`, otherwise `±hh:mm` (seconds of an offset are
/// truncated, as Go does).
///
/// ```
/// use sekia_protocol::gotime::format_go_time;
/// assert_eq!(format_go_time(0, 0, 0).unwrap(), "1970-01-01T00:00:00Z");
/// assert_eq!(
///     format_go_time(1_704_161_045, 123_456_789, 3600).unwrap(),
///     "2024-01-02T03:04:05.123456789+01:00"
/// );
/// ```
pub fn format_go_time(
    unix_secs: i64,
    nanos: u32,
    utc_offset_secs: i32,
) -> Result<String, GoTimeError> {
    if nanos >= 1_000_000_000 {
        return Err(GoTimeError::NanosOutOfRange(nanos));
    }
    let zone_minutes = utc_offset_secs / 60; // truncates toward zero, like Go
    if (zone_minutes / 60).abs() >= 24 {
        return Err(GoTimeError::OffsetOutOfRange(utc_offset_secs));
    }
    let local = unix_secs
        .checked_add(i64::from(utc_offset_secs))
        .ok_or(GoTimeError::YearOutOfRange(i64::MAX))?;
    let days = local.div_euclid(86_400);
    let secs_of_day = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(GoTimeError::YearOutOfRange(year));
    }
    let (hour, minute, second) = (
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if utc_offset_secs == 0 {
        out.push('Z');
    } else {
        // A non-zero offset below one minute prints "+00:00", as in Go.
        let sign = if utc_offset_secs < 0 { '-' } else { '+' };
        let m = zone_minutes.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
    }
    Ok(out)
}

/// [`format_go_time`] for a [`SystemTime`] (which may lie before the epoch).
pub fn format_system_time(t: SystemTime, utc_offset_secs: i32) -> Result<String, GoTimeError> {
    let (secs, nanos) = unix_parts(t);
    format_go_time(secs, nanos, utc_offset_secs)
}

/// Splits a [`SystemTime`] into Unix seconds (floored) and nanoseconds in
/// `[0, 1e9)`, saturating at the ends of `i64`.
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (secs.saturating_neg(), 0),
                n => (secs.saturating_neg().saturating_sub(1), 1_000_000_000 - n),
            }
        }
    }
}

/// Formats whole seconds as Go's `time.Duration.String()` does for a
/// duration truncated to seconds (`d.Truncate(time.Second).String()`):
/// `0s`, `45s`, `2m0s`, `1h0m0s`, `1h2m3s`, `26h0m0s`. Hours never roll
/// over into days.
pub fn format_go_duration_secs(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are small by the ranges noted above.
    (year, month as u32, day as u32)
}

/// `t` as Go's `time.Time` marshals to JSON in the local zone's offset at that instant, as a
/// Go agent's `time.Now()` reads; Go's zero time if `t` cannot be written (a year outside
/// 0..=9999). The one place that asks the system for its time zone.
pub fn format_local(t: SystemTime) -> String {
    let local: chrono::DateTime<chrono::Local> = t.into();
    format_system_time(t, local.offset().local_minus_utc())
        .unwrap_or_else(|_| GO_ZERO_TIME.to_owned())
}

/// Unix milliseconds of the last local midnight at or before `t` (for "events today").
pub fn local_midnight_ms(t: SystemTime) -> i64 {
    use chrono::{Local, TimeZone};
    let local: chrono::DateTime<Local> = t.into();
    let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
    match Local.from_local_datetime(&midnight).earliest() {
        Some(m) => m.timestamp_millis(),
        // A midnight skipped by a DST change: count from the instant itself minus a day.
        None => local.timestamp_millis() - 86_400_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times() {
        assert_eq!(format_go_time(0, 0, 0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_go_time(1_704_164_645, 500_000_000, 0).unwrap(),
            "2024-01-02T03:04:05.5Z"
        );
        assert_eq!(
            format_go_time(1_704_161_045, 123_456_789, 3600).unwrap(),
            "2024-01-02T03:04:05.123456789+01:00"
        );
        assert_eq!(
            format_go_time(1_704_164_645, 1_000, -(5 * 3600 + 30 * 60)).unwrap(),
            "2024-01-01T21:34:05.000001-05:30"
        );
        // Leap day and end of a leap year.
        assert_eq!(
            format_go_time(951_782_400, 0, 0).unwrap(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            format_go_time(1_735_689_599, 0, 0).unwrap(),
            "2024-12-31T23:59:59Z"
        );
        // Before the epoch.
        assert_eq!(format_go_time(-1, 0, 0).unwrap(), "1969-12-31T23:59:59Z");
        // Go's zero time: 0001-01-01T00:00:00Z is -62135596800 Unix seconds.
        assert_eq!(format_go_time(-62_135_596_800, 0, 0).unwrap(), GO_ZERO_TIME);
        assert_eq!(
            format_go_time(253_402_300_799, 999_999_999, 0).unwrap(),
            "9999-12-31T23:59:59.999999999Z"
        );
        // Offset seconds are truncated; a sub-minute offset is "+00:00".
        assert_eq!(
            format_go_time(0, 0, 30).unwrap(),
            "1970-01-01T00:00:30+00:00"
        );
        assert_eq!(
            format_go_time(0, 0, -1052).unwrap(),
            "1969-12-31T23:42:28-00:17"
        );
    }

    #[test]
    fn time_errors() {
        assert_eq!(
            format_go_time(253_402_300_800, 0, 0),
            Err(GoTimeError::YearOutOfRange(10_000))
        );
        assert!(matches!(
            format_go_time(-62_167_219_201, 0, 0),
            Err(GoTimeError::YearOutOfRange(-1))
        ));
        assert_eq!(
            format_go_time(0, 1_000_000_000, 0),
            Err(GoTimeError::NanosOutOfRange(1_000_000_000))
        );
        assert_eq!(
            format_go_time(0, 0, 24 * 3600),
            Err(GoTimeError::OffsetOutOfRange(86_400))
        );
        assert!(format_go_time(0, 0, 24 * 3600 - 1).is_ok());
        assert!(format_go_time(i64::MAX, 0, 1).is_err());
        assert!(format_go_time(i64::MIN, 0, 0).is_err());
    }

    #[test]
    fn system_time() {
        let t = UNIX_EPOCH + Duration::new(1_704_164_645, 5);
        assert_eq!(
            format_system_time(t, 0).unwrap(),
            "2024-01-02T03:04:05.000000005Z"
        );
        let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
        assert_eq!(unix_parts(before), (-2, 750_000_000));
        assert_eq!(unix_parts(UNIX_EPOCH - Duration::from_secs(3)), (-3, 0));
        assert_eq!(
            format_system_time(before, 0).unwrap(),
            "1969-12-31T23:59:58.75Z"
        );
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0s"),
            (1, "1s"),
            (45, "45s"),
            (59, "59s"),
            (60, "1m0s"),
            (120, "2m0s"),
            (125, "2m5s"),
            (3599, "59m59s"),
            (3600, "1h0m0s"),
            (3723, "1h2m3s"),
            (26 * 3600, "26h0m0s"),
        ];
        for (secs, want) in cases {
            assert_eq!(format_go_duration_secs(secs), want);
        }
    }
}
