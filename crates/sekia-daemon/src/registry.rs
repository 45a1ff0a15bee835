//! Which agents exist, fed by `sekia.registry` and `sekia.heartbeat.<name>`.
//!
//! sekia's merge rules are kept (a re-registration replaces the registration but keeps
//! `registered_at`; a heartbeat from an unknown name creates a bare entry). Beyond sekia, an
//! agent that misses `missed_heartbeats` beats in a row is shown `offline`, and comes back with
//! its next beat.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use sekia_bus::{Bus, BusError};
use sekia_protocol::{AgentInfo, Heartbeat, Registration, subjects};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::gotime::go_time;

/// Shown for an agent whose beats stopped.
pub const OFFLINE: &str = "offline";

#[derive(Debug, Clone)]
struct Entry {
    registration: Registration,
    registered_at: SystemTime,
    last_seen: SystemTime,
    heartbeat: Option<Heartbeat>,
    /// The liveness last logged, so a change is logged once.
    reported_offline: bool,
}

pub struct Registry {
    agents: Mutex<BTreeMap<String, Entry>>,
    clock: Arc<dyn Clock>,
    offline_after: Duration,
    /// Bumped when an agent appears, goes offline or comes back: the tray redraws on it
    /// instead of polling.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Registry {
    pub fn new(
        clock: Arc<dyn Clock>,
        heartbeat_interval: Duration,
        missed_heartbeats: u32,
    ) -> Self {
        Self {
            agents: Mutex::new(BTreeMap::new()),
            clock,
            offline_after: heartbeat_interval * missed_heartbeats,
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// Changes of the agent list or of an agent's liveness.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record_registration(&self, registration: Registration) {
        let now = self.clock.now();
        let mut agents = self.lock();
        match agents.get_mut(&registration.name) {
            Some(entry) => {
                entry.registration = registration;
                entry.last_seen = now;
            }
            None => {
                tracing::info!(agent = %registration.name, version = %registration.version, "agent registered");
                self.bump();
                agents.insert(
                    registration.name.clone(),
                    Entry {
                        registration,
                        registered_at: now,
                        last_seen: now,
                        heartbeat: None,
                        reported_offline: false,
                    },
                );
            }
        }
    }

    pub fn record_heartbeat(&self, heartbeat: Heartbeat) {
        let now = self.clock.now();
        let mut agents = self.lock();
        let entry = agents
            .entry(heartbeat.name.clone())
            .or_insert_with(|| Entry {
                registration: Registration {
                    name: heartbeat.name.clone(),
                    ..Default::default()
                },
                registered_at: now,
                last_seen: now,
                heartbeat: None,
                reported_offline: false,
            });
        if entry.reported_offline {
            tracing::info!(agent = %heartbeat.name, "agent is back online");
            entry.reported_offline = false;
            self.bump();
        }
        entry.last_seen = now;
        entry.heartbeat = Some(heartbeat);
    }

    fn is_offline(&self, entry: &Entry, now: SystemTime) -> bool {
        now.duration_since(entry.last_seen)
            .is_ok_and(|idle| idle > self.offline_after)
    }

    /// All agents, sorted by name (sekia returned Go's random map order).
    pub fn agents(&self) -> Vec<AgentInfo> {
        let now = self.clock.now();
        self.lock()
            .values()
            .map(|e| {
                let status = if self.is_offline(e, now) {
                    OFFLINE.to_string()
                } else {
                    e.heartbeat
                        .as_ref()
                        .map(|h| h.status.clone())
                        .unwrap_or_else(|| "unknown".into())
                };
                AgentInfo {
                    name: e.registration.name.clone(),
                    version: e.registration.version.clone(),
                    status,
                    capabilities: e.registration.capabilities.clone(),
                    commands: e.registration.commands.clone(),
                    registered_at: go_time(e.registered_at),
                    last_heartbeat: go_time(e.last_seen),
                    events_processed: e
                        .heartbeat
                        .as_ref()
                        .map(|h| h.events_processed)
                        .unwrap_or_default(),
                    errors: e.heartbeat.as_ref().map(|h| h.errors).unwrap_or_default(),
                }
            })
            .collect()
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Whether some agent is still counted online, so a sweep could find it gone. With none
    /// (no agents, or all already offline) there is nothing to sweep until the next beat.
    pub fn has_online_agents(&self) -> bool {
        self.lock().values().any(|e| !e.reported_offline)
    }

    /// Logs agents that have just gone offline; returns their names.
    pub fn sweep(&self) -> Vec<String> {
        let now = self.clock.now();
        let mut went_offline = Vec::new();
        let offline_after = self.offline_after;
        for (name, entry) in self.lock().iter_mut() {
            let offline = now
                .duration_since(entry.last_seen)
                .is_ok_and(|idle| idle > offline_after);
            if offline && !entry.reported_offline {
                entry.reported_offline = true;
                tracing::warn!(agent = %name, missed = ?offline_after, "agent missed its heartbeats; now offline");
                went_offline.push(name.clone());
            }
        }
        if !went_offline.is_empty() {
            self.bump();
        }
        went_offline
    }

    /// Subscribes to registrations and heartbeats, then feeds them in until `stop`. Subscribing
    /// happens before this returns, so nothing published after start-up is missed.
    pub async fn spawn(
        self: &Arc<Self>,
        bus: &dyn Bus,
        sweep_every: Duration,
        stop: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, BusError> {
        let mut registrations = bus.subscribe(subjects::REGISTRY).await?;
        let mut heartbeats = bus.subscribe(subjects::HEARTBEAT_ALL).await?;
        let registry = Arc::clone(self);
        Ok(tokio::spawn(async move {
            let mut sweep = tokio::time::interval(sweep_every);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    Some(msg) = registrations.next() => match serde_json::from_slice::<Registration>(&msg.payload) {
                        Ok(r) => registry.record_registration(r),
                        Err(e) => tracing::warn!(subject = %msg.subject, error = %e, "ignoring malformed registration"),
                    },
                    Some(msg) = heartbeats.next() => match serde_json::from_slice::<Heartbeat>(&msg.payload) {
                        Ok(h) => registry.record_heartbeat(h),
                        Err(e) => tracing::warn!(subject = %msg.subject, error = %e, "ignoring malformed heartbeat"),
                    },
                    // Only while an agent could go offline: an idle daemon with no agents (the
                    // desktop app's usual state) does not wake up for nothing. The guard is
                    // looked at again after every registration and beat.
                    _ = sweep.tick(), if registry.has_online_agents() => { registry.sweep(); }
                    else => break,
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn hb(name: &str) -> Heartbeat {
        Heartbeat {
            name: name.into(),
            status: "running".into(),
            last_event: String::new(),
            events_processed: 3,
            errors: 1,
        }
    }

    #[test]
    fn offline_after_missed_beats_and_back() {
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let reg = Registry::new(clock.clone(), Duration::from_secs(30), 3);
        assert!(!reg.has_online_agents(), "no agents: no sweeps");
        reg.record_registration(Registration {
            name: "a".into(),
            version: "1".into(),
            capabilities: vec!["x".into()],
            commands: vec!["ping".into()],
            ..Default::default()
        });
        reg.record_heartbeat(hb("a"));
        assert_eq!(reg.agents()[0].status, "running");
        clock.advance(Duration::from_secs(90));
        assert_eq!(
            reg.agents()[0].status,
            "running",
            "exactly 3 intervals is not yet missed"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(reg.agents()[0].status, OFFLINE);
        assert!(reg.has_online_agents(), "a sweep is due");
        assert_eq!(reg.sweep(), vec!["a".to_string()]);
        assert!(reg.sweep().is_empty(), "a transition is reported once");
        assert!(!reg.has_online_agents(), "nothing left to sweep for");
        reg.record_heartbeat(hb("a"));
        assert!(reg.has_online_agents());
        let a = &reg.agents()[0];
        assert_eq!(a.status, "running");
        assert_eq!((a.events_processed, a.errors), (3, 1));
        assert_eq!(
            a.capabilities,
            vec!["x".to_string()],
            "heartbeat keeps the registration"
        );
    }

    #[test]
    fn heartbeat_from_unknown_agent_creates_bare_entry() {
        let clock = Arc::new(ManualClock::new(0));
        let reg = Registry::new(clock, Duration::from_secs(30), 3);
        reg.record_heartbeat(hb("ghost"));
        let a = &reg.agents()[0];
        assert_eq!(a.name, "ghost");
        assert!(a.commands.is_empty());
        assert_eq!(reg.count(), 1);
    }
}
