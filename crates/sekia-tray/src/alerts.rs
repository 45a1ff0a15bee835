//! Desktop notifications for what needs the user (a workflow error, an agent gone offline),
//! rate-limited so a workflow failing on every event cannot flood the desktop: each problem is
//! announced once while it lasts, at most one notification per [`MIN_GAP`], and problems that
//! arrive inside the gap are folded into the next notification ("… and 3 more").

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sekia_daemon::Attention;

/// Least time between two notifications.
pub const MIN_GAP: Duration = Duration::from_secs(30);

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub title: String,
    pub body: String,
}

/// Decides what to notify. Time is passed in, so tests drive it.
#[derive(Debug, Default)]
pub struct Alerts {
    /// Problems already announced (or queued) and still present.
    known: BTreeSet<String>,
    /// New problems not announced yet, oldest first.
    queued: Vec<String>,
    last_sent: Option<Instant>,
}

impl Alerts {
    /// Feeds the daemon's current `attention` list; returns a notification when one is due.
    pub fn observe(&mut self, now: Instant, attention: &[Attention]) -> Option<Alert> {
        let current: BTreeSet<String> = attention.iter().map(|a| a.text.clone()).collect();
        // A problem that went away may be announced again if it comes back.
        self.known.retain(|k| current.contains(k));
        self.queued.retain(|k| current.contains(k));
        for item in attention {
            if self.known.insert(item.text.clone()) {
                self.queued.push(item.text.clone());
            }
        }
        if self.queued.is_empty() {
            return None;
        }
        if self
            .last_sent
            .is_some_and(|t| now.saturating_duration_since(t) < MIN_GAP)
        {
            return None;
        }
        self.last_sent = Some(now);
        let first = self.queued.remove(0);
        let more = std::mem::take(&mut self.queued).len();
        let body = match more {
            0 => first,
            1 => format!("{first}\n… and 1 more"),
            n => format!("{first}\n… and {n} more"),
        };
        Some(Alert {
            title: "sekia needs attention".into(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<Attention> {
        items
            .iter()
            .map(|s| Attention::new(sekia_daemon::AttentionKind::WorkflowError, *s))
            .collect()
    }

    #[test]
    fn each_problem_once_and_no_flood() {
        let t0 = Instant::now();
        let mut a = Alerts::default();
        assert_eq!(a.observe(t0, &[]), None);
        let first = a.observe(t0, &list(&["workflow x: boom"])).unwrap();
        assert_eq!(first.body, "workflow x: boom");
        // The same problem, every poll: nothing more.
        for i in 1..100 {
            assert_eq!(
                a.observe(t0 + Duration::from_secs(i), &list(&["workflow x: boom"])),
                None
            );
        }
        // New problems inside the gap wait, then come folded into one notification.
        let now = t0 + Duration::from_secs(5);
        let three = list(&[
            "workflow x: boom",
            "agent a is offline",
            "agent b is offline",
            "agent c is offline",
        ]);
        assert_eq!(a.observe(now, &three), None);
        let later = a.observe(t0 + MIN_GAP, &three).unwrap();
        assert_eq!(later.body, "agent a is offline\n… and 2 more");
        assert_eq!(a.observe(t0 + MIN_GAP * 3, &three), None);
    }

    #[test]
    fn a_problem_that_comes_back_is_announced_again() {
        let t0 = Instant::now();
        let mut a = Alerts::default();
        assert!(a.observe(t0, &list(&["agent a is offline"])).is_some());
        assert_eq!(a.observe(t0 + MIN_GAP, &[]), None);
        let again = a.observe(t0 + MIN_GAP * 2, &list(&["agent a is offline"]));
        assert!(again.is_some());
    }

    #[test]
    fn a_queued_problem_that_clears_is_dropped() {
        let t0 = Instant::now();
        let mut a = Alerts::default();
        assert!(a.observe(t0, &list(&["one"])).is_some());
        assert_eq!(
            a.observe(t0 + Duration::from_secs(1), &list(&["one", "two"])),
            None
        );
        assert_eq!(a.observe(t0 + MIN_GAP, &list(&["one"])), None);
    }
}
