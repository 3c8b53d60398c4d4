//! [`WriteCommand`]: one validated write, the unit the engine applies. Its encoding is
//! the write-ahead log record today and the Raft log entry tomorrow, so applying the same
//! commands in the same order always gives the same state.

use telltale_storage_api::TimeSeries;

use crate::chunk::bits::{put_uvarint, put_varint, read_uvarint, unzigzag};
use crate::error::{Error, Result};
use crate::labels::{LabelSet, render_labels};

/// One series of a command: canonical labels, samples in time order (equal timestamps
/// keep their request order, so the last one is applied last and wins).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub labels: LabelSet,
    pub samples: Vec<(i64, f64)>,
}

/// A validated write: every series well-formed, samples sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteCommand {
    pub series: Vec<SeriesSamples>,
}

impl WriteCommand {
    /// Validates every series of a request; the first bad one rejects the whole request.
    /// Series without samples are dropped.
    pub fn validate(series: Vec<TimeSeries>) -> Result<Self> {
        let series = series
            .into_iter()
            .enumerate()
            .map(|(index, ts)| {
                let labels =
                    LabelSet::from_labels(&ts.labels).map_err(|reason| Error::InvalidSeries {
                        index,
                        labels: render_labels(&ts.labels),
                        reason,
                    })?;
                let mut samples: Vec<(i64, f64)> = ts
                    .samples
                    .iter()
                    .map(|s| (s.timestamp_ms, s.value))
                    .collect();
                // Stable: duplicates stay in request order.
                samples.sort_by_key(|(t, _)| *t);
                Ok(SeriesSamples { labels, samples })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(WriteCommand {
            series: series
                .into_iter()
                .filter(|s| !s.samples.is_empty())
                .collect(),
        })
    }

    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }

    /// The log record (see [`RecordWriter`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = RecordWriter::new(self.series.len());
        for s in &self.series {
            w.series(s.labels.iter(), &s.samples);
        }
        w.finish()
    }

    /// Decodes a log record written by [`WriteCommand::encode`] or [`RecordWriter`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode_record(bytes).ok_or_else(|| Error::Corrupt {
            what: "log record",
            detail: format!("{} bytes do not decode", bytes.len()),
        })
    }
}

const RECORD_VERSION: u8 = 1;

/// Builds a log record straight from borrowed data:
/// `version:u8 uvarint(series) { uvarint(labels) { uvarint(len) name uvarint(len) value }
/// uvarint(samples) { varint(t - previous t) f64 bits:u64le } }`. Labels are canonical
/// (sorted, no empty values); samples are in time order.
pub struct RecordWriter(Vec<u8>);

impl RecordWriter {
    pub fn new(series: usize) -> Self {
        let mut out = Vec::with_capacity(16 + series * 64);
        out.push(RECORD_VERSION);
        put_uvarint(&mut out, series as u64);
        RecordWriter(out)
    }

    pub fn series<'a>(
        &mut self,
        labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        samples: &[(i64, f64)],
    ) {
        let out = &mut self.0;
        put_uvarint(out, labels.len() as u64);
        for (n, v) in labels {
            put_uvarint(out, n.len() as u64);
            out.extend_from_slice(n.as_bytes());
            put_uvarint(out, v.len() as u64);
            out.extend_from_slice(v.as_bytes());
        }
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
}

fn decode_record(bytes: &[u8]) -> Option<WriteCommand> {
    let (&version, mut rest) = bytes.split_first()?;
    if version != RECORD_VERSION {
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
    let mut series = Vec::with_capacity((n_series as usize).min(bytes.len()));
    for _ in 0..n_series {
        let n_labels = uvarint(&mut rest)?;
        let mut pairs = Vec::with_capacity((n_labels as usize).min(64));
        for _ in 0..n_labels {
            let len = uvarint(&mut rest)? as usize;
            let name = String::from_utf8(take(&mut rest, len)?).ok()?;
            let len = uvarint(&mut rest)? as usize;
            let value = String::from_utf8(take(&mut rest, len)?).ok()?;
            pairs.push((name, value));
        }
        let labels = LabelSet::from_canonical(pairs)?;
        let n_samples = uvarint(&mut rest)?;
        let mut samples = Vec::with_capacity((n_samples as usize).min(bytes.len()));
        let mut t = 0i64;
        for _ in 0..n_samples {
            t = t.wrapping_add(unzigzag(uvarint(&mut rest)?));
            let (v, tail) = rest.split_first_chunk::<8>()?;
            rest = tail;
            samples.push((t, f64::from_bits(u64::from_le_bytes(*v))));
        }
        series.push(SeriesSamples { labels, samples });
    }
    rest.is_empty().then_some(WriteCommand { series })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use telltale_storage_api::{Label, Sample};

    use super::*;

    proptest! {
        #[test]
        fn garbage_records_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = WriteCommand::decode(&bytes);
        }
    }

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples
                .iter()
                .map(|&(timestamp_ms, value)| Sample {
                    timestamp_ms,
                    value,
                })
                .collect(),
        }
    }

    #[test]
    fn sorts_samples_keeping_duplicates_in_request_order_and_round_trips() {
        let cmd = WriteCommand::validate(vec![
            series(
                &[("job", "a"), ("__name__", "up")],
                &[(3, 1.0), (1, 2.0), (3, 3.0), (-5, 4.0)],
            ),
            series(&[("__name__", "empty")], &[]),
        ])
        .unwrap();
        assert_eq!(cmd.series.len(), 1);
        assert_eq!(
            cmd.series[0].labels.to_string(),
            r#"{__name__="up", job="a"}"#
        );
        assert_eq!(
            cmd.series[0].samples,
            vec![(-5, 4.0), (1, 2.0), (3, 1.0), (3, 3.0)]
        );
        assert_eq!(WriteCommand::decode(&cmd.encode()).unwrap(), cmd);
        assert!(WriteCommand::decode(b"\xff\xff").is_err());
    }

    #[test]
    fn one_bad_series_rejects_the_request_and_names_it() {
        let err = WriteCommand::validate(vec![
            series(&[("__name__", "up")], &[(1, 1.0)]),
            series(&[("__name__", "up"), ("bad-name", "x")], &[(1, 1.0)]),
        ])
        .unwrap_err();
        assert!(err.is_invalid_argument());
        let msg = err.to_string();
        assert!(msg.starts_with("invalid series #1 {"), "{msg}");
        assert!(
            msg.contains("label name \"bad-name\" is not valid"),
            "{msg}"
        );
    }
}
