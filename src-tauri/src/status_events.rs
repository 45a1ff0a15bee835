//! The daemon's status, forwarded to the window as Tauri events: [`STATUS_EVENT`] with each
//! new status (pause, workflows, agents, accounts, events today) and [`ATTENTION_EVENT`] once
//! for each problem as it appears (a workflow error, an agent gone offline, an account to
//! reconnect), so the window shows them without polling. The status comes from the embedded
//! daemon (`Daemon::status_watch`) or, when the daemon is in another process, from its
//! `/api/v1/status/stream`.

use std::collections::BTreeSet;

use sekia_daemon::Attention;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime};

/// Tauri event with the daemon's status (the `status` call's answer), on every change.
pub const STATUS_EVENT: &str = "sekia:status";
/// Tauri event with one [`Attention`] (`{kind, text}`), when that problem appears.
pub const ATTENTION_EVENT: &str = "sekia:attention";

/// The part of a status this module reads.
#[derive(Deserialize)]
pub struct Problems {
    pub attention: Vec<Attention>,
}

/// Which problems are new since the last status.
#[derive(Debug, Default)]
pub struct NewProblems {
    known: BTreeSet<Attention>,
}

impl NewProblems {
    /// The problems in `attention` that the previous call did not have. One that went away
    /// and comes back is new again.
    pub fn observe(&mut self, attention: &[Attention]) -> Vec<Attention> {
        let current: BTreeSet<Attention> = attention.iter().cloned().collect();
        let new = current.difference(&self.known).cloned().collect();
        self.known = current;
        new
    }
}

/// Emits `status` and its new problems.
pub fn forward<R: Runtime>(
    app: &AppHandle<R>,
    seen: &mut NewProblems,
    status: &impl Serialize,
    attention: &[Attention],
) {
    let _ = app.emit(STATUS_EVENT, status);
    for problem in seen.observe(attention) {
        let _ = app.emit(ATTENTION_EVENT, &problem);
    }
}

#[cfg(test)]
mod tests {
    use sekia_daemon::AttentionKind;

    use super::*;

    #[test]
    fn a_problem_is_new_once_while_it_lasts_and_again_when_it_returns() {
        let offline = Attention::new(AttentionKind::AgentOffline, "agent a is offline");
        let failing = Attention::new(AttentionKind::WorkflowError, "workflow w: boom");
        let mut seen = NewProblems::default();
        assert_eq!(seen.observe(&[]), vec![]);
        assert_eq!(
            seen.observe(std::slice::from_ref(&offline)),
            vec![offline.clone()]
        );
        assert_eq!(
            seen.observe(&[offline.clone(), failing.clone()]),
            vec![failing.clone()]
        );
        assert_eq!(seen.observe(&[failing.clone(), offline.clone()]), vec![]);
        assert_eq!(seen.observe(std::slice::from_ref(&failing)), vec![]);
        assert_eq!(seen.observe(&[failing, offline.clone()]), vec![offline]);
    }
}
