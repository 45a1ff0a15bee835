//! LocalBus: the in-process bus, the embedded default.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::bus::{Bus, Publish};
use crate::error::BusError;
use crate::message::{Message, Subject};
use crate::stats::{BusStats, Counters, DropTracker};
use crate::subscription::{Inner, Overflow, SubscribeOptions, Subscription};
use sekia_protocol::subjects::{Pattern, validate_subject};

/// How many messages a subscription takes from its channel in one go. Taking a
/// batch returns the queue slots to publishers in one step (one semaphore update
/// instead of one per message) and lets a waiting publisher run ahead, which is
/// most of LocalBus's throughput. It adds at most this many messages to the
/// subscription's bound.
const RECV_BATCH: usize = 128;

/// The in-process bus: tokio channels with NATS subject semantics. No port, no
/// external process, no configuration.
///
/// Publishing matches the subject against a snapshot of the subscription list
/// (patterns are tokenised once, at subscribe time) and `try_send`s into each
/// matching subscription's bounded queue; see [`Overflow`] for what happens when one
/// is full. Cloning gives another handle to the same bus.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<LocalInner>,
}

struct LocalInner {
    /// Copy-on-write list: publishers clone the `Arc` under a short read lock and
    /// then work without any lock; (un)subscribing swaps in a new list.
    subs: RwLock<Arc<[Arc<LocalSub>]>>,
    next_id: AtomicU64,
    counters: Arc<Counters>,
    closed: AtomicBool,
    reconnects: watch::Sender<u64>,
}

struct LocalSub {
    id: u64,
    pattern: Pattern,
    tx: mpsc::Sender<Message>,
    overflow: Overflow,
    drops: Arc<DropTracker>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBus")
            .field("stats", &self.stats())
            .finish()
    }
}

impl LocalBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        let (reconnects, _) = watch::channel(0);
        Self {
            inner: Arc::new(LocalInner {
                subs: RwLock::new(Arc::from(Vec::new())),
                next_id: AtomicU64::new(1),
                counters: Arc::new(Counters::default()),
                closed: AtomicBool::new(false),
                reconnects,
            }),
        }
    }

    fn snapshot(&self) -> Arc<[Arc<LocalSub>]> {
        // The lock only guards an Arc swap; a panic while holding it cannot leave the
        // list half-updated, so a poisoned lock is still safe to use.
        self.inner
            .subs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl LocalBus {
    /// Queues `msg` for `sub` without waiting. Returns it back only if `sub` is full
    /// and wants the publisher to wait ([`Overflow::Wait`]).
    #[inline]
    fn offer(&self, sub: &LocalSub, msg: Message) -> Option<Message> {
        match sub.tx.try_send(msg) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(msg)) => match sub.overflow {
                Overflow::DropNew => {
                    sub.drops.record(1, &self.inner.counters);
                    None
                }
                Overflow::Wait => Some(msg),
            },
            // Dropped subscription not yet removed from the list: nobody listens.
            Err(mpsc::error::TrySendError::Closed(_)) => None,
        }
    }
}

impl LocalInner {
    fn update_subs(&self, f: impl FnOnce(&mut Vec<Arc<LocalSub>>)) {
        let mut guard = self.subs.write().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<Arc<LocalSub>> = guard.iter().cloned().collect();
        f(&mut list);
        *guard = Arc::from(list);
    }
}

#[async_trait]
impl Bus for LocalBus {
    fn publish<'a>(&'a self, subject: &'a str, payload: Bytes) -> Publish<'a> {
        if let Err(reason) = validate_subject(subject) {
            return Publish::ready(Err(BusError::invalid(subject, reason)));
        }
        if self.inner.closed.load(Ordering::Acquire) {
            return Publish::ready(Err(BusError::Closed));
        }
        let subs = self.snapshot();
        self.inner.counters.published.add(1);
        // The subject is copied once, and only if someone listens.
        let mut shared_subject: Option<Subject> = None;
        for (i, sub) in subs.iter().enumerate() {
            if !sub.pattern.matches(subject) {
                continue;
            }
            let msg = Message {
                subject: shared_subject
                    .get_or_insert_with(|| Subject::from(subject))
                    .clone(),
                payload: payload.clone(),
            };
            if let Some(msg) = self.offer(sub, msg) {
                // A full Overflow::Wait queue: finish this and the remaining
                // subscriptions asynchronously, in order.
                let subject_shared = msg.subject.clone();
                return Publish::new(async move {
                    // Err: the subscription was dropped meanwhile; nobody to deliver to.
                    let _ = subs[i].tx.send(msg).await;
                    for sub in subs[i + 1..].iter() {
                        if !sub.pattern.matches(&subject_shared) {
                            continue;
                        }
                        let msg = Message {
                            subject: subject_shared.clone(),
                            payload: payload.clone(),
                        };
                        if let Some(msg) = self.offer(sub, msg) {
                            let _ = sub.tx.send(msg).await;
                        }
                    }
                    Ok(())
                });
            }
        }
        Publish::ready(Ok(()))
    }

    async fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, BusError> {
        let parsed = Pattern::new(pattern).map_err(|reason| BusError::invalid(pattern, reason))?;
        if options.capacity == 0 {
            return Err(BusError::InvalidConfig(
                "subscription capacity must be at least 1".into(),
            ));
        }
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(options.capacity);
        let drops = Arc::new(DropTracker::new(pattern.to_owned()));
        let sub = Arc::new(LocalSub {
            id,
            pattern: parsed,
            tx,
            overflow: options.overflow,
            drops: drops.clone(),
        });
        self.inner.update_subs(|list| list.push(sub));
        let receiver = LocalReceiver {
            rx,
            batch: Vec::new(),
            id,
            bus: Arc::downgrade(&self.inner),
        };
        Ok(Subscription::new(
            pattern,
            Inner::Local(receiver),
            drops,
            self.inner.counters.clone(),
        ))
    }

    fn reconnects(&self) -> watch::Receiver<u64> {
        self.inner.reconnects.subscribe()
    }

    fn stats(&self) -> BusStats {
        self.inner.counters.snapshot(0, true)
    }

    async fn flush(&self) -> Result<(), BusError> {
        // `publish` returns only once the message is in every matching queue.
        Ok(())
    }

    async fn close(&self) -> Result<(), BusError> {
        self.inner.closed.store(true, Ordering::Release);
        // Dropping the senders ends each subscription once its queue is read out.
        self.inner.update_subs(|list| list.clear());
        Ok(())
    }
}

/// The receiving half of a LocalBus subscription.
pub(crate) struct LocalReceiver {
    rx: mpsc::Receiver<Message>,
    /// Messages taken from `rx` but not yet yielded, in reverse order (popped from
    /// the end).
    batch: Vec<Message>,
    id: u64,
    bus: Weak<LocalInner>,
}

impl LocalReceiver {
    #[inline]
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        if let Some(msg) = self.batch.pop() {
            return Poll::Ready(Some(msg));
        }
        match self.rx.poll_recv_many(cx, &mut self.batch, RECV_BATCH) {
            Poll::Ready(0) => Poll::Ready(None),
            Poll::Ready(_) => {
                self.batch.reverse();
                Poll::Ready(self.batch.pop())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for LocalReceiver {
    fn drop(&mut self) {
        // Close first so a publisher blocked on this queue (Overflow::Wait) is
        // released at once, then take the subscription off the list.
        self.rx.close();
        if let Some(bus) = self.bus.upgrade() {
            let id = self.id;
            bus.update_subs(|list| list.retain(|s| s.id != id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::time::Duration;

    #[tokio::test]
    async fn wait_blocks_the_publisher_until_there_is_room() {
        let bus = LocalBus::new();
        let mut sub = bus
            .subscribe_with("w", SubscribeOptions::lossless().with_capacity(2))
            .await
            .expect("subscribe");
        bus.publish("w", Bytes::from_static(b"1")).await.expect("1");
        bus.publish("w", Bytes::from_static(b"2")).await.expect("2");
        let third = bus.publish("w", Bytes::from_static(b"3"));
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut third)
                .await
                .is_err(),
            "publisher must wait while the queue is full"
        );
        let first = sub.next().await.expect("message");
        assert_eq!(&first.payload[..], b"1");
        third.await.expect("3 goes through once there is room");
        let rest: Vec<_> = (&mut sub).take(2).map(|m| m.payload).collect().await;
        assert_eq!(
            rest,
            vec![Bytes::from_static(b"2"), Bytes::from_static(b"3")]
        );
        assert_eq!(sub.dropped(), 0);
    }

    #[tokio::test]
    async fn a_waiting_publish_still_reaches_the_later_subscribers() {
        let bus = LocalBus::new();
        let mut waiting = bus
            .subscribe_with("m.x", SubscribeOptions::lossless().with_capacity(1))
            .await
            .expect("subscribe");
        let mut later = bus.subscribe("m.*").await.expect("subscribe");
        let mut unrelated = bus.subscribe("other").await.expect("subscribe");
        bus.publish("m.x", Bytes::from_static(b"1"))
            .await
            .expect("1");
        let second = bus.publish("m.x", Bytes::from_static(b"2"));
        tokio::pin!(second);
        assert!(
            futures::poll!(second.as_mut()).is_pending(),
            "waits for the full queue"
        );
        assert_eq!(
            later.next().await.map(|m| m.payload),
            Some(Bytes::from_static(b"1"))
        );
        assert_eq!(
            waiting.next().await.map(|m| m.payload),
            Some(Bytes::from_static(b"1"))
        );
        second.await.expect("2");
        assert_eq!(
            waiting.next().await.map(|m| m.payload),
            Some(Bytes::from_static(b"2"))
        );
        let m = later.next().await.expect("2 reaches the later subscriber");
        assert_eq!((m.subject.as_str(), &m.payload[..]), ("m.x", &b"2"[..]));
        assert!(futures::FutureExt::now_or_never(unrelated.next()).is_none());
        assert_eq!(bus.stats().published, 2);
    }

    #[tokio::test]
    async fn dropping_a_waited_on_subscription_releases_the_publisher() {
        let bus = LocalBus::new();
        let sub = bus
            .subscribe_with("w", SubscribeOptions::lossless().with_capacity(1))
            .await
            .expect("subscribe");
        bus.publish("w", Bytes::new()).await.expect("1");
        let bus2 = bus.clone();
        let blocked = tokio::spawn(async move { bus2.publish("w", Bytes::new()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(sub);
        tokio::time::timeout(Duration::from_secs(2), blocked)
            .await
            .expect("publisher released")
            .expect("join")
            .expect("publish ok");
        assert_eq!(bus.stats().subscriptions, 0);
    }

    #[tokio::test]
    async fn close_ends_streams_after_queued_messages() {
        let bus = LocalBus::new();
        let mut sub = bus.subscribe("c.>").await.expect("subscribe");
        bus.publish("c.1", Bytes::from_static(b"x"))
            .await
            .expect("publish");
        bus.close().await.expect("close");
        assert_eq!(
            sub.next().await.map(|m| m.payload),
            Some(Bytes::from_static(b"x"))
        );
        assert_eq!(sub.next().await, None);
        assert!(matches!(
            bus.publish("c.1", Bytes::new()).await,
            Err(BusError::Closed)
        ));
        assert!(matches!(bus.subscribe("c").await, Err(BusError::Closed)));
    }

    #[tokio::test]
    async fn zero_capacity_is_rejected() {
        let bus = LocalBus::new();
        let err = bus
            .subscribe_with("a", SubscribeOptions::default().with_capacity(0))
            .await
            .expect_err("zero capacity");
        assert!(matches!(err, BusError::InvalidConfig(_)), "{err}");
    }
}
