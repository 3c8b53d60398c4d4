//! The write path: validate the whole request, assign ids to new series, commit one
//! synced batch, then publish the new series to the in-memory index.

use std::collections::HashMap;
use std::sync::Arc;

use telltale_storage_api::TimeSeries;
use tracing::debug;

use super::Engine;
use crate::error::{Error, Result};
use crate::labels::{LabelSet, render_labels};
use crate::store::Commit;

/// One series of a validated request: canonical labels, samples in time order (equal
/// timestamps keep their request order, so the last one is written last and wins).
#[derive(Debug, PartialEq)]
pub(crate) struct ValidSeries {
    pub labels: LabelSet,
    pub samples: Vec<(i64, f64)>,
}

/// Validates every series of a request; the first bad one rejects the whole request.
pub(crate) fn validate(series: Vec<TimeSeries>) -> Result<Vec<ValidSeries>> {
    series
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
            Ok(ValidSeries { labels, samples })
        })
        .collect()
}

impl Engine {
    /// Appends `series` and returns the number of samples written; returns only once
    /// they are durable (synced to disk).
    ///
    /// The request is all or nothing: one invalid series rejects it with
    /// [`Error::InvalidSeries`] and nothing is written. A series without samples is
    /// validated but not created. For duplicate timestamps the last sample wins, both
    /// within a request and against samples already stored.
    pub fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        let timer = self.metrics.write_duration.start_timer();
        let result = self.write_inner(series);
        timer.observe_duration();
        let label = match &result {
            Ok(_) => "ok",
            Err(e) => e.metric_label(),
        };
        self.metrics
            .write_requests
            .with_label_values(&[label])
            .inc();
        result
    }

    fn write_inner(&self, series: Vec<TimeSeries>) -> Result<u64> {
        let series = validate(series)?;
        let total: usize = series.iter().map(|s| s.samples.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        let mut next_id = self.writer();
        let mut commit = Commit {
            samples: Vec::with_capacity(total),
            ..Commit::default()
        };
        {
            let index = self.index();
            let mut fresh: HashMap<LabelSet, u64> = HashMap::new();
            for ValidSeries { labels, samples } in series {
                if samples.is_empty() {
                    continue;
                }
                let id = match index.id_of(&labels).or_else(|| fresh.get(&labels).copied()) {
                    Some(id) => id,
                    None => {
                        let id = *next_id + commit.new_series.len() as u64;
                        fresh.insert(labels.clone(), id);
                        commit.new_series.push((id, Arc::new(labels)));
                        id
                    }
                };
                commit
                    .samples
                    .extend(samples.into_iter().map(|(t, v)| (id, t, v)));
            }
        }
        if !commit.new_series.is_empty() {
            commit.next_series_id = Some(*next_id + commit.new_series.len() as u64);
        }
        self.store.commit(&commit)?;

        if let Some(next) = commit.next_series_id {
            *next_id = next;
            let mut index = self.index_mut();
            for (id, labels) in commit.new_series {
                index.insert(id, labels);
            }
            self.metrics.series.set(index.len() as i64);
        }
        drop(next_id);
        self.metrics.samples_appended.inc_by(total as u64);
        debug!(samples = total, "write committed");
        Ok(total as u64)
    }
}

#[cfg(test)]
mod tests {
    use telltale_storage_api::{Label, Sample};

    use super::*;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples
                .iter()
                .map(|(t, v)| Sample {
                    timestamp_ms: *t,
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn sorts_samples_keeping_duplicates_in_request_order() {
        let valid = validate(vec![series(
            &[("job", "a"), ("__name__", "up")],
            &[(3, 1.0), (1, 2.0), (3, 3.0), (-5, 4.0)],
        )])
        .unwrap();
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].labels.to_string(), r#"{__name__="up", job="a"}"#);
        assert_eq!(
            valid[0].samples,
            vec![(-5, 4.0), (1, 2.0), (3, 1.0), (3, 3.0)]
        );
    }

    #[test]
    fn one_bad_series_rejects_the_request_and_names_it() {
        let err = validate(vec![
            series(&[("__name__", "up")], &[(1, 1.0)]),
            series(&[("__name__", "up"), ("bad-name", "x")], &[(1, 1.0)]),
        ])
        .unwrap_err();
        assert!(err.is_invalid_argument());
        let msg = err.to_string();
        assert!(msg.starts_with("invalid series #1 {"), "{msg}");
        assert!(msg.contains(r#"bad-name="x""#), "{msg}");
        assert!(
            msg.contains("label name \"bad-name\" is not valid"),
            "{msg}"
        );
    }
}
