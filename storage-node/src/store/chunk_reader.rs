//! [`ChunkReader`]: the chunks of many series of one tier read through one RocksDB
//! iterator, in key order.
//!
//! A query reads the chunks of thousands of series whose keys lie close together (one
//! host's series are created together, so their ids are adjacent). One iterator keeps its
//! current block between series, reads ahead once the reads run sequential, and skips the
//! seek where the previous series' scan already stopped on the next series' first key; an
//! iterator per series would look each block up again (and decompress it again whenever
//! the block cache has let it go).

use std::sync::Arc;

use rocksdb::DBRawIterator;

use super::{StoredChunk, backend, corrupt, keys};
use crate::cold::{ColdDays, ColdObject, Section};
use crate::error::Result;
use crate::tier::Tier;

/// Reads chunks of one tier for series asked in ascending `(day, id)` order (any order
/// is correct; ascending order is what makes it fast). A cold day's chunks come from its
/// object as well as from the local column family (late data written since it moved).
pub struct ChunkReader<'a> {
    iter: DBRawIterator<'a>,
    /// The prefix whose scan ran to its end: the iterator then stands on the first key
    /// after that prefix's keys (or is exhausted).
    scanned: Option<[u8; 16]>,
    cold: &'a ColdDays,
    tier: Tier,
    /// The last day looked up in `cold` and its object, if it is cold.
    cold_day: Option<(i64, Option<Arc<ColdObject>>)>,
    /// Only the local column family is read.
    local: bool,
}

impl<'a> ChunkReader<'a> {
    pub(super) fn new(iter: DBRawIterator<'a>, cold: &'a ColdDays, tier: Tier) -> Self {
        ChunkReader {
            iter,
            scanned: None,
            cold,
            tier,
            cold_day: None,
            local: false,
        }
    }

    /// This reader without the cold objects: the local chunks only.
    pub fn local_only(mut self) -> Self {
        self.local = true;
        self
    }

    /// The object of `day` when it is cold (looked up once per day in a row).
    fn cold_object(&mut self, day: i64) -> Result<Option<Arc<ColdObject>>> {
        if self.local || !self.cold.any() {
            return Ok(None);
        }
        if let Some((d, o)) = &self.cold_day
            && *d == day
        {
            return Ok(o.clone());
        }
        let object = self.cold.object(self.tier, day)?;
        self.cold_day = Some((day, object.clone()));
        Ok(object)
    }

    /// Every chunk of series `id` in `day` that may hold data within `[start, end]`, in
    /// key order, with its key fields and stored bytes.
    pub fn chunk_list(&mut self, day: i64, id: u64, range: (i64, i64)) -> Result<Vec<StoredChunk>> {
        let mut out = Vec::new();
        self.scan(day, id, range, |start, end, seq, data| {
            out.push(StoredChunk {
                start,
                end,
                seq,
                data: data.to_vec(),
            });
            true
        })?;
        Ok(out)
    }

    /// Whether some chunk of series `id` in `day` spans into `[start, end]` (read from
    /// key and header only; a chunk spanning the range with a gap exactly over it counts
    /// too).
    pub fn any(&mut self, day: i64, id: u64, range: (i64, i64)) -> Result<bool> {
        let mut found = false;
        self.scan(day, id, range, |_, _, _, _| {
            found = true;
            false
        })?;
        Ok(found)
    }

    /// Calls `f(start, end, seq, data)` for the chunks [`Self::chunk_list`] answers, in
    /// key order, until it returns false.
    fn scan(
        &mut self,
        day: i64,
        id: u64,
        range: (i64, i64),
        mut f: impl FnMut(i64, i64, u64, &[u8]) -> bool,
    ) -> Result<()> {
        if !self.scan_local(day, id, range, &mut f)? {
            return Ok(());
        }
        let Some(object) = self.cold_object(day)? else {
            return Ok(());
        };
        let prefix = keys::chunk_prefix(day, id);
        for (key, value) in object.scan(Section::Chunks, &prefix) {
            if !visit(key, value, range, &mut f)? {
                break;
            }
        }
        Ok(())
    }

    /// The local part of [`Self::scan`]; false when `f` stopped it.
    fn scan_local(
        &mut self,
        day: i64,
        id: u64,
        range: (i64, i64),
        f: &mut impl FnMut(i64, i64, u64, &[u8]) -> bool,
    ) -> Result<bool> {
        let prefix = keys::chunk_prefix(day, id);
        if !self.position(&prefix) {
            return Ok(true);
        }
        self.scanned = None;
        let mut going = true;
        while let (Some(key), Some(value)) = (self.iter.key(), self.iter.value()) {
            if !key.starts_with(&prefix) {
                self.scanned = Some(prefix);
                break;
            }
            going = visit(key, value, range, f)?;
            if !going {
                break;
            }
            self.iter.next();
        }
        if !self.iter.valid() {
            self.scanned = Some(prefix);
        }
        self.iter.status().map_err(backend("read chunks"))?;
        Ok(going)
    }

    /// Puts the iterator on the first key of `prefix`; false when no key has it. After a
    /// scan that ran past a smaller prefix the iterator already stands on the first key
    /// after that prefix's keys: if that key starts `prefix`, it is its first; if it lies
    /// beyond `prefix` (or there is none), nothing starts `prefix`; only a key before
    /// `prefix` needs a seek.
    fn position(&mut self, prefix: &[u8; 16]) -> bool {
        if let Some(done) = self.scanned
            && done < *prefix
        {
            match self
                .iter
                .key()
                .map(|key| key[..key.len().min(16)].cmp(prefix))
            {
                Some(std::cmp::Ordering::Equal) => return true,
                Some(std::cmp::Ordering::Greater) | None => return false,
                Some(std::cmp::Ordering::Less) => {}
            }
        }
        self.iter.seek(prefix);
        true
    }
}

/// Calls `f` for the chunk `(key, value)` when it may hold data in `[start, end]`;
/// false when the scan of its series should stop (past `end`, or `f` said so).
fn visit(
    key: &[u8],
    value: &[u8],
    (start, end): (i64, i64),
    f: &mut impl FnMut(i64, i64, u64, &[u8]) -> bool,
) -> Result<bool> {
    let (_, _, c_start, seq) =
        keys::decode_chunk_key(key).ok_or_else(|| corrupt("chunk key", key))?;
    if c_start > end {
        return Ok(false);
    }
    let (span, used) =
        crate::chunk::bits::read_uvarint(value).ok_or_else(|| corrupt("chunk header", key))?;
    let c_end = c_start.wrapping_add(span as i64);
    Ok(c_end < start || f(c_start, c_end, seq, &value[used..]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::store::Store;
    use crate::tier::Tier;

    fn key(c: &crate::store::StoredChunk) -> (i64, i64, u64, Vec<u8>) {
        (c.start, c.end, c.seq, c.data.clone())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// One reader asked for series in any order (some without chunks, some
        /// whose scan stops early at the range's end) answers what a fresh seek per
        /// series answers.
        #[test]
        fn one_reader_answers_as_a_seek_per_series(
            stored in proptest::collection::btree_set((0i64..2, 0u64..30, 0i64..6), 0..80),
            asked in proptest::collection::vec((0i64..3, 0u64..32), 0..40),
            (start, len) in (0i64..700, 0i64..400),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let mut batch = store.batch();
            for &(day, id, k) in &stored {
                let (from, to) = (k * 100, k * 100 + 150);
                batch.put_chunk(Tier::Raw, day, id, (from, to), k as u64, &[day as u8, id as u8, k as u8]);
            }
            store.write(batch, false).unwrap();
            let range = (start, start + len);
            let mut reader = store.chunk_reader(Tier::Raw);
            for &(day, id) in &asked {
                let got: Vec<_> = reader.chunk_list(day, id, range).unwrap().iter().map(key).collect();
                let want: Vec<_> = store.chunk_reader(Tier::Raw).chunk_list(day, id, range).unwrap().iter().map(key).collect();
                prop_assert_eq!(got, want, "day {} id {}", day, id);
            }
        }
    }

    /// The fresh seek the property compares with is itself right.
    #[test]
    fn a_series_chunks_within_the_range_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = store.batch();
        batch.put_chunk(Tier::Raw, 0, 7, (0, 99), 1, b"a");
        batch.put_chunk(Tier::Raw, 0, 7, (100, 199), 2, b"b");
        batch.put_chunk(Tier::Raw, 0, 7, (200, 299), 3, b"c");
        batch.put_chunk(Tier::Raw, 0, 8, (0, 99), 4, b"d");
        store.write(batch, false).unwrap();
        let mut reader = store.chunk_reader(Tier::Raw);
        let got: Vec<_> = reader.chunk_list(0, 7, (150, 250)).unwrap();
        assert_eq!(
            got.iter().map(|c| c.data.clone()).collect::<Vec<_>>(),
            vec![b"b".to_vec(), b"c".to_vec()]
        );
        assert!(reader.chunk_list(0, 6, (0, 999)).unwrap().is_empty());
        assert_eq!(reader.chunk_list(0, 8, (0, 999)).unwrap()[0].data, b"d");
        assert!(reader.chunk_list(0, 9, (0, 999)).unwrap().is_empty());
    }

    /// `any` stops at the first chunk that spans into the range, and the reader answers
    /// correctly after it stopped inside a series.
    #[test]
    fn any_reads_headers_only_and_leaves_the_reader_usable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = store.batch();
        batch.put_chunk(Tier::Raw, 0, 7, (0, 99), 1, b"a");
        batch.put_chunk(Tier::Raw, 0, 7, (200, 299), 2, b"b");
        batch.put_chunk(Tier::Raw, 0, 8, (0, 99), 3, b"c");
        store.write(batch, false).unwrap();
        let mut reader = store.chunk_reader(Tier::Raw);
        assert!(reader.any(0, 7, (50, 60)).unwrap());
        assert!(!reader.any(0, 7, (120, 180)).unwrap(), "between two chunks");
        assert!(reader.any(0, 7, (250, 400)).unwrap());
        assert!(!reader.any(0, 6, (0, 999)).unwrap());
        assert!(reader.any(0, 7, (0, 999)).unwrap());
        let rest: Vec<_> = reader.chunk_list(0, 7, (0, 999)).unwrap();
        assert_eq!(rest.len(), 2, "after an early stop");
        assert_eq!(reader.chunk_list(0, 8, (0, 999)).unwrap()[0].data, b"c");
        assert!(store.any_chunk(Tier::Raw, 0, 8, (50, 50)).unwrap());
        assert!(!store.any_chunk(Tier::Raw, 0, 8, (100, 999)).unwrap());
    }
}
