//! Dry run: one file, one event, a fresh sandbox, nothing sent.

use std::sync::Arc;
use ts_rs::TS;

use serde::Serialize;

use sekia_protocol::Event;

use crate::ai::{FixedLlm, Llm};
use crate::api::Services;
use crate::clock::SystemClock;
use crate::config::ConversationConfig;
use crate::conversation::ConversationStore;
use crate::error::LoadError;
use crate::output::{Output, RecordingSink};
use crate::vm::{Limits, LoadParams, Vm};
use crate::wire::Incoming;

/// What a workflow did with one event.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DryRunReport {
    /// Subject the event was delivered on (`sekia.events.<event.source>`).
    pub subject: String,
    /// Whether at least one handler matched.
    pub matched: bool,
    /// Commands, publishes and log lines, in order.
    pub outputs: Vec<Output>,
    /// Load failure (syntax error, top-level error) with file and line.
    pub load_error: Option<LoadError>,
    /// Handler errors, `file:line: message`.
    pub handler_errors: Vec<String>,
}

impl DryRunReport {
    /// One JSON object per output line, then one per error.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for o in &self.outputs {
            if let Ok(s) = serde_json::to_string(o) {
                out.push_str(&s);
                out.push('\n');
            }
        }
        if let Some(e) = &self.load_error
            && let Ok(s) =
                serde_json::to_string(&serde_json::json!({"kind": "load_error", "error": e}))
        {
            out.push_str(&s);
            out.push('\n');
        }
        for e in &self.handler_errors {
            if let Ok(s) =
                serde_json::to_string(&serde_json::json!({"kind": "handler_error", "message": e}))
            {
                out.push_str(&s);
                out.push('\n');
            }
        }
        out
    }
}

/// Loads `source` (named `file_name`) in a fresh sandbox with a recording sink,
/// delivers `event` on `sekia.events.<event.source>`, and reports every command,
/// publish and log line. `ai_answer` is what `sekia.ai` returns (`None` = AI not
/// configured). Nothing is sent anywhere. Default limits apply (30 s, 64 MiB).
pub async fn dry_run(
    source: &str,
    file_name: &str,
    event: Event,
    ai_answer: Option<String>,
) -> DryRunReport {
    let subject = sekia_protocol::subjects::events(&event.source)
        .unwrap_or_else(|_| format!("sekia.events.{}", event.source));
    let sink = Arc::new(RecordingSink::default());
    let clock = Arc::new(SystemClock);
    let llm: Option<Arc<dyn Llm>> = ai_answer.map(|a| Arc::new(FixedLlm(a)) as Arc<dyn Llm>);
    let services = Arc::new(Services {
        llm,
        persona: String::new(),
        skills: Arc::default(),
        skills_index: String::new(),
        conversations: Some(ConversationStore::new(
            ConversationConfig::default(),
            clock.clone(),
        )),
        command_secret: String::new(),
        hop_limit: u32::MAX,
        clock,
    });
    let name = file_name.strip_suffix(".lua").unwrap_or(file_name);
    let mut report = DryRunReport {
        subject: subject.clone(),
        matched: false,
        outputs: Vec::new(),
        load_error: None,
        handler_errors: Vec::new(),
    };
    let loaded = Vm::load(LoadParams {
        name,
        file: file_name,
        source: source.as_bytes(),
        sink: sink.clone(),
        services,
        limits: Limits {
            timeout: std::time::Duration::from_secs(30),
            memory: 64 << 20,
        },
    })
    .await;
    match loaded {
        Err(e) => report.load_error = Some(e),
        Ok((vm, _schedules)) => {
            let inc = Incoming {
                subject,
                size: serde_json::to_vec(&event)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX),
                event,
                hops: 0,
            };
            let errors_before = vm
                .ctx
                .stats
                .errors
                .load(std::sync::atomic::Ordering::Relaxed);
            vm.handle(&inc).await;
            report.matched = vm
                .ctx
                .stats
                .events
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0;
            if vm
                .ctx
                .stats
                .errors
                .load(std::sync::atomic::Ordering::Relaxed)
                > errors_before
                && let Some(e) = vm.ctx.stats.last_error()
            {
                report.handler_errors.push(match e.line {
                    Some(l) => format!("{file_name}:{l}: {}", e.message),
                    None => format!("{file_name}: {}", e.message),
                });
            }
        }
    }
    report.outputs = sink
        .outputs
        .lock()
        .map(|mut o| std::mem::take(&mut *o))
        .unwrap_or_default();
    report
}
