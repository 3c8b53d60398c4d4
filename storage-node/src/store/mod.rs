//! [`Store`]: the one place that knows RocksDB — column families, key layouts
//! ([`keys`]), write batches ([`Batch`]) and the reads. Nothing outside this module names
//! a `rocksdb::` type.

mod chunk_reader;
pub mod keys;

pub use chunk_reader::ChunkReader;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType,
    Direction, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions,
};

use crate::cold::{ColdDays, ColdEntry, ColdObject, ObjectCache, Section};
use crate::engine::sessions::Sessions;
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::tier::Tier;

const CF_SERIES: &str = "series";
const CF_SERIES_BY_LABELS: &str = "series_by_labels";
const CF_POSTINGS: &str = "postings";
const CF_RAW: &str = "raw";
const CF_M1: &str = "m1";
const CF_H1: &str = "h1";
const CF_M5: &str = "m5";
const CF_D1: &str = "d1";
/// Unused since the Raft log became the only log; listed so older databases open.
const CF_WAL: &str = "wal";
const CF_DIRTY: &str = "dirty";
const CF_META: &str = "meta";
const COLUMN_FAMILIES: [&str; 11] = [
    CF_SERIES,
    CF_SERIES_BY_LABELS,
    CF_POSTINGS,
    CF_RAW,
    CF_M1,
    CF_M5,
    CF_H1,
    CF_D1,
    CF_WAL,
    CF_DIRTY,
    CF_META,
];

fn tier_cf(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => CF_RAW,
        Tier::Minute => CF_M1,
        Tier::FiveMinutes => CF_M5,
        Tier::Hour => CF_H1,
        Tier::Day => CF_D1,
    }
}

fn backend(op: &'static str) -> impl Fn(rocksdb::Error) -> Error {
    move |e| Error::Backend {
        op,
        message: e.into_string(),
    }
}

fn corrupt(what: &'static str, key: &[u8]) -> Error {
    Error::Corrupt {
        what,
        detail: format!("{key:?}"),
    }
}

/// The block cache every column family shares (RocksDB would give each its own 32 MiB).
const BLOCK_CACHE_BYTES: usize = 32 << 20;
/// Memtables of all column families together: past it RocksDB flushes the largest (which
/// only makes its data durable sooner). It bounds memory however many column families
/// are written, where each would otherwise grow to 64 MiB, twice.
const MEMTABLE_BYTES: usize = 16 << 20;
/// RocksDB's write-ahead log, at most (past it the column families holding its oldest
/// file are flushed). Everything in the memtables is also in this log, so without a bound
/// the data directory holds the newest data twice — up to the whole memtable budget —
/// until a flush; with it, at most this much (plus the batch being written).
const WAL_BYTES: u64 = 8 << 20;

/// Blocks of raw chunks: small, so a query reading a few series of each host (their ids
/// are adjacent, other metrics' chunks lie between) reads and decompresses little else.
const RAW_BLOCK_BYTES: usize = 8 * 1024;
/// Blocks of every other column family.
const BLOCK_BYTES: usize = 32 * 1024;

/// Column family options: chunks are already compressed by their codecs, so blocks get
/// the cheap LZ4 and the bottommost level of the rarely read rollups zstd; point lookups
/// get bloom filters; blocks are cached in the database's one `cache`.
///
/// Raw chunks, which every query reads, stay LZ4 at every level: with zstd on them
/// decompression was a quarter of a dashboard query's CPU (`perf`, 50,000 series),
/// against about a tenth more bytes for LZ4.
fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut opts = Options::default();
    let mut block = BlockBasedOptions::default();
    block.set_block_cache(cache);
    block.set_bloom_filter(10.0, false);
    block.set_block_size(if name == CF_RAW {
        RAW_BLOCK_BYTES
    } else {
        BLOCK_BYTES
    });
    opts.set_block_based_table_factory(&block);
    opts.set_compression_type(DBCompressionType::Lz4);
    match name {
        CF_WAL => opts.set_compression_type(DBCompressionType::None),
        CF_RAW => opts.set_bottommost_compression_type(DBCompressionType::Lz4),
        _ => opts.set_bottommost_compression_type(DBCompressionType::Zstd),
    }
    opts
}

/// Called with each chunk's key and stored value.
pub type ChunkVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// A series id and its deleted intervals (inclusive), as stored.
pub type SeriesTombstones = (u64, Vec<(i64, i64)>);

/// The persisted state read once at open.
#[derive(Debug)]
pub struct Loaded {
    pub series: Vec<(u64, LabelSet)>,
    pub next_series_id: u64,
    pub flushed_seq: u64,
    pub flushed_meta: Vec<u8>,
    pub max_ts: Option<i64>,
    pub min_ts: Option<i64>,
    pub rollup_seq: u64,
    /// Rollups are complete before this, per tier (indexed by [`Tier::id`]).
    pub rollups_until: [Option<i64>; 5],
    pub sessions: Sessions,
    /// Deleted intervals per series (`delete_series`), not yet cleaned.
    pub tombstones: Vec<SeriesTombstones>,
    /// The exemplar ring as of `flushed_seq` (`crate::exemplars`), if one was written.
    pub exemplars: Option<Vec<u8>>,
}

/// A RocksDB database holding the index, the chunks of every tier and the write-ahead
/// log.
pub struct Store {
    db: DB,
    /// The days that have postings (locally or in a cold object), kept in step with
    /// every write and drop (every read of a query starts with them; scanning for them
    /// was a seek per day).
    days: RwLock<BTreeSet<i64>>,
    /// The days moved to object storage and the cache their reads go through.
    cold: ColdDays,
}

impl Drop for Store {
    /// A clean close writes the memtables out (RocksDB does not when its log is on), so
    /// the next open replays nothing and the log files are gone.
    fn drop(&mut self) {
        if let Err(e) = self.flush_memtables() {
            tracing::warn!(error = %e, "flushing the memtables at close failed; the next open replays RocksDB's log");
        }
    }
}

/// One stored chunk: its time bounds, write sequence number and codec bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub start: i64,
    pub end: i64,
    pub seq: u64,
    pub data: Vec<u8>,
}

/// Changes applied atomically by [`Store::write`].
pub struct Batch<'a> {
    store: &'a Store,
    batch: WriteBatch,
    /// Days the batch writes postings in.
    days: Vec<i64>,
}

impl Batch<'_> {
    /// Bytes the batch holds so far.
    pub fn bytes(&self) -> usize {
        self.batch.size_in_bytes()
    }

    /// Whether the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    pub fn put_series(&mut self, id: u64, labels: &LabelSet) {
        let encoded = keys::encode_labels(labels);
        self.batch
            .put_cf(self.store.cf(CF_SERIES), keys::encode_id(id), &encoded);
        self.batch.put_cf(
            self.store.cf(CF_SERIES_BY_LABELS),
            &encoded,
            keys::encode_id(id),
        );
    }

    /// Indexes series `id` with `labels` in partition `day`.
    pub fn put_postings(&mut self, day: i64, id: u64, labels: &LabelSet) {
        let cf = self.store.cf(CF_POSTINGS);
        if self.days.last() != Some(&day) {
            self.days.push(day);
        }
        self.batch.put_cf(cf, keys::all_postings_key(day, id), []);
        for (n, v) in labels.iter() {
            self.batch.put_cf(cf, keys::posting_key(day, n, v, id), []);
        }
    }

    /// A chunk covering `[start, end]` in `day`; `chunk` is the codec's stored form.
    pub fn put_chunk(
        &mut self,
        tier: Tier,
        day: i64,
        id: u64,
        (start, end): (i64, i64),
        seq: u64,
        chunk: &[u8],
    ) {
        let mut value = Vec::with_capacity(chunk.len() + 5);
        crate::chunk::bits::put_uvarint(&mut value, end.wrapping_sub(start) as u64);
        value.extend_from_slice(chunk);
        self.batch.put_cf(
            self.store.cf(tier_cf(tier)),
            keys::chunk_key(day, id, start, seq),
            value,
        );
    }

    /// Removes the chunk of series `id` in `day` of `tier` that starts at `start` and was
    /// written at `seq`.
    pub fn delete_chunk(&mut self, tier: Tier, day: i64, id: u64, start: i64, seq: u64) {
        self.batch.delete_cf(
            self.store.cf(tier_cf(tier)),
            keys::chunk_key(day, id, start, seq),
        );
    }

    pub fn put_meta_u64(&mut self, key: &[u8], v: u64) {
        self.batch
            .put_cf(self.store.cf(CF_META), key, v.to_be_bytes());
    }

    pub fn put_meta_bytes(&mut self, key: &[u8], v: &[u8]) {
        self.batch.put_cf(self.store.cf(CF_META), key, v);
    }

    /// Records `tier`'s `day` as cold (the entry takes effect in reads once written).
    pub fn put_cold(&mut self, tier: Tier, day: i64, entry: &ColdEntry) {
        self.batch.put_cf(
            self.store.cf(CF_META),
            keys::cold_key(tier.id(), day),
            entry.encode(),
        );
    }

    /// Deletes one chunk by its key.
    pub fn delete_chunk_key(&mut self, tier: Tier, key: &[u8]) {
        self.batch.delete_cf(self.store.cf(tier_cf(tier)), key);
    }

    /// Deletes every local posting of `day` (the day stays indexed: its postings are
    /// read from its cold objects from now on).
    pub fn delete_local_postings(&mut self, day: i64) {
        self.batch.delete_range_cf(
            self.store.cf(CF_POSTINGS),
            keys::day_prefix(day),
            keys::day_prefix(day.saturating_add(1)),
        );
        self.batch
            .put_cf(self.store.cf(CF_META), keys::cold_postings_key(day), []);
    }

    pub fn delete_meta(&mut self, key: &[u8]) {
        self.batch.delete_cf(self.store.cf(CF_META), key);
    }

    pub fn put_meta_i64(&mut self, key: &[u8], v: i64) {
        self.put_meta_u64(key, v as u64);
    }

    pub fn put_dirty(&mut self, tier: Tier, start: i64) {
        self.batch.put_cf(
            self.store.cf(CF_DIRTY),
            keys::dirty_key(tier.id(), start),
            [],
        );
    }

    pub fn delete_dirty(&mut self, tier: Tier, start: i64) {
        self.batch
            .delete_cf(self.store.cf(CF_DIRTY), keys::dirty_key(tier.id(), start));
    }

    /// Sets the deleted intervals of series `id` (all of them, not an addition).
    pub fn put_tombstones(&mut self, id: u64, intervals: &[(i64, i64)]) {
        self.batch.put_cf(
            self.store.cf(CF_META),
            keys::tombstone_key(id),
            keys::encode_intervals(intervals),
        );
    }

    pub fn delete_tombstones(&mut self, id: u64) {
        self.batch
            .delete_cf(self.store.cf(CF_META), keys::tombstone_key(id));
    }
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    #[cfg(test)]
    pub fn open(dir: &Path) -> Result<Self> {
        Store::open_with(dir, None)
    }

    /// [`Store::open`], reading cold days through `cache`.
    pub fn open_with(dir: &Path, objects: Option<ObjectCache>) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.increase_parallelism(2);
        opts.set_db_write_buffer_size(MEMTABLE_BYTES);
        opts.set_max_total_wal_size(WAL_BYTES);
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, &cache)));
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(backend("open the database"))?;
        let mut store = Store {
            db,
            days: RwLock::default(),
            cold: ColdDays::new(Default::default(), Default::default(), None),
        };
        store.check_format()?;
        store.cold = ColdDays::new(store.cold_entries()?, store.cold_postings()?, objects);
        let mut days = store.scan_indexed_days()?;
        days.extend(store.cold.days());
        *store.days.write().unwrap_or_else(PoisonError::into_inner) = days;
        Ok(store)
    }

    fn cf(&self, name: &'static str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created at open")
    }

    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            batch: WriteBatch::default(),
            days: Vec::new(),
        }
    }

    /// Applies `batch` atomically; with `sync` it is on disk before this returns, so it
    /// survives a crash (and a crash before leaves none of it).
    pub fn write(&self, batch: Batch<'_>, sync: bool) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db
            .write_opt(batch.batch, &opts)
            .map_err(backend("write a batch"))?;
        if !batch.days.is_empty() {
            self.days
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(batch.days);
        }
        Ok(())
    }

    /// Stamps a new database with [`keys::FORMAT_VERSION`]; refuses another version.
    fn check_format(&self) -> Result<()> {
        let want = keys::FORMAT_VERSION.to_be_bytes();
        match self.meta(keys::META_FORMAT_VERSION)? {
            None => {
                let mut opts = WriteOptions::default();
                opts.set_sync(true);
                self.db
                    .put_cf_opt(self.cf(CF_META), keys::META_FORMAT_VERSION, want, &opts)
                    .map_err(backend("write the format version"))
            }
            Some(v) if v == want => Ok(()),
            Some(v) => Err(Error::Corrupt {
                what: "format version",
                detail: format!("found {v:?}, this build reads {want:?}"),
            }),
        }
    }

    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(self.cf(CF_META), key)
            .map_err(backend("read metadata"))
    }

    fn meta_u64(&self, key: &'static [u8]) -> Result<Option<u64>> {
        self.meta(key)?
            .map(|v| keys::decode_u64(&v).ok_or_else(|| corrupt("metadata value", key)))
            .transpose()
    }

    /// Whether the metadata holds `key` (a flag written once).
    pub fn meta_flag(&self, key: &'static [u8]) -> Result<bool> {
        Ok(self.meta_u64(key)?.is_some_and(|v| v != 0))
    }

    /// Reads every series and the metadata.
    pub fn load(&self) -> Result<Loaded> {
        let mut series = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_SERIES), IteratorMode::Start) {
            let (k, v) = item.map_err(backend("read the series index"))?;
            let id = keys::decode_u64(&k).ok_or_else(|| corrupt("series key", &k))?;
            let labels = keys::decode_labels(&v).ok_or_else(|| Error::Corrupt {
                what: "series labels",
                detail: format!("series id {id}"),
            })?;
            series.push((id, labels));
        }
        let next_series_id = self.meta_u64(keys::META_NEXT_SERIES_ID)?.unwrap_or(0);
        // The counter and the series are written in one batch, so it is always past the
        // highest id; checked anyway, since reusing an id would merge two series.
        let past_max = series.last().map_or(0, |(id, _)| id + 1);
        if next_series_id < past_max {
            return Err(Error::Corrupt {
                what: "series id counter",
                detail: format!(
                    "counter {next_series_id} but series id {} exists",
                    past_max - 1
                ),
            });
        }
        let i64_meta = |key| self.meta_u64(key).map(|v| v.map(|v| v as i64));
        Ok(Loaded {
            series,
            next_series_id,
            flushed_seq: self.meta_u64(keys::META_FLUSHED_SEQ)?.unwrap_or(0),
            flushed_meta: self.meta(keys::META_FLUSHED_META)?.unwrap_or_default(),
            max_ts: i64_meta(keys::META_MAX_TS)?,
            min_ts: i64_meta(keys::META_MIN_TS)?,
            rollup_seq: self.meta_u64(keys::META_ROLLUP_SEQ)?.unwrap_or(0),
            rollups_until: {
                let mut until = [None; 5];
                for tier in Tier::ALL {
                    if let Some(key) = keys::until_key(tier) {
                        until[usize::from(tier.id())] = i64_meta(key)?;
                    }
                }
                until
            },
            sessions: match self.meta(keys::META_SESSIONS)? {
                None => Sessions::default(),
                Some(bytes) => Sessions::decode(&bytes)
                    .ok_or_else(|| corrupt("writer sessions", keys::META_SESSIONS))?,
            },
            tombstones: self.tombstones()?,
            exemplars: self.meta(keys::META_EXEMPLARS)?,
        })
    }

    /// The cold days recorded in meta.
    fn cold_entries(&self) -> Result<std::collections::BTreeMap<(Tier, i64), ColdEntry>> {
        let prefix = keys::META_COLD_PREFIX;
        let mut out = std::collections::BTreeMap::new();
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_META));
        iter.seek(prefix);
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !key.starts_with(prefix) {
                break;
            }
            let (tier, day) = keys::decode_cold_key(key)
                .and_then(|(t, d)| Some((Tier::from_id(t)?, d)))
                .ok_or_else(|| corrupt("cold day key", key))?;
            let entry = ColdEntry::decode(value).ok_or_else(|| corrupt("cold day", key))?;
            out.insert((tier, day), entry);
            iter.next();
        }
        iter.status().map_err(backend("read cold days"))?;
        Ok(out)
    }

    /// The days whose postings are only in cold objects.
    fn cold_postings(&self) -> Result<BTreeSet<i64>> {
        let prefix = keys::META_COLD_POSTINGS_PREFIX;
        let mut out = BTreeSet::new();
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_META));
        iter.seek(prefix);
        while let Some(key) = iter.key() {
            let Some(day) = key.strip_prefix(prefix) else {
                break;
            };
            let day: [u8; 8] = day
                .try_into()
                .map_err(|_| corrupt("cold postings key", key))?;
            out.insert(keys::decode_ts(day));
            iter.next();
        }
        iter.status().map_err(backend("read cold days"))?;
        Ok(out)
    }

    /// The cold days and their cache.
    pub fn cold(&self) -> &ColdDays {
        &self.cold
    }

    /// Whether `tier` holds local chunks in `day`.
    pub fn has_local_day(&self, tier: Tier, day: i64) -> Result<bool> {
        let mut iter = self.db.raw_iterator_cf(self.cf(tier_cf(tier)));
        let prefix = keys::day_prefix(day);
        iter.seek(prefix);
        let found = iter.key().is_some_and(|k| k.starts_with(&prefix));
        iter.status().map_err(backend("read chunks"))?;
        Ok(found)
    }

    /// Calls `f(key, value)` for every local chunk of `tier` in `day`, in key order.
    pub fn for_each_local_chunk(
        &self,
        tier: Tier,
        day: i64,
        f: &mut ChunkVisitor<'_>,
    ) -> Result<()> {
        let mut opts = ReadOptions::default();
        opts.fill_cache(false);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(tier_cf(tier)), opts);
        let prefix = keys::day_prefix(day);
        iter.seek(prefix);
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !key.starts_with(&prefix) {
                break;
            }
            f(key, value)?;
            iter.next();
        }
        iter.status().map_err(backend("read chunks"))
    }

    /// Compacts `day` of `tier` and of the postings, so that space its deleted keys held
    /// comes back now.
    pub fn compact_day(&self, tier: Tier, day: i64) {
        let (from, to) = (
            keys::day_prefix(day),
            keys::day_prefix(day.saturating_add(1)),
        );
        for cf in [tier_cf(tier), CF_POSTINGS] {
            self.db
                .compact_range_cf(self.cf(cf), Some(from.as_slice()), Some(to.as_slice()));
        }
    }

    /// Every postings key of `day`, local and cold, in key order.
    pub fn day_postings(&self, day: i64) -> Result<Vec<Vec<u8>>> {
        let prefix = keys::day_prefix(day);
        let mut all = BTreeSet::new();
        self.scan_local_postings(&prefix, &mut |key| {
            all.insert(key.to_vec());
        })?;
        if let Some(object) = self.postings_object(day)? {
            all.extend(
                object
                    .scan(Section::Postings, &prefix)
                    .map(|(k, _)| k.to_vec()),
            );
        }
        Ok(all.into_iter().collect())
    }

    /// Every series' tombstones.
    fn tombstones(&self) -> Result<Vec<SeriesTombstones>> {
        let prefix = keys::META_TOMBSTONE_PREFIX;
        let mut out = Vec::new();
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_META));
        iter.seek(prefix);
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let Some(id) = key.strip_prefix(prefix) else {
                break;
            };
            let id = keys::decode_u64(id).ok_or_else(|| corrupt("tombstone key", key))?;
            let intervals =
                keys::decode_intervals(value).ok_or_else(|| corrupt("tombstone", key))?;
            out.push((id, intervals));
            iter.next();
        }
        iter.status().map_err(backend("read tombstones"))?;
        Ok(out)
    }

    /// Whether series `id` has a local posting in partition `day`. Cold objects are not
    /// asked (this is the write path's check): a write into a cold day writes its own
    /// posting beside the object's, and reads take the union.
    pub fn indexed_on(&self, day: i64, id: u64) -> Result<bool> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_POSTINGS), keys::all_postings_key(day, id))
            .map_err(backend("read postings"))?
            .is_some())
    }

    /// Calls `f(name, value, id)` for every postings key of `day` starting with `prefix`
    /// (of a cold day: the object's and the local ones, merged in key order).
    fn scan_postings(&self, prefix: &[u8], f: &mut dyn FnMut(&str, &str, u64)) -> Result<()> {
        let day = keys::decode_ts(
            prefix[..8]
                .try_into()
                .expect("postings prefixes start with a day"),
        );
        if let Some(object) = self.postings_object(day)? {
            let mut all = BTreeSet::new();
            self.scan_local_postings(prefix, &mut |key| {
                all.insert(key.to_vec());
            })?;
            all.extend(
                object
                    .scan(Section::Postings, prefix)
                    .map(|(k, _)| k.to_vec()),
            );
            for key in &all {
                let (_, n, v, id) =
                    keys::decode_posting_key(key).ok_or_else(|| corrupt("postings key", key))?;
                f(n, v, id);
            }
            return Ok(());
        }
        self.scan_local_postings(prefix, &mut |key| {
            if let Some((_, n, v, id)) = keys::decode_posting_key(key) {
                f(n, v, id);
            }
        })
    }

    /// The cold object holding `day`'s postings, if some tier of the day is cold.
    fn postings_object(&self, day: i64) -> Result<Option<std::sync::Arc<ColdObject>>> {
        if !self.cold.any() {
            return Ok(None);
        }
        self.cold.postings_object(day)
    }

    /// Calls `f(key)` for every local postings key starting with `prefix`.
    fn scan_local_postings(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<()> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_POSTINGS));
        iter.seek(prefix);
        while let Some(key) = iter.key() {
            if !key.starts_with(prefix) {
                break;
            }
            keys::decode_posting_key(key).ok_or_else(|| corrupt("postings key", key))?;
            f(key);
            iter.next();
        }
        iter.status().map_err(backend("read postings"))
    }

    /// Ids of `name="value"` in `day`, ascending.
    pub fn postings(&self, day: i64, name: &str, value: &str) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        self.scan_postings(&keys::posting_prefix(day, name, value), &mut |_, _, id| {
            ids.push(id)
        })?;
        Ok(ids)
    }

    /// Every series with data in `day`, ascending.
    pub fn all_postings(&self, day: i64) -> Result<Vec<u64>> {
        self.postings(day, "", "")
    }

    /// Calls `f(value, id)` for every posting of label `name` in `day`, by value.
    pub fn for_each_posting(
        &self,
        day: i64,
        name: &str,
        f: &mut dyn FnMut(&str, u64),
    ) -> Result<()> {
        self.scan_postings(&keys::posting_name_prefix(day, name), &mut |_, v, id| {
            f(v, id)
        })
    }

    /// Label names present in `day`, skipping from one name to the next.
    pub fn label_names(
        &self,
        day: i64,
        out: &mut std::collections::BTreeSet<String>,
    ) -> Result<()> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_POSTINGS));
        let prefix = keys::day_prefix(day);
        iter.seek(keys::posting_name_prefix(day, "\u{1}"));
        while let Some(key) = iter.key() {
            if !key.starts_with(&prefix) {
                break;
            }
            let (_, name, _, _) =
                keys::decode_posting_key(key).ok_or_else(|| corrupt("postings key", key))?;
            out.insert(name.to_string());
            // Past every key of this name: `name \x01` sorts after `name \x00 ...`.
            let mut next = keys::day_prefix(day).to_vec();
            next.extend_from_slice(name.as_bytes());
            next.push(1);
            iter.seek(&next);
        }
        iter.status().map_err(backend("read postings"))?;
        if let Some(object) = self.postings_object(day)? {
            for (key, _) in object.scan(Section::Postings, &prefix) {
                let (_, name, _, _) =
                    keys::decode_posting_key(key).ok_or_else(|| corrupt("postings key", key))?;
                if !name.is_empty() && !out.contains(name) {
                    out.insert(name.to_string());
                }
            }
        }
        Ok(())
    }

    /// A reader of many series' chunks of `tier` through one iterator.
    pub fn chunk_reader(&self, tier: Tier) -> ChunkReader<'_> {
        ChunkReader::new(
            self.db.raw_iterator_cf(self.cf(tier_cf(tier))),
            &self.cold,
            tier,
        )
    }

    /// A [`ChunkReader`] for a background pass (rollups, compaction) that reads each
    /// block once: the blocks it reads are not added to the block cache, where they would
    /// push out the blocks queries read again (and, during ingest, fill it: a quarter of
    /// the process's peak memory was rollup blocks in the cache).
    pub fn chunk_reader_uncached(&self, tier: Tier) -> ChunkReader<'_> {
        let mut opts = ReadOptions::default();
        opts.fill_cache(false);
        ChunkReader::new(
            self.db.raw_iterator_cf_opt(self.cf(tier_cf(tier)), opts),
            &self.cold,
            tier,
        )
    }

    /// Whether some chunk of series `id` in `day` of `tier` spans into `[start, end]`
    /// ([`ChunkReader::any`]).
    pub fn any_chunk(&self, tier: Tier, day: i64, id: u64, range: (i64, i64)) -> Result<bool> {
        self.chunk_reader(tier).any(day, id, range)
    }

    /// The days in `[from, to]` that have postings, ascending.
    pub fn indexed_days(&self, from: i64, to: i64) -> Result<Vec<i64>> {
        if from > to {
            return Ok(Vec::new());
        }
        let days = self.days.read().unwrap_or_else(PoisonError::into_inner);
        Ok(days.range(from..=to).copied().collect())
    }

    /// Every day that has postings, read from the postings: one seek per day found.
    fn scan_indexed_days(&self) -> Result<BTreeSet<i64>> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_POSTINGS));
        let mut out = BTreeSet::new();
        let mut day = i64::MIN;
        loop {
            iter.seek(keys::day_prefix(day));
            let Some(key) = iter.key() else { break };
            let (found, ..) =
                keys::decode_posting_key(key).ok_or_else(|| corrupt("postings key", key))?;
            out.insert(found);
            match found.checked_add(1) {
                Some(next) => day = next,
                None => break,
            }
        }
        iter.status().map_err(backend("read postings"))?;
        Ok(out)
    }

    /// The oldest partition holding data in `tier`, locally or cold.
    pub fn first_day(&self, tier: Tier) -> Result<Option<i64>> {
        let local = self.first_local_day(tier)?;
        Ok(match (local, self.cold.first_day(tier)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// The oldest partition holding local data in `tier`.
    pub fn first_local_day(&self, tier: Tier) -> Result<Option<i64>> {
        let mut iter = self.db.raw_iterator_cf(self.cf(tier_cf(tier)));
        iter.seek_to_first();
        let day = iter
            .key()
            .map(|k| {
                keys::decode_chunk_key(k)
                    .map(|(d, ..)| d)
                    .ok_or_else(|| corrupt("chunk key", k))
            })
            .transpose()?;
        iter.status().map_err(backend("read chunks"))?;
        Ok(day)
    }

    /// Window starts of `tier` whose rollups must be computed again.
    pub fn dirty(&self, tier: Tier) -> Result<Vec<i64>> {
        let prefix = [tier.id()];
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_DIRTY),
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, _) = item.map_err(backend("read dirty windows"))?;
            match keys::decode_dirty_key(&k) {
                Some((t, start)) if t == tier.id() => out.push(start),
                Some(_) => break,
                None => return Err(corrupt("dirty key", &k)),
            }
        }
        Ok(out)
    }

    /// Drops every partition of `tier` before `day`, then compacts the range so the disk
    /// space comes back; cold days before `day` are forgotten and returned (their objects
    /// are for the leader to delete).
    pub fn drop_days_before(&self, tier: Tier, day: i64) -> Result<Vec<ColdEntry>> {
        self.drop_range(tier_cf(tier), day)?;
        let gone = self.cold.remove_before(tier, day);
        if !gone.is_empty() {
            let mut batch = WriteBatch::default();
            batch.delete_range_cf(
                self.cf(CF_META),
                keys::cold_key(tier.id(), i64::MIN),
                keys::cold_key(tier.id(), day),
            );
            self.db.write(batch).map_err(backend("drop cold days"))?;
        }
        Ok(gone.into_iter().map(|(_, e)| e).collect())
    }

    /// Drops the postings of every day before `day` (and the dirty marks of windows
    /// before it).
    pub fn drop_index_days_before(&self, day: i64) -> Result<()> {
        self.drop_range(CF_POSTINGS, day)?;
        self.days
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|&d| d >= day);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.cf(CF_META),
            keys::cold_postings_key(i64::MIN),
            keys::cold_postings_key(day),
        );
        self.cold.forget_postings_before(day);
        let cf = self.cf(CF_DIRTY);
        for tier in Tier::ALL {
            batch.delete_range_cf(
                cf,
                keys::dirty_key(tier.id(), i64::MIN),
                keys::dirty_key(tier.id(), day.saturating_mul(keys::DAY_MS)),
            );
        }
        self.db.write(batch).map_err(backend("drop dirty marks"))
    }

    fn drop_range(&self, cf_name: &'static str, day: i64) -> Result<()> {
        let (from, to) = (keys::day_prefix(i64::MIN), keys::day_prefix(day));
        let cf = self.cf(cf_name);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, from, to);
        self.db.write(batch).map_err(backend("drop partitions"))?;
        self.db.compact_range_cf(cf, Some(from), Some(to));
        Ok(())
    }

    /// Bytes `tier` takes on disk (SST files plus memtables).
    pub fn disk_bytes(&self, tier: Tier) -> u64 {
        let cf = self.cf(tier_cf(tier));
        [
            "rocksdb.total-sst-files-size",
            "rocksdb.cur-size-all-mem-tables",
        ]
        .iter()
        .filter_map(|p| self.db.property_int_value_cf(cf, *p).ok().flatten())
        .sum()
    }

    /// Bytes of every column family (SST files plus memtables).
    pub fn total_disk_bytes(&self) -> u64 {
        COLUMN_FAMILIES
            .iter()
            .flat_map(|name| {
                let cf = self.cf(name);
                [
                    "rocksdb.total-sst-files-size",
                    "rocksdb.cur-size-all-mem-tables",
                ]
                .iter()
                .filter_map(|p| self.db.property_int_value_cf(cf, *p).ok().flatten())
                .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Flushes memtables to SST files (at close, for measurements and before a
    /// checkpoint), so nothing needs RocksDB's log at the next open.
    pub fn flush_memtables(&self) -> Result<()> {
        for name in COLUMN_FAMILIES {
            self.db
                .flush_cf(self.cf(name))
                .map_err(backend("flush memtables"))?;
        }
        Ok(())
    }

    /// Compacts every column family fully (benchmarks: the steady state on disk).
    pub fn compact_all(&self) {
        for name in COLUMN_FAMILIES {
            self.db
                .compact_range_cf(self.cf(name), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// A consistent copy of the database in `dir` (hard links where possible): the
    /// snapshot a follower is sent.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(dir))
            .map_err(backend("create a checkpoint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of RocksDB's log files in `dir`.
    fn log_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    }

    /// Writes `n` batches of 1 MiB of chunks (incompressible, as encoded chunks are).
    fn write_chunks(store: &Store, n: u64) {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for b in 0..n {
            let mut batch = store.batch();
            for i in 0..16u64 {
                let chunk: Vec<u8> = (0..64 * 1024)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                batch.put_chunk(Tier::Raw, 0, b * 16 + i, (0, 1), 1, &chunk);
            }
            store.write(batch, true).unwrap();
        }
    }

    /// The log never holds much more than its bound: the memtables' data is not kept twice
    /// on disk until the memtables fill up. The flushes the bound asks for run in the
    /// background, so each round waits (a while, on a busy machine) for them to retire the
    /// old log files; without the bound nothing is flushed and the log keeps all 40 MiB.
    #[test]
    fn the_log_stays_bounded_while_memtables_fill() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let bound = WAL_BYTES + (2 << 20);
        for round in 0..10 {
            write_chunks(&store, 4);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let mut held = log_bytes(dir.path());
            while held > bound && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
                held = log_bytes(dir.path());
            }
            assert!(
                held <= bound,
                "after round {round} the log held {held} bytes (bound {WAL_BYTES})"
            );
        }
    }

    /// The days with postings follow writes and retention drops, and a reopen reads the
    /// same days back from the postings.
    #[test]
    fn indexed_days_follow_writes_drops_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let labels = LabelSet::from_canonical(vec![
            ("__name__".to_string(), "up".to_string()),
            ("job".to_string(), "a".to_string()),
        ])
        .unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert!(store.indexed_days(i64::MIN, i64::MAX).unwrap().is_empty());
            let mut batch = store.batch();
            for (day, id) in [(-3, 1), (5, 1), (5, 2), (7, 2), (9, 3)] {
                batch.put_postings(day, id, &labels);
            }
            store.write(batch, true).unwrap();
            assert_eq!(
                store.indexed_days(i64::MIN, i64::MAX).unwrap(),
                [-3, 5, 7, 9]
            );
            assert_eq!(store.indexed_days(5, 8).unwrap(), [5, 7]);
            assert!(store.indexed_days(8, 5).unwrap().is_empty());
            store.drop_index_days_before(6).unwrap();
            assert_eq!(store.indexed_days(i64::MIN, i64::MAX).unwrap(), [7, 9]);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.indexed_days(i64::MIN, i64::MAX).unwrap(), [7, 9]);
        assert_eq!(store.scan_indexed_days().unwrap(), BTreeSet::from([7, 9]));
    }

    /// A clean close leaves no log to replay, and the data is read back.
    #[test]
    fn a_clean_close_leaves_no_log() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            write_chunks(&store, 3);
            assert!(log_bytes(dir.path()) > 1 << 20);
        }
        assert!(
            log_bytes(dir.path()) < 4096,
            "{} bytes of log after close",
            log_bytes(dir.path())
        );
        let store = Store::open(dir.path()).unwrap();
        let found: Vec<usize> = store
            .chunk_reader(Tier::Raw)
            .chunk_list(0, 47, (i64::MIN, i64::MAX))
            .unwrap()
            .iter()
            .map(|c| c.data.len())
            .collect();
        assert_eq!(found, vec![64 * 1024]);
    }
}
