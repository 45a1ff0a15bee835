//! Per-workflow counters, last error and handler-time percentiles.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::LastError;

/// Handler durations kept for the percentiles.
const WINDOW: usize = 1024;

/// Counters of one loaded workflow (shared by its task, the router and the API).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub events: AtomicU64,
    pub errors: AtomicU64,
    pub dropped: AtomicU64,
    last_error: Mutex<Option<LastError>>,
    durations: Mutex<VecDeque<u64>>,
}

impl Stats {
    pub fn error(&self, e: LastError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some(e);
        }
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }

    pub fn record_duration(&self, d: Duration) {
        if let Ok(mut q) = self.durations.lock() {
            if q.len() == WINDOW {
                q.pop_front();
            }
            q.push_back(d.as_micros() as u64);
        }
    }

    /// (p50, p99) in microseconds over the last [`WINDOW`] calls.
    pub fn percentiles(&self) -> (u64, u64) {
        let mut v: Vec<u64> = match self.durations.lock() {
            Ok(q) => q.iter().copied().collect(),
            Err(_) => return (0, 0),
        };
        if v.is_empty() {
            return (0, 0);
        }
        v.sort_unstable();
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        (at(0.50), at(0.99))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = Stats::default();
        assert_eq!(s.percentiles(), (0, 0));
        for i in 1..=100 {
            s.record_duration(Duration::from_micros(i));
        }
        assert_eq!(s.percentiles(), (51, 99));
    }
}
