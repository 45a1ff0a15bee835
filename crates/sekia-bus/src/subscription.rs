use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;

use crate::message::Message;
use crate::stats::{Counters, DropTracker};

/// Default queue length of a subscription: enough to ride out a burst of a few
/// milliseconds at full LocalBus speed without dropping, small enough (8192 × ~64
/// bytes plus payloads) that a stuck consumer cannot take the process's memory.
pub const DEFAULT_CAPACITY: usize = 8192;

/// What a subscription does when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the new message, count it (see [`Subscription::dropped`] and
    /// [`BusStats::dropped_slow_consumer`](crate::BusStats)) and log a warning once
    /// per burst. The publisher never waits, so one slow consumer (a UI, a log tail)
    /// cannot stall the event path for everyone else. The default.
    #[default]
    DropNew,
    /// Make the publisher wait until the subscriber has room: back-pressure, nothing
    /// lost. For consumers that must see everything, such as the event store. The
    /// cost is that a stuck consumer stalls every publisher of matching subjects, and
    /// a task that publishes to a subject it consumes with `Wait` can deadlock
    /// itself. On NATS a remote publisher cannot be held back; see the README.
    Wait,
}

/// Options for [`Bus::subscribe_with`](crate::Bus::subscribe_with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// How many messages may wait in the subscription's queue. Must be > 0.
    /// LocalBus honours it per subscription; NatsBus uses the client-wide
    /// [`NatsConfig::subscription_capacity`](crate::NatsConfig) instead.
    pub capacity: usize,
    /// What happens when the queue is full.
    pub overflow: Overflow,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            overflow: Overflow::DropNew,
        }
    }
}

impl SubscribeOptions {
    /// Lossless delivery with back-pressure ([`Overflow::Wait`]), default capacity.
    pub fn lossless() -> Self {
        Self {
            overflow: Overflow::Wait,
            ..Self::default()
        }
    }

    /// The same options with another capacity.
    pub fn with_capacity(self, capacity: usize) -> Self {
        Self { capacity, ..self }
    }
}

pub(crate) enum Inner {
    Local(crate::local::LocalReceiver),
    Nats(crate::nats::NatsReceiver),
    Stream(Pin<Box<dyn Stream<Item = Message> + Send>>),
}

/// A live subscription: a [`Stream`] of the [`Message`]s whose subject matches its
/// pattern, in publish order per publisher.
///
/// Dropping it unsubscribes; nothing more is queued for it afterwards. The stream
/// ends (`None`) when the bus is closed.
pub struct Subscription {
    pattern: Box<str>,
    inner: Inner,
    drops: Arc<DropTracker>,
    counters: Arc<Counters>,
}

impl Subscription {
    pub(crate) fn new(
        pattern: &str,
        inner: Inner,
        drops: Arc<DropTracker>,
        counters: Arc<Counters>,
    ) -> Self {
        counters.subscriptions.add(1);
        Self {
            pattern: pattern.into(),
            inner,
            drops,
            counters,
        }
    }

    /// Wraps any stream as a subscription, for `Bus` implementations outside this
    /// crate (test doubles, adapters). Its counters are its own, not a bus's.
    pub fn from_stream(
        pattern: &str,
        stream: impl Stream<Item = Message> + Send + 'static,
    ) -> Self {
        Self::new(
            pattern,
            Inner::Stream(Box::pin(stream)),
            Arc::new(DropTracker::new(pattern.to_owned())),
            Arc::new(Counters::default()),
        )
    }

    /// The pattern this subscription was created with.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// How many messages this subscription has lost because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.drops.total()
    }
}

impl Stream for Subscription {
    type Item = Message;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let this = &mut *self;
        let polled = match &mut this.inner {
            Inner::Local(rx) => rx.poll_next(cx),
            Inner::Nats(rx) => rx.poll_next(cx),
            Inner::Stream(s) => s.as_mut().poll_next(cx),
        };
        if let Poll::Ready(Some(_)) = &polled {
            this.counters.delivered.add(1);
        }
        polled
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.counters.subscriptions.sub(1);
        self.drops.report_on_close();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Local(_) => "local",
            Inner::Nats(_) => "nats",
            Inner::Stream(_) => "stream",
        };
        f.debug_struct("Subscription")
            .field("pattern", &self.pattern)
            .field("kind", &kind)
            .field("dropped", &self.dropped())
            .finish()
    }
}
