//! The [`Store`] handle the daemon holds: opening, attaching to the bus,
//! async queries, live events, shutdown.

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use sekia_bus::{Bus, SubscribeOptions};
use sekia_protocol::clock::Clock;
use sekia_protocol::subjects::{COMMANDS_ALL, EVENTS_ALL};

use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::forwarder::{Forwarder, Kind};
use crate::indexer::{self, Indexer};
use crate::ingest::Inbound;
use crate::query::Reader;
use crate::records::{CommandQuery, EventQuery, Page, StoredCommand, StoredEvent};
use crate::stats::{Counters, Progress, StoreStats};
use crate::writer::{self, Writer};
use crate::{fsperm, fts, schema};

/// Read connections kept for reuse.
const READER_POOL: usize = 4;

/// Page cache of an indexer's connection for the database it reads, in KiB.
const INDEXER_DB_CACHE_KIB: u32 = 8 * 1024;

/// The event store: cheap to clone, all clones share one writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    tx: Mutex<Option<mpsc::Sender<Inbound>>>,
    counters: Arc<Counters>,
    progress: watch::Receiver<Progress>,
    live: broadcast::Sender<Arc<StoredEvent>>,
    readers: Mutex<Vec<Reader>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    indexers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    forwarders: Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.config.path)
            .field("progress", &*self.inner.progress.borrow())
            .finish()
    }
}

impl Store {
    /// Creates or opens the database (folder 0700, file 0600) and its search
    /// index (`<file>-index0`, `<file>-index1`, 0600), migrates the database
    /// forward, and starts the writer and indexer threads. Must be called
    /// inside a tokio runtime. Nothing is ingested until [`Store::attach`].
    pub fn open(config: StoreConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        config.validate()?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        fsperm::prepare_db_file(&config.path)?;
        let mut conn = schema::open_connection(&config.path, config.cache_kib)?;
        schema::migrate(&mut conn, &config.path)?;
        // Each indexer only reads the database: a small cache there, a big
        // one for the index shard it writes.
        let mut shards = Vec::with_capacity(fts::SHARDS);
        for shard in 0..fts::SHARDS {
            let mut index_conn = schema::open_connection(&config.path, INDEXER_DB_CACHE_KIB)?;
            let state = fts::prepare(
                &mut index_conn,
                &config.path,
                shard,
                config.cache_kib / fts::SHARDS as u32,
            )?;
            shards.push((index_conn, state));
        }
        let states: Vec<fts::IndexState> = shards.iter().map(|(_, s)| *s).collect();
        let shared = Arc::new(indexer::Shared::new(&states));
        let (progress, event_rows, command_rows) =
            writer::initial_state(&conn, shared.indexed_upto())?;
        let progress_tx = Arc::new(watch::Sender::new(progress));
        let progress_rx = progress_tx.subscribe();
        let (live, _) = broadcast::channel(config.live_capacity);
        let (tx, rx) = mpsc::channel(config.inbox_capacity);
        let counters = Arc::new(Counters::default());
        let w = Writer {
            conn,
            config: config.clone(),
            clock,
            counters: counters.clone(),
            progress_tx: progress_tx.clone(),
            indexers: shared.clone(),
            live: live.clone(),
            rx,
            handle: handle.clone(),
            progress,
            event_rows,
            command_rows,
        };
        let (stop, _) = watch::channel(false);
        let indexers: Vec<Indexer> = shards
            .into_iter()
            .map(|(conn, state)| Indexer {
                conn,
                state,
                chunk: config.fts_chunk_rows,
                shared: shared.clone(),
                progress_tx: progress_tx.clone(),
                stop: stop.subscribe(),
                handle: handle.clone(),
            })
            .collect();
        let thread = std::thread::Builder::new()
            .name("sekia-store-writer".into())
            .spawn(move || w.run())
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
        let mut indexer_threads = Vec::with_capacity(indexers.len());
        for (shard, indexer) in indexers.into_iter().enumerate() {
            let t = std::thread::Builder::new()
                .name(format!("sekia-store-index{shard}"))
                .spawn(move || indexer.run())
                .map_err(|e| StoreError::Task(format!("cannot start an indexer thread: {e}")))?;
            indexer_threads.push(t);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                tx: Mutex::new(Some(tx)),
                counters,
                progress: progress_rx,
                live,
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(thread)),
                indexers: Mutex::new(indexer_threads),
                forwarders: Mutex::new(Vec::new()),
                stop,
            }),
        })
    }

    /// Subscribes the store to `sekia.events.>` and `sekia.commands.>` with
    /// back-pressure ([`SubscribeOptions::lossless`]) and starts forwarding.
    /// Call once, before agents and workflows start publishing.
    pub async fn attach(&self, bus: &dyn Bus) -> Result<()> {
        let sender = self.sender()?;
        for (pattern, kind) in [(EVENTS_ALL, Kind::Events), (COMMANDS_ALL, Kind::Commands)] {
            let sub = bus
                .subscribe_with(pattern, SubscribeOptions::lossless())
                .await
                .map_err(|source| StoreError::Subscribe { pattern, source })?;
            let f = Forwarder {
                kind,
                tx: sender.clone(),
                counters: self.inner.counters.clone(),
                stop: self.inner.stop.subscribe(),
                max_payload: self.inner.config.max_payload_bytes,
                secret: Arc::from(self.inner.config.command_secret.as_str()),
            };
            let task = tokio::spawn(f.run(sub));
            lock(&self.inner.forwarders).push(task);
        }
        Ok(())
    }

    /// Records that event `new_id` is a replay of `original_id` (the daemon
    /// re-publishes a stored event under a new id and then calls this; the
    /// order of the two does not matter). Shown as
    /// [`StoredEvent::replayed_from`].
    pub async fn record_replay(&self, original_id: &str, new_id: &str) -> Result<()> {
        self.sender()?
            .send(Inbound::Replay {
                original_id: original_id.to_owned(),
                new_id: new_id.to_owned(),
            })
            .await
            .map_err(|_| StoreError::WriterStopped)
    }

    /// Waits until everything handed to the writer so far is committed. (Not
    /// what is still queued in the bus subscriptions.)
    pub async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.sender()?
            .send(Inbound::Barrier(tx))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)
    }

    /// Counters: received, written, invalid, failed, dropped, and progress.
    pub fn stats(&self) -> StoreStats {
        let progress = *self.inner.progress.borrow();
        self.inner.counters.snapshot(progress)
    }

    /// Progress after every commit: last committed seqs and "indexed up to".
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.inner.progress.clone()
    }

    /// Waits until the full-text index covers every event up to `seq`.
    pub async fn wait_indexed(&self, seq: i64) -> Result<()> {
        let mut rx = self.inner.progress.clone();
        rx.wait_for(|p| p.indexed_upto >= seq)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::WriterStopped)
    }

    /// Waits until at least `rows` rows have been committed since open.
    pub async fn wait_written(&self, rows: u64) -> Result<()> {
        let mut rx = self.inner.progress.clone();
        rx.wait_for(|p| p.written >= rows)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::WriterStopped)
    }

    /// Every event committed from now on, sent right after its transaction
    /// commits. A receiver that falls behind by more than `live_capacity`
    /// gets `RecvError::Lagged` and should re-read from the store.
    pub fn subscribe_live(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.inner.live.subscribe()
    }

    /// See [`Reader::list_events`].
    pub async fn list_events(&self, q: EventQuery) -> Result<Page<StoredEvent>> {
        self.read(move |r| r.list_events(&q)).await
    }

    /// See [`Reader::count_received_since`].
    pub async fn count_received_since(&self, since_ms: i64) -> Result<u64> {
        self.read(move |r| r.count_received_since(since_ms)).await
    }

    /// See [`Reader::get_event`].
    pub async fn get_event(&self, id: &str) -> Result<Option<StoredEvent>> {
        let id = id.to_owned();
        self.read(move |r| r.get_event(&id)).await
    }

    /// See [`Reader::list_commands`].
    pub async fn list_commands(&self, q: CommandQuery) -> Result<Page<StoredCommand>> {
        self.read(move |r| r.list_commands(&q)).await
    }

    /// See [`Reader::get_command`].
    pub async fn get_command(&self, command_id: &str) -> Result<Option<StoredCommand>> {
        let id = command_id.to_owned();
        self.read(move |r| r.get_command(&id)).await
    }

    /// Runs `f` with a pooled read connection on the blocking thread pool, so
    /// a query never blocks a runtime worker.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = lock(&inner.readers).pop();
            let reader = match pooled {
                Some(r) => r,
                None => Reader::open(&inner.config.path)?,
            };
            let result = f(&reader);
            let mut pool = lock(&inner.readers);
            if pool.len() < READER_POOL {
                pool.push(reader);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Stops ingest: the forwarders pass on what their subscriptions already
    /// hold, the writer commits everything queued, and its thread ends; the
    /// indexers stop after their current chunk (the next open resumes where it
    /// stopped). Close the bus first if you want everything still in flight
    /// on it stored.
    pub async fn close(&self) -> Result<()> {
        self.inner.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = lock(&self.inner.forwarders).drain(..).collect();
        for t in tasks {
            t.await.map_err(|e| StoreError::Task(e.to_string()))?;
        }
        drop(lock(&self.inner.tx).take());
        let writer = lock(&self.inner.writer).take();
        let indexers: Vec<_> = lock(&self.inner.indexers).drain(..).collect();
        for (thread, name) in writer
            .into_iter()
            .map(|t| (t, "writer"))
            .chain(indexers.into_iter().map(|t| (t, "indexer")))
        {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
                .map_err(|_| StoreError::Task(format!("the {name} thread panicked")))?;
        }
        Ok(())
    }

    fn sender(&self) -> Result<mpsc::Sender<Inbound>> {
        lock(&self.inner.tx)
            .clone()
            .ok_or(StoreError::WriterStopped)
    }
}

/// Locks a mutex, recovering from poisoning: every guarded value here stays
/// consistent even if a holder panicked (a pool, a list of handles).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
