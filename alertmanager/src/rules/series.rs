//! Series that rules write back to storage: recording rule results, and Prometheus's
//! `ALERTS{alertstate="pending|firing"}` (value 1) and `ALERTS_FOR_STATE` (value: when
//! the alert became active, in seconds). Pure: builds [`TimeSeries`] for a writer.
//!
//! As in Prometheus, a series a rule wrote at one evaluation and not at the next (an
//! alert that stopped being pending or firing, a recording that vanished from the
//! result) gets a staleness marker at that next evaluation, and every series of a rule
//! group that is removed gets one when it goes: queries stop seeing it at once instead
//! of five minutes later.

use std::collections::BTreeSet;

use telltale_crds::Rule;
use telltale_model::STALE_NAN;
use telltale_storage_api::{Label, Sample, TimeSeries};

use crate::error::{Error, Result};
use crate::labels::{LabelSet, METRIC_NAME, to_text};
use crate::rules::querier::QueriedSample;
use crate::rules::state::AlertSet;

/// The metric name of the alert state series.
pub const ALERTS: &str = "ALERTS";
/// The metric name of the series that holds each alert's activation time.
pub const ALERTS_FOR_STATE: &str = "ALERTS_FOR_STATE";
/// The label of `ALERTS` that holds the state.
pub const ALERT_STATE: &str = "alertstate";

/// The labels of a series as a set.
pub fn label_set(ts: &TimeSeries) -> LabelSet {
    ts.labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// Staleness markers at `t_ms` for each series of `previous` not in `current`.
pub fn stale_markers<'a>(
    previous: impl IntoIterator<Item = &'a LabelSet>,
    current: &BTreeSet<LabelSet>,
    t_ms: i64,
) -> Vec<TimeSeries> {
    previous
        .into_iter()
        .filter(|labels| !current.contains(*labels))
        .map(|labels| series(labels.clone(), t_ms, STALE_NAN))
        .collect()
}

fn series(labels: LabelSet, t_ms: i64, value: f64) -> TimeSeries {
    TimeSeries {
        labels: labels
            .into_iter()
            .map(|(name, value)| Label::new(name, value))
            .collect(),
        samples: vec![Sample {
            timestamp_ms: t_ms,
            value,
        }],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

/// The samples a recording rule records from its result at `t_ms`: each sample's
/// labels with the rule's labels applied and the metric name set to `record`. Two
/// samples ending with the same labels are an error, as in Prometheus.
pub fn recorded(rule: &Rule, result: &[QueriedSample], t_ms: i64) -> Result<Vec<TimeSeries>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(result.len());
    for sample in result {
        let mut labels = sample.labels.clone();
        for (name, value) in &rule.labels {
            if value.is_empty() {
                labels.remove(name);
            } else {
                labels.insert(name.clone(), value.clone());
            }
        }
        labels.insert(METRIC_NAME.to_string(), rule.record.clone());
        if !seen.insert(labels.clone()) {
            return Err(Error::DuplicateLabelSet {
                alert: rule.record.clone(),
                labels: to_text(&labels),
            });
        }
        out.push(match &sample.histogram {
            // A recording rule records histograms as they are (Prometheus 3).
            Some(h) => TimeSeries {
                samples: Vec::new(),
                histograms: vec![h.to_proto(t_ms)],
                ..series(labels, t_ms, 0.0)
            },
            None => series(labels, t_ms, sample.value),
        });
    }
    Ok(out)
}

/// `ALERTS` and `ALERTS_FOR_STATE` samples of a rule's pending and firing alerts.
pub fn alert_series(alerts: &AlertSet, t_ms: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for alert in alerts.active() {
        let mut state = alert.labels.clone();
        state.insert(METRIC_NAME.to_string(), ALERTS.to_string());
        state.insert(ALERT_STATE.to_string(), alert.state.as_str().to_string());
        out.push(series(state, t_ms, 1.0));
        let mut for_state = alert.labels.clone();
        for_state.insert(METRIC_NAME.to_string(), ALERTS_FOR_STATE.to_string());
        out.push(series(for_state, t_ms, alert.active_at_ms as f64 / 1000.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::state::{Alert, AlertState};

    fn sample(job: &str, v: f64) -> QueriedSample {
        QueriedSample {
            labels: [
                ("__name__".to_string(), "up".to_string()),
                ("job".to_string(), job.to_string()),
            ]
            .into(),
            value: v,
            histogram: None,
        }
    }

    fn text(ts: &TimeSeries) -> String {
        let labels: Vec<String> = ts
            .labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        format!(
            "{} {}@{}",
            labels.join(","),
            ts.samples[0].value,
            ts.samples[0].timestamp_ms
        )
    }

    #[test]
    fn recording_rules_record_histograms_as_histograms() {
        let rule: Rule = serde_yaml::from_str("record: job:rpc:rate5m\nexpr: x\n").unwrap();
        let mut h = telltale_storage_api::FloatHistogram {
            count: 2.0,
            sum: 3.0,
            ..Default::default()
        };
        h.set_positive([(1, 2.0)]);
        let sample = QueriedSample {
            histogram: Some(std::sync::Arc::new(h.clone())),
            ..sample("api", 0.0)
        };
        let out = recorded(&rule, &[sample], 42).unwrap();
        assert!(out[0].samples.is_empty());
        assert_eq!(out[0].histograms, vec![h.to_proto(42)]);
        assert_eq!(out[0].label("__name__"), Some("job:rpc:rate5m"));
    }

    #[test]
    fn recording_rules_rename_and_relabel() {
        let mut rule = Rule::record("job:up:sum", "sum by (job) (up)");
        rule.labels.insert("tier".into(), "1".into());
        let out = recorded(&rule, &[sample("a", 1.0), sample("b", 2.0)], 5000).unwrap();
        assert_eq!(
            out.iter().map(text).collect::<Vec<_>>(),
            [
                "__name__=job:up:sum,job=a,tier=1 1@5000",
                "__name__=job:up:sum,job=b,tier=1 2@5000"
            ]
        );
        rule.labels.insert("job".into(), "same".into());
        assert!(recorded(&rule, &[sample("a", 1.0), sample("b", 2.0)], 5000).is_err());
    }

    #[test]
    fn vanished_series_get_staleness_markers() {
        let set = |names: &[&str]| -> BTreeSet<LabelSet> {
            names
                .iter()
                .map(|n| [("__name__".to_string(), n.to_string())].into())
                .collect()
        };
        let previous = set(&["a", "b", "c"]);
        let out = stale_markers(&previous, &set(&["b", "d"]), 9);
        let names: Vec<String> = out.iter().map(|ts| ts.labels[0].value.clone()).collect();
        assert_eq!(names, ["a", "c"]);
        for ts in &out {
            assert_eq!(ts.samples[0].timestamp_ms, 9);
            assert!(telltale_model::is_stale_nan(ts.samples[0].value));
        }
        assert!(stale_markers(&previous, &previous, 9).is_empty());
    }

    #[test]
    fn alerts_series_cover_pending_and_firing() {
        let alert = |instance: &str, state| Alert {
            labels: [
                ("alertname".to_string(), "Down".to_string()),
                ("instance".to_string(), instance.to_string()),
            ]
            .into(),
            annotations: Default::default(),
            state,
            value: 0.0,
            active_at_ms: 1_000_500,
            fired_at_ms: None,
            resolved_at_ms: None,
            keep_firing_since_ms: None,
        };
        let set = AlertSet::from_alerts(vec![
            alert("a", AlertState::Pending),
            alert("b", AlertState::Firing),
            alert("c", AlertState::Inactive),
        ]);
        let out: Vec<String> = alert_series(&set, 7).iter().map(text).collect();
        assert_eq!(
            out,
            [
                "__name__=ALERTS,alertname=Down,alertstate=pending,instance=a 1@7",
                "__name__=ALERTS_FOR_STATE,alertname=Down,instance=a 1000.5@7",
                "__name__=ALERTS,alertname=Down,alertstate=firing,instance=b 1@7",
                "__name__=ALERTS_FOR_STATE,alertname=Down,instance=b 1000.5@7",
            ]
        );
    }
}
