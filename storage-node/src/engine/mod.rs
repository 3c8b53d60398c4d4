//! [`Engine`]: the time-series engine of one storage node — options, open and recovery,
//! and the shared state. The write path is in [`apply`](self::apply), the read paths in
//! [`read`](self::read), and the background work in [`flush`](self::flush),
//! [`rollup`](self::rollup) and [`retention`](self::retention), driven by
//! [`maintenance`](self::maintenance).
//!
//! ```text
//!  prepare(series) -> log record (ids of stored series) -> the caller's log (Raft)
//!  apply(seq, record) -> one batch: new series + postings of new (series, day) pairs +
//!                        backfill chunks -> head (open Gorilla chunk per series)
//!  flush: head -> frozen (readable) -> raw chunks per (day, series): the durable point
//!  rollup: raw -> 1m points (per hour window) -> 1h points (per day window); the raw
//!          chunks of each hour window merged into one (compact)
//!  retention: drop whole days of a tier (and of the index past the longest retention)
//!  admin: delete_series -> tombstones masking every read; clean_tombstones -> chunks
//!         rewritten without the deleted data ([`admin`](self::admin))
//! ```

pub mod admin;
pub mod apply;
pub mod cold;
mod compact;
mod exemplars;
mod flush;
mod histograms;
mod late;
pub mod maintenance;
pub mod read;
mod retention;
mod rollup;
pub mod select;
pub mod sessions;
pub mod tombstones;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use tracing::info;

use crate::error::{Error, Result};
use crate::exemplars::ExemplarStore;
use crate::hashing::IdMap;
use crate::head::{Frozen, Head};
use crate::index::SeriesIndex;
use crate::metrics::EngineMetrics;
use crate::store::Store;
use crate::tier::{Retention, Tier};
use sessions::Sessions;
use tombstones::Tombstones;

/// How the engine keeps data.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How long each tier keeps data.
    pub retention: Retention,
    /// Samples at most this much older than the newest sample go to the head; older ones
    /// (backfill) are written straight to their day's chunks. Either way they are kept.
    pub out_of_order_window: Duration,
    /// How often the head is flushed to chunks.
    pub flush_interval: Duration,
    /// The head is flushed early once it holds this many samples.
    pub head_max_samples: usize,
    /// Whether rollups are computed.
    pub rollups: bool,
    /// How many rollup windows one maintenance pass computes at most (so that retention
    /// and flushes are not starved after a long backfill).
    pub rollup_windows_per_pass: usize,
    /// Exemplars kept (one ring over every series, the oldest overwritten first; 0:
    /// none). Prometheus's `--storage.exemplars.exemplars-limit`.
    pub exemplars_limit: usize,
    /// The cold tier in object storage (None: every day stays local).
    pub cold: Option<cold::ColdOptions>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            retention: Retention::default(),
            out_of_order_window: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(30 * 60),
            head_max_samples: 8_000_000,
            rollups: true,
            rollup_windows_per_pass: 48,
            exemplars_limit: 100_000,
            cold: None,
        }
    }
}

/// State only the writer changes; held for a whole write, so sequence numbers and
/// series ids are handed out and committed in order.
#[derive(Debug)]
struct WriterState {
    next_series_id: u64,
    /// The last applied write.
    applied_seq: u64,
    /// The applier's opaque metadata as of `applied_seq`.
    applied_meta: Vec<u8>,
    max_ts: Option<i64>,
    min_ts: Option<i64>,
    /// The newest day each series is known to be indexed on.
    indexed_day: IdMap<i64>,
    /// The last batch applied per writer.
    sessions: Sessions,
}

/// Stores series and their samples durably and answers selects and index queries.
///
/// Every method blocks on disk I/O; async callers run them on a blocking thread.
/// Writes are serialised; reads run concurrently with each other, with writes and with
/// the background work.
pub struct Engine {
    store: Store,
    opts: EngineOptions,
    /// Every stored series, both directions; updated after each commit.
    index: RwLock<SeriesIndex>,
    writer: Mutex<WriterState>,
    head: RwLock<Head>,
    /// The head being flushed (empty when no flush runs).
    frozen: RwLock<Arc<Frozen>>,
    /// Newest sample time, for readers that must not take the writer lock.
    max_ts: AtomicI64,
    min_ts: AtomicI64,
    /// Rollup progress per tier, indexed by [`Tier::id`] (i64::MIN: nothing yet).
    rollups_until: [AtomicI64; 5],
    /// One flush at a time.
    flushing: Mutex<Instant>,
    /// The applied state as of the last flush: what a crash leaves.
    durable: Mutex<(u64, Vec<u8>)>,
    /// One rollup/retention pass at a time; holds the rollup sequence counter.
    maintaining: Mutex<MaintenanceState>,
    metrics: EngineMetrics,
    /// Changes to settled data, for readers' result caches.
    late: late::LateWriteLog,
    /// Deleted intervals per series (`delete_series`), replaced whole on each change.
    tombstones: RwLock<Arc<Tombstones>>,
    /// The exemplar ring; changed only by the writer (under its lock), in log order.
    exemplars: Mutex<ExemplarStore>,
    /// Objects of cold days retention dropped, for the leader to delete.
    expired_cold: Mutex<Vec<String>>,
    /// Days moved to the cold tier whose local space is still to be compacted.
    cold_compactions: Mutex<Vec<(Tier, i64)>>,
    /// Days late samples landed in since the engine opened.
    changed_days: Mutex<std::collections::BTreeSet<i64>>,
    /// This open engine's identity in the process, for writers' series references
    /// ([`telltale_storage_api::SeriesLabels::storage_ref`]).
    identity: u64,
    /// Whether any native histogram sample was ever written (`META_HISTOGRAMS`): reads
    /// of databases without them never look for histogram chunks.
    has_histograms: AtomicBool,
}

/// The next engine identity: unique per `Engine::open` in the process.
static NEXT_IDENTITY: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Default)]
struct MaintenanceState {
    rollup_seq: u64,
    /// First day still kept per tier, and for the index.
    dropped_before: HashMap<Option<Tier>, i64>,
    /// When the disk and head-size gauges were last refreshed.
    gauges_at: Option<Instant>,
}

const NONE_TS: i64 = i64::MIN;

/// Large writes of the engine's own (a head flush, a rollup window) go to RocksDB in
/// batches of about this size: a whole head or window in one batch (some 30 MB at 50,000
/// series), with the memtable it is copied into, was a quarter of the process's peak
/// memory during ingest.
const BATCH_BYTES: usize = 1 << 20;

fn opt_ts(v: i64) -> Option<i64> {
    (v != NONE_TS).then_some(v)
}

impl Engine {
    /// Opens the engine over the database in `dir` (created if missing) as of its last
    /// flush ([`Engine::durable`]: the caller's log re-applies what followed) and
    /// registers the self-metrics on `registry` (unregistered on drop). Background work
    /// runs once [`Engine::start_maintenance`] is called.
    pub fn open(dir: &Path, opts: EngineOptions, registry: &prometheus::Registry) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let metrics = EngineMetrics::register(registry)?;
        let objects = match &opts.cold {
            None => None,
            Some(c) => Some(crate::cold::ObjectCache::new(
                c.storage.clone(),
                &c.cache_dir,
                c.cache_disk_bytes,
                c.cache_memory_bytes,
            )?),
        };
        let store = Store::open_with(dir, objects)?;
        let loaded = store.load()?;
        let has_histograms = store.meta_flag(crate::store::keys::META_HISTOGRAMS)?;
        let mut index = SeriesIndex::default();
        for (id, labels) in loaded.series {
            index.insert(id, Arc::new(labels));
        }
        let mut tombstones = Tombstones::default();
        for (id, intervals) in loaded.tombstones {
            tombstones.insert(id, intervals);
        }
        metrics.series.set(index.len() as i64);
        let exemplars = match &loaded.exemplars {
            None => ExemplarStore::new(opts.exemplars_limit),
            Some(bytes) => ExemplarStore::decode(bytes, opts.exemplars_limit).ok_or_else(|| {
                Error::Corrupt {
                    what: "exemplar ring",
                    detail: format!("{} bytes do not decode", bytes.len()),
                }
            })?,
        };
        metrics.exemplars_stored.set(exemplars.len() as i64);
        let engine = Engine {
            exemplars: Mutex::new(exemplars),
            opts,
            index: RwLock::new(index),
            writer: Mutex::new(WriterState {
                next_series_id: loaded.next_series_id,
                applied_seq: loaded.flushed_seq,
                applied_meta: loaded.flushed_meta.clone(),
                max_ts: loaded.max_ts,
                min_ts: loaded.min_ts,
                indexed_day: IdMap::default(),
                sessions: loaded.sessions,
            }),
            head: RwLock::new(Head::default()),
            frozen: RwLock::new(Arc::new(Frozen::default())),
            max_ts: AtomicI64::new(loaded.max_ts.unwrap_or(NONE_TS)),
            min_ts: AtomicI64::new(loaded.min_ts.unwrap_or(NONE_TS)),
            rollups_until: loaded
                .rollups_until
                .map(|u| AtomicI64::new(u.unwrap_or(NONE_TS))),
            flushing: Mutex::new(Instant::now()),
            durable: Mutex::new((loaded.flushed_seq, loaded.flushed_meta.clone())),
            maintaining: Mutex::new(MaintenanceState {
                gauges_at: None,
                rollup_seq: loaded.rollup_seq,
                dropped_before: HashMap::new(),
            }),
            store,
            metrics,
            late: late::LateWriteLog::new(),
            tombstones: RwLock::new(Arc::new(tombstones)),
            identity: NEXT_IDENTITY.fetch_add(1, Ordering::Relaxed),
            expired_cold: Mutex::default(),
            cold_compactions: Mutex::default(),
            changed_days: Mutex::default(),
            has_histograms: AtomicBool::new(has_histograms),
        };
        engine.metrics.flushed_seq.set(loaded.flushed_seq as i64);
        info!(
            dir = %dir.display(),
            series = engine.index().len(),
            flushed_seq = loaded.flushed_seq,
            "storage engine opened"
        );
        Ok(engine)
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Whether any native histogram sample was ever written to this database.
    pub fn has_histograms(&self) -> bool {
        self.has_histograms.load(Ordering::Acquire)
    }

    /// The last applied write's sequence number.
    pub fn applied_seq(&self) -> u64 {
        self.writer().applied_seq
    }

    /// The last applied sequence number and the applier's metadata with it.
    pub fn applied(&self) -> (u64, Vec<u8>) {
        let w = self.writer();
        (w.applied_seq, w.applied_meta.clone())
    }

    /// Replaces the applier's metadata kept with the applied state, its sequence number
    /// unchanged (a restore rewriting the group it belongs to); durable from the next
    /// flush.
    pub fn replace_applied_meta(&self, meta: &[u8]) {
        self.writer().applied_meta = meta.to_vec();
    }

    /// The applied state a crash would leave (as of the last flush). The applier's log
    /// (Raft) re-applies its entries after this point when the engine opens, so it must
    /// keep them until a later flush.
    pub fn durable(&self) -> (u64, Vec<u8>) {
        self.durable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Flushes the head and writes a consistent copy of the database into `dir` (which
    /// must not exist) holding every applied write and no log: the snapshot a Raft
    /// follower installs. Returns the sequence number and metadata it holds.
    pub fn snapshot(&self, dir: &Path) -> Result<(u64, Vec<u8>)> {
        let _flushing = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.frozen();
        if !previous.is_empty() {
            self.write_frozen(&previous)?;
        }
        let w = self.writer();
        let frozen = self.freeze(&w);
        self.write_frozen(&frozen)?;
        self.store.checkpoint(dir)?;
        Ok((w.applied_seq, w.applied_meta.clone()))
    }

    /// Adds writers whose last batches an earlier release kept outside the engine (the
    /// Raft state machine's metadata), so their retries stay de-duplicated.
    pub fn import_sessions(&self, writers: impl IntoIterator<Item = (u64, (u64, u64))>) {
        self.writer().sessions.import(writers);
    }

    /// Bytes on disk of every column family, after writing memtables out (measurement).
    pub fn disk_usage_after_compaction(&self) -> Result<u64> {
        self.store.flush_memtables()?;
        self.store.compact_all();
        Ok(self.store.total_disk_bytes())
    }

    /// Memory the head holds (approximate).
    pub fn head_bytes(&self) -> usize {
        self.head().heap_bytes()
    }

    // The guarded structures are only changed by whole-entry updates, so a panic
    // elsewhere while a guard was held cannot leave them half-updated: poisoning is safe
    // to ignore.
    fn index(&self) -> RwLockReadGuard<'_, SeriesIndex> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, SeriesIndex> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn writer(&self) -> MutexGuard<'_, WriterState> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn head(&self) -> RwLockReadGuard<'_, Head> {
        self.head.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn head_mut(&self) -> RwLockWriteGuard<'_, Head> {
        self.head.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn frozen(&self) -> Arc<Frozen> {
        self.frozen
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_frozen(&self, frozen: Arc<Frozen>) {
        *self.frozen.write().unwrap_or_else(PoisonError::into_inner) = frozen;
    }

    /// The tombstones of the applied state, taken once per read.
    fn tombstones(&self) -> Arc<Tombstones> {
        self.tombstones
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_tombstones(&self, tombstones: Tombstones) {
        *self
            .tombstones
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(tombstones);
    }

    fn maintaining(&self) -> MutexGuard<'_, MaintenanceState> {
        self.maintaining
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn newest(&self) -> Option<i64> {
        opt_ts(self.max_ts.load(Ordering::Acquire))
    }

    fn oldest(&self) -> Option<i64> {
        opt_ts(self.min_ts.load(Ordering::Acquire))
    }

    /// The late writes since the engine was opened (see [`late`]).
    pub fn late_writes(&self) -> telltale_storage_api::LateWrites {
        self.late
            .report(self.opts.out_of_order_window.as_millis() as i64)
    }

    /// Raw: past the newest sample; a rollup tier: its windows before this are
    /// computed.
    fn until(&self, tier: Tier) -> Option<i64> {
        match tier {
            Tier::Raw => self.newest().map(|t| t.saturating_add(1)),
            _ => opt_ts(self.rollup_watermark(tier).load(Ordering::Acquire)),
        }
    }

    fn set_until(&self, tier: Tier, until: Option<i64>) {
        self.rollup_watermark(tier)
            .store(until.unwrap_or(NONE_TS), Ordering::Release);
    }

    fn rollup_watermark(&self, tier: Tier) -> &AtomicI64 {
        &self.rollups_until[usize::from(tier.id())]
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("series", &self.index().len())
            .finish_non_exhaustive()
    }
}
