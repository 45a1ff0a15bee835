//! When the app looks for updates: once a little after it starts (not during start, when the
//! daemon, the window and the tray compete for the machine), then every [`INTERVAL`] while it
//! runs. Automatic checks never come closer together than [`INTERVAL`]. A check the user asks
//! for ("Check for updates") runs at once, because the user is waiting for an answer, but it
//! counts as a check: the next automatic one is a full interval after it. A request while a
//! check is running joins that check instead of starting a second one, so pressing the button
//! repeatedly asks the release feed once.
//!
//! Time is passed in (no hidden `Instant::now()`), so tests drive it.

use std::time::{Duration, Instant};

/// From start to the first automatic check.
pub const START_DELAY: Duration = Duration::from_secs(60);
/// Between two automatic checks, at least.
pub const INTERVAL: Duration = Duration::from_secs(6 * 60 * 60);

/// Who asks for a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The timer: runs only when due.
    Automatic,
    /// The user: runs unless a check is already running.
    Manual,
}

/// The update-check timetable of one run of the app.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    next_due: Instant,
    running: bool,
}

impl Schedule {
    /// The timetable of an app that started at `started`.
    pub fn new(started: Instant) -> Self {
        Self::with(started, START_DELAY, INTERVAL)
    }

    /// [`Self::new`] with other durations.
    pub fn with(started: Instant, start_delay: Duration, interval: Duration) -> Self {
        Self {
            interval,
            next_due: started + start_delay,
            running: false,
        }
    }

    /// When the next automatic check is due.
    pub fn next_due(&self) -> Instant {
        self.next_due
    }

    /// Whether a check is running.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Whether a check asked for by `trigger` may start at `now`. When it may, it counts as
    /// started: the next automatic check moves to `now` + the interval.
    pub fn begin(&mut self, now: Instant, trigger: Trigger) -> bool {
        if self.running || (trigger == Trigger::Automatic && now < self.next_due) {
            return false;
        }
        self.running = true;
        self.next_due = now + self.interval;
        true
    }

    /// The running check ended (found something, found nothing, or failed: a failed check
    /// waits for the next interval too, so an unreachable feed is not hammered).
    pub fn finish(&mut self) {
        self.running = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_first_check_waits_for_the_start_delay() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0);
        assert_eq!(s.next_due(), t0 + START_DELAY);
        assert!(!s.begin(t0, Trigger::Automatic));
        assert!(!s.begin(
            t0 + START_DELAY - Duration::from_millis(1),
            Trigger::Automatic
        ));
        assert!(s.begin(t0 + START_DELAY, Trigger::Automatic));
    }

    #[test]
    fn automatic_checks_come_every_six_hours_and_never_more_often() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0);
        let mut started = Vec::new();
        // Wake up every minute for two days; a late wake-up starts the interval anew.
        let mut now = t0;
        while now < t0 + 48 * HOUR {
            if s.begin(now, Trigger::Automatic) {
                started.push(now);
                s.finish();
            }
            now += MIN;
        }
        assert_eq!(started.first(), Some(&(t0 + START_DELAY)));
        assert_eq!(started.len(), 8, "{started:?}");
        for pair in started.windows(2) {
            assert_eq!(pair[1] - pair[0], INTERVAL);
        }
        assert_eq!(INTERVAL, 6 * HOUR);
    }

    #[test]
    fn a_manual_check_runs_at_once_and_pushes_the_next_automatic_one() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0);
        // Before the start delay is over: the user asked, so it runs.
        assert!(s.begin(t0 + Duration::from_secs(5), Trigger::Manual));
        s.finish();
        assert_eq!(s.next_due(), t0 + Duration::from_secs(5) + INTERVAL);
        assert!(!s.begin(t0 + START_DELAY, Trigger::Automatic));
        // Asked again and again: each answered, each counted.
        for i in 1..=5 {
            let now = t0 + i * MIN;
            assert!(s.begin(now, Trigger::Manual));
            s.finish();
            assert_eq!(s.next_due(), now + INTERVAL);
        }
        assert!(!s.begin(t0 + 5 * MIN + INTERVAL - MIN, Trigger::Automatic));
        assert!(s.begin(t0 + 5 * MIN + INTERVAL, Trigger::Automatic));
    }

    #[test]
    fn nothing_starts_while_a_check_is_running() {
        let t0 = Instant::now();
        let mut s = Schedule::with(t0, Duration::ZERO, INTERVAL);
        assert!(s.begin(t0, Trigger::Manual));
        assert!(s.is_running());
        // Pressed again while the first is on its way: it joins the first.
        assert!(!s.begin(t0 + Duration::from_secs(1), Trigger::Manual));
        // A check that hangs for longer than the interval does not get a twin.
        assert!(!s.begin(t0 + 2 * INTERVAL, Trigger::Automatic));
        s.finish();
        assert!(!s.is_running());
        assert!(s.begin(t0 + 2 * INTERVAL, Trigger::Automatic));
    }
}
