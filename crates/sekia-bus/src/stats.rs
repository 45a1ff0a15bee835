//! Bus-wide counters and the per-subscription drop tracker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A snapshot of a bus's counters, from [`Bus::stats`](crate::Bus::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Successful `publish` calls.
    pub published: u64,
    /// Messages handed to consumers: yielded by a [`Subscription`](crate::Subscription)
    /// stream (one publish seen by three subscribers counts three).
    pub delivered: u64,
    /// Messages lost because a subscription's queue was full (slow consumer).
    /// On NATS this is a lower bound; see the crate README.
    pub dropped_slow_consumer: u64,
    /// Subscriptions currently alive (created and not yet dropped).
    pub subscriptions: u64,
    /// Times the connection was re-established (always 0 on LocalBus).
    pub reconnects: u64,
    /// Whether the bus can currently reach its transport: always `true` on
    /// LocalBus; on NatsBus, whether the client is connected to a server right
    /// now (`false` while it is reconnecting). What the daemon reports as
    /// `nats_running`.
    pub connected: bool,
}

/// An atomic counter on its own cache line, so that the publisher's and the
/// subscriber's counters do not bounce one line between cores.
#[derive(Default, Debug)]
#[repr(align(128))]
pub(crate) struct PaddedCounter(AtomicU64);

impl PaddedCounter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters shared by a bus and its subscriptions.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub(crate) published: PaddedCounter,
    pub(crate) delivered: PaddedCounter,
    pub(crate) dropped: PaddedCounter,
    pub(crate) subscriptions: PaddedCounter,
}

impl Counters {
    pub(crate) fn snapshot(&self, reconnects: u64, connected: bool) -> BusStats {
        BusStats {
            published: self.published.get(),
            delivered: self.delivered.get(),
            dropped_slow_consumer: self.dropped.get(),
            subscriptions: self.subscriptions.get(),
            reconnects,
            connected,
        }
    }
}

/// How long a subscription must go without a drop before the next drop counts as
/// a new burst and is logged again.
pub(crate) const DROP_QUIET_PERIOD: Duration = Duration::from_secs(5);

/// Counts the messages one subscription lost, and logs them once per burst.
///
/// A slow consumer under sustained load can drop millions of messages; logging each
/// would drown the log (and slow the publisher further). Logging none would hide
/// data loss. So the first drop after a quiet period logs a warning that also
/// reports how many the previous burst lost, and the total stays readable from the
/// subscription and the bus stats at all times.
#[derive(Debug)]
pub(crate) struct DropTracker {
    label: String,
    total: AtomicU64,
    burst: Mutex<BurstState>,
}

#[derive(Debug, Default)]
struct BurstState {
    last_drop: Option<Instant>,
    /// `total` when the current burst began.
    burst_start_total: u64,
}

impl DropTracker {
    pub(crate) fn new(label: String) -> Self {
        Self {
            label,
            total: AtomicU64::new(0),
            burst: Mutex::new(BurstState::default()),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Records `n` lost messages now, and in the bus-wide counter.
    pub(crate) fn record(&self, n: u64, bus: &Counters) {
        bus.dropped.add(n);
        if let Some(previous_burst) = self.record_at(n, Instant::now()) {
            let total = self.total();
            if previous_burst == 0 {
                tracing::warn!(
                    subscription = %self.label,
                    total_dropped = total,
                    "slow consumer: subscription queue full, dropping messages"
                );
            } else {
                tracing::warn!(
                    subscription = %self.label,
                    previous_burst_dropped = previous_burst,
                    total_dropped = total,
                    "slow consumer: subscription queue full again, dropping messages"
                );
            }
        }
    }

    /// Counts the drops; returns `Some(size of the previous burst)` when this drop
    /// starts a new burst (and so should be logged).
    fn record_at(&self, n: u64, now: Instant) -> Option<u64> {
        let before = self.total.fetch_add(n, Ordering::Relaxed);
        // A poisoned lock only means another thread panicked mid-update of two
        // plain integers; the state is still usable.
        let mut state = self.burst.lock().unwrap_or_else(|e| e.into_inner());
        let new_burst = state
            .last_drop
            .is_none_or(|t| now.saturating_duration_since(t) >= DROP_QUIET_PERIOD);
        state.last_drop = Some(now);
        if new_burst {
            let previous = before - state.burst_start_total;
            state.burst_start_total = before;
            Some(previous)
        } else {
            None
        }
    }

    /// Called when the subscription goes away: a final word if it ever lost anything.
    pub(crate) fn report_on_close(&self) {
        let total = self.total();
        if total > 0 {
            tracing::warn!(
                subscription = %self.label,
                total_dropped = total,
                "subscription closed after dropping messages as a slow consumer"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_burst_with_previous_count() {
        let t = DropTracker::new("x".into());
        let t0 = Instant::now();
        assert_eq!(t.record_at(1, t0), Some(0), "first drop starts a burst");
        assert_eq!(t.record_at(1, t0 + Duration::from_millis(10)), None);
        assert_eq!(t.record_at(3, t0 + Duration::from_secs(1)), None);
        // Quiet period passes: new burst, reporting the 5 of the previous one.
        let t1 = t0 + Duration::from_secs(1) + DROP_QUIET_PERIOD;
        assert_eq!(t.record_at(2, t1), Some(5));
        assert_eq!(t.record_at(1, t1 + Duration::from_millis(1)), None);
        assert_eq!(t.record_at(1, t1 + DROP_QUIET_PERIOD * 2), Some(3));
        assert_eq!(t.total(), 9);
    }

    #[test]
    fn bus_counter_follows() {
        let c = Counters::default();
        let t = DropTracker::new("x".into());
        t.record(4, &c);
        t.record(1, &c);
        assert_eq!(c.snapshot(0, true).dropped_slow_consumer, 5);
        assert_eq!(t.total(), 5);
    }
}
