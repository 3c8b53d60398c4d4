//! The task of one rule group: evaluates its rules every interval at aligned times, one
//! rule after the other as Prometheus does (a rule sees what the rules before it wrote at
//! the same time), advances alert state, hands alerts to the dispatcher and writes
//! recorded series.
//!
//! The async task only awaits: the query, the writes. What costs CPU in proportion to the
//! alerts — the state machine, template expansion (whose `query` waits on the engine from
//! a blocking thread), building series, handing alerts to the dispatcher, persisting the
//! state — runs on Tokio's blocking threads, so the HTTP servers keep answering however
//! many alerts fire. Groups are separate tasks and evaluate concurrently.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telltale_crds::{Rule, RuleGroup};
use telltale_model::now_ms;
use telltale_storage_api::TimeSeries;

use crate::alerting::notify::{NotifyAlert, generator_url};
use crate::error::Error;
use crate::labels::LabelSet;
use crate::rules::group::{GroupState, Health, eval_offset_ms, eval_timestamp};
use crate::rules::manager::Shared;
use crate::rules::querier::{BlockingQuerier, QueriedSample};
use crate::rules::series::{alert_series, label_set, recorded, stale_markers};
use crate::rules::state::{Alert, AlertSet, RuleContext, RuleTemplates};

/// The most series one write of a group's results carries (recordings, `ALERTS`,
/// `ALERTS_FOR_STATE`): larger results go in several writes.
pub const RULE_WRITE_BATCH: usize = 5_000;

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
    let group_label = key.to_string();
    // The counters start at 0 for a new group, as Prometheus's do.
    let m = &shared.metrics;
    for counter in [
        &m.group_iterations,
        &m.group_iterations_missed,
        &m.rule_evaluations,
        &m.rule_evaluation_failures,
    ] {
        counter.with_label_values(&[&group_label]);
    }
    shared
        .metrics
        .group_interval
        .with_label_values(&[&group_label])
        .set(interval_ms as f64 / 1000.0);
    shared
        .metrics
        .group_rules
        .with_label_values(&[&group_label])
        .set(spec.rules.len() as i64);
    let offset = eval_offset_ms(&key, interval_ms);
    let mut next = eval_timestamp(now_ms(), offset, interval_ms) + interval_ms;
    loop {
        let wait = next - now_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        shared
            .metrics
            .group_iterations
            .with_label_values(&[&group_label])
            .inc();
        if !evaluate_group(&shared, &state, &spec, next, &group_label).await {
            return;
        }
        next += interval_ms;
        let now = now_ms();
        if now >= next + interval_ms {
            let missed = (now - next) / interval_ms;
            tracing::warn!(group = %key, missed, "rule group evaluation fell behind, skipping iterations");
            shared
                .metrics
                .group_iterations_missed
                .with_label_values(&[&group_label])
                .inc_by(missed as u64);
            next += missed * interval_ms;
        }
    }
}

/// What one rule's evaluation produced (computed off the async threads).
pub(crate) struct Outcome {
    pub(crate) result: Result<Step, Error>,
}

/// A rule's new state and what to write and notify.
pub(crate) struct Step {
    pub(crate) alerts: Option<AlertSet>,
    pub(crate) written: Arc<BTreeSet<LabelSet>>,
    pub(crate) writes: Vec<TimeSeries>,
    pub(crate) notify: Vec<NotifyAlert>,
}

/// Everything a rule's state step needs, owned, to move to a blocking thread.
pub(crate) struct StepInput {
    pub(crate) rule: Rule,
    pub(crate) templates: Arc<RuleTemplates>,
    pub(crate) alerts: AlertSet,
    pub(crate) written: Arc<BTreeSet<LabelSet>>,
    pub(crate) samples: Result<Vec<QueriedSample>, String>,
    pub(crate) ts: i64,
    pub(crate) external_url: String,
    pub(crate) external_labels: LabelSet,
    pub(crate) querier: BlockingQuerier,
}

/// One rule's evaluation step (pure but for the templates' `query`): the state machine
/// or the recording, and the series to write.
pub(crate) fn step(input: StepInput) -> Outcome {
    let StepInput {
        rule,
        templates,
        alerts,
        written,
        samples,
        ts,
        external_url,
        external_labels,
        querier,
    } = input;
    let samples = samples.map_err(|message| Error::Query {
        expr: rule.expr.clone(),
        message,
    });
    let result = samples.and_then(|samples| {
        if rule.is_recording() {
            let series = recorded(&rule, &samples, ts)?;
            let current: BTreeSet<LabelSet> = series.iter().map(label_set).collect();
            let mut writes = stale_markers(written.iter(), &current, ts);
            writes.extend(series);
            return Ok(Step {
                alerts: None,
                written: Arc::new(current),
                writes,
                notify: Vec::new(),
            });
        }
        let ctx = RuleContext {
            rule: &rule,
            templates: &templates,
            external_url: &external_url,
            external_labels: &external_labels,
            querier: Some(&querier),
        };
        let evaluation = alerts.evaluate(ctx, &samples, ts)?;
        let series = alert_series(&evaluation.alerts, ts);
        let current: BTreeSet<LabelSet> = series.iter().map(label_set).collect();
        let mut writes = stale_markers(written.iter(), &current, ts);
        writes.extend(series);
        Ok(Step {
            notify: notify_alerts(&evaluation.notify, &external_url, &rule.expr),
            alerts: Some(evaluation.alerts),
            written: Arc::new(current),
            writes,
        })
    });
    Outcome { result }
}

/// Evaluates every rule of the group at `ts`, in order; returns false once the group is
/// stopped.
async fn evaluate_group(
    shared: &Arc<Shared>,
    state: &Arc<Mutex<GroupState>>,
    spec: &RuleGroup,
    ts: i64,
    group_label: &str,
) -> bool {
    let group_started = Instant::now();
    let mut samples_written = 0usize;
    for (i, rule) in spec.rules.iter().enumerate() {
        let started = Instant::now();
        let samples = shared.querier.query(&rule.expr, ts).await;
        let input = {
            let state = state.lock().expect("group lock");
            if state.stopped {
                return false;
            }
            let status = &state.rules[i];
            StepInput {
                rule: status.rule.clone(),
                templates: status.templates.clone(),
                alerts: status.alerts.clone(),
                written: status.written.clone(),
                samples,
                ts,
                external_url: shared.options.external_url.clone(),
                external_labels: shared.options.external_labels.clone(),
                querier: BlockingQuerier {
                    querier: shared.querier.clone(),
                    runtime: tokio::runtime::Handle::current(),
                },
            }
        };
        let outcome = match tokio::task::spawn_blocking(move || step(input)).await {
            Ok(o) => o,
            Err(e) => Outcome {
                result: Err(Error::Query {
                    expr: rule.expr.clone(),
                    message: format!("evaluation panicked: {e}"),
                }),
            },
        };
        let seconds = started.elapsed().as_secs_f64();
        shared
            .metrics
            .rule_evaluations
            .with_label_values(&[group_label])
            .inc();
        shared.metrics.rule_evaluation_seconds.observe(seconds);
        let (writes, notify) = {
            let mut state = state.lock().expect("group lock");
            if state.stopped {
                return false;
            }
            let key = state.key.clone();
            let status = &mut state.rules[i];
            status.last_evaluation_ms = Some(ts);
            status.evaluation_seconds = seconds;
            match outcome.result {
                Ok(step) => {
                    if let Some(alerts) = step.alerts {
                        status.alerts = alerts;
                    }
                    status.written = step.written;
                    status.health = Health::Ok;
                    status.last_error = None;
                    (step.writes, step.notify)
                }
                Err(e) => {
                    shared
                        .metrics
                        .rule_evaluation_failures
                        .with_label_values(&[group_label])
                        .inc();
                    tracing::warn!(group = %key, rule = %status.rule.name(), error = %e, "rule evaluation failed");
                    status.health = Health::Err;
                    status.last_error = Some(e.to_string());
                    (Vec::new(), Vec::new())
                }
            }
        };
        if !notify.is_empty() {
            if let Some(external) = &shared.options.external {
                external.send(&notify, now_ms()).await;
            }
            let shared = shared.clone();
            // Comparing with the stored alerts costs in proportion to them: not here.
            let _ =
                tokio::task::spawn_blocking(move || shared.dispatcher.put(notify, now_ms())).await;
        }
        if let Some(writer) = &shared.options.writer
            && !writes.is_empty()
        {
            samples_written += writes.len();
            // In bounded writes: one storage write (a Raft entry) applies in bounded time,
            // so reads waiting for the applied state are not held behind 100,000 alerts.
            for batch in writes.chunks(RULE_WRITE_BATCH) {
                match writer.write_borrowed(batch).await {
                    Ok(_) => shared.metrics.samples_written.inc_by(batch.len() as u64),
                    Err(e) => {
                        shared.metrics.write_failures.inc();
                        tracing::warn!(error = %e, "cannot write rule results");
                    }
                }
            }
        }
    }
    let rules_snapshot = {
        let mut state = state.lock().expect("group lock");
        if state.stopped {
            return false;
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
        let m = &shared.metrics;
        m.group_last_duration
            .with_label_values(&[group_label])
            .set(state.evaluation_seconds);
        m.group_last_evaluation
            .with_label_values(&[group_label])
            .set(ts as f64 / 1000.0);
        m.group_last_samples
            .with_label_values(&[group_label])
            .set(samples_written as i64);
        m.group_duration.observe(state.evaluation_seconds);
        state.rules.clone()
    };
    let shared = shared.clone();
    let _ = tokio::task::spawn_blocking(move || shared.persist_rules(&rules_snapshot, &[])).await;
    true
}
