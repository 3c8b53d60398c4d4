//! The log record: one write, the unit the engine applies and the payload of a Raft log
//! entry ([`RecordWriter`], [`decode_log_record`]). Applying the same records in the same
//! order always gives the same state. (The admin records, `delete_series` and
//! `clean_tombstones`, share the log with a first byte of their own: `admin_record.rs`.)

use std::sync::Arc;

use prost::Message;
use telltale_storage_api::FloatHistogram;
use telltale_storage_api::pb::Histogram;

use crate::chunk::bits::{put_uvarint, put_varint, read_uvarint, unzigzag};
use crate::error::{Error, Result};
use crate::exemplars::{Exemplar, Reader, put_pairs};
use crate::labels::LabelSet;

/// The native histogram samples of one series, in time order.
pub type HistogramSamples = Vec<(i64, Arc<FloatHistogram>)>;

/// How a log record names a series: by its labels, or, for a series the engine already
/// stored, by its id (ids are never reused, and a series is stored in the same atomic
/// batch as the record that creates it, so every id a record names resolves at replay).
#[derive(Debug, Clone, PartialEq)]
pub enum RecordSeries {
    Labels(LabelSet),
    Id(u64),
}

/// The series of a log record, in record order, with their samples: one buffer of
/// samples for the whole record, so decoding costs no allocation per series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordItems {
    /// Each series and the end of its samples in `samples`.
    series: Vec<(RecordSeries, usize)>,
    samples: Vec<(i64, f64)>,
    /// Exemplars per series (a record with exemplars only: [`RECORD_V2_EXEMPLARS`]).
    exemplars: Vec<(RecordSeries, Vec<Exemplar>)>,
    /// Native histogram samples per series, in time order ([`RECORD_V2_HISTOGRAMS`]).
    histograms: Vec<(RecordSeries, HistogramSamples)>,
}

impl RecordItems {
    /// Series in the record.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The exemplars of the record, per series, in record order.
    pub fn exemplars(&self) -> &[(RecordSeries, Vec<Exemplar>)] {
        &self.exemplars
    }

    /// The native histogram samples of the record, per series, in record order.
    pub fn histograms(&self) -> &[(RecordSeries, HistogramSamples)] {
        &self.histograms
    }

    /// Each series with its samples, in record order.
    pub fn iter(&self) -> impl Iterator<Item = (&RecordSeries, &[(i64, f64)])> {
        let mut start = 0;
        self.series.iter().map(move |(series, end)| {
            let samples = &self.samples[start..*end];
            start = *end;
            (series, samples)
        })
    }
}

/// Decodes a log record of either version, series named by labels or by id.
pub fn decode_log_record(bytes: &[u8]) -> Result<RecordItems> {
    decode_record(bytes).ok_or_else(|| corrupt_record(bytes))
}

fn corrupt_record(bytes: &[u8]) -> Error {
    Error::Corrupt {
        what: "log record",
        detail: format!("{} bytes do not decode", bytes.len()),
    }
}

/// Version 1 names every series by its labels; version 2 starts each series with a tag:
/// 0 for labels, `id + 1` for a stored series. Both are read; version 2 is written.
const RECORD_V1: u8 = 1;
const RECORD_V2: u8 = 2;
/// A version 2 record followed by exemplars (written only when a write has exemplars, so
/// records without them stay version 2): `uvarint(series) { uvarint(tag) [labels]
/// uvarint(exemplars) { uvarint(labels) { uvarint(len) name uvarint(len) value }
/// varint(t) f64 bits:u64le } }`, series tagged as in version 2. A first byte of its
/// own, far from the small version numbers, so that other record kinds stay additive.
pub const RECORD_V2_EXEMPLARS: u8 = 0x45;
/// A version 2 record followed by its exemplars (`uvarint(series)` and the series as in
/// [`RECORD_V2_EXEMPLARS`], possibly none) and then its native histogram samples:
/// `uvarint(series) { uvarint(tag) [labels] uvarint(samples) { uvarint(len)
/// telltale.storage.v1.Histogram } }` (the storage contract's message, timestamp
/// included). Written only by a write with histograms.
pub const RECORD_V2_HISTOGRAMS: u8 = 0x46;

/// Builds a log record straight from borrowed data:
/// `version:u8 uvarint(series) { uvarint(tag) [uvarint(labels) { uvarint(len) name
/// uvarint(len) value }] uvarint(samples) { varint(t - previous t) f64 bits:u64le } }`,
/// where the labels follow only a tag of 0 and a tag `id + 1` names a stored series.
/// Labels are canonical (sorted, no empty values); samples are in time order. Naming a
/// known series by id keeps the record about an eighth of its size on a scrape-shaped
/// write (one sample per series), which is most of what RocksDB has to move.
pub struct RecordWriter(Vec<u8>);

impl RecordWriter {
    pub fn new(series: usize) -> Self {
        let mut out = Vec::with_capacity(16 + series * 24);
        out.push(RECORD_V2);
        put_uvarint(&mut out, series as u64);
        RecordWriter(out)
    }

    /// A series named by its canonical labels.
    pub fn series<'a>(
        &mut self,
        labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        samples: &[(i64, f64)],
    ) {
        let out = &mut self.0;
        put_uvarint(out, 0);
        put_uvarint(out, labels.len() as u64);
        for (n, v) in labels {
            put_uvarint(out, n.len() as u64);
            out.extend_from_slice(n.as_bytes());
            put_uvarint(out, v.len() as u64);
            out.extend_from_slice(v.as_bytes());
        }
        self.samples(samples);
    }

    /// A series already stored, named by its id.
    pub fn known(&mut self, id: u64, samples: &[(i64, f64)]) {
        put_uvarint(&mut self.0, id + 1);
        self.samples(samples);
    }

    fn samples(&mut self, samples: &[(i64, f64)]) {
        let out = &mut self.0;
        put_uvarint(out, samples.len() as u64);
        let mut prev = 0i64;
        for &(t, v) in samples {
            put_varint(out, t.wrapping_sub(prev));
            prev = t;
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }

    /// The record with `exemplars` and `histograms` after its samples
    /// ([`RECORD_V2_HISTOGRAMS`]); as [`RecordWriter::finish_with`] without histograms.
    pub fn finish_with_histograms(
        self,
        exemplars: ExemplarsWriter,
        histograms: HistogramsWriter,
    ) -> Vec<u8> {
        if histograms.series == 0 {
            return self.finish_with(exemplars);
        }
        let mut out = self.0;
        out[0] = RECORD_V2_HISTOGRAMS;
        put_uvarint(&mut out, exemplars.series);
        out.extend_from_slice(&exemplars.bytes);
        put_uvarint(&mut out, histograms.series);
        out.extend_from_slice(&histograms.bytes);
        out
    }

    /// The record with `exemplars` after its samples ([`RECORD_V2_EXEMPLARS`]); the
    /// version 2 record when there are none.
    pub fn finish_with(self, exemplars: ExemplarsWriter) -> Vec<u8> {
        let mut out = self.0;
        if exemplars.series == 0 {
            return out;
        }
        out[0] = RECORD_V2_EXEMPLARS;
        put_uvarint(&mut out, exemplars.series);
        out.extend_from_slice(&exemplars.bytes);
        out
    }
}

/// The exemplar part of a record ([`RecordWriter::finish_with`]).
#[derive(Default)]
pub struct ExemplarsWriter {
    series: u64,
    bytes: Vec<u8>,
}

impl ExemplarsWriter {
    pub fn is_empty(&self) -> bool {
        self.series == 0
    }

    /// Exemplars of a series named by its canonical labels.
    pub fn series<'a>(
        &mut self,
        labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        exemplars: &[Exemplar],
    ) {
        put_uvarint(&mut self.bytes, 0);
        put_pairs(&mut self.bytes, labels);
        self.exemplars(exemplars);
    }

    /// Exemplars of a stored series, named by its id.
    pub fn known(&mut self, id: u64, exemplars: &[Exemplar]) {
        put_uvarint(&mut self.bytes, id + 1);
        self.exemplars(exemplars);
    }

    fn exemplars(&mut self, exemplars: &[Exemplar]) {
        self.series += 1;
        let out = &mut self.bytes;
        put_uvarint(out, exemplars.len() as u64);
        for e in exemplars {
            put_pairs(out, e.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            put_varint(out, e.ts);
            out.extend_from_slice(&e.value.to_bits().to_le_bytes());
        }
    }
}

/// The native histogram part of a record ([`RecordWriter::finish_with_histograms`]).
#[derive(Default)]
pub struct HistogramsWriter {
    series: u64,
    bytes: Vec<u8>,
}

impl HistogramsWriter {
    /// Samples of a series named by its canonical labels.
    pub fn series<'a>(
        &mut self,
        labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        samples: &[Histogram],
    ) {
        put_uvarint(&mut self.bytes, 0);
        put_pairs(&mut self.bytes, labels);
        self.samples(samples);
    }

    /// Samples of a stored series, named by its id.
    pub fn known(&mut self, id: u64, samples: &[Histogram]) {
        put_uvarint(&mut self.bytes, id + 1);
        self.samples(samples);
    }

    fn samples(&mut self, samples: &[Histogram]) {
        self.series += 1;
        put_uvarint(&mut self.bytes, samples.len() as u64);
        for h in samples {
            h.encode_length_delimited(&mut self.bytes)
                .expect("a Vec grows as needed");
        }
    }
}

/// The histogram part of a [`RECORD_V2_HISTOGRAMS`] record; `None` when it does not
/// decode or holds an invalid histogram (the leader validated every one).
fn decode_histograms(r: &mut Reader<'_>) -> Option<Vec<(RecordSeries, HistogramSamples)>> {
    let n_series = r.uvarint()?;
    let mut out = Vec::with_capacity((n_series as usize).min(r.0.len()));
    for _ in 0..n_series {
        let named = match r.uvarint()? {
            0 => RecordSeries::Labels(LabelSet::from_canonical(r.pairs()?)?),
            tag => RecordSeries::Id(tag - 1),
        };
        let n = r.uvarint()?;
        let mut samples = Vec::with_capacity((n as usize).min(r.0.len()));
        for _ in 0..n {
            let len = usize::try_from(r.uvarint()?).ok()?;
            let (msg, rest) = r.0.split_at_checked(len)?;
            r.0 = rest;
            let h = Histogram::decode(msg).ok()?;
            let value = FloatHistogram::from_proto(&h).ok()?;
            samples.push((h.timestamp_ms, Arc::new(value)));
        }
        out.push((named, samples));
    }
    Some(out)
}

/// The exemplar part of a [`RECORD_V2_EXEMPLARS`] record.
fn decode_exemplars(bytes: &[u8]) -> Option<Vec<(RecordSeries, Vec<Exemplar>)>> {
    let mut r = Reader(bytes);
    let out = read_exemplars(&mut r)?;
    r.0.is_empty().then_some(out)
}

fn read_exemplars(r: &mut Reader<'_>) -> Option<Vec<(RecordSeries, Vec<Exemplar>)>> {
    let n_series = r.uvarint()?;
    let mut out = Vec::with_capacity((n_series as usize).min(r.0.len()));
    for _ in 0..n_series {
        let named = match r.uvarint()? {
            0 => RecordSeries::Labels(LabelSet::from_canonical(r.pairs()?)?),
            tag => RecordSeries::Id(tag - 1),
        };
        let n = r.uvarint()?;
        let mut exemplars = Vec::with_capacity((n as usize).min(r.0.len()));
        for _ in 0..n {
            let labels = r.pairs()?;
            let ts = unzigzag(r.uvarint()?);
            let value = f64::from_bits(u64::from_le_bytes(r.array()?));
            exemplars.push(Exemplar { labels, value, ts });
        }
        out.push((named, exemplars));
    }
    Some(out)
}

fn decode_record(bytes: &[u8]) -> Option<RecordItems> {
    let (&version, mut rest) = bytes.split_first()?;
    let with_exemplars = version == RECORD_V2_EXEMPLARS;
    let with_histograms = version == RECORD_V2_HISTOGRAMS;
    let version = if with_exemplars || with_histograms {
        RECORD_V2
    } else {
        version
    };
    if version != RECORD_V1 && version != RECORD_V2 {
        return None;
    }
    let uvarint = |rest: &mut &[u8]| -> Option<u64> {
        let (v, used) = read_uvarint(rest)?;
        *rest = &rest[used..];
        Some(v)
    };
    let take = |rest: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        let (head, tail) = rest.split_at_checked(n)?;
        *rest = tail;
        Some(head.to_vec())
    };
    let n_series = uvarint(&mut rest)?;
    let mut items = RecordItems {
        series: Vec::with_capacity((n_series as usize).min(bytes.len())),
        // A sample takes at least 9 bytes.
        samples: Vec::with_capacity(bytes.len() / 9),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    };
    for _ in 0..n_series {
        let tag = if version == RECORD_V1 {
            0
        } else {
            uvarint(&mut rest)?
        };
        let named = if tag == 0 {
            let n_labels = uvarint(&mut rest)?;
            let mut pairs = Vec::with_capacity((n_labels as usize).min(64));
            for _ in 0..n_labels {
                let len = uvarint(&mut rest)? as usize;
                let name = String::from_utf8(take(&mut rest, len)?).ok()?;
                let len = uvarint(&mut rest)? as usize;
                let value = String::from_utf8(take(&mut rest, len)?).ok()?;
                pairs.push((name, value));
            }
            RecordSeries::Labels(LabelSet::from_canonical(pairs)?)
        } else {
            RecordSeries::Id(tag - 1)
        };
        let n_samples = uvarint(&mut rest)?;
        let mut t = 0i64;
        for _ in 0..n_samples {
            t = t.wrapping_add(unzigzag(uvarint(&mut rest)?));
            let (v, tail) = rest.split_first_chunk::<8>()?;
            rest = tail;
            items
                .samples
                .push((t, f64::from_bits(u64::from_le_bytes(*v))));
        }
        items.series.push((named, items.samples.len()));
    }
    if with_exemplars {
        items.exemplars = decode_exemplars(rest)?;
        return Some(items);
    }
    if with_histograms {
        let mut r = Reader(rest);
        items.exemplars = read_exemplars(&mut r)?;
        items.histograms = decode_histograms(&mut r)?;
        return r.0.is_empty().then_some(items);
    }
    rest.is_empty().then_some(items)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn garbage_records_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_log_record(&bytes);
        }
    }

    proptest! {
        #[test]
        fn records_naming_series_by_id_or_labels_round_trip(
            items in proptest::collection::vec(
                (proptest::option::of(0u64..u64::MAX - 1),
                 proptest::collection::vec((any::<i64>(), any::<u64>()), 0..5)),
                0..6,
            )
        ) {
            let labels = LabelSet::from_canonical(vec![
                ("__name__".to_string(), "up".to_string()),
                ("job".to_string(), "x".to_string()),
            ]).unwrap();
            let mut w = RecordWriter::new(items.len());
            let mut want = Vec::new();
            for (id, samples) in &items {
                let mut samples: Vec<(i64, f64)> =
                    samples.iter().map(|(t, v)| (*t, f64::from_bits(*v))).collect();
                samples.sort_by_key(|s| s.0);
                match id {
                    Some(id) => {
                        w.known(*id, &samples);
                        want.push((RecordSeries::Id(*id), samples));
                    }
                    None => {
                        w.series(labels.iter(), &samples);
                        want.push((RecordSeries::Labels(labels.clone()), samples));
                    }
                }
            }
            let got = decode_log_record(&w.finish()).unwrap();
            prop_assert_eq!(got.len(), want.len());
            for ((gs, gv), (ws, wv)) in got.iter().zip(&want) {
                prop_assert_eq!(gs, ws);
                let wv: &[(i64, f64)] = wv;
                let bits = |v: &[(i64, f64)]| v.iter().map(|(t, x)| (*t, x.to_bits())).collect::<Vec<_>>();
                prop_assert_eq!(bits(gv), bits(wv));
            }
        }
    }

    #[test]
    fn version_1_records_still_decode() {
        // Version 1 as the release before id-named series wrote it: one series
        // {__name__="up"}, one sample (t=5, 1.0).
        let mut v1 = vec![1u8, 1, 1, 8];
        v1.extend_from_slice(b"__name__");
        v1.push(2);
        v1.extend_from_slice(b"up");
        v1.extend_from_slice(&[1, 10]);
        v1.extend_from_slice(&1.0f64.to_bits().to_le_bytes());
        let items = decode_log_record(&v1).unwrap();
        let items: Vec<_> = items.iter().collect();
        assert_eq!(items.len(), 1);
        match items[0].0 {
            RecordSeries::Labels(l) => assert_eq!(l.to_string(), r#"{__name__="up"}"#),
            other => panic!("named by {other:?}"),
        }
        assert_eq!(items[0].1, &[(5, 1.0)]);

        let mut w = RecordWriter::new(1);
        w.known(41, &[(5, 1.0)]);
        let record = decode_log_record(&w.finish()).unwrap();
        assert_eq!(
            record.iter().collect::<Vec<_>>(),
            vec![(&RecordSeries::Id(41), &[(5, 1.0)][..])]
        );
        assert!(decode_log_record(&[3, 0]).is_err(), "unknown version");
    }

    #[test]
    fn exemplars_ride_after_the_samples() {
        let labels = LabelSet::from_canonical(vec![("__name__".into(), "c_total".into())]).unwrap();
        let ex = Exemplar::new(
            vec![("trace_id".into(), "abc".into())],
            1.5,
            1_600_000_000_123,
        );
        let mut w = RecordWriter::new(1);
        w.known(3, &[(5, 1.0)]);
        let mut e = ExemplarsWriter::default();
        e.known(3, std::slice::from_ref(&ex));
        e.series(labels.iter(), &[ex.clone(), ex.clone()]);
        let bytes = w.finish_with(e);
        assert_eq!(bytes[0], RECORD_V2_EXEMPLARS);
        let record = decode_log_record(&bytes).unwrap();
        assert_eq!(record.len(), 1);
        assert_eq!(
            record.exemplars(),
            &[
                (RecordSeries::Id(3), vec![ex.clone()]),
                (RecordSeries::Labels(labels), vec![ex.clone(), ex]),
            ]
        );
        // Without exemplars the record is the version 2 one, byte for byte.
        let mut plain = RecordWriter::new(1);
        plain.known(3, &[(5, 1.0)]);
        let mut same = RecordWriter::new(1);
        same.known(3, &[(5, 1.0)]);
        assert_eq!(plain.finish(), same.finish_with(ExemplarsWriter::default()));
        // Truncated exemplars do not decode.
        assert!(decode_log_record(&bytes[..bytes.len() - 1]).is_err());
    }
}
