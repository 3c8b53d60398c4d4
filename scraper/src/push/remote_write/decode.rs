//! Decoding a remote_write body: snappy (block format) around a protobuf
//! [`WriteRequest`](super::proto::WriteRequest), each `TimeSeries` decoded and checked on
//! its own and converted to storage [`TimeSeries`]: a bad series is rejected alone (and
//! counted), a body that is not protobuf at all is refused naming the byte offset. Pure.

use prost::Message;
use telltale_model::{is_valid_label_name, is_valid_metric_name};
use telltale_storage_api::{Exemplar, Label, METRIC_NAME, Sample, TimeSeries};

use super::proto;
use crate::error::{Error, Result};
use crate::push::outcome::PushOutcome;
use crate::push::wire::{self, Value};

/// Field number of `WriteRequest.timeseries`.
const TIMESERIES_FIELD: u32 = 1;

/// Unpacks a snappy-compressed body, refusing to inflate beyond `max_decoded_bytes`.
pub fn decompress(body: &[u8], max_decoded_bytes: usize) -> Result<Vec<u8>> {
    let len = snap::raw::decompress_len(body).map_err(|e| Error::Snappy {
        message: e.to_string(),
    })?;
    if len > max_decoded_bytes {
        return Err(Error::TooLarge {
            what: "decompressed body",
            size: len,
            limit: max_decoded_bytes,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::Snappy {
            message: e.to_string(),
        })
}

/// Storage series of a request, and the account of accepted and rejected samples.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    pub series: Vec<TimeSeries>,
    pub outcome: PushOutcome,
}

/// Decodes a `WriteRequest` series by series. Each series is checked (valid metric and
/// label names, no label twice); labels with empty values are dropped and labels sorted.
/// Native histograms (integer ones delta-encoded, float ones, custom buckets) become
/// absolute-count [`telltale_storage_api::pb::Histogram`]s, each checked as Prometheus
/// checks it. A series that does not decode or check, or holds a bad histogram, is
/// rejected with all its samples (reason `protobuf`, `invalid_series` or
/// `invalid_histogram`, the message naming the series); series with no float sample,
/// histogram or exemplar are skipped. Exemplars are checked one by one
/// ([`check_exemplar`]): a bad one is dropped and counted, its series kept. Metadata is
/// ignored. Fails only when the body is not a protobuf message at all (naming the byte
/// offset).
pub fn convert(raw: &[u8]) -> Result<Converted> {
    let mut out = Converted::default();
    for (index, field) in wire::fields(raw).enumerate() {
        let field = field.map_err(|e| Error::ProtobufAt {
            what: "WriteRequest",
            offset: e.offset,
            message: e.message,
        })?;
        let (TIMESERIES_FIELD, Value::Bytes(bytes)) = (field.number, field.value) else {
            continue;
        };
        let ts = match proto::TimeSeries::decode(bytes) {
            Ok(ts) => ts,
            Err(e) => {
                out.outcome.reject("protobuf", 1, || {
                    format!("timeseries at byte offset {}: {e}", field.offset)
                });
                continue;
            }
        };
        if ts.samples.is_empty() && ts.histograms.is_empty() && ts.exemplars.is_empty() {
            continue;
        }
        let exemplars = ts
            .exemplars
            .into_iter()
            .map(|e| (e.labels, e.value, e.timestamp))
            .collect();
        let points = Points {
            samples: ts.samples,
            histograms: ts.histograms,
            exemplars,
        };
        accept_series(&mut out, ts.labels, points, || {
            format!("timeseries #{index} at byte offset {}", field.offset)
        });
    }
    Ok(out)
}

/// An exemplar as a request carries it: labels, value, timestamp (ms).
pub(super) type RawExemplar = (Vec<proto::Label>, f64, i64);

/// What one series of a request carries besides its labels.
pub(super) struct Points {
    pub samples: Vec<proto::Sample>,
    pub histograms: Vec<proto::Histogram>,
    pub exemplars: Vec<RawExemplar>,
}

/// Checks one series' labels and histograms and takes its samples, histograms and good
/// exemplars into `out`, or rejects the samples and histograms all (`invalid_series`,
/// `invalid_histogram`; the message prefixed by `at` and naming the series). Shared by
/// both protocol versions.
pub(super) fn accept_series(
    out: &mut Converted,
    labels: Vec<proto::Label>,
    points: Points,
    at: impl FnOnce() -> String,
) {
    let Points {
        samples,
        histograms,
        exemplars,
    } = points;
    let n = (samples.len() + histograms.len()) as u64;
    let labels = match check_labels(labels) {
        Ok(labels) => labels,
        Err(e) => {
            return out
                .outcome
                .reject("invalid_series", n, || format!("{}: {e}", at()));
        }
    };
    let mut converted = Vec::with_capacity(histograms.len());
    for (i, h) in histograms.iter().enumerate() {
        match h.to_float_histogram() {
            Ok(f) => converted.push(f.to_proto(h.timestamp)),
            Err(e) => {
                return out.outcome.reject("invalid_histogram", n, || {
                    format!(
                        "{}: series {}: histogram #{i} at {}: {e}",
                        at(),
                        render(&labels),
                        h.timestamp
                    )
                });
            }
        }
    }
    out.outcome.accepted += samples.len() as u64;
    out.outcome.histograms += converted.len() as u64;
    let exemplars: Vec<Exemplar> = exemplars
        .into_iter()
        .filter_map(|e| match check_exemplar(e) {
            Some(e) => Some(e),
            None => {
                out.outcome.skip("invalid_exemplar");
                None
            }
        })
        .collect();
    out.outcome.exemplars += exemplars.len() as u64;
    out.series.push(TimeSeries {
        labels,
        samples: samples
            .into_iter()
            .map(|s| Sample {
                timestamp_ms: s.timestamp,
                value: s.value,
            })
            .collect(),
        exemplars,
        histograms: converted,
    });
}

/// Most UTF-8 characters of an exemplar's label names and values (OpenMetrics).
pub const EXEMPLAR_MAX_LABEL_CHARS: usize = 128;

/// An exemplar with valid, distinct label names (sorted) whose names and values hold at
/// most [`EXEMPLAR_MAX_LABEL_CHARS`] characters; `None` for any other.
pub fn check_exemplar((labels, value, timestamp_ms): RawExemplar) -> Option<Exemplar> {
    let mut labels: Vec<Label> = labels
        .into_iter()
        .map(|l| Label {
            name: l.name,
            value: l.value,
        })
        .collect();
    labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let chars: usize = labels
        .iter()
        .map(|l| l.name.chars().count() + l.value.chars().count())
        .sum();
    let names_ok = labels.iter().all(|l| is_valid_label_name(&l.name))
        && labels.windows(2).all(|w| w[0].name != w[1].name);
    (names_ok && chars <= EXEMPLAR_MAX_LABEL_CHARS).then_some(Exemplar {
        labels,
        value,
        timestamp_ms,
    })
}

fn check_labels(labels: Vec<proto::Label>) -> Result<Vec<Label>> {
    let mut out: Vec<Label> = labels
        .into_iter()
        .filter(|l| !l.value.is_empty())
        .map(|l| Label {
            name: l.name,
            value: l.value,
        })
        .collect();
    if !out.windows(2).all(|w| w[0].name < w[1].name) {
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    let invalid = |out: &[Label], message: String| Error::InvalidSeries {
        series: render(out),
        message,
    };
    let mut has_name = false;
    for (i, l) in out.iter().enumerate() {
        if i > 0 && out[i - 1].name == l.name {
            return Err(invalid(&out, format!("duplicate label name {:?}", l.name)));
        }
        if l.name == METRIC_NAME {
            if !is_valid_metric_name(&l.value) {
                return Err(invalid(&out, format!("invalid metric name {:?}", l.value)));
            }
            has_name = true;
        } else if !is_valid_label_name(&l.name) {
            return Err(invalid(&out, format!("invalid label name {:?}", l.name)));
        }
    }
    if !has_name {
        return Err(invalid(&out, "missing metric name (label __name__)".into()));
    }
    Ok(out)
}

fn render(labels: &[Label]) -> String {
    let pairs: Vec<(String, String)> = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    crate::pull::labels::format_labels(&pairs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::proto::WriteRequest;
    use super::*;

    fn label(n: &str, v: &str) -> proto::Label {
        proto::Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn series(labels: Vec<proto::Label>) -> proto::TimeSeries {
        proto::TimeSeries {
            labels,
            samples: vec![proto::Sample {
                value: 2.5,
                timestamp: 1000,
            }],
            ..Default::default()
        }
    }

    fn request(labels: Vec<proto::Label>) -> WriteRequest {
        WriteRequest {
            timeseries: vec![series(labels)],
            metadata: vec![],
        }
    }

    fn compress(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    fn run(req: &WriteRequest) -> Converted {
        convert(&decompress(&compress(req), 1 << 20).unwrap()).unwrap()
    }

    #[test]
    fn decodes_and_converts_sorting_labels() {
        let got = run(&request(vec![
            label("job", "a"),
            label("__name__", "m"),
            label("e", ""),
        ]));
        assert_eq!(got.outcome.accepted, 1);
        assert_eq!(got.outcome.rejected_total(), 0);
        let s = &got.series[0];
        assert_eq!(
            s.labels,
            vec![Label::new("__name__", "m"), Label::new("job", "a")]
        );
        assert_eq!(
            s.samples,
            vec![Sample {
                timestamp_ms: 1000,
                value: 2.5
            }]
        );
    }

    #[test]
    fn rejects_bad_snappy_protobuf_and_oversize() {
        assert!(matches!(
            decompress(b"\xff\xff\xff\xff\xff", 1 << 20),
            Err(Error::Snappy { .. })
        ));
        let e = convert(b"\x0a\x05\x0a\x01").unwrap_err();
        assert!(matches!(e, Error::ProtobufAt { offset: 0, .. }), "{e}");
        assert!(e.to_string().contains("byte offset 0"), "{e}");
        let req = request(vec![label("__name__", "m")]);
        assert!(matches!(
            decompress(&compress(&req), 4),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn invalid_series_are_rejected_alone() {
        for (labels, wanted) in [
            (
                vec![label("__name__", "m"), label("1x", "v")],
                "invalid label name",
            ),
            (vec![label("__name__", "a-b")], "invalid metric name"),
            (vec![label("job", "x")], "missing metric name"),
            (
                vec![label("__name__", "m"), label("a", "1"), label("a", "2")],
                "duplicate label",
            ),
        ] {
            let req = WriteRequest {
                timeseries: vec![series(vec![label("__name__", "ok")]), series(labels)],
                metadata: vec![],
            };
            let got = run(&req);
            assert_eq!(got.series.len(), 1);
            assert_eq!(got.outcome.accepted, 1);
            assert_eq!(got.outcome.rejected.get("invalid_series"), Some(&1));
            let first = got.outcome.first_error.unwrap();
            assert!(first.contains(wanted), "{first} lacks {wanted}");
            assert!(
                first.starts_with("timeseries #1 at byte offset "),
                "{first}"
            );
        }
    }

    #[test]
    fn an_undecodable_series_is_rejected_with_its_offset() {
        let good = request(vec![label("__name__", "ok")]).encode_to_vec();
        let mut raw = good.clone();
        // A second timeseries whose payload is garbage (a label field that runs short).
        raw.extend_from_slice(&[0x0a, 0x03, 0x0a, 0x05, 0x01]);
        let got = convert(&raw).unwrap();
        assert_eq!(got.series.len(), 1);
        assert_eq!(got.outcome.rejected.get("protobuf"), Some(&1));
        let first = got.outcome.first_error.unwrap();
        assert!(
            first.starts_with(&format!("timeseries at byte offset {}", good.len())),
            "{first}"
        );
    }

    #[test]
    fn exemplars_are_kept_and_bad_ones_dropped_alone() {
        let mut req = request(vec![label("__name__", "c_total")]);
        let ex = |labels: Vec<proto::Label>, ts| proto::Exemplar {
            labels,
            value: 1.5,
            timestamp: ts,
        };
        req.timeseries[0].exemplars = vec![
            ex(vec![label("trace_id", "abc"), label("span_id", "1")], 1000),
            // 129 characters.
            ex(vec![label("trace_id", &"x".repeat(121))], 1001),
            ex(vec![label("1bad", "x")], 1002),
            ex(vec![], 1003),
        ];
        // Exemplars without samples are kept too.
        let mut only = series(vec![label("__name__", "h_bucket")]);
        only.samples.clear();
        only.exemplars = vec![ex(vec![label("trace_id", "z")], 7)];
        req.timeseries.push(only);
        let got = run(&req);
        assert_eq!(got.outcome.accepted, 1);
        assert_eq!(got.outcome.exemplars, 3);
        assert_eq!(got.outcome.skipped.get("invalid_exemplar"), Some(&2));
        assert_eq!(got.outcome.rejected_total(), 0);
        let e = &got.series[0].exemplars;
        assert_eq!(
            e[0].labels,
            vec![Label::new("span_id", "1"), Label::new("trace_id", "abc")]
        );
        assert_eq!((e[0].value, e[0].timestamp_ms), (1.5, 1000));
        assert!(e[1].labels.is_empty());
        assert!(got.series[1].samples.is_empty());
        assert_eq!(got.series[1].exemplars.len(), 1);
        // 128 characters pass.
        assert!(check_exemplar((vec![label("trace_id", &"é".repeat(120))], 1.0, 1)).is_some());
    }

    fn int_histogram(ts: i64) -> proto::Histogram {
        use proto::histogram::{Count, ZeroCount};
        proto::Histogram {
            count: Some(Count::CountInt(5)),
            sum: 7.5,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: Some(ZeroCount::ZeroCountInt(1)),
            positive_spans: vec![proto::BucketSpan {
                offset: 1,
                length: 2,
            }],
            positive_deltas: vec![3, -2],
            reset_hint: proto::histogram::ResetHint::Yes as i32,
            timestamp: ts,
            ..Default::default()
        }
    }

    #[test]
    fn native_histograms_become_absolute_counts() {
        let mut req = request(vec![label("__name__", "h")]);
        req.timeseries[0].samples.clear();
        req.timeseries[0].histograms = vec![int_histogram(1000), {
            let mut f = int_histogram(2000);
            f.count = Some(proto::histogram::Count::CountFloat(2.5));
            f.zero_count = None;
            f.positive_deltas.clear();
            f.positive_counts = vec![1.5, 1.0];
            f.schema = telltale_storage_api::histogram::CUSTOM_BUCKETS_SCHEMA;
            f.zero_threshold = 0.0;
            f.custom_values = vec![0.5, 1.0];
            f
        }];
        let got = run(&req);
        assert_eq!(got.outcome.rejected_total(), 0, "{:?}", got.outcome);
        assert_eq!((got.outcome.accepted, got.outcome.histograms), (0, 2));
        let h = &got.series[0].histograms;
        assert_eq!(h[0].timestamp_ms, 1000);
        assert_eq!(h[0].positive_buckets, [3.0, 1.0]);
        assert_eq!((h[0].count, h[0].zero_count, h[0].sum), (5.0, 1.0, 7.5));
        assert_eq!(h[0].reset_hint, 1);
        assert_eq!(h[1].positive_buckets, [1.5, 1.0]);
        assert_eq!(h[1].custom_values, [0.5, 1.0]);
        assert_eq!(h[1].schema, -53);
    }

    #[test]
    fn a_bad_histogram_rejects_its_series_naming_it() {
        let mut bad = series(vec![label("__name__", "h"), label("job", "j")]);
        let mut h = int_histogram(1000);
        h.count = Some(proto::histogram::Count::CountInt(9));
        bad.histograms = vec![int_histogram(500), h];
        let req = WriteRequest {
            timeseries: vec![series(vec![label("__name__", "ok")]), bad],
            metadata: vec![],
        };
        let got = run(&req);
        assert_eq!(got.series.len(), 1);
        assert_eq!((got.outcome.accepted, got.outcome.histograms), (1, 0));
        assert_eq!(got.outcome.rejected.get("invalid_histogram"), Some(&3));
        let first = got.outcome.first_error.unwrap();
        assert!(
            first.contains(r#"series {__name__="h", job="j"}"#),
            "{first}"
        );
        assert!(first.contains("histogram #1 at 1000"), "{first}");
        assert!(first.contains("5 observations found in buckets"), "{first}");
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = convert(&bytes);
            let _ = decompress(&bytes, 1 << 16);
        }
    }
}
