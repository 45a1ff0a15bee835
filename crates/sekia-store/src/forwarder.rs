//! Bus → writer: one task per subscription decodes messages and queues them
//! for the writer.
//!
//! The queue is bounded and the task awaits room, and the subscription itself
//! is lossless (`Overflow::Wait`): when the writer falls behind, the pressure
//! travels back to the publishers instead of anything being dropped.

use futures::{FutureExt, StreamExt};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use sekia_bus::{Message, Subscription};

use crate::ingest::{self, Inbound};
use crate::stats::Counters;

/// Which kind of message a subscription carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Events,
    Commands,
}

pub(crate) struct Forwarder {
    pub kind: Kind,
    pub tx: mpsc::Sender<Inbound>,
    pub counters: Arc<Counters>,
    pub stop: watch::Receiver<bool>,
    pub max_payload: usize,
    pub secret: Arc<str>,
}

impl Forwarder {
    /// Runs until the bus closes the subscription or the store is closed; on
    /// close, what is already queued in the subscription is still forwarded.
    pub(crate) async fn run(mut self, mut sub: Subscription) {
        let mut last_dropped = 0u64;
        loop {
            let msg = tokio::select! {
                biased;
                m = sub.next() => m,
                _ = self.stop.wait_for(|s| *s) => None,
            };
            let Some(m) = msg else {
                if *self.stop.borrow() {
                    while let Some(Some(m)) = sub.next().now_or_never() {
                        if !self.forward(m).await {
                            break;
                        }
                    }
                }
                break;
            };
            if !self.forward(m).await {
                break;
            }
            let dropped = sub.dropped();
            if dropped > last_dropped {
                Counters::add(&self.counters.dropped, dropped - last_dropped);
                last_dropped = dropped;
            }
        }
    }

    /// Decodes and queues one message; false once the writer is gone.
    async fn forward(&self, m: Message) -> bool {
        Counters::add(&self.counters.received, 1);
        let decoded = match self.kind {
            Kind::Events => {
                ingest::decode_event(&m.subject, &m.payload, self.max_payload).map(Inbound::Event)
            }
            Kind::Commands => {
                ingest::decode_command(&m.subject, &m.payload, &self.secret, self.max_payload)
                    .map(Inbound::Command)
            }
        };
        match decoded {
            Ok(inbound) => {
                if self.tx.send(inbound).await.is_err() {
                    Counters::add(&self.counters.failed, 1);
                    tracing::error!("store writer is gone; message not stored");
                    return false;
                }
            }
            Err(e) => {
                Counters::add(&self.counters.invalid, 1);
                tracing::warn!(error = %e, "store skipped an undecodable message");
            }
        }
        true
    }
}
