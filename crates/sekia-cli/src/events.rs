//! `sekiactl events`: search, show, replay, tail and publish, over the local API.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use sekia_daemon::{Page, StoredEvent};
use sekia_protocol::Event;
use sekia_server::ApiClient;

use crate::output::{local_time, table, url_encode as encode};

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Search history, newest first (words are full-text search over type, source, payload)
    Search {
        /// Words to find (all must match; `word*` is a prefix)
        words: Vec<String>,
        /// Only this source (github, slack, ...)
        #[arg(long)]
        source: Option<String>,
        /// Only types matching this glob (github.issue.*)
        #[arg(long = "type", value_name = "GLOB")]
        event_type: Option<String>,
        /// Only events newer than this (30m, 2h, 7d)
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// How many (default 50, at most 1000)
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Continue after a previous page
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one stored event
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Publish a stored event again (a new id; history records which event it replays)
    Replay { id: String },
    /// Follow new events as they arrive
    Tail {
        #[arg(long)]
        source: Option<String>,
        #[arg(long = "type", value_name = "GLOB")]
        event_type: Option<String>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Put a test event on the bus (sekia.events.<source>), e.g. to try a workflow
    Publish {
        #[arg(long)]
        source: String,
        #[arg(long = "type")]
        event_type: String,
        /// The payload, a JSON object
        #[arg(long, conflicts_with = "payload_file")]
        payload: Option<String>,
        /// Read the payload from a file
        #[arg(long, value_name = "FILE")]
        payload_file: Option<PathBuf>,
    },
}

pub async fn run(client: &ApiClient, command: EventsCommand, now_unix: i64) -> Result<()> {
    match command {
        EventsCommand::Search {
            words,
            source,
            event_type,
            since,
            limit,
            cursor,
            json,
        } => {
            let mut params = vec![("limit", limit.to_string())];
            let q = words.join(" ");
            if !q.trim().is_empty() {
                params.push(("q", q));
            }
            if let Some(s) = source {
                params.push(("source", s));
            }
            if let Some(t) = event_type {
                params.push(("type", t));
            }
            if let Some(since) = since {
                let back =
                    sekia_daemon::config::Duration::parse(&since).map_err(anyhow::Error::msg)?;
                params.push((
                    "since",
                    (now_unix - back.get().as_secs() as i64).to_string(),
                ));
            }
            if let Some(c) = cursor {
                params.push(("cursor", c));
            }
            let path = format!("/api/v1/events?{}", query_string(&params));
            if json {
                println!(
                    "{}",
                    String::from_utf8_lossy(&client.get_raw(&path).await?).trim_end()
                );
                return Ok(());
            }
            let page: Page<StoredEvent> = client.get(&path).await?;
            print!("{}", events_table(&page.items));
            if let Some(next) = page.next_cursor {
                println!("More: --cursor {next}");
            }
            Ok(())
        }
        EventsCommand::Show { id, json } => {
            let path = format!("/api/v1/events/{}", encode(&id));
            let stored: StoredEvent = client.get(&path).await?;
            if json {
                println!("{}", serde_json::to_string(&stored)?);
                return Ok(());
            }
            println!("ID:        {}", stored.id);
            println!("Type:      {}", stored.event_type);
            println!("Source:    {}", stored.source);
            println!("Subject:   {}", stored.subject);
            println!("Time:      {}", unix_local(stored.timestamp));
            if let Some(original) = &stored.replayed_from {
                println!("Replays:   {original}");
            }
            if stored.truncated {
                println!("Payload (truncated):\n{}", stored.payload);
            } else {
                let value: serde_json::Value =
                    serde_json::from_str(&stored.payload).unwrap_or_default();
                println!("Payload:\n{}", serde_json::to_string_pretty(&value)?);
            }
            Ok(())
        }
        EventsCommand::Replay { id } => {
            let event: Event = client
                .post(&format!("/api/v1/events/{}/replay", encode(&id)), None)
                .await?;
            println!("Replayed {id} as {}", event.id);
            Ok(())
        }
        EventsCommand::Tail {
            source,
            event_type,
            json,
        } => {
            let mut params = Vec::new();
            if let Some(s) = source {
                params.push(("source", s));
            }
            if let Some(t) = event_type {
                params.push(("type", t));
            }
            let path = format!("/api/v1/events/stream?{}", query_string(&params));
            eprintln!("Following new events (Ctrl+C to stop)...");
            client
                .follow_events(&path, |name, data| {
                    match name {
                        "event" if json => println!("{data}"),
                        "event" => {
                            if let Ok(e) = serde_json::from_str::<StoredEvent>(data) {
                                println!("{}  {:<8}  {:<28}  {}  {}", unix_local(e.timestamp), e.source, e.event_type, e.id, shorten(&e.payload, 80));
                            }
                        }
                        "lagged" => eprintln!("(skipped {data} events: this terminal fell behind; history has them all)"),
                        _ => {}
                    }
                    true
                })
                .await?;
            Ok(())
        }
        EventsCommand::Publish {
            source,
            event_type,
            payload,
            payload_file,
        } => {
            let text = match (payload, payload_file) {
                (Some(p), _) => p,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
                (None, None) => "{}".into(),
            };
            let payload: serde_json::Value =
                serde_json::from_str(&text).context("--payload is not valid JSON")?;
            if !payload.is_object() {
                bail!("--payload must be a JSON object, like {{\"title\": \"hello\"}}");
            }
            let body =
                serde_json::json!({ "source": source, "type": event_type, "payload": payload });
            let event: Event = client.post("/api/v1/events", Some(&body)).await?;
            println!("Published {} on sekia.events.{}", event.id, event.source);
            Ok(())
        }
    }
}

fn events_table(events: &[StoredEvent]) -> String {
    if events.is_empty() {
        return "No events found.\n".into();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                unix_local(e.timestamp),
                e.source.clone(),
                e.event_type.clone(),
                e.id.clone(),
                shorten(&e.payload, 60),
            ]
        })
        .collect();
    table(&["TIME", "SOURCE", "TYPE", "ID", "PAYLOAD"], &rows)
}

fn unix_local(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| local_time(&t.to_rfc3339(), "%Y-%m-%d %H:%M:%S"))
        .unwrap_or_else(|| secs.to_string())
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn query_string(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("github.issue.*"), "github.issue.%2A");
        assert_eq!(encode("a b&c"), "a%20b%26c");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
