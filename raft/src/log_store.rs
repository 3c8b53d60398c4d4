//! [`LogStore`]: the Raft log in its own RocksDB (`<data-dir>/raft-log`), with one column
//! family each for the entries (keyed by big-endian index), the vote, the committed log
//! id and the last purged log id. Every write is synced before it is acknowledged.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{NodeId, TypeConfig, decode, encode};

const CF_ENTRIES: &str = "entries";
const CF_VOTE: &str = "vote";
const CF_COMMITTED: &str = "committed";
const CF_PURGED: &str = "purged";
const KEY: &[u8] = b"v";

type StorageResult<T> = std::result::Result<T, StorageError<NodeId>>;

/// The durable Raft log of one replica. Cheap to clone (one shared database).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    path: PathBuf,
    /// The state machine's durable index: entries above it are kept even when purged,
    /// because the engine re-applies them after a crash.
    durable: Arc<AtomicU64>,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("path", &self.path)
            .finish()
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn key_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

impl LogStore {
    /// Opens (creating if needed) the log database in `path`. `durable` is the index up
    /// to which the state machine survives a crash; purges never delete entries above it.
    pub fn open(path: &Path, durable: Arc<AtomicU64>) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [CF_ENTRIES, CF_VOTE, CF_COMMITTED, CF_PURGED]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| Error::LogStore {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(LogStore {
            db: Arc::new(db),
            path: path.to_path_buf(),
            durable,
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created on open")
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, cf: &str) -> Result<Option<T>> {
        match self
            .db
            .get_cf(self.cf(cf), KEY)
            .map_err(|source| self.err(source))?
        {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&self, cf: &str, value: &T) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .put_cf_opt(self.cf(cf), KEY, encode(value)?, &opts)
            .map_err(|source| self.err(source))
    }

    fn err(&self, source: rocksdb::Error) -> Error {
        Error::LogStore {
            path: self.path.clone(),
            source,
        }
    }

    fn sync_write(&self, batch: WriteBatch) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .write_opt(batch, &opts)
            .map_err(|source| self.err(source))
    }

    /// The newest entry's log id.
    fn last_log_id(&self) -> Result<Option<LogId<NodeId>>> {
        let mut it = self.db.iterator_cf(self.cf(CF_ENTRIES), IteratorMode::End);
        match it.next() {
            Some(Ok((_, value))) => Ok(Some(decode::<Entry<TypeConfig>>(&value)?.log_id)),
            Some(Err(source)) => Err(self.err(source)),
            None => Ok(None),
        }
    }

    /// Entries with indexes in `range`, in order.
    pub fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        let key = index_key(start);
        let it = self.db.iterator_cf(
            self.cf(CF_ENTRIES),
            IteratorMode::From(&key, Direction::Forward),
        );
        for item in it {
            let (k, v) = item.map_err(|source| self.err(source))?;
            let Some(index) = key_index(&k) else { continue };
            if !range.contains(&index) {
                break;
            }
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    /// Deletes entries with index in `[from, to)`.
    fn delete_range(&self, from: u64, to: u64) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf(CF_ENTRIES), index_key(from), index_key(to));
        self.sync_write(batch)
    }

    /// The committed log id last saved.
    pub fn committed(&self) -> Result<Option<LogId<NodeId>>> {
        self.get(CF_COMMITTED)
    }
}

fn read_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        self.entries(range).map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let purged: Option<LogId<NodeId>> = self.get(CF_PURGED).map_err(read_err)?;
        let last = self.last_log_id().map_err(read_err)?.or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.put(CF_VOTE, vote)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get(CF_VOTE)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        self.put(CF_COMMITTED, &committed).map_err(write_err)
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        let v: Option<Option<LogId<NodeId>>> = self.get(CF_COMMITTED).map_err(read_err)?;
        Ok(v.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::default();
        for entry in entries {
            let bytes = encode(&entry).map_err(write_err)?;
            batch.put_cf(self.cf(CF_ENTRIES), index_key(entry.log_id.index), bytes);
        }
        let result = self.sync_write(batch);
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        tracing::debug!(from = log_id.index, "truncating raft log");
        self.delete_range(log_id.index, u64::MAX).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        tracing::debug!(upto = log_id.index, "purging raft log");
        // The purge mark first: a crash between the two leaves entries below the mark,
        // which are ignored, never a hole above it.
        self.put(CF_PURGED, &log_id).map_err(write_err)?;
        let upto = log_id.index.min(self.durable.load(Ordering::Acquire));
        self.delete_range(0, upto.saturating_add(1))
            .map_err(write_err)
    }
}
