//! [`WriteCommand`]: one validated write, the unit the engine applies. Its encoding is
//! the write-ahead log record today and the Raft log entry tomorrow, so applying the same
//! commands in the same order always gives the same state.

use prost::Message;
use telltale_storage_api::pb::WriteRequest;
use telltale_storage_api::{Label, Sample, TimeSeries};

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

    /// The log record: a protobuf `WriteRequest`.
    pub fn encode(&self) -> Vec<u8> {
        WriteRequest {
            series: self
                .series
                .iter()
                .map(|s| TimeSeries {
                    labels: s.labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
                    samples: s
                        .samples
                        .iter()
                        .map(|&(timestamp_ms, value)| Sample {
                            timestamp_ms,
                            value,
                        })
                        .collect(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Decodes a log record written by [`WriteCommand::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let req = WriteRequest::decode(bytes).map_err(|e| Error::Corrupt {
            what: "log record",
            detail: e.to_string(),
        })?;
        Self::validate(req.series).map_err(|e| Error::Corrupt {
            what: "log record",
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
