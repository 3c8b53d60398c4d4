//! [`RuleManager`]: runs every rule group of every `AlertRule` on its schedule and feeds
//! the alerts to notification.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use telltale_crds::{AlertRule, AlertingSpec, RuleGroup};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::group::{GroupKey, GroupState, Health, RuleStatus, eval_offset_ms, eval_timestamp};
use crate::metrics::Metrics;
use crate::notify::dispatch::{Dispatcher, RuleAlerts};
use crate::notify::webhook::WorkerOptions;
use crate::notify::{NotifyAlert, generator_url};
use crate::querier::RuleQuerier;
use crate::state::RuleContext;
use crate::validate::validate_rules;

/// Settings of a [`RuleManager`].
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// Base of alerts' `generatorURL` and the webhook's `externalURL`.
    pub external_url: String,
    /// How often a still-firing group is notified again (default 4h).
    pub repeat_interval: Duration,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            external_url: String::new(),
            repeat_interval: Duration::from_secs(4 * 3600),
        }
    }
}

struct RunningGroup {
    spec: RuleGroup,
    state: Arc<Mutex<GroupState>>,
    task: JoinHandle<()>,
}

/// What each group task needs.
struct Shared {
    querier: Arc<dyn RuleQuerier>,
    options: ManagerOptions,
    metrics: Metrics,
    dispatcher: Dispatcher,
}

/// Evaluates alerting rules and sends their notifications.
pub struct RuleManager {
    shared: Arc<Shared>,
    groups: Mutex<BTreeMap<GroupKey, RunningGroup>>,
    stopped: AtomicBool,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl RuleManager {
    /// A manager with no rules yet; notifications go to the receiver `alerting` routes to.
    /// Must be called inside a Tokio runtime (it starts the webhook workers).
    pub fn new(
        querier: Arc<dyn RuleQuerier>,
        alerting: AlertingSpec,
        opts: ManagerOptions,
        registry: &prometheus::Registry,
    ) -> Arc<Self> {
        let metrics = Metrics::new(registry);
        let worker_options = WorkerOptions::new(opts.external_url.clone(), opts.repeat_interval);
        let dispatcher = Dispatcher::new(&alerting, worker_options, metrics.clone());
        Arc::new(RuleManager {
            shared: Arc::new(Shared {
                querier,
                options: opts,
                metrics,
                dispatcher,
            }),
            groups: Mutex::new(BTreeMap::new()),
            stopped: AtomicBool::new(false),
        })
    }

    /// Replaces the evaluated rule set; keeps state of rules that did not change.
    ///
    /// Groups whose definition is unchanged keep running untouched; a changed group is
    /// restarted, carrying over the alerts of rules with the same name and labels. Alerts
    /// of removed rules are sent once more as resolved. An `AlertRule` that fails
    /// [`validate_rules`] is logged and its previously applied groups keep running.
    /// Must be called inside a Tokio runtime (each group runs in its own task).
    pub fn apply(self: &Arc<Self>, rules: &[AlertRule]) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let mut desired: BTreeMap<GroupKey, RuleGroup> = BTreeMap::new();
        let mut kept_files = Vec::new();
        for resource in rules {
            let file = file_of(resource);
            if let Err(e) = validate_rules(&resource.spec) {
                tracing::error!(alert_rule = %file, error = %e, "invalid AlertRule, keeping its previous rules");
                kept_files.push(file);
                continue;
            }
            for group in &resource.spec.groups {
                let key = GroupKey {
                    file: file.clone(),
                    group: group.name.clone(),
                };
                desired.insert(key, group.clone());
            }
        }
        let now = now_ms();
        let mut groups = self.groups.lock().expect("groups lock");
        let removed: Vec<GroupKey> = groups
            .keys()
            .filter(|k| !desired.contains_key(*k) && !kept_files.contains(&k.file))
            .cloned()
            .collect();
        for key in removed {
            if let Some(old) = groups.remove(&key) {
                tracing::info!(group = %key, "rule group removed");
                let dropped = self.stop_group(&old);
                self.retire(dropped, now);
            }
        }
        for (key, spec) in desired {
            let previous = match groups.get(&key) {
                Some(running) if running.spec == spec => continue,
                Some(_) => groups.remove(&key).map(|old| self.stop_group(&old)),
                None => None,
            };
            let (state, dropped) =
                GroupState::new(key.clone(), &spec, previous.unwrap_or_default());
            self.retire(dropped, now);
            let state = Arc::new(Mutex::new(state));
            let task = tokio::spawn(run_group(self.shared.clone(), state.clone(), spec.clone()));
            tracing::info!(group = %key, rules = spec.rules.len(), interval = %spec.interval, "rule group started");
            groups.insert(key, RunningGroup { spec, state, task });
        }
    }

    /// Stops a group's task and returns its rules.
    fn stop_group(&self, group: &RunningGroup) -> Vec<RuleStatus> {
        group.task.abort();
        let mut state = group.state.lock().expect("group lock");
        state.stopped = true;
        let (pending, firing) = state.counted;
        self.shared
            .metrics
            .alerts
            .with_label_values(&["pending"])
            .sub(pending);
        self.shared
            .metrics
            .alerts
            .with_label_values(&["firing"])
            .sub(firing);
        state.counted = (0, 0);
        state.rules.clone()
    }

    /// Sends the alerts of rules that no longer exist as resolved, once.
    fn retire(&self, rules: Vec<RuleStatus>, now: i64) {
        if rules.is_empty() {
            return;
        }
        let url = &self.shared.options.external_url;
        let updates = rules
            .into_iter()
            .map(|r| RuleAlerts {
                alerts: notify_alerts(&r.alerts.resolve_all(now).notifiable(), url, &r.rule.expr),
                rule: r.id,
                alertname: r.rule.alert,
                retire: true,
            })
            .collect();
        self.shared.dispatcher.dispatch(updates, now);
    }

    /// Stops evaluating; queued notifications are still delivered.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let mut groups = self.groups.lock().expect("groups lock");
        for (_, group) in std::mem::take(&mut *groups) {
            self.stop_group(&group);
        }
        self.shared.dispatcher.close();
    }

    /// A copy of every group's current state, in key order (for the HTTP API).
    pub fn groups(&self) -> Vec<GroupState> {
        let groups = self.groups.lock().expect("groups lock");
        groups
            .values()
            .map(|g| g.state.lock().expect("group lock").clone())
            .collect()
    }

    /// The external URL alerts link to.
    pub fn external_url(&self) -> &str {
        &self.shared.options.external_url
    }
}

impl Drop for RuleManager {
    fn drop(&mut self) {
        if let Ok(groups) = self.groups.get_mut() {
            for group in groups.values() {
                group.task.abort();
            }
        }
    }
}

fn file_of(resource: &AlertRule) -> String {
    let name = resource.metadata.name.clone().unwrap_or_default();
    match &resource.metadata.namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name,
    }
}

fn notify_alerts(
    alerts: &[crate::state::Alert],
    external_url: &str,
    expr: &str,
) -> Vec<NotifyAlert> {
    let url = generator_url(external_url, expr);
    alerts
        .iter()
        .filter_map(|a| NotifyAlert::from_alert(a, &url))
        .collect()
}

/// Evaluates the group every interval, at times aligned on its stable offset.
async fn run_group(shared: Arc<Shared>, state: Arc<Mutex<GroupState>>, spec: RuleGroup) {
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
    let mut state = state.lock().expect("group lock");
    if state.stopped {
        return false;
    }
    let key = state.key.clone();
    let mut updates = Vec::new();
    for (status, (result, seconds)) in state.rules.iter_mut().zip(results) {
        shared.metrics.rule_evaluations.inc();
        status.last_evaluation_ms = Some(ts);
        status.evaluation_seconds = seconds;
        let ctx = RuleContext {
            rule: &status.rule,
            external_url,
        };
        let outcome = result
            .map_err(|message| Error::Query {
                expr: status.rule.expr.clone(),
                message,
            })
            .and_then(|samples| status.alerts.evaluate(ctx, &samples, ts));
        match outcome {
            Ok(evaluation) => {
                status.alerts = evaluation.alerts;
                status.health = Health::Ok;
                status.last_error = None;
                let alerts = notify_alerts(&evaluation.notify, external_url, &status.rule.expr);
                if !alerts.is_empty() || status.notified_any {
                    status.notified_any = !alerts.is_empty();
                    updates.push(RuleAlerts {
                        rule: status.id.clone(),
                        alertname: status.rule.alert.clone(),
                        alerts,
                        retire: false,
                    });
                }
            }
            Err(e) => {
                shared.metrics.rule_evaluation_failures.inc();
                tracing::warn!(group = %key, alert = %status.rule.alert, error = %e, "rule evaluation failed");
                status.health = Health::Err;
                status.last_error = Some(e.to_string());
            }
        }
    }
    state.last_evaluation_ms = Some(ts);
    state.evaluation_seconds = group_started.elapsed().as_secs_f64();
    let (pending, firing) = state.alert_counts();
    let (old_pending, old_firing) = state.counted;
    shared
        .metrics
        .alerts
        .with_label_values(&["pending"])
        .add(pending - old_pending);
    shared
        .metrics
        .alerts
        .with_label_values(&["firing"])
        .add(firing - old_firing);
    state.counted = (pending, firing);
    if !updates.is_empty() {
        shared.dispatcher.dispatch(updates, ts);
    }
    true
}
