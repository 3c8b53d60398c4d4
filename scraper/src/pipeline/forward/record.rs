//! What a forwarder queues (pure): the series of one write after the external labels and
//! `write_relabel_configs`, in chunks of at most `max_samples_per_send` samples, each
//! chunk one record of the disk queue ([`crate::queue::QueueStore`]).
//!
//! ```text
//! record payload = samples: u32 LE | highest timestamp (ms): i64 LE | prompb.WriteRequest
//! ```
//!
//! The protobuf part holds only field 1 (`timeseries`, repeated), so the protobuf parts
//! of several records written one after the other are themselves one `WriteRequest`: a
//! send joins records without decoding them, and reads only the 12-byte headers to
//! count.

use prost::Message;
use std::borrow::Cow;
use telltale_storage_api::prompb;
use telltale_storage_api::shared::is_canonical;
use telltale_storage_api::{Label, SharedSample, TimeSeries};

use crate::relabel::{LabelMap, Relabeler};

/// Bytes before the protobuf part of a record.
pub const HEADER_LEN: usize = 12;

/// The counts a record's header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub samples: u32,
    /// The highest sample timestamp in the record, milliseconds since the epoch.
    pub max_timestamp_ms: i64,
}

/// The header of a record payload; `None` when it is too short.
pub fn header(payload: &[u8]) -> Option<RecordHeader> {
    let samples = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let max_timestamp_ms = i64::from_le_bytes(payload.get(4..HEADER_LEN)?.try_into().ok()?);
    Some(RecordHeader {
        samples,
        max_timestamp_ms,
    })
}

/// The protobuf part of a record payload (empty when the payload is too short).
pub fn body(payload: &[u8]) -> &[u8] {
    payload.get(HEADER_LEN..).unwrap_or_default()
}

/// What every forwarded series goes through: the external labels (a series' own label
/// of the same name wins), then `write_relabel_configs`.
#[derive(Clone, Debug, Default)]
pub struct SeriesRules {
    pub external_labels: Vec<(String, String)>,
    pub relabeler: Relabeler,
}

impl SeriesRules {
    /// The label set `labels` is forwarded under, sorted by name and without empty
    /// values; `None` when relabeling drops it (or leaves nothing).
    pub fn apply(&self, labels: &[Label]) -> Option<Vec<prompb::Label>> {
        let out: Vec<prompb::Label> =
            if self.external_labels.is_empty() && self.relabeler.is_empty() {
                let mut out: Vec<prompb::Label> = labels
                    .iter()
                    .filter(|l| !l.value.is_empty())
                    .map(|l| prompb::Label {
                        name: l.name.clone(),
                        value: l.value.clone(),
                    })
                    .collect();
                if !is_canonical(labels) {
                    out.sort_by(|a, b| a.name.cmp(&b.name));
                }
                out
            } else {
                let mut map: LabelMap = labels
                    .iter()
                    .filter(|l| !l.value.is_empty())
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                for (name, value) in &self.external_labels {
                    if !value.is_empty() {
                        map.entry(name.clone()).or_insert_with(|| value.clone());
                    }
                }
                self.relabeler
                    .process(map)?
                    .into_iter()
                    .map(|(name, value)| prompb::Label { name, value })
                    .collect()
            };
        (!out.is_empty()).then_some(out)
    }
}

/// One write, made ready for the queue.
#[derive(Debug, Default, PartialEq)]
pub struct Prepared {
    /// Record payloads, in write order.
    pub records: Vec<Vec<u8>>,
    /// Samples in the records.
    pub samples: u64,
    /// Samples of series relabeling dropped.
    pub dropped: u64,
}

/// Applies `rules` to every series of a write and cuts what is left into records of at
/// most `max_samples` samples (a series with more is split across records). A native
/// histogram sample counts as one sample; it is sent as remote write 1.0 sends it (an
/// integer histogram, counts as deltas, when its counts are whole, else a float one).
pub fn prepare(series: &[TimeSeries], rules: &SeriesRules, max_samples: usize) -> Prepared {
    prepare_each(
        series.iter().map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| prompb::Sample {
                    value: x.value,
                    timestamp: x.timestamp_ms,
                })
                .collect();
            let histograms = s
                .histograms
                .iter()
                .filter_map(to_prompb_histogram)
                .collect();
            (Cow::Borrowed(s.labels.as_slice()), samples, histograms)
        }),
        rules,
        max_samples,
    )
}

/// The remote write message of a stored histogram sample; `None` for a malformed one
/// (storage refuses those, so a write never holds one).
fn to_prompb_histogram(h: &telltale_storage_api::pb::Histogram) -> Option<prompb::Histogram> {
    let f = telltale_storage_api::FloatHistogram::from_proto(h).ok()?;
    Some(prompb::Histogram::from_float_histogram(&f, h.timestamp_ms))
}

/// [`prepare`] for samples whose label sets are shared with the writer (scrapes).
pub fn prepare_shared(
    samples: &[SharedSample],
    rules: &SeriesRules,
    max_samples: usize,
) -> Prepared {
    prepare_each(
        samples.iter().map(|s| {
            let one = vec![prompb::Sample {
                value: s.value,
                timestamp: s.timestamp_ms,
            }];
            (Cow::Owned(s.series.to_labels()), one, Vec::new())
        }),
        rules,
        max_samples,
    )
}

type Points<'a> = (
    Cow<'a, [Label]>,
    Vec<prompb::Sample>,
    Vec<prompb::Histogram>,
);

fn prepare_each<'a>(
    series: impl Iterator<Item = Points<'a>>,
    rules: &SeriesRules,
    max_samples: usize,
) -> Prepared {
    let max_samples = max_samples.max(1);
    let mut out = Prepared::default();
    let mut chunk = Chunk::default();
    for (labels, mut samples, mut histograms) in
        series.filter(|s| !s.1.is_empty() || !s.2.is_empty())
    {
        let Some(labels) = rules.apply(&labels) else {
            out.dropped += (samples.len() + histograms.len()) as u64;
            continue;
        };
        while !samples.is_empty() || !histograms.is_empty() {
            let room = max_samples - chunk.samples;
            let now = take(&mut samples, room);
            let now_histograms = take(&mut histograms, room - now.len());
            chunk.push(labels.clone(), now, now_histograms);
            if chunk.samples == max_samples {
                out.push(std::mem::take(&mut chunk));
            }
        }
    }
    if chunk.samples > 0 {
        out.push(chunk);
    }
    out
}

/// The first `n` items of `items` (all when there are no more), taken out.
fn take<T>(items: &mut Vec<T>, n: usize) -> Vec<T> {
    if items.len() <= n {
        std::mem::take(items)
    } else {
        items.drain(..n).collect()
    }
}

impl Prepared {
    fn push(&mut self, chunk: Chunk) {
        self.samples += chunk.samples as u64;
        self.records.push(chunk.encode());
    }
}

#[derive(Default)]
struct Chunk {
    series: Vec<prompb::TimeSeries>,
    samples: usize,
    max_timestamp_ms: Option<i64>,
}

impl Chunk {
    fn push(
        &mut self,
        labels: Vec<prompb::Label>,
        samples: Vec<prompb::Sample>,
        histograms: Vec<prompb::Histogram>,
    ) {
        let max = samples
            .iter()
            .map(|s| s.timestamp)
            .chain(histograms.iter().map(|h| h.timestamp))
            .max();
        self.max_timestamp_ms = self.max_timestamp_ms.max(max);
        self.samples += samples.len() + histograms.len();
        self.series.push(prompb::TimeSeries {
            labels,
            samples,
            histograms,
            ..Default::default()
        });
    }

    fn encode(self) -> Vec<u8> {
        let req = prompb::WriteRequest {
            timeseries: self.series,
            metadata: Vec::new(),
        };
        let mut out = Vec::with_capacity(HEADER_LEN + req.encoded_len());
        out.extend_from_slice(&(self.samples as u32).to_le_bytes());
        out.extend_from_slice(&self.max_timestamp_ms.unwrap_or(0).to_le_bytes());
        req.encode(&mut out).expect("a Vec grows as needed");
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use telltale_crds::prometheus::RelabelConfig;
    use telltale_storage_api::Sample;

    use super::*;

    fn series(name: &str, extra: &[(&str, &str)], ts: &[i64]) -> TimeSeries {
        let mut labels = vec![Label::new("__name__", name)];
        labels.extend(extra.iter().map(|(n, v)| Label::new(*n, *v)));
        TimeSeries {
            labels,
            samples: ts
                .iter()
                .map(|&t| Sample {
                    timestamp_ms: t,
                    value: t as f64,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    /// The records' protobuf parts joined, decoded as one request.
    fn joined(p: &Prepared) -> prompb::WriteRequest {
        let bytes: Vec<u8> = p.records.iter().flat_map(|r| body(r).to_vec()).collect();
        prompb::WriteRequest::decode(bytes.as_slice()).unwrap()
    }

    #[test]
    fn records_are_cut_at_max_samples_and_join_into_one_request() {
        let write = vec![
            series("a", &[], &[1, 2, 3]),
            series("b", &[], &[4, 5, 6, 7, 8]),
            series("c", &[], &[]),
        ];
        let p = prepare(&write, &SeriesRules::default(), 3);
        assert_eq!(p.samples, 8);
        let headers: Vec<RecordHeader> = p.records.iter().map(|r| header(r).unwrap()).collect();
        assert_eq!(
            headers.iter().map(|h| h.samples).collect::<Vec<_>>(),
            [3, 3, 2]
        );
        assert_eq!(
            headers
                .iter()
                .map(|h| h.max_timestamp_ms)
                .collect::<Vec<_>>(),
            [3, 6, 8]
        );
        let req = joined(&p);
        let got: Vec<(String, Vec<i64>)> = req
            .timeseries
            .iter()
            .map(|s| {
                (
                    s.labels[0].value.clone(),
                    s.samples.iter().map(|x| x.timestamp).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), vec![1, 2, 3]),
                ("b".to_string(), vec![4, 5, 6]),
                ("b".to_string(), vec![7, 8]),
            ]
        );
    }

    #[test]
    fn external_labels_then_relabeling() {
        let relabel: Vec<RelabelConfig> = serde_yaml::from_str(
            "- {source_labels: [__name__], regex: drop_me, action: drop}\n\
             - {source_labels: [env], target_label: environment}\n",
        )
        .unwrap();
        let rules = SeriesRules {
            external_labels: vec![("env".into(), "prod".into()), ("job".into(), "ext".into())],
            relabeler: Relabeler::new(
                &relabel
                    .iter()
                    .map(RelabelConfig::to_spec)
                    .collect::<Vec<_>>(),
                "write_relabel_configs",
            )
            .unwrap(),
        };
        let write = vec![
            series("keep", &[("job", "own"), ("empty", "")], &[1]),
            series("drop_me", &[], &[1, 2]),
        ];
        let p = prepare(&write, &rules, 500);
        assert_eq!((p.samples, p.dropped), (1, 2));
        let labels: Vec<(String, String)> = joined(&p).timeseries[0]
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        let want = [
            ("__name__", "keep"),
            ("env", "prod"),
            ("environment", "prod"),
            ("job", "own"),
        ];
        assert_eq!(labels, want.map(|(n, v)| (n.to_string(), v.to_string())));
    }

    #[test]
    fn labels_are_sorted_without_rules() {
        let write = vec![TimeSeries {
            labels: vec![
                Label::new("z", "1"),
                Label::new("__name__", "m"),
                Label::new("e", ""),
            ],
            samples: vec![Sample {
                timestamp_ms: 5,
                value: 1.0,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }];
        let p = prepare(&write, &SeriesRules::default(), 10);
        let names: Vec<String> = joined(&p).timeseries[0]
            .labels
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert_eq!(names, ["__name__", "z"]);
        assert_eq!(header(b"short"), None);
        assert!(body(b"short").is_empty());
    }

    #[test]
    fn shared_samples_make_the_records_their_messages_make() {
        use std::sync::Arc;
        use telltale_storage_api::SeriesLabels;
        let a = Arc::new(SeriesLabels::new(vec![
            Label::new("__name__", "a"),
            Label::new("job", "j"),
        ]));
        let b = Arc::new(SeriesLabels::new(vec![Label::new("__name__", "b")]));
        let samples: Vec<SharedSample> = [(&a, 1), (&b, 1), (&a, 2), (&b, 2), (&a, 3)]
            .into_iter()
            .map(|(s, t)| SharedSample {
                series: s.clone(),
                timestamp_ms: t,
                value: t as f64,
            })
            .collect();
        let rules = SeriesRules {
            external_labels: vec![("cluster".into(), "c".into())],
            ..Default::default()
        };
        let shared = prepare_shared(&samples, &rules, 2);
        let messages = telltale_storage_api::shared::to_time_series(&samples);
        assert_eq!(shared, prepare(&messages, &rules, 2));
        assert_eq!((shared.records.len(), shared.samples), (3, 5));
    }

    #[test]
    fn histograms_are_forwarded_and_counted_as_samples() {
        use telltale_storage_api::FloatHistogram;
        let mut int = FloatHistogram {
            count: 3.0,
            sum: 4.5,
            ..FloatHistogram::default()
        };
        int.set_positive([(0, 1.0), (1, 2.0)]);
        let mut float = int.clone();
        float.positive_buckets[0] = 0.5;
        float.count = 2.5;
        let mut s = series("h", &[], &[1]);
        s.histograms = vec![int.to_proto(2), float.to_proto(3)];
        let p = prepare(&[s], &SeriesRules::default(), 2);
        assert_eq!(p.samples, 3);
        assert_eq!(p.records.len(), 2);
        assert_eq!(header(&p.records[0]).unwrap().max_timestamp_ms, 2);
        let req = joined(&p);
        let h: Vec<&prompb::Histogram> =
            req.timeseries.iter().flat_map(|s| &s.histograms).collect();
        assert_eq!(h[0].positive_deltas, [1, 1]);
        assert!(!h[0].is_float());
        assert_eq!(h[1].positive_counts, [0.5, 2.0]);
        assert!(h[1].is_float());
        assert_eq!(h[1].to_float_histogram().unwrap(), float);
        // A series of histograms only is kept.
        let mut only = series("h", &[], &[]);
        only.histograms = vec![int.to_proto(9)];
        assert_eq!(prepare(&[only], &SeriesRules::default(), 5).samples, 1);
    }

    proptest! {
        /// Whatever the cut, records hold every sample once, in order, none above the
        /// bound, and their headers count them.
        #[test]
        fn cutting_keeps_every_sample(
            lens in proptest::collection::vec(0usize..20, 0..10),
            max in 1usize..8,
        ) {
            let mut t = 0;
            let write: Vec<TimeSeries> = lens
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let ts: Vec<i64> = (0..n).map(|_| { t += 1; t }).collect();
                    series(&format!("m{i}"), &[], &ts)
                })
                .collect();
            let p = prepare(&write, &SeriesRules::default(), max);
            let total: usize = lens.iter().sum();
            prop_assert_eq!(p.samples as usize, total);
            for r in &p.records {
                let h = header(r).unwrap();
                prop_assert!(h.samples as usize <= max && h.samples > 0);
                let req = prompb::WriteRequest::decode(body(r)).unwrap();
                let n: usize = req.timeseries.iter().map(|s| s.samples.len()).sum();
                prop_assert_eq!(n, h.samples as usize);
            }
            let all: Vec<i64> = joined(&p)
                .timeseries
                .iter()
                .flat_map(|s| s.samples.iter().map(|x| x.timestamp))
                .collect();
            prop_assert_eq!(all, (1..=total as i64).collect::<Vec<_>>());
        }

        #[test]
        fn header_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = header(&bytes);
            let _ = body(&bytes);
        }
    }
}
