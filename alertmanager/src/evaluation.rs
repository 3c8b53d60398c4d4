//! The task of one rule group: evaluates its rules every interval at aligned times,
//! advances alert state, hands alerts to the dispatcher and writes recorded series.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telltale_crds::RuleGroup;

use crate::error::Error;
use crate::group::{GroupState, Health, eval_offset_ms, eval_timestamp};
use crate::manager::{Shared, now_ms};
use crate::notify::{NotifyAlert, generator_url};
use crate::series::{alert_series, label_set, recorded, stale_markers};
use crate::state::{Alert, RuleContext};

/// The notification form of `alerts` (pending ones are left out).
pub(crate) fn notify_alerts(alerts: &[Alert], external_url: &str, expr: &str) -> Vec<NotifyAlert> {
    let url = generator_url(external_url, expr);
    alerts
        .iter()
        .filter_map(|a| NotifyAlert::from_alert(a, &url))
        .collect()
}

/// Evaluates the group every interval, at times aligned on its stable offset.
pub(crate) async fn run_group(shared: Arc<Shared>, state: Arc<Mutex<GroupState>>, spec: RuleGroup) {
    let (key, interval_ms) = {
        let s = state.lock().expect("group lock");
        (s.key.clone(), (s.interval.as_millis() as i64).max(1))
    };
    let offset = eval_offset_ms(&key, interval_ms);
    let mut next = eval_timestamp(now_ms(), offset, interval_ms) + interval_ms;
    loop {
        let wait = next - now_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        if !evaluate_group(&shared, &state, &spec, next).await {
            return;
        }
        next += interval_ms;
        let now = now_ms();
        if now >= next + interval_ms {
            let missed = (now - next) / interval_ms;
            tracing::warn!(group = %key, missed, "rule group evaluation fell behind, skipping iterations");
            next += missed * interval_ms;
        }
    }
}

/// Evaluates every rule of the group at `ts`, in order; returns false once the group is
/// stopped.
async fn evaluate_group(
    shared: &Shared,
    state: &Mutex<GroupState>,
    spec: &RuleGroup,
    ts: i64,
) -> bool {
    let group_started = Instant::now();
    let mut results = Vec::with_capacity(spec.rules.len());
    for rule in &spec.rules {
        let started = Instant::now();
        let result = shared.querier.query(&rule.expr, ts).await;
        results.push((result, started.elapsed().as_secs_f64()));
    }
    let external_url = shared.options.external_url.as_str();
    let mut to_dispatch = Vec::new();
    let mut writes = Vec::new();
    let rules_snapshot;
    {
        let mut state = state.lock().expect("group lock");
        if state.stopped {
            return false;
        }
        let key = state.key.clone();
        for (status, (result, seconds)) in state.rules.iter_mut().zip(results) {
            shared.metrics.rule_evaluations.inc();
            status.last_evaluation_ms = Some(ts);
            status.evaluation_seconds = seconds;
            let result = result.map_err(|message| Error::Query {
                expr: status.rule.expr.clone(),
                message,
            });
            let outcome = if status.rule.is_recording() {
                result
                    .and_then(|samples| recorded(&status.rule, &samples, ts))
                    .map(|series| {
                        let current = series.iter().map(label_set).collect();
                        writes.extend(stale_markers(&status.written, &current, ts));
                        status.written = current;
                        writes.extend(series);
                    })
            } else {
                let ctx = RuleContext {
                    rule: &status.rule,
                    external_url,
                    external_labels: &shared.options.external_labels,
                };
                result
                    .and_then(|samples| status.alerts.evaluate(ctx, &samples, ts))
                    .map(|evaluation| {
                        status.alerts = evaluation.alerts;
                        let series = alert_series(&status.alerts, ts);
                        let current = series.iter().map(label_set).collect();
                        writes.extend(stale_markers(&status.written, &current, ts));
                        status.written = current;
                        writes.extend(series);
                        to_dispatch.extend(notify_alerts(
                            &evaluation.notify,
                            external_url,
                            &status.rule.expr,
                        ));
                    })
            };
            match outcome {
                Ok(()) => {
                    status.health = Health::Ok;
                    status.last_error = None;
                }
                Err(e) => {
                    shared.metrics.rule_evaluation_failures.inc();
                    tracing::warn!(group = %key, rule = %status.rule.name(), error = %e, "rule evaluation failed");
                    status.health = Health::Err;
                    status.last_error = Some(e.to_string());
                }
            }
        }
        state.last_evaluation_ms = Some(ts);
        state.evaluation_seconds = group_started.elapsed().as_secs_f64();
        let (pending, firing) = state.alert_counts();
        let (old_pending, old_firing) = state.counted;
        let gauge = &shared.metrics.alerts;
        gauge
            .with_label_values(&["pending"])
            .add(pending - old_pending);
        gauge
            .with_label_values(&["firing"])
            .add(firing - old_firing);
        state.counted = (pending, firing);
        rules_snapshot = state.rules.clone();
    }
    shared.persist_rules(&rules_snapshot, &[]);
    if !to_dispatch.is_empty() {
        shared.dispatcher.put(to_dispatch, now_ms());
    }
    if let Some(writer) = &shared.options.writer
        && !writes.is_empty()
    {
        let count = writes.len() as u64;
        match writer.write(writes).await {
            Ok(_) => shared.metrics.samples_written.inc_by(count),
            Err(e) => {
                shared.metrics.write_failures.inc();
                tracing::warn!(error = %e, "cannot write rule results");
            }
        }
    }
    true
}
