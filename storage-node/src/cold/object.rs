//! The layout of a cold object: one day of one tier — its chunks and the postings of the
//! day — as one immutable file, read in place by binary search over its offsets.
//!
//! ```text
//! "TTCOLD01"
//! postings entries, ascending by key   { uvarint(key len) key uvarint(value len) value }
//! chunk entries, ascending by key      (keys and values as in the column families)
//! offsets                              u64 LE per entry: where it starts
//! footer                               u64 LE postings count, u64 LE chunk count,
//!                                      u64 LE offset of the offsets, "TTCOLD01"
//! ```
//!
//! Keys are the column families' own ([`crate::store::keys`]), so a cold day answers the
//! same prefix scans as a local one. Integrity is the manifest's SHA-256 of the whole
//! object, checked before an object is used; [`ColdObject::parse`] still checks every
//! bound, so a damaged file is an error, never a panic.

use std::io::Write;
use std::sync::Arc;

use crate::chunk::bits::{put_uvarint, read_uvarint};

const MAGIC: &[u8; 8] = b"TTCOLD01";
const FOOTER: usize = 32;

/// Writes a cold object: every postings entry first, then every chunk, each in key order.
pub struct ObjectWriter<W: Write> {
    out: W,
    offsets: Vec<u64>,
    pos: u64,
    postings: u64,
    last: Vec<u8>,
    buf: Vec<u8>,
}

impl<W: Write> ObjectWriter<W> {
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(MAGIC)?;
        Ok(ObjectWriter {
            out,
            offsets: Vec::new(),
            pos: MAGIC.len() as u64,
            postings: 0,
            last: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// A postings key (its value is empty), in ascending order.
    pub fn posting(&mut self, key: &[u8]) -> std::io::Result<()> {
        assert_eq!(
            self.postings,
            self.offsets.len() as u64,
            "postings come before chunks"
        );
        let first = self.postings == 0;
        self.entry(key, &[], first)?;
        self.postings += 1;
        Ok(())
    }

    /// A chunk key and value, in ascending order, after every posting.
    pub fn chunk(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        let first = self.offsets.len() as u64 == self.postings;
        self.entry(key, value, first)
    }

    fn entry(&mut self, key: &[u8], value: &[u8], first: bool) -> std::io::Result<()> {
        assert!(first || self.last.as_slice() < key, "keys ascend");
        self.buf.clear();
        put_uvarint(&mut self.buf, key.len() as u64);
        self.buf.extend_from_slice(key);
        put_uvarint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(value);
        self.out.write_all(&self.buf)?;
        self.offsets.push(self.pos);
        self.pos += self.buf.len() as u64;
        self.last.clear();
        self.last.extend_from_slice(key);
        Ok(())
    }

    /// Writes the offsets and the footer; returns the writer and the object's size.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        let offsets_at = self.pos;
        for o in &self.offsets {
            self.out.write_all(&o.to_le_bytes())?;
        }
        let chunks = self.offsets.len() as u64 - self.postings;
        for v in [self.postings, chunks, offsets_at] {
            self.out.write_all(&v.to_le_bytes())?;
        }
        self.out.write_all(MAGIC)?;
        self.out.flush()?;
        let size = offsets_at + 8 * self.offsets.len() as u64 + FOOTER as u64;
        Ok((self.out, size))
    }
}

/// The bytes of an object.
pub type ObjectBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A cold object, parsed: entry lookups by key prefix.
#[derive(Clone)]
pub struct ColdObject {
    data: ObjectBytes,
    postings: usize,
    entries: usize,
    offsets_at: usize,
}

impl std::fmt::Debug for ColdObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColdObject")
            .field("bytes", &self.bytes().len())
            .field("postings", &self.postings)
            .field("chunks", &(self.entries - self.postings))
            .finish()
    }
}

/// Which entries: the postings, or the chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Postings,
    Chunks,
}

impl ColdObject {
    /// Checks the frame (magic, footer, every offset within the entries); `None` when
    /// the bytes are not a cold object.
    pub fn parse(data: ObjectBytes) -> Option<ColdObject> {
        let bytes = (*data).as_ref();
        let n = bytes.len();
        if n < MAGIC.len() + FOOTER || &bytes[..8] != MAGIC || &bytes[n - 8..] != MAGIC {
            return None;
        }
        let u = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let postings = usize::try_from(u(n - FOOTER)).ok()?;
        let chunks = usize::try_from(u(n - FOOTER + 8)).ok()?;
        let offsets_at = usize::try_from(u(n - FOOTER + 16)).ok()?;
        let entries = postings.checked_add(chunks)?;
        if offsets_at.checked_add(entries.checked_mul(8)?)? != n - FOOTER || offsets_at < 8 {
            return None;
        }
        let object = ColdObject {
            data,
            postings,
            entries,
            offsets_at,
        };
        let mut last = MAGIC.len() - 1;
        for i in 0..entries {
            let at = object.offset(i);
            if at <= last || at >= offsets_at {
                return None;
            }
            last = at;
            object.entry_at(i)?;
        }
        Some(object)
    }

    fn bytes(&self) -> &[u8] {
        (*self.data).as_ref()
    }

    fn offset(&self, i: usize) -> usize {
        let at = self.offsets_at + 8 * i;
        u64::from_le_bytes(self.bytes()[at..at + 8].try_into().unwrap_or([0; 8])) as usize
    }

    /// Entry `i` (checked at parse: always within the entries).
    fn entry_at(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let bytes = &self.bytes()[..self.offsets_at];
        let mut at = self.offset(i);
        let (klen, used) = read_uvarint(bytes.get(at..)?)?;
        at += used;
        let key = bytes.get(at..at.checked_add(usize::try_from(klen).ok()?)?)?;
        at += key.len();
        let (vlen, used) = read_uvarint(bytes.get(at..)?)?;
        at += used;
        let value = bytes.get(at..at.checked_add(usize::try_from(vlen).ok()?)?)?;
        Some((key, value))
    }

    fn range(&self, section: Section) -> std::ops::Range<usize> {
        match section {
            Section::Postings => 0..self.postings,
            Section::Chunks => self.postings..self.entries,
        }
    }

    /// The entries of `section` whose key starts with `prefix`, in key order.
    pub fn scan<'a>(
        &'a self,
        section: Section,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let range = self.range(section);
        let (mut lo, mut hi) = (range.start, range.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry_at(mid) {
                Some((key, _)) if key < prefix => lo = mid + 1,
                _ => hi = mid,
            }
        }
        (lo..range.end)
            .map_while(|i| self.entry_at(i))
            .take_while(move |(key, _)| key.starts_with(prefix))
    }

    /// Bytes of the object.
    pub fn size(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// Number of chunk entries.
    pub fn chunks(&self) -> usize {
        self.entries - self.postings
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn build(postings: &[Vec<u8>], chunks: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut w = ObjectWriter::new(Vec::new()).unwrap();
        for p in postings {
            w.posting(p).unwrap();
        }
        for (k, v) in chunks {
            w.chunk(k, v).unwrap();
        }
        let (bytes, size) = w.finish().unwrap();
        assert_eq!(bytes.len() as u64, size);
        bytes
    }

    fn parse(bytes: Vec<u8>) -> Option<ColdObject> {
        ColdObject::parse(Arc::new(bytes))
    }

    proptest! {
        #[test]
        fn prefix_scans_find_exactly_the_keys_with_the_prefix(
            postings in proptest::collection::btree_set(proptest::collection::vec(0u8..4, 1..5), 0..40),
            chunks in proptest::collection::btree_map(proptest::collection::vec(0u8..4, 1..5), proptest::collection::vec(any::<u8>(), 0..20), 0..40),
            prefix in proptest::collection::vec(0u8..4, 0..3),
        ) {
            let postings: Vec<Vec<u8>> = postings.into_iter().collect();
            let chunks: Vec<(Vec<u8>, Vec<u8>)> = chunks.into_iter().collect();
            let object = parse(build(&postings, &chunks)).unwrap();
            let got: Vec<Vec<u8>> = object.scan(Section::Postings, &prefix).map(|(k, _)| k.to_vec()).collect();
            let want: Vec<Vec<u8>> = postings.iter().filter(|k| k.starts_with(&prefix)).cloned().collect();
            prop_assert_eq!(got, want);
            let got: Vec<(Vec<u8>, Vec<u8>)> = object.scan(Section::Chunks, &prefix).map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> = chunks.iter().filter(|(k, _)| k.starts_with(&prefix)).cloned().collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn damaged_objects_are_refused_or_read_without_panicking(
            cut in 0usize..200,
            flip in 0usize..200,
            bit in 0u8..8,
        ) {
            let chunks: Vec<(Vec<u8>, Vec<u8>)> = (0u8..10).map(|i| (vec![i; 3], vec![i; i as usize])).collect();
            let good = build(&[vec![0, 1], vec![2]], &chunks);
            let mut bad = good.clone();
            let i = flip % bad.len();
            bad[i] ^= 1 << bit;
            if let Some(o) = parse(bad) {
                let _ = o.scan(Section::Chunks, &[]).count();
            }
            let truncated = good[..cut.min(good.len() - 1)].to_vec();
            prop_assert!(parse(truncated).is_none());
        }
    }

    #[test]
    fn an_empty_object_parses() {
        let o = parse(build(&[], &[])).unwrap();
        assert_eq!(o.scan(Section::Chunks, b"").count(), 0);
        assert_eq!(o.chunks(), 0);
    }
}
