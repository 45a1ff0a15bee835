use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::error::BusError;
use crate::stats::BusStats;
use crate::subscription::{SubscribeOptions, Subscription};

/// The event bus every part of sekia talks through: publish a payload on a subject,
/// subscribe to a pattern. Object-safe, meant to be shared as `Arc<dyn Bus>` so that
/// the daemon can choose LocalBus or NatsBus at start and nothing else cares.
///
/// Delivery is at-most-once and in order per publisher. Subjects follow the NATS
/// rules on both implementations (see the crate docs); invalid ones are errors.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes `payload` on `subject` (no wildcards). Await the result.
    ///
    /// Completes once the message is queued for every matching local subscriber
    /// (LocalBus) or handed to the NATS client (NatsBus); with an
    /// [`Overflow::Wait`](crate::Overflow::Wait) subscriber it may wait for room.
    ///
    /// Not an `async fn` because it is the hot path: most publishes finish without
    /// waiting, and [`Publish`] then carries the result without the heap
    /// allocation an `async_trait` method costs on every call.
    fn publish<'a>(&'a self, subject: &'a str, payload: Bytes) -> Publish<'a>;

    /// Subscribes to `pattern` (`*` = one token, `>` = one or more trailing tokens)
    /// with the default options: capacity 8192, drop new messages when full.
    async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        self.subscribe_with(pattern, SubscribeOptions::default())
            .await
    }

    /// Subscribes to `pattern` with explicit queue capacity and overflow policy.
    async fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, BusError>;

    /// A counter of re-established connections that changes after each reconnect.
    ///
    /// Subscriptions survive a reconnect, but a server that restarted has forgotten
    /// everything else, so an agent watches this to re-send its registration (see
    /// [`presence`](crate::presence)). LocalBus never reconnects: its value stays 0.
    fn reconnects(&self) -> watch::Receiver<u64>;

    /// A snapshot of the bus's counters.
    fn stats(&self) -> BusStats;

    /// Waits until everything published so far has left this process (NatsBus) or
    /// been queued (LocalBus, where that is already true when `publish` returns).
    async fn flush(&self) -> Result<(), BusError>;

    /// Graceful shutdown: flushes outstanding publishes, then ends every
    /// subscription (their streams yield what is already queued, then `None`).
    /// Later publishes and subscribes fail with [`BusError::Closed`].
    async fn close(&self) -> Result<(), BusError>;
}

/// The future returned by [`Bus::publish`].
///
/// Either already complete (the common case: nothing had to wait, nothing was
/// allocated) or a boxed continuation for a publish that has to wait for room.
#[must_use = "a publish does nothing unless awaited"]
pub struct Publish<'a>(PublishState<'a>);

enum PublishState<'a> {
    Done(Option<Result<(), BusError>>),
    Waiting(BoxFuture<'a, Result<(), BusError>>),
}

impl<'a> Publish<'a> {
    /// A publish that has already completed with `result`.
    pub fn ready(result: Result<(), BusError>) -> Self {
        Self(PublishState::Done(Some(result)))
    }

    /// A publish that completes when `future` does.
    pub fn new(future: impl Future<Output = Result<(), BusError>> + Send + 'a) -> Self {
        Self(PublishState::Waiting(Box::pin(future)))
    }
}

impl Future for Publish<'_> {
    type Output = Result<(), BusError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            // Like `std::future::Ready`, polling again after completion is a bug in
            // the caller.
            PublishState::Done(result) => {
                Poll::Ready(result.take().expect("Publish polled after completion"))
            }
            PublishState::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for Publish<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.0 {
            PublishState::Done(_) => "done",
            PublishState::Waiting(_) => "waiting",
        };
        f.debug_tuple("Publish").field(&state).finish()
    }
}
