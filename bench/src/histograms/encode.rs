//! Native histogram samples as remote_write 1.0 sends them: `prometheus.WriteRequest`
//! with `TimeSeries.histograms`, integer histograms whose bucket counts are deltas (each
//! bucket's count minus the one before it; the first against zero), spans over the
//! populated buckets with gaps of one or two buckets filled with empty ones (as
//! client_golang builds them), snappy-compressed. The requests go into a
//! [`Push`] that [`crate::remote_write::send`] sends as it sends float samples.

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::Message;

use super::workload::{Kind, SCHEMA, Sample, Series, ZERO_THRESHOLD};
use crate::remote_write::{Push, Request};

/// `prometheus.WriteRequest`, the fields used here.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries` with histograms only.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Histogram` as an integer histogram with positive buckets: the `count`
/// and `zero_count` oneofs' integer members (fields 1 and 6), always present.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(uint64, optional, tag = "1")]
    pub count_int: Option<u64>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(uint64, optional, tag = "6")]
    pub zero_count_int: Option<u64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// `prometheus.Histogram.ResetHint`.
pub const HINT_UNKNOWN: i32 = 0;
pub const HINT_YES: i32 = 1;
pub const HINT_GAUGE: i32 = 3;

/// Spans and delta-encoded counts of populated buckets (index order, counts above
/// zero); a gap of one or two buckets is bridged with empty buckets, a longer one
/// starts a new span.
pub fn spans_and_deltas(buckets: &[(i32, u64)]) -> (Vec<BucketSpan>, Vec<i64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::with_capacity(buckets.len() + 4);
    let mut previous_count = 0i64;
    let mut next_index = 0i32;
    for (k, (index, count)) in buckets.iter().enumerate() {
        let gap = index - next_index;
        if k == 0 || gap > 2 {
            spans.push(BucketSpan {
                offset: gap,
                length: 0,
            });
        } else {
            for _ in 0..gap {
                deltas.push(-previous_count);
                previous_count = 0;
            }
            if let Some(s) = spans.last_mut() {
                s.length += gap as u32;
            }
        }
        let count = *count as i64;
        deltas.push(count - previous_count);
        previous_count = count;
        if let Some(s) = spans.last_mut() {
            s.length += 1;
        }
        next_index = index + 1;
    }
    (spans, deltas)
}

/// One sample at `timestamp` as the wire message.
pub fn histogram(sample: &Sample, timestamp: i64) -> Histogram {
    let (positive_spans, positive_deltas) = spans_and_deltas(&sample.buckets);
    Histogram {
        count_int: Some(sample.count),
        sum: sample.sum,
        schema: SCHEMA,
        zero_threshold: ZERO_THRESHOLD,
        zero_count_int: Some(sample.zero_count),
        positive_spans,
        positive_deltas,
        reset_hint: match (sample.kind, sample.reset) {
            (Kind::Gauge, _) => HINT_GAUGE,
            (Kind::Counter, true) => HINT_YES,
            (Kind::Counter, false) => HINT_UNKNOWN,
        },
        timestamp,
    }
}

/// What to push: `points` samples per series of `series` histogram series seeded by
/// `seed`, one every `interval_ms`, the last interval ending at `end_ms`.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct HistogramPlan {
    pub series: usize,
    pub seed: u64,
    pub points: usize,
    pub interval_ms: i64,
    pub end_ms: i64,
    pub senders: usize,
    pub request_samples: usize,
}

impl HistogramPlan {
    pub fn start_ms(&self) -> i64 {
        self.end_ms - self.points as i64 * self.interval_ms
    }

    /// The time of `series`' sample of step `step`: after the step's start by
    /// [`crate::remote_write::SCRAPE_OFFSET_MS`] and a per-series jitter below 50 ms.
    pub fn timestamp(&self, series: usize, step: usize) -> i64 {
        let jitter = (series as i64 * 7919) % 50;
        self.start_ms()
            + step as i64 * self.interval_ms
            + crate::remote_write::SCRAPE_OFFSET_MS
            + jitter
    }

    /// Generates every sample and encodes the requests: series `i` belongs to sender
    /// `i % senders`, which sends its samples in time order, `request_samples` a request.
    pub fn build(&self) -> Push {
        let mut all = super::workload::series(self.series, self.seed);
        let labels: Vec<Vec<Label>> = all.iter().map(wire_labels).collect();
        let senders = self.senders.max(1);
        let mut pending: Vec<Pending> = (0..senders).map(|_| Pending::default()).collect();
        let mut out: Vec<Vec<Request>> = vec![Vec::new(); senders];
        let mut compressed = 0u64;
        let mut encoder = snap::raw::Encoder::new();
        let dt = self.interval_ms as f64 / 1000.0;
        for step in 0..self.points {
            for (i, series) in all.iter_mut().enumerate() {
                let sample = series.advance(dt);
                let p = &mut pending[i % senders];
                if p.samples.is_empty() {
                    p.first_step = step;
                }
                p.samples
                    .push((i as u32, histogram(&sample, self.timestamp(i, step))));
                if p.samples.len() >= self.request_samples.max(1) {
                    let r = p.take(&labels, &mut encoder);
                    compressed += r.body.len() as u64;
                    out[i % senders].push(r);
                }
            }
        }
        for (s, p) in pending.iter_mut().enumerate() {
            if !p.samples.is_empty() {
                let r = p.take(&labels, &mut encoder);
                compressed += r.body.len() as u64;
                out[s].push(r);
            }
        }
        Push {
            senders: out,
            series: self.series,
            samples: (self.series * self.points) as u64,
            compressed_bytes: compressed,
        }
    }
}

/// A series' labels as the wire sends them: `__name__` first, then sorted by name.
fn wire_labels(s: &Series) -> Vec<Label> {
    std::iter::once(("__name__", s.name.to_string()))
        .chain(s.labels.iter().map(|(n, v)| (*n, v.clone())))
        .map(|(name, value)| Label {
            name: name.to_string(),
            value,
        })
        .collect()
}

/// The samples of one request being collected.
#[derive(Default)]
struct Pending {
    samples: Vec<(u32, Histogram)>,
    first_step: usize,
}

impl Pending {
    /// Encodes the collected samples (grouped per series, in time order within each)
    /// and starts over.
    fn take(&mut self, labels: &[Vec<Label>], encoder: &mut snap::raw::Encoder) -> Request {
        let samples = std::mem::take(&mut self.samples);
        let n = samples.len();
        let mut grouped: BTreeMap<u32, Vec<Histogram>> = BTreeMap::new();
        for (series, h) in samples {
            grouped.entry(series).or_default().push(h);
        }
        let request = WriteRequest {
            timeseries: grouped
                .into_iter()
                .map(|(series, histograms)| TimeSeries {
                    labels: labels[series as usize].clone(),
                    histograms,
                })
                .collect(),
        };
        let body = encoder
            .compress_vec(&request.encode_to_vec())
            .expect("snappy compresses any input below 4 GiB");
        Request {
            body: Bytes::from(body),
            samples: n,
            first_step: self.first_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn absolute(spans: &[BucketSpan], deltas: &[i64]) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        let (mut index, mut count, mut k) = (0i32, 0i64, 0usize);
        // The first offset is the first index, each later one the gap after the
        // previous span.
        for s in spans {
            index += s.offset;
            for _ in 0..s.length {
                count += deltas[k];
                k += 1;
                out.push((index, count));
                index += 1;
            }
        }
        assert_eq!(k, deltas.len());
        out
    }

    #[test]
    fn spans_bridge_small_gaps_and_deltas_give_the_counts_back() {
        let buckets = [(-3, 5), (-2, 7), (0, 2), (3, 9), (7, 1), (8, 4)];
        let (spans, deltas) = spans_and_deltas(&buckets);
        assert_eq!(
            spans,
            vec![
                BucketSpan {
                    offset: -3,
                    length: 7
                },
                BucketSpan {
                    offset: 3,
                    length: 2
                }
            ]
        );
        let got = absolute(&spans, &deltas);
        let nonzero: Vec<(i32, u64)> = got
            .iter()
            .filter(|(_, c)| *c != 0)
            .map(|(i, c)| (*i, *c as u64))
            .collect();
        assert_eq!(nonzero, buckets);
        assert!(got.iter().all(|(_, c)| *c >= 0));
        assert_eq!(spans_and_deltas(&[]), (vec![], vec![]));
    }

    #[test]
    fn requests_decode_and_hold_every_sample_once_in_time_order() {
        let plan = HistogramPlan {
            series: 25,
            seed: 4,
            points: 12,
            interval_ms: 15_000,
            end_ms: 1_700_000_000_000,
            senders: 3,
            request_samples: 40,
        };
        let push = plan.build();
        assert_eq!(push.samples, 300);
        let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut hints = std::collections::BTreeSet::new();
        for r in push.senders.iter().flatten() {
            assert!(r.samples <= 40);
            let raw = snap::raw::Decoder::new().decompress_vec(&r.body).unwrap();
            let wr = WriteRequest::decode(raw.as_slice()).unwrap();
            let n: usize = wr.timeseries.iter().map(|t| t.histograms.len()).sum();
            assert_eq!(n, r.samples);
            for ts in wr.timeseries {
                assert_eq!(ts.labels[0].name, "__name__");
                let names: Vec<&str> = ts.labels[1..].iter().map(|l| l.name.as_str()).collect();
                assert!(names.is_sorted());
                let times = seen.entry(format!("{:?}", ts.labels)).or_default();
                for h in ts.histograms {
                    assert!(times.last().is_none_or(|t| *t < h.timestamp));
                    assert!(h.timestamp > plan.start_ms() && h.timestamp < plan.end_ms);
                    times.push(h.timestamp);
                    let counts = absolute(&h.positive_spans, &h.positive_deltas);
                    assert!(counts.iter().all(|(_, c)| *c >= 0));
                    let buckets: i64 = counts.iter().map(|c| c.1).sum();
                    assert_eq!(
                        h.count_int,
                        Some(buckets as u64 + h.zero_count_int.unwrap())
                    );
                    assert_eq!(h.schema, 3);
                    hints.insert(h.reset_hint);
                }
            }
        }
        assert_eq!(seen.len(), 25);
        assert!(seen.values().all(|t| t.len() == 12));
        assert!(hints.contains(&HINT_GAUGE) && hints.contains(&HINT_UNKNOWN));
        assert_eq!(plan.build().compressed_bytes, push.compressed_bytes);
    }
}
