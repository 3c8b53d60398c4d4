//! [`Engine`]: the time-series engine of one storage node — open and shared state. The
//! write path is in [`write`](self::write), the read paths in [`read`](self::read).
//!
//! ```text
//!  write(series) --validate--> assign ids (under `writer`) --> Store::commit (one synced
//!                                                              batch) --> SeriesIndex
//!  select(matchers) --> Selector::plan --> postings (Store) --> filter (SeriesIndex)
//!                                                          --> samples (Store)
//! ```

mod read;
mod write;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tracing::info;

use crate::error::{Error, Result};
use crate::index::SeriesIndex;
use crate::metrics::EngineMetrics;
use crate::store::Store;

/// Stores series and their samples durably and answers selects and index queries.
///
/// Every method blocks on disk I/O; async callers run them on a blocking thread.
/// Writes are serialised; reads run concurrently with each other and with writes.
pub struct Engine {
    store: Store,
    /// Every stored series, both directions; updated after each commit.
    index: RwLock<SeriesIndex>,
    /// The id the next new series gets. Held for a whole write, so ids are handed out
    /// and committed in order.
    writer: Mutex<u64>,
    metrics: EngineMetrics,
}

impl Engine {
    /// Opens the engine over the database in `dir` (created if missing), loads the series
    /// index and registers the self-metrics on `registry` (unregistered on drop).
    pub fn open(dir: &Path, registry: &prometheus::Registry) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let metrics = EngineMetrics::register(registry)?;
        let store = Store::open(dir)?;
        let loaded = store.load()?;
        let mut index = SeriesIndex::default();
        for (id, labels) in loaded.series {
            index.insert(id, Arc::new(labels));
        }
        metrics.series.set(index.len() as i64);
        info!(
            dir = %dir.display(),
            series = index.len(),
            next_series_id = loaded.next_series_id,
            "storage engine opened"
        );
        Ok(Engine {
            store,
            index: RwLock::new(index),
            writer: Mutex::new(loaded.next_series_id),
            metrics,
        })
    }

    // The index is only changed by whole-entry inserts, so a panic elsewhere while a
    // guard was held cannot leave it half-updated: poisoning is safe to ignore.
    fn index(&self) -> RwLockReadGuard<'_, SeriesIndex> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, SeriesIndex> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    // The counter only moves after a successful commit.
    fn writer(&self) -> MutexGuard<'_, u64> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("series", &self.index().len())
            .finish_non_exhaustive()
    }
}
