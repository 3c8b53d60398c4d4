//! Decoding a remote_write body: snappy (block format) around a protobuf
//! [`WriteRequest`], then checked and converted to storage [`TimeSeries`]. Pure.

use prost::Message;
use telltale_crds::scrape_target::is_label_name;
use telltale_storage_api::{Label, METRIC_NAME, Sample, TimeSeries};

use super::proto::{self, WriteRequest};
use crate::error::{Error, Result};
use crate::text::is_metric_name;

/// Unpacks a snappy-compressed `WriteRequest`, refusing to inflate beyond
/// `max_decoded_bytes`.
pub fn decode(body: &[u8], max_decoded_bytes: usize) -> Result<WriteRequest> {
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
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::Snappy {
            message: e.to_string(),
        })?;
    Ok(WriteRequest::decode(raw.as_slice())?)
}

/// Storage series of a request and how many samples they hold.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    pub series: Vec<TimeSeries>,
    pub samples: u64,
}

/// Checks every series (valid metric and label names, no label twice) and converts the
/// float samples. Labels with empty values are dropped and labels are sorted; series
/// without float samples (only exemplars or native histograms, not stored yet) are
/// skipped. Metadata is ignored.
pub fn to_storage(req: WriteRequest) -> Result<Converted> {
    let mut out = Converted {
        series: Vec::with_capacity(req.timeseries.len()),
        samples: 0,
    };
    for ts in req.timeseries {
        let labels = check_labels(ts.labels)?;
        if ts.samples.is_empty() {
            continue;
        }
        out.samples += ts.samples.len() as u64;
        out.series.push(TimeSeries {
            labels,
            samples: ts
                .samples
                .into_iter()
                .map(|s| Sample {
                    timestamp_ms: s.timestamp,
                    value: s.value,
                })
                .collect(),
        });
    }
    Ok(out)
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
            if !is_metric_name(&l.value) {
                return Err(invalid(&out, format!("invalid metric name {:?}", l.value)));
            }
            has_name = true;
        } else if !is_label_name(&l.name) {
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
    crate::labels::format_labels(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(n: &str, v: &str) -> proto::Label {
        proto::Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn request(labels: Vec<proto::Label>) -> WriteRequest {
        WriteRequest {
            timeseries: vec![proto::TimeSeries {
                labels,
                samples: vec![proto::Sample {
                    value: 2.5,
                    timestamp: 1000,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        }
    }

    fn compress(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn decodes_and_converts_sorting_labels() {
        let req = request(vec![
            label("job", "a"),
            label("__name__", "m"),
            label("e", ""),
        ]);
        let got = to_storage(decode(&compress(&req), 1 << 20).unwrap()).unwrap();
        assert_eq!(got.samples, 1);
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
            decode(b"\xff\xff\xff\xff\xff", 1 << 20),
            Err(Error::Snappy { .. })
        ));
        let not_proto = snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff\xff")
            .unwrap();
        assert!(matches!(
            decode(&not_proto, 1 << 20),
            Err(Error::Protobuf(_))
        ));
        let req = request(vec![label("__name__", "m")]);
        assert!(matches!(
            decode(&compress(&req), 4),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_invalid_series() {
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
            let err = to_storage(request(labels)).unwrap_err();
            assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
            assert_eq!(err.status_code(), axum::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn series_without_float_samples_are_skipped() {
        let mut req = request(vec![label("__name__", "h")]);
        req.timeseries[0].samples.clear();
        req.timeseries[0]
            .histograms
            .push(proto::Histogram::default());
        assert_eq!(to_storage(req).unwrap(), Converted::default());
    }
}
