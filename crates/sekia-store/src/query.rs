//! Reading the history: a [`Reader`] owns one read-only connection.
//!
//! WAL lets readers run while the writer commits; each query sees the
//! database as of its start. Lists are ordered by `seq` descending (the
//! rowid, so the newest page is an index-free walk from the end), full-text
//! search walks the FTS index in descending rowid order too, so a page of 50
//! stops after 50 hits that pass the other filters.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};

use crate::cursor::{self, CursorKind};
use crate::error::{Result, SqlContext, StoreError};
use crate::fts;
use crate::records::{
    CommandQuery, DEFAULT_LIMIT, EventQuery, MAX_LIMIT, Outcome, OutcomeFilter, Page,
    StoredCommand, StoredEvent,
};

/// A read connection to a store database.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
}

const EVENT_COLUMNS: &str = "e.seq, e.subject, e.id, e.type, e.source, e.timestamp, e.payload, \
     e.truncated, e.received_at, (SELECT replayed_from FROM replays r WHERE r.event_id = e.id)";

const COMMAND_COLUMNS: &str = "seq, subject, agent, command, source, signature, signature_valid, \
     payload, truncated, received_at, coalesce(command_id, ''), outcome, outcome_error, \
     outcome_duration_ms, outcome_at";

impl Reader {
    /// Opens a read-only connection to an existing store database and its
    /// search index (open the [`crate::Store`] first: it creates and migrates
    /// the file and creates the index).
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx(|| format!("open {} for reading", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .ctx(|| format!("configure {} for reading", path.display()))?;
        fts::attach(&conn, path)?;
        Ok(Self { conn })
    }

    /// The raw connection, for diagnostics (`PRAGMA integrity_check`, tests).
    /// The search index shards are attached as `idx0`, `idx1`.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Events matching `q`, newest first.
    pub fn list_events(&self, q: &EventQuery) -> Result<Page<StoredEvent>> {
        let limit = page_limit(q.limit)?;
        let mut args: Vec<Value> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        if let Some(text) = q.q.as_deref() {
            args.push(Value::Text(fts::match_expr(text)?));
            conds.push(format!("events_fts MATCH ?{}", args.len()));
        }
        // With full-text search the ordering and cursor are on the index's
        // rowid so SQLite walks each shard backwards and stops after a page.
        let seq_col = if q.q.is_some() { "f.rowid" } else { "e.seq" };
        if let Some(c) = &q.cursor {
            args.push(Value::Integer(cursor::decode(CursorKind::Events, c)?));
            conds.push(format!("{seq_col} < ?{}", args.len()));
        }
        if let Some(source) = &q.source {
            args.push(Value::Text(source.clone()));
            conds.push(format!("e.source = ?{}", args.len()));
        }
        if let Some(glob) = &q.event_type {
            args.push(Value::Text(glob.clone()));
            conds.push(format!("e.type GLOB ?{}", args.len()));
        }
        if let Some(since) = q.since {
            args.push(Value::Integer(since));
            conds.push(format!("e.timestamp >= ?{}", args.len()));
        }
        if let Some(until) = q.until {
            args.push(Value::Integer(until));
            conds.push(format!("e.timestamp < ?{}", args.len()));
        }
        args.push(Value::Integer(limit as i64 + 1));
        let limit_arg = args.len();
        let select = |from: &str| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM {from} {} ORDER BY {seq_col} DESC LIMIT ?{limit_arg}",
                where_clause(&conds)
            )
        };
        let sql = if q.q.is_some() {
            // A page from every shard (each stops after one page), merged.
            let arms: Vec<String> = (0..fts::SHARDS)
                .map(|s| {
                    let from = format!(
                        "{}.events_fts f JOIN events e ON e.seq = f.rowid",
                        fts::schema(s)
                    );
                    format!("SELECT * FROM ({})", select(&from))
                })
                .collect();
            format!(
                "{} ORDER BY 1 DESC LIMIT ?{limit_arg}",
                arms.join(" UNION ALL ")
            )
        } else {
            select("events e")
        };
        let items = self.collect(&sql, args, event_row, "list events")?;
        Ok(page(items, limit, |e| e.seq, CursorKind::Events))
    }

    /// Events received at or after `since_ms` (Unix ms), e.g. "events today" for the tray.
    /// `received_at` grows with `seq`, so this walks back from the newest row only as far as
    /// the first older one: its cost is the number of rows counted, not the table's size.
    pub fn count_received_since(&self, since_ms: i64) -> Result<u64> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM events WHERE seq > coalesce( \
                 (SELECT seq FROM events WHERE received_at < ?1 ORDER BY seq DESC LIMIT 1), 0)",
            )
            .and_then(|mut s| s.query_row(params![since_ms], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
            .ctx(|| "count recent events".to_owned())
    }

    /// The newest event with this id (a re-published id can occur twice).
    /// Indexed rows are found through the id tokens in the search index; the
    /// unindexed tail (`seq > indexed_upto`, short except right after a
    /// burst) is scanned.
    pub fn get_event(&self, id: &str) -> Result<Option<StoredEvent>> {
        let upto = fts::indexed_upto(&self.conn)?;
        let tail = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.seq > ?1 AND e.id = ?2 \
             ORDER BY e.seq DESC LIMIT 1"
        );
        let found = self
            .conn
            .prepare_cached(&tail)
            .and_then(|mut s| s.query_row(params![upto, id], event_row).optional())
            .ctx(|| format!("get event {id} from the unindexed tail"))?;
        if found.is_some() {
            return Ok(found);
        }
        let candidates: Vec<String> = (0..fts::SHARDS)
            .map(|s| {
                format!(
                    "SELECT rowid FROM {}.events_fts WHERE events_fts MATCH ?1",
                    fts::schema(s)
                )
            })
            .collect();
        let indexed = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.seq IN ({}) AND e.id = ?2 \
             ORDER BY e.seq DESC LIMIT 1",
            candidates.join(" UNION ALL ")
        );
        self.conn
            .prepare_cached(&indexed)
            .and_then(|mut s| {
                s.query_row(params![fts::id_match(id), id], event_row)
                    .optional()
            })
            .ctx(|| format!("get event {id}"))
    }

    /// Commands matching `q`, newest first.
    pub fn list_commands(&self, q: &CommandQuery) -> Result<Page<StoredCommand>> {
        let limit = page_limit(q.limit)?;
        let mut args: Vec<Value> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        if let Some(c) = &q.cursor {
            args.push(Value::Integer(cursor::decode(CursorKind::Commands, c)?));
            conds.push(format!("seq < ?{}", args.len()));
        }
        if let Some(agent) = &q.agent {
            args.push(Value::Text(agent.clone()));
            conds.push(format!("agent = ?{}", args.len()));
        }
        if let Some(command) = &q.command {
            args.push(Value::Text(command.clone()));
            conds.push(format!("command = ?{}", args.len()));
        }
        if let Some(source) = &q.source {
            args.push(Value::Text(source.clone()));
            conds.push(format!("source = ?{}", args.len()));
        }
        if let Some(since) = q.since {
            args.push(Value::Integer(since.saturating_mul(1000)));
            conds.push(format!("received_at >= ?{}", args.len()));
        }
        if let Some(until) = q.until {
            args.push(Value::Integer(until.saturating_mul(1000)));
            conds.push(format!("received_at < ?{}", args.len()));
        }
        for word in q.q.iter().flat_map(|q| q.split_whitespace()) {
            args.push(Value::Text(word.to_lowercase()));
            conds.push(format!(
                "instr(lower(command || ' ' || source || ' ' || payload), ?{}) > 0",
                args.len()
            ));
        }
        match q.outcome {
            Some(OutcomeFilter::Succeeded) => conds.push("outcome = 'succeeded'".into()),
            Some(OutcomeFilter::Failed) => conds.push("outcome = 'failed'".into()),
            Some(OutcomeFilter::Pending) => conds.push("outcome IS NULL".into()),
            None => {}
        }
        args.push(Value::Integer(limit as i64 + 1));
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands {} ORDER BY seq DESC LIMIT ?{}",
            where_clause(&conds),
            args.len()
        );
        let items = self.collect(&sql, args, command_row, "list commands")?;
        Ok(page(items, limit, |c| c.seq, CursorKind::Commands))
    }

    /// The newest command with this [`crate::command_id`].
    pub fn get_command(&self, command_id: &str) -> Result<Option<StoredCommand>> {
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = ?1 ORDER BY seq DESC LIMIT 1"
        );
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([command_id], command_row).optional())
            .ctx(|| format!("get command {command_id}"))
    }

    fn collect<T>(
        &self,
        sql: &str,
        args: Vec<Value>,
        map: fn(&Row<'_>) -> rusqlite::Result<T>,
        what: &str,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).ctx(|| what.to_owned())?;
        let rows = stmt
            .query_map(params_from_iter(args), map)
            .ctx(|| what.to_owned())?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .ctx(|| what.to_owned())
    }
}

fn page_limit(limit: usize) -> Result<usize> {
    match limit {
        0 => Ok(DEFAULT_LIMIT),
        n if n > MAX_LIMIT => Err(StoreError::BadQuery(format!(
            "limit {n} is above the maximum of {MAX_LIMIT}"
        ))),
        n => Ok(n),
    }
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    }
}

fn page<T>(mut items: Vec<T>, limit: usize, seq: fn(&T) -> i64, kind: CursorKind) -> Page<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items.last().map(|last| cursor::encode(kind, seq(last)))
    } else {
        None
    };
    Page { items, next_cursor }
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        subject: r.get(1)?,
        id: r.get(2)?,
        event_type: r.get(3)?,
        source: r.get(4)?,
        timestamp: r.get(5)?,
        payload: r.get(6)?,
        truncated: r.get(7)?,
        received_at_ms: r.get(8)?,
        replayed_from: r.get(9)?,
    })
}

fn command_row(r: &Row<'_>) -> rusqlite::Result<StoredCommand> {
    let outcome: Option<String> = r.get(11)?;
    Ok(StoredCommand {
        seq: r.get(0)?,
        subject: r.get(1)?,
        agent: r.get(2)?,
        command: r.get(3)?,
        source: r.get(4)?,
        signature: r.get(5)?,
        signature_valid: r.get(6)?,
        payload: r.get(7)?,
        truncated: r.get(8)?,
        received_at_ms: r.get(9)?,
        command_id: r.get(10)?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        outcome_error: r.get(12)?,
        outcome_duration_ms: r.get(13)?,
        outcome_at_ms: r.get(14)?,
    })
}
