//! [`Store`]: the one place that knows RocksDB — column families, key layouts
//! ([`keys`]), the synced write batch and the reads. Nothing outside this module names a
//! `rocksdb::` type.

pub mod keys;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::postings::PostingsSource;

const CF_SERIES: &str = "series";
const CF_SERIES_BY_LABELS: &str = "series_by_labels";
const CF_POSTINGS: &str = "postings";
const CF_SAMPLES: &str = "samples";
const CF_META: &str = "meta";
const COLUMN_FAMILIES: [&str; 5] = [
    CF_SERIES,
    CF_SERIES_BY_LABELS,
    CF_POSTINGS,
    CF_SAMPLES,
    CF_META,
];

/// Everything one write request changes, applied atomically by [`Store::commit`].
#[derive(Debug, Default)]
pub struct Commit {
    /// Series first seen in this request, with their new ids.
    pub new_series: Vec<(u64, Arc<LabelSet>)>,
    /// The id the next new series will get, when `new_series` is not empty.
    pub next_series_id: Option<u64>,
    /// `(series id, timestamp, value)`, applied in order: a later duplicate wins.
    pub samples: Vec<(u64, i64, f64)>,
}

/// The index as persisted, read once at open.
#[derive(Debug)]
pub struct Loaded {
    pub series: Vec<(u64, LabelSet)>,
    pub next_series_id: u64,
}

/// A RocksDB database holding the series index and the samples.
pub struct Store {
    db: DB,
}

fn backend(op: &'static str) -> impl Fn(rocksdb::Error) -> Error {
    move |e| Error::Backend {
        op,
        message: e.into_string(),
    }
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(backend("open the database"))?;
        let store = Store { db };
        store.check_format()?;
        Ok(store)
    }

    fn cf(&self, name: &'static str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created at open")
    }

    /// Stamps a new database with [`keys::FORMAT_VERSION`]; refuses another version.
    fn check_format(&self) -> Result<()> {
        let meta = self.cf(CF_META);
        let want = keys::FORMAT_VERSION.to_be_bytes();
        match self
            .db
            .get_cf(meta, keys::META_FORMAT_VERSION)
            .map_err(backend("read the format version"))?
        {
            None => {
                let mut opts = WriteOptions::default();
                opts.set_sync(true);
                self.db
                    .put_cf_opt(meta, keys::META_FORMAT_VERSION, want, &opts)
                    .map_err(backend("write the format version"))
            }
            Some(v) if v == want => Ok(()),
            Some(v) => Err(Error::Corrupt {
                what: "format version",
                detail: format!("found {v:?}, this build reads {want:?}"),
            }),
        }
    }

    /// Reads every series and the id counter.
    pub fn load(&self) -> Result<Loaded> {
        let mut series = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_SERIES), rocksdb::IteratorMode::Start)
        {
            let (k, v) = item.map_err(backend("read the series index"))?;
            let id = keys::decode_u64(&k).ok_or_else(|| Error::Corrupt {
                what: "series key",
                detail: format!("{k:?}"),
            })?;
            let labels = keys::decode_labels(&v).ok_or_else(|| Error::Corrupt {
                what: "series labels",
                detail: format!("series id {id}"),
            })?;
            series.push((id, labels));
        }
        let stored = self
            .db
            .get_cf(self.cf(CF_META), keys::META_NEXT_SERIES_ID)
            .map_err(backend("read the series id counter"))?
            .map(|v| {
                keys::decode_u64(&v).ok_or_else(|| Error::Corrupt {
                    what: "series id counter",
                    detail: format!("{v:?}"),
                })
            })
            .transpose()?
            .unwrap_or(0);
        // The counter and the series are written in one batch, so it is always past the
        // highest id; checked anyway, since reusing an id would merge two series.
        let past_max = series.last().map_or(0, |(id, _)| id + 1);
        if stored < past_max {
            return Err(Error::Corrupt {
                what: "series id counter",
                detail: format!("counter {stored} but series id {} exists", past_max - 1),
            });
        }
        Ok(Loaded {
            series,
            next_series_id: stored,
        })
    }

    /// Applies `commit` as one batch, synced to disk before returning: once this returns
    /// Ok the whole batch survives a crash, and a crash before leaves none of it.
    pub fn commit(&self, commit: &Commit) -> Result<()> {
        let mut batch = WriteBatch::default();
        let (series, by_labels, postings, samples) = (
            self.cf(CF_SERIES),
            self.cf(CF_SERIES_BY_LABELS),
            self.cf(CF_POSTINGS),
            self.cf(CF_SAMPLES),
        );
        for (id, labels) in &commit.new_series {
            let encoded = keys::encode_labels(labels);
            batch.put_cf(series, keys::encode_id(*id), &encoded);
            batch.put_cf(by_labels, &encoded, keys::encode_id(*id));
            for (n, v) in labels.iter() {
                batch.put_cf(postings, keys::posting_key(n, v, *id), []);
            }
        }
        if let Some(next) = commit.next_series_id {
            batch.put_cf(
                self.cf(CF_META),
                keys::META_NEXT_SERIES_ID,
                keys::encode_id(next),
            );
        }
        for (id, ts, value) in &commit.samples {
            batch.put_cf(
                samples,
                keys::sample_key(*id, *ts),
                keys::encode_value(*value),
            );
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .write_opt(batch, &opts)
            .map_err(backend("write a batch"))
    }

    /// A reader of samples that reuses one iterator across series.
    pub fn samples(&self) -> SampleCursor<'_> {
        SampleCursor {
            iter: self.db.raw_iterator_cf(self.cf(CF_SAMPLES)),
        }
    }

    /// Calls `f` for every postings key starting with `prefix`, decoded.
    fn scan_postings(&self, prefix: &[u8], f: &mut dyn FnMut(&str, &str, u64)) -> Result<()> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_POSTINGS));
        iter.seek(prefix);
        while let Some(key) = iter.key() {
            if !key.starts_with(prefix) {
                break;
            }
            let (n, v, id) = keys::decode_posting_key(key).ok_or_else(|| Error::Corrupt {
                what: "postings key",
                detail: format!("{key:?}"),
            })?;
            f(n, v, id);
            iter.next();
        }
        iter.status().map_err(backend("read postings"))
    }
}

impl PostingsSource for Store {
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        self.scan_postings(&keys::posting_prefix(name, value), &mut |_, _, id| {
            ids.push(id)
        })?;
        Ok(ids)
    }

    fn for_each_posting(&self, name: &str, f: &mut dyn FnMut(&str, u64)) -> Result<()> {
        self.scan_postings(&keys::posting_name_prefix(name), &mut |_, v, id| f(v, id))
    }
}

/// Reads the samples of one series after another (see [`Store::samples`]).
pub struct SampleCursor<'a> {
    iter: rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
}

impl SampleCursor<'_> {
    /// Appends the samples of series `id` within `[start, end]` to `out`, in time order.
    pub fn read(&mut self, id: u64, start: i64, end: i64, out: &mut Vec<(i64, f64)>) -> Result<()> {
        self.iter.seek(keys::sample_key(id, start));
        while let (Some(key), Some(value)) = (self.iter.key(), self.iter.value()) {
            let (sid, ts) = decode_sample(key)?;
            if sid != id || ts > end {
                break;
            }
            let v = keys::decode_value(value).ok_or_else(|| Error::Corrupt {
                what: "sample value",
                detail: format!("series id {id} at {ts}: {value:?}"),
            })?;
            out.push((ts, v));
            self.iter.next();
        }
        self.iter.status().map_err(backend("read samples"))
    }

    /// Whether series `id` has a sample within `[start, end]`: one seek.
    pub fn any_in(&mut self, id: u64, start: i64, end: i64) -> Result<bool> {
        self.iter.seek(keys::sample_key(id, start));
        let found = match self.iter.key() {
            Some(key) => {
                let (sid, ts) = decode_sample(key)?;
                sid == id && ts <= end
            }
            None => false,
        };
        self.iter.status().map_err(backend("read samples"))?;
        Ok(found)
    }
}

fn decode_sample(key: &[u8]) -> Result<(u64, i64)> {
    keys::decode_sample_key(key).ok_or_else(|| Error::Corrupt {
        what: "sample key",
        detail: format!("{key:?}"),
    })
}
