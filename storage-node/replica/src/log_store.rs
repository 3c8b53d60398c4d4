//! [`LogStore`]: the Raft log in its own RocksDB (`<data-dir>/raft-log`), with one column
//! family each for the entries (keyed by big-endian index), the vote, the committed log
//! id and the last purged log id. Every write is synced before it is acknowledged. The
//! size of the entries held is tracked ([`LogStore::size`]) so the replica can keep the
//! log bounded: a snapshot (an engine flush) lets the log before it be purged, and a
//! purge compacts the purged range away at once.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use rocksdb::{
    ColumnFamilyDescriptor, DB, DBCompressionType, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{NodeId, TypeConfig, decode, encode};

const CF_ENTRIES: &str = "entries";
const CF_VOTE: &str = "vote";
const CF_COMMITTED: &str = "committed";
const CF_PURGED: &str = "purged";
const KEY: &[u8] = b"v";
/// Memtable size of the log's column families.
const LOG_WRITE_BUFFER: usize = 8 << 20;

type StorageResult<T> = std::result::Result<T, StorageError<NodeId>>;

/// The durable Raft log of one replica. Cheap to clone (one shared database).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    path: PathBuf,
    /// The state machine's durable index: entries above it are kept even when purged,
    /// because the engine re-applies them after a crash.
    durable: Arc<AtomicU64>,
    /// The encoded size of every entry in the log, for the size bound.
    sizes: Arc<Mutex<EntrySizes>>,
}

/// Index, encoded size and running byte total of each entry held, in log order, and
/// their total: the bytes after an index are one binary search, cheap enough to ask on
/// every write.
#[derive(Debug, Default)]
struct EntrySizes {
    /// (index, size, bytes of every entry pushed up to and including this one).
    entries: VecDeque<(u64, u64, u64)>,
    bytes: u64,
}

impl EntrySizes {
    fn push(&mut self, index: u64, size: u64) {
        // A re-appended index (after a truncation the log did not see) replaces the old.
        while self.entries.back().is_some_and(|(i, _, _)| *i >= index) {
            self.pop_back();
        }
        let end = self.entries.back().map_or(0, |(_, _, end)| *end) + size;
        self.entries.push_back((index, size, end));
        self.bytes += size;
    }

    fn pop_back(&mut self) {
        if let Some((_, size, _)) = self.entries.pop_back() {
            self.bytes -= size;
        }
    }

    /// Drops entries with index at or above `from`.
    fn truncate(&mut self, from: u64) {
        while self.entries.back().is_some_and(|(i, _, _)| *i >= from) {
            self.pop_back();
        }
    }

    /// Drops entries with index below `to`.
    fn purge(&mut self, to: u64) {
        while let Some(&(i, size, _)) = self.entries.front() {
            if i >= to {
                break;
            }
            self.entries.pop_front();
            self.bytes -= size;
        }
    }

    /// Bytes of the entries after index `after`.
    fn bytes_after(&self, after: u64) -> u64 {
        let start = self.entries.partition_point(|(i, _, _)| *i <= after);
        match (self.entries.get(start), self.entries.back()) {
            (Some(&(_, size, end)), Some(&(_, _, last))) => last - (end - size),
            _ => 0,
        }
    }
}

/// The size of a log: entries held and their encoded bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSize {
    pub entries: u64,
    pub bytes: u64,
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
        // A small memtable: the log is bounded and read back mostly while recent, and
        // RocksDB preallocates each write-ahead file at about the memtable's size.
        opts.set_write_buffer_size(LOG_WRITE_BUFFER);
        opts.set_max_total_wal_size(2 * LOG_WRITE_BUFFER as u64);
        let cfs = [CF_ENTRIES, CF_VOTE, CF_COMMITTED, CF_PURGED]
            .into_iter()
            .map(|name| {
                let mut cf = Options::default();
                cf.set_write_buffer_size(LOG_WRITE_BUFFER);
                cf.set_compression_type(DBCompressionType::Lz4);
                ColumnFamilyDescriptor::new(name, cf)
            });
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| Error::LogStore {
            path: path.to_path_buf(),
            source,
        })?;
        let store = LogStore {
            db: Arc::new(db),
            path: path.to_path_buf(),
            durable,
            sizes: Arc::default(),
        };
        let sizes = store.scan_sizes()?;
        *store.sizes() = sizes;
        Ok(store)
    }

    /// The size of every entry held, read once at open.
    fn scan_sizes(&self) -> Result<EntrySizes> {
        let mut sizes = EntrySizes::default();
        let mut it = self.db.raw_iterator_cf(self.cf(CF_ENTRIES));
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if let Some(index) = key_index(k) {
                sizes.push(index, v.len() as u64);
            }
            it.next();
        }
        it.status().map_err(|source| self.err(source))?;
        Ok(sizes)
    }

    fn sizes(&self) -> MutexGuard<'_, EntrySizes> {
        self.sizes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Entries held and their bytes.
    pub fn size(&self) -> LogSize {
        let sizes = self.sizes();
        LogSize {
            entries: sizes.entries.len() as u64,
            bytes: sizes.bytes,
        }
    }

    /// Bytes of the entries after index `after` (those a snapshot at `after` would not
    /// hold yet).
    pub fn bytes_after(&self, after: u64) -> u64 {
        self.sizes().bytes_after(after)
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

    /// Writes `value` under `cf`; `sync` waits for it to reach the disk.
    fn put<T: Serialize>(&self, cf: &str, value: &T, sync: bool) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
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
        self.sync_write(batch)?;
        if to == u64::MAX {
            self.sizes().truncate(from);
        } else {
            self.sizes().purge(to);
            // Give the space back now rather than at some later compaction: the files
            // wholly below `to` are dropped.
            self.db
                .compact_range_cf(self.cf(CF_ENTRIES), None::<&[u8]>, Some(&index_key(to)));
        }
        Ok(())
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
        self.put(CF_VOTE, vote, true)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get(CF_VOTE)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    /// Not synced: the mark only saves a restart from waiting for the next commit to
    /// apply the entries below it (openraft treats it as a hint: a mark lost in a power
    /// failure is an older mark, and the entries above it are still in the log and are
    /// committed again). It reaches the disk with the next entry's synced append; a
    /// process crash loses nothing, the write is in the RocksDB log either way. One fsync
    /// per entry instead of two.
    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        self.put(CF_COMMITTED, &committed, false).map_err(write_err)
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
        let mut appended = Vec::new();
        for entry in entries {
            let bytes = encode(&entry).map_err(write_err)?;
            appended.push((entry.log_id.index, bytes.len() as u64));
            batch.put_cf(self.cf(CF_ENTRIES), index_key(entry.log_id.index), bytes);
        }
        let result = self.sync_write(batch);
        if result.is_ok() {
            let mut sizes = self.sizes();
            for (index, size) in appended {
                sizes.push(index, size);
            }
        }
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
        self.put(CF_PURGED, &log_id, true).map_err(write_err)?;
        let upto = log_id.index.min(self.durable.load(Ordering::Acquire));
        self.delete_range(0, upto.saturating_add(1))
            .map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::EntrySizes;

    /// The bytes after an index, from the running totals, against a plain sum, through
    /// appends, a truncation, re-appends and purges.
    #[test]
    fn bytes_after_matches_the_sum_of_the_entries_after() {
        let mut sizes = EntrySizes::default();
        let check = |sizes: &EntrySizes| {
            for after in 0..40 {
                let sum: u64 = sizes
                    .entries
                    .iter()
                    .filter(|(i, _, _)| *i > after)
                    .map(|(_, s, _)| s)
                    .sum();
                assert_eq!(sizes.bytes_after(after), sum, "after {after}");
            }
            let all: u64 = sizes.entries.iter().map(|(_, s, _)| s).sum();
            assert_eq!(sizes.bytes, all);
        };
        for i in 1..=20 {
            sizes.push(i, 100 + i * 7);
        }
        check(&sizes);
        sizes.truncate(15);
        check(&sizes);
        for i in 12..=30 {
            sizes.push(i, 50 + i);
        }
        check(&sizes);
        sizes.purge(10);
        check(&sizes);
        sizes.purge(31);
        check(&sizes);
        assert_eq!(sizes.bytes_after(0), 0);
    }
}
