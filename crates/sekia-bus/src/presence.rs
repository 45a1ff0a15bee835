//! Agent presence: registration and heartbeats, kept up across reconnects.
//!
//! An agent calls [`Presence::start`] once it is connected. That publishes its
//! [`Registration`] on `sekia.registry`, a [`Heartbeat`] on
//! `sekia.heartbeat.<name>` at once and then every interval (both types and both
//! subjects are `sekia-protocol`'s), and — unlike the Go
//! sekia — publishes the registration again after every reconnect, because a
//! restarted NATS server or daemon has forgotten the agent's version and commands.
//!
//! The agent reports its work through the handle ([`PresenceHandle::record_event`],
//! [`PresenceHandle::record_error`]); the next heartbeat carries the counts.
//! Dropping the handle or calling [`PresenceHandle::stop`] stops the heartbeats.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::bus::Bus;
use crate::error::BusError;
use sekia_protocol::subjects::{self, SubjectError};
use sekia_protocol::types::STATUS_RUNNING;
use sekia_protocol::{GO_ZERO_TIME, Heartbeat, Registration};

/// Where `last_event` times come from: sekia's shared clock, a parameter rather than a
/// hidden call to `SystemTime::now` so that tests can pin the time.
pub type Clock = Arc<dyn sekia_protocol::Clock>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(sekia_protocol::SystemClock)
}

/// Starts presence for an agent; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct Presence;

impl Presence {
    /// Publishes the registration and a first heartbeat, then keeps heartbeating every
    /// `heartbeat_interval` (the Go sekia uses 30 s) until the handle is stopped or
    /// dropped. Uses the wall clock for `last_event`.
    ///
    /// Fails if the agent name is not a single subject token (it becomes the last
    /// token of `sekia.heartbeat.<name>`), if the interval is zero, or if the first
    /// publishes fail.
    pub async fn start(
        bus: Arc<dyn Bus>,
        registration: Registration,
        heartbeat_interval: Duration,
    ) -> Result<PresenceHandle, BusError> {
        Self::start_with_clock(bus, registration, heartbeat_interval, system_clock()).await
    }

    /// [`Presence::start`] with an explicit clock.
    pub async fn start_with_clock(
        bus: Arc<dyn Bus>,
        registration: Registration,
        heartbeat_interval: Duration,
        clock: Clock,
    ) -> Result<PresenceHandle, BusError> {
        if heartbeat_interval.is_zero() {
            return Err(BusError::InvalidConfig(
                "heartbeat interval must be greater than zero".into(),
            ));
        }
        let name = registration.name.clone();
        let heartbeat_subject = subjects::heartbeat(&name).map_err(|reason| match reason {
            SubjectError::Dot(_) => BusError::InvalidConfig(format!(
                "agent name {name:?} must be a single subject token (no '.')"
            )),
            reason => BusError::invalid(&name, reason),
        })?;
        let registration_json = serde_json::to_vec(&registration)
            .map(Bytes::from)
            .map_err(|e| BusError::InvalidConfig(format!("cannot encode registration: {e}")))?;
        let state = Arc::new(State {
            heartbeat_subject,
            name,
            registration_json,
            events: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_event: Mutex::new(None),
            clock,
            registrations_sent: AtomicU64::new(0),
            heartbeats_sent: AtomicU64::new(0),
        });

        // Take the reconnect counter before the first publish, so a reconnect that
        // happens in between is not missed.
        let mut reconnects = bus.reconnects();
        reconnects.borrow_and_update();
        state.send_registration(bus.as_ref()).await?;
        state.send_heartbeat(bus.as_ref()).await?;

        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            let state = task_state;
            let mut tick =
                tokio::time::interval_at(Instant::now() + heartbeat_interval, heartbeat_interval);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut watch_reconnects = true;
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    _ = tick.tick() => {
                        if let Err(e) = state.send_heartbeat(bus.as_ref()).await {
                            tracing::warn!(agent = %state.name, error = %e, "heartbeat not sent");
                        }
                    }
                    changed = reconnects.changed(), if watch_reconnects => {
                        if changed.is_err() {
                            // The bus is gone; keep heartbeating until stopped.
                            watch_reconnects = false;
                            continue;
                        }
                        let n = *reconnects.borrow_and_update();
                        tracing::info!(agent = %state.name, reconnects = n, "re-sending registration after reconnect");
                        if let Err(e) = state.send_registration(bus.as_ref()).await {
                            tracing::warn!(agent = %state.name, error = %e, "registration not re-sent");
                        }
                        if let Err(e) = state.send_heartbeat(bus.as_ref()).await {
                            tracing::warn!(agent = %state.name, error = %e, "heartbeat not sent");
                        }
                    }
                }
            }
        });
        Ok(PresenceHandle {
            state,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

struct State {
    name: String,
    heartbeat_subject: String,
    registration_json: Bytes,
    events: AtomicU64,
    errors: AtomicU64,
    last_event: Mutex<Option<SystemTime>>,
    clock: Clock,
    registrations_sent: AtomicU64,
    heartbeats_sent: AtomicU64,
}

impl State {
    async fn send_registration(&self, bus: &dyn Bus) -> Result<(), BusError> {
        bus.publish(subjects::REGISTRY, self.registration_json.clone())
            .await?;
        self.registrations_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn heartbeat(&self) -> Heartbeat {
        let last_event = *self.last_event.lock().unwrap_or_else(|e| e.into_inner());
        Heartbeat {
            name: self.name.clone(),
            status: STATUS_RUNNING.into(),
            last_event: last_event.map_or_else(
                || GO_ZERO_TIME.to_owned(),
                sekia_protocol::gotime::format_local,
            ),
            events_processed: self.events.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    async fn send_heartbeat(&self, bus: &dyn Bus) -> Result<(), BusError> {
        let json = serde_json::to_vec(&self.heartbeat())
            .map_err(|e| BusError::InvalidConfig(format!("cannot encode heartbeat: {e}")))?;
        bus.publish(&self.heartbeat_subject, Bytes::from(json))
            .await?;
        self.heartbeats_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A running presence. Dropping it stops the heartbeats (as does [`stop`](Self::stop)).
pub struct PresenceHandle {
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl PresenceHandle {
    /// Counts one processed event and stamps `last_event` with the clock.
    pub fn record_event(&self) {
        let now = self.state.clock.now();
        *self
            .state
            .last_event
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(now);
        self.state.events.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one error.
    pub fn record_error(&self) {
        self.state.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Events recorded so far.
    pub fn events_processed(&self) -> u64 {
        self.state.events.load(Ordering::Relaxed)
    }

    /// Errors recorded so far.
    pub fn errors(&self) -> u64 {
        self.state.errors.load(Ordering::Relaxed)
    }

    /// Registrations published so far (1 plus one per reconnect).
    pub fn registrations_sent(&self) -> u64 {
        self.state.registrations_sent.load(Ordering::Relaxed)
    }

    /// Heartbeats published so far.
    pub fn heartbeats_sent(&self) -> u64 {
        self.state.heartbeats_sent.load(Ordering::Relaxed)
    }

    /// The heartbeat that would be sent now.
    pub fn heartbeat(&self) -> Heartbeat {
        self.state.heartbeat()
    }

    /// Stops the heartbeats; when this returns, nothing more will be published.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // A JoinError here means the task panicked; it is stopped either way.
            let _ = task.await;
        }
    }
}

impl Drop for PresenceHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for PresenceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceHandle")
            .field("name", &self.state.name)
            .field("events_processed", &self.events_processed())
            .field("errors", &self.errors())
            .field("registrations_sent", &self.registrations_sent())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalBus;
    use futures::StreamExt;

    fn registration(name: &str) -> Registration {
        Registration {
            name: name.into(),
            version: "1".into(),
            capabilities: vec![],
            commands: vec![],
            config_schema: None,
        }
    }

    #[test]
    fn last_event_is_go_rfc3339_nano_in_the_local_offset() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let text = sekia_protocol::gotime::format_local(t);
        let parsed = chrono::DateTime::parse_from_rfc3339(&text).expect(&text);
        assert_eq!(SystemTime::from(parsed), t, "{text}");
        let local: chrono::DateTime<chrono::Local> = t.into();
        let offset = local.offset().local_minus_utc();
        assert_eq!(parsed.offset().local_minus_utc(), offset, "{text}");
        if offset == 0 {
            assert_eq!(text, "2023-11-14T22:13:20.25Z");
        } else {
            assert!(text.starts_with("2023-11-1"), "{text}");
            assert!(text.contains(".25"), "{text}");
        }
        let whole = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(
            !sekia_protocol::gotime::format_local(whole).contains('.'),
            "no fraction when whole"
        );
    }

    #[tokio::test]
    async fn rejects_bad_names_and_zero_interval() {
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
        for name in ["", "a.b", "a b", "*", ">"] {
            let err = Presence::start(bus.clone(), registration(name), Duration::from_secs(1))
                .await
                .expect_err(name);
            assert!(
                matches!(
                    err,
                    BusError::InvalidSubject { .. } | BusError::InvalidConfig(_)
                ),
                "{name:?}: {err:?}"
            );
        }
        let err = Presence::start(bus, registration("ok"), Duration::ZERO)
            .await
            .expect_err("zero interval");
        assert!(matches!(err, BusError::InvalidConfig(_)), "{err:?}");
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_heartbeats() {
        let local = LocalBus::new();
        let bus: Arc<dyn Bus> = Arc::new(local.clone());
        let mut beats = local
            .subscribe("sekia.heartbeat.d")
            .await
            .expect("subscribe");
        let handle = Presence::start(bus, registration("d"), Duration::from_millis(10))
            .await
            .expect("start");
        assert!(beats.next().await.is_some(), "immediate heartbeat");
        assert!(beats.next().await.is_some(), "periodic heartbeat");
        drop(handle);
        // Let an in-flight tick (if any) land, then expect silence.
        tokio::time::sleep(Duration::from_millis(15)).await;
        while futures::FutureExt::now_or_never(beats.next()).is_some() {}
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            futures::FutureExt::now_or_never(beats.next()).is_none(),
            "no heartbeat after drop"
        );
    }
}
