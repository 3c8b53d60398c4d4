//! [`RuleManager`]: runs every rule group of every `AlertRule` on its schedule, feeds the
//! alerts to the [`Dispatcher`], writes recorded series, and persists alert state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use telltale_crds::{AlertRule, AlertingSpec, RuleGroup};
use telltale_model::now_ms;
use tokio::task::JoinHandle;

use crate::alerting::dispatch::{Dispatcher, DispatcherOptions};
use crate::alerting::validate::validate_alerting;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::persistence::state_db::RocksStateStore;
use crate::persistence::store::{RULES_DOC, StateStore, load_json};
use crate::rules::evaluation::{notify_alerts, run_group};
use crate::rules::external::ExternalAlertmanagers;
use crate::rules::group::{GroupKey, GroupState, RuleStatus};
use crate::rules::options::ManagerOptions;
use crate::rules::querier::RuleQuerier;
use crate::rules::series::stale_markers;
use crate::rules::state::Alert;
use crate::rules::validate::validate_rules;

struct RunningGroup {
    spec: RuleGroup,
    state: Arc<Mutex<GroupState>>,
    task: JoinHandle<()>,
}

/// The persisted alert state of every rule, by rule id.
#[derive(Default)]
pub(crate) struct RuleStateDoc {
    pub(crate) rules: BTreeMap<String, Vec<Alert>>,
    /// The bytes last saved, to skip saving what did not change.
    pub(crate) saved: Vec<u8>,
}

/// What each group task needs.
pub(crate) struct Shared {
    pub(crate) querier: Arc<dyn RuleQuerier>,
    /// The alerting section in use (replaced by [`RuleManager::set_alerting`]).
    pub(crate) alerting: Mutex<AlertingSpec>,
    pub(crate) options: ManagerOptions,
    pub(crate) metrics: Metrics,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) store: Option<Arc<dyn StateStore>>,
    pub(crate) rule_state: Mutex<RuleStateDoc>,
}

impl Shared {
    /// Records the alerts of `rules` (and forgets `removed` ids), then saves the document
    /// if it changed.
    pub(crate) fn persist_rules(&self, rules: &[RuleStatus], removed: &[String]) {
        let Some(store) = &self.store else {
            return;
        };
        let mut doc = self.rule_state.lock().expect("rule state lock");
        for id in removed {
            doc.rules.remove(id);
        }
        for r in rules.iter().filter(|r| !r.rule.is_recording()) {
            if r.alerts.is_empty() {
                doc.rules.remove(&r.id);
            } else {
                doc.rules
                    .insert(r.id.clone(), r.alerts.iter().cloned().collect());
            }
        }
        let data = match serde_json::to_vec(&doc.rules) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode alert state");
                return;
            }
        };
        if data == doc.saved {
            return;
        }
        match store.save(RULES_DOC, &data) {
            Ok(()) => doc.saved = data,
            Err(e) => tracing::error!(error = %e, "cannot persist alert state"),
        }
    }
}

/// Evaluates alerting and recording rules and sends their notifications.
pub struct RuleManager {
    shared: Arc<Shared>,
    groups: Mutex<BTreeMap<GroupKey, RunningGroup>>,
    stopped: AtomicBool,
    /// The spec of each AlertRule last rejected, by `namespace/name`, so that one bad
    /// version is counted once however often the rule set is applied.
    rejected: Mutex<BTreeMap<String, String>>,
}

impl RuleManager {
    /// A manager with no rules yet; alerts are routed by `alerting`. Persisted state is
    /// loaded from `opts.state_dir` (or `opts.state_store`). An invalid routing tree or
    /// inhibition rule is logged and replaced by routing everything to the first
    /// receiver (check configurations first with [`crate::validate_alerting`]). Must be
    /// called inside a Tokio runtime (it starts the dispatcher).
    pub fn new(
        querier: Arc<dyn RuleQuerier>,
        alerting: AlertingSpec,
        opts: ManagerOptions,
        registry: &prometheus::Registry,
    ) -> Arc<Self> {
        let metrics = Metrics::new(registry);
        let store: Option<Arc<dyn StateStore>> = match (&opts.state_store, &opts.state_dir) {
            (Some(store), _) => Some(store.clone()),
            (None, Some(dir)) => match RocksStateStore::open(dir) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the state directory, state is not persisted");
                    None
                }
            },
            (None, None) => None,
        };
        let rules = store
            .as_deref()
            .and_then(|s| load_json::<BTreeMap<String, Vec<Alert>>>(s, RULES_DOC))
            .unwrap_or_default();
        if !rules.is_empty() {
            tracing::info!(rules = rules.len(), "restored alert state");
        }
        let dispatch_options = DispatcherOptions {
            external_url: opts.external_url.clone(),
            default_repeat: opts.repeat_interval,
            retry: opts.retry,
            secrets: opts.secrets.clone(),
            store: store.clone(),
            silence_limits: opts.silence_limits,
        };
        let dispatcher = Dispatcher::new(&alerting, dispatch_options.clone(), metrics.clone())
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "invalid alerting configuration: every alert goes to the first receiver");
                let fallback = AlertingSpec {
                    global: alerting.global.clone(),
                    route: None,
                    receivers: alerting.receivers.clone(),
                    inhibit_rules: Vec::new(),
                    templates: vec![],
                };
                Dispatcher::new(&fallback, dispatch_options, metrics.clone())
                    .expect("a tree without routes or inhibition rules is valid")
            });
        Arc::new(RuleManager {
            shared: Arc::new(Shared {
                querier,
                alerting: Mutex::new(alerting),
                options: opts,
                metrics,
                dispatcher,
                store,
                rule_state: Mutex::new(RuleStateDoc {
                    rules,
                    saved: Vec::new(),
                }),
            }),
            groups: Mutex::new(BTreeMap::new()),
            stopped: AtomicBool::new(false),
            rejected: Mutex::new(BTreeMap::new()),
        })
    }

    /// Replaces the evaluated rule set; keeps state of rules that did not change.
    ///
    /// Groups whose definition is unchanged keep running untouched; a changed group is
    /// restarted, carrying over the alerts of rules with the same name and labels; a new
    /// group takes its rules' persisted state. Alerts of removed rules are sent once more
    /// as resolved. An `AlertRule` that fails [`validate_rules`] is logged and its
    /// previously applied groups keep running. Must be called inside a Tokio runtime.
    pub fn apply(self: &Arc<Self>, rules: &[AlertRule]) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let mut desired: BTreeMap<GroupKey, RuleGroup> = BTreeMap::new();
        let mut kept_files = Vec::new();
        let mut rejected = self.rejected.lock().expect("rejected lock");
        let mut still_rejected = BTreeMap::new();
        for resource in rules {
            let file = file_of(resource);
            if let Err(e) = validate_rules(&resource.spec, self.shared.options.expr_check) {
                let spec = serde_json::to_string(&resource.spec).unwrap_or_default();
                if rejected.get(&file) != Some(&spec) {
                    tracing::error!(alert_rule = %file, error = %e, "invalid AlertRule, keeping its previous rules");
                    self.shared
                        .metrics
                        .config_rejected
                        .with_label_values(&["AlertRule"])
                        .inc();
                }
                still_rejected.insert(file.clone(), spec);
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
        *rejected = still_rejected;
        drop(rejected);
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
            let (state, dropped) = {
                let doc = self.shared.rule_state.lock().expect("rule state lock");
                GroupState::new(key.clone(), &spec, previous.unwrap_or_default(), &doc.rules)
            };
            self.retire(dropped, now);
            let state = Arc::new(Mutex::new(state));
            let task = tokio::spawn(run_group(self.shared.clone(), state.clone(), spec.clone()));
            tracing::info!(group = %key, rules = spec.rules.len(), interval = %spec.interval, "rule group started");
            groups.insert(key, RunningGroup { spec, state, task });
        }
    }

    /// Replaces the routing tree, receivers and inhibition rules at once, keeping the
    /// silences, the notification log and the alert state. An invalid section is logged,
    /// counted (`telltale_alertmanager_config_rejected_total{kind="MetricCluster"}`) and
    /// returned as an error; the section in use stays.
    pub fn set_alerting(&self, alerting: &AlertingSpec) -> Result<()> {
        let mut current = self.shared.alerting.lock().expect("alerting lock");
        if *current == *alerting {
            return Ok(());
        }
        let result = validate_alerting(alerting)
            .map_err(|e| Error::Config {
                field: e.field,
                message: e.message,
            })
            .and_then(|()| self.shared.dispatcher.set_config(alerting));
        match &result {
            Ok(()) => {
                *current = alerting.clone();
                tracing::info!(
                    receivers = alerting.receivers.len(),
                    inhibit_rules = alerting.inhibit_rules.len(),
                    "alerting configuration applied"
                );
            }
            Err(e) => {
                self.shared
                    .metrics
                    .config_rejected
                    .with_label_values(&["MetricCluster"])
                    .inc();
                tracing::error!(error = %e, "invalid alerting configuration, keeping the one in use");
            }
        }
        result
    }

    /// Counts a resource of `kind` refused because it could not be decoded.
    pub fn count_rejected(&self, kind: &str) {
        self.shared
            .metrics
            .config_rejected
            .with_label_values(&[kind])
            .inc();
    }

    /// The alerting section in use.
    pub fn alerting(&self) -> AlertingSpec {
        self.shared.alerting.lock().expect("alerting lock").clone()
    }

    /// Stops a group's task and returns its rules.
    fn stop_group(&self, group: &RunningGroup) -> Vec<RuleStatus> {
        group.task.abort();
        let mut state = group.state.lock().expect("group lock");
        state.stopped = true;
        let (pending, firing) = state.counted;
        let gauge = &self.shared.metrics.alerts;
        gauge.with_label_values(&["pending"]).sub(pending);
        gauge.with_label_values(&["firing"]).sub(firing);
        state.counted = (0, 0);
        state.rules.clone()
    }

    /// Sends the alerts of rules that no longer exist as resolved, once, forgets their
    /// persisted state, and writes staleness markers for every series they wrote.
    fn retire(&self, rules: Vec<RuleStatus>, now: i64) {
        if rules.is_empty() {
            return;
        }
        let url = &self.shared.options.external_url;
        let mut alerts = Vec::new();
        for r in &rules {
            let resolved = r.alerts.resolve_all(now);
            alerts.extend(notify_alerts(&resolved.notifiable(), url, &r.rule.expr));
        }
        let ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
        self.shared.persist_rules(&[], &ids);
        self.shared.dispatcher.put(alerts, now);
        let markers = stale_markers(
            rules.iter().flat_map(|r| r.written.iter()),
            &BTreeSet::new(),
            now,
        );
        if let Some(writer) = self.shared.options.writer.clone()
            && !markers.is_empty()
        {
            let metrics = self.shared.metrics.clone();
            tokio::spawn(async move {
                let count = markers.len() as u64;
                match writer.write(markers).await {
                    Ok(_) => metrics.samples_written.inc_by(count),
                    Err(e) => {
                        metrics.write_failures.inc();
                        tracing::warn!(error = %e, "cannot write staleness markers of removed rules");
                    }
                }
            });
        }
    }

    /// Stops evaluating (alert state stays persisted); notifications already started
    /// are still delivered.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let mut groups = self.groups.lock().expect("groups lock");
        for (_, group) in std::mem::take(&mut *groups) {
            self.stop_group(&group);
        }
        self.shared.dispatcher.close();
    }

    /// [`RuleManager::shutdown`], then waits (at most `limit`) until notifications already
    /// being delivered are done and logged, so a restart does not repeat them; then
    /// closes the state store (a new manager may open it at once).
    pub async fn stop(&self, limit: std::time::Duration) {
        self.shutdown();
        if !self.shared.dispatcher.drain(limit).await {
            tracing::warn!(?limit, "notifications still in flight at shutdown");
        }
        if let Some(store) = &self.shared.store {
            store.close();
        }
    }

    /// A copy of every group's current state, in key order (for the HTTP API).
    pub fn groups(&self) -> Vec<GroupState> {
        let groups = self.groups.lock().expect("groups lock");
        groups
            .values()
            .map(|g| g.state.lock().expect("group lock").clone())
            .collect()
    }

    /// The dispatcher: alerts, groups and silences (for the v2 API).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.shared.dispatcher
    }

    /// The alerting section in use, as YAML (for `/api/v2/status`).
    pub fn alerting_yaml(&self) -> String {
        serde_yaml::to_string(&self.alerting()).unwrap_or_default()
    }

    /// The external URL alerts link to.
    pub fn external_url(&self) -> &str {
        &self.shared.options.external_url
    }

    /// The Alertmanagers outside the process that get the alerts too, if configured.
    pub fn external_alertmanagers(&self) -> Option<&Arc<ExternalAlertmanagers>> {
        self.shared.options.external.as_ref()
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
