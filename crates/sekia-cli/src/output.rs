//! Human output: aligned tables and local times, as sekiactl prints them.

use chrono::{DateTime, Local};

/// Left-aligned columns separated by two spaces (what Go's tabwriter gave sekia).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// An RFC 3339 time shown in local time with `format`; unparsable input is shown as is.
pub fn local_time(rfc3339: &str, format: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Local).format(format).to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for paths and queries.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let out = table(
            &["NAME", "STATUS"],
            &[vec!["github-agent".into(), "running".into()]],
        );
        assert_eq!(out, "NAME          STATUS\ngithub-agent  running\n");
    }
}
