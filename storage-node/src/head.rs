//! [`Head`]: the in-memory part of the engine — per series an open Gorilla chunk for
//! in-order samples and a small map for out-of-order ones, and likewise an open
//! histogram chunk for native histogram samples ([`HistogramHead`]) — and [`Frozen`], a
//! head taken out whole by a flush and still readable until its chunks are on disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use telltale_storage_api::FloatHistogram;

use crate::chunk::histograms::HistogramAppender;
use crate::chunk::samples::SampleAppender;
use crate::engine::sessions::Sessions;
use crate::hashing::IdMap;

/// The unflushed samples of one series.
#[derive(Debug, Default, Clone)]
pub struct HeadSeries {
    /// Samples newer than every earlier one, compressed as they arrive.
    pub chunk: SampleAppender,
    /// Samples at or before the chunk's last timestamp; on equal timestamps these are
    /// the later writes and win.
    pub ooo: BTreeMap<i64, f64>,
    /// The newest day the series has postings in, as of its last write to this head
    /// (the writer's own record of it is in another map: a write of a series the head
    /// holds finds both here with one lookup).
    pub indexed_day: Option<i64>,
}

/// Bytes a head chunk is given with its first sample (which takes 16): two reallocations
/// fewer on its way to its size. Prometheus gives its chunks 128 bytes; that would hold
/// about 96 bytes more per series at the peak of an ingest, where a flush holds the old
/// head while every series starts a chunk in the new one.
pub const CHUNK_ALLOCATION_BYTES: usize = 32;

impl HeadSeries {
    pub fn append(&mut self, t: i64, v: f64) {
        if self.chunk.is_empty() {
            self.chunk.reserve(CHUNK_ALLOCATION_BYTES);
        }
        match self.chunk.bounds() {
            Some((_, last)) if t <= last => {
                self.ooo.insert(t, v);
            }
            _ => self.chunk.append(t, v),
        }
    }

    /// The oldest timestamp held.
    pub fn min_ts(&self) -> Option<i64> {
        let chunk = self.chunk.bounds().map(|(first, _)| first);
        let ooo = self.ooo.keys().next().copied();
        match (chunk, ooo) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn len(&self) -> usize {
        self.chunk.len() + self.ooo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every sample in time order, one per timestamp (out-of-order writes win).
    pub fn samples(&self) -> Vec<(i64, f64)> {
        let mut out: Vec<(i64, f64)> = Vec::with_capacity(self.len());
        let mut ooo = self.ooo.iter().peekable();
        for s in self.chunk.iter() {
            let (t, v) = s.expect("the head's own chunk decodes");
            while let Some((&ot, &ov)) = ooo.next_if(|(ot, _)| **ot < t) {
                out.push((ot, ov));
            }
            match ooo.next_if(|(ot, _)| **ot == t) {
                Some((&ot, &ov)) => out.push((ot, ov)),
                None => out.push((t, v)),
            }
        }
        out.extend(ooo.map(|(t, v)| (*t, *v)));
        out
    }

    /// Samples within `[start, end]`, in time order.
    pub fn samples_in(&self, start: i64, end: i64) -> Vec<(i64, f64)> {
        let mut all = self.samples();
        all.retain(|(t, _)| (start..=end).contains(t));
        all
    }

    /// Heap bytes held (approximate).
    pub fn heap_bytes(&self) -> usize {
        self.chunk.heap_bytes() + self.ooo.len() * 40
    }
}

/// The unflushed native histogram samples of one series: as [`HeadSeries`].
#[derive(Debug, Default, Clone)]
pub struct HistogramHead {
    pub chunk: HistogramAppender,
    pub ooo: BTreeMap<i64, Arc<FloatHistogram>>,
    pub indexed_day: Option<i64>,
}

impl HistogramHead {
    pub fn append(&mut self, t: i64, h: Arc<FloatHistogram>) {
        match self.chunk.bounds() {
            Some((_, last)) if t <= last => {
                self.ooo.insert(t, h);
            }
            _ => self.chunk.append(t, &h),
        }
    }

    /// The oldest timestamp held.
    pub fn min_ts(&self) -> Option<i64> {
        let chunk = self.chunk.bounds().map(|(first, _)| first);
        let ooo = self.ooo.keys().next().copied();
        match (chunk, ooo) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn len(&self) -> usize {
        self.chunk.len() + self.ooo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every sample in time order, one per timestamp (out-of-order writes win).
    pub fn samples(&self) -> Vec<(i64, Arc<FloatHistogram>)> {
        let mut out: Vec<(i64, Arc<FloatHistogram>)> = Vec::with_capacity(self.len());
        let mut ooo = self.ooo.iter().peekable();
        for s in self.chunk.iter() {
            let (t, h) = s.expect("the head's own chunk decodes");
            while let Some((&ot, oh)) = ooo.next_if(|(ot, _)| **ot < t) {
                out.push((ot, oh.clone()));
            }
            match ooo.next_if(|(ot, _)| **ot == t) {
                Some((&ot, oh)) => out.push((ot, oh.clone())),
                None => out.push((t, h)),
            }
        }
        out.extend(ooo.map(|(t, h)| (*t, h.clone())));
        out
    }

    /// Samples within `[start, end]`, in time order.
    pub fn samples_in(&self, start: i64, end: i64) -> Vec<(i64, Arc<FloatHistogram>)> {
        let mut all = self.samples();
        all.retain(|(t, _)| (start..=end).contains(t));
        all
    }

    /// Heap bytes held (approximate).
    pub fn heap_bytes(&self) -> usize {
        self.chunk.heap_bytes()
            + self
                .ooo
                .values()
                .map(|h| 160 + 16 * h.bucket_count())
                .sum::<usize>()
    }
}

/// Unflushed samples of every series that has some.
#[derive(Debug, Default)]
pub struct Head {
    pub series: IdMap<HeadSeries>,
    /// Native histogram samples, per series that has some.
    pub histograms: IdMap<HistogramHead>,
    /// Samples held (float and histogram).
    pub samples: usize,
}

impl Head {
    /// Appends a sample of series `id`, which has postings in `day` (the day of `t`).
    pub fn append(&mut self, id: u64, t: i64, v: f64, day: i64) {
        let series = self.series.entry(id).or_default();
        series.append(t, v);
        series.indexed_day = series.indexed_day.max(Some(day));
        self.samples += 1;
    }

    /// Appends a native histogram sample of series `id`, which has postings in `day`.
    pub fn append_histogram(&mut self, id: u64, t: i64, h: Arc<FloatHistogram>, day: i64) {
        let series = self.histograms.entry(id).or_default();
        series.append(t, h);
        series.indexed_day = series.indexed_day.max(Some(day));
        self.samples += 1;
    }

    pub fn heap_bytes(&self) -> usize {
        self.series
            .values()
            .map(HeadSeries::heap_bytes)
            .sum::<usize>()
            + self.series.capacity() * (std::mem::size_of::<(u64, HeadSeries)>() + 8)
            + self
                .histograms
                .values()
                .map(HistogramHead::heap_bytes)
                .sum::<usize>()
            + self.histograms.capacity() * (std::mem::size_of::<(u64, HistogramHead)>() + 8)
    }
}

/// A head being flushed: every sample it held is at most `seq`.
#[derive(Debug, Default)]
pub struct Frozen {
    pub seq: u64,
    pub series: IdMap<HeadSeries>,
    pub histograms: IdMap<HistogramHead>,
    /// Newest and oldest sample time as of `seq`.
    pub max_ts: Option<i64>,
    pub min_ts: Option<i64>,
    /// The applier's metadata as of `seq`.
    pub meta: Vec<u8>,
    /// The last batch per writer as of `seq`.
    pub sessions: Sessions,
    /// The exemplar ring as of `seq`, encoded, when it changed since the last freeze.
    pub exemplars: Option<Vec<u8>>,
}

impl Frozen {
    /// Whether it holds no sample.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.histograms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_duplicates_merge_with_later_writes_winning() {
        let mut s = HeadSeries::default();
        s.append(10, 1.0);
        s.append(20, 2.0);
        s.append(15, 1.5); // out of order
        s.append(20, 2.5); // duplicate of an in-order sample: later wins
        s.append(5, 0.5); // older than everything
        s.append(30, 3.0);
        assert_eq!(
            s.samples(),
            vec![(5, 0.5), (10, 1.0), (15, 1.5), (20, 2.5), (30, 3.0)]
        );
        assert_eq!(s.min_ts(), Some(5));
        assert_eq!(s.samples_in(10, 20), vec![(10, 1.0), (15, 1.5), (20, 2.5)]);
    }
}
