//! [`watch_cluster`]: keeps a [`RuleManager`] in step with the cluster. AlertRules of one
//! namespace are watched (kube's `watcher` feeding a `reflector` store, no polling) and
//! the whole set, with the rules of `-f` files, is applied after each change has settled;
//! the named MetricCluster's `spec.alerting` replaces the routing whenever it changes.
//!
//! With [`ClusterWatchOptions::prometheus_rules`], prometheus-operator's PrometheusRules
//! that the MetricCluster's `ruleSelector` / `ruleNamespaceSelector` pick are applied
//! with them (`prometheus_rules.rs`).
//!
//! Objects are read as [`DynamicObject`]s and decoded one by one, so one malformed
//! AlertRule cannot stop the others from being read. A malformed or invalid AlertRule is
//! logged and counted, and the last good version of it keeps running; a malformed or
//! invalid alerting section is logged and counted and the routing in use stays.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use telltale_crds::prometheus_operator::MonitorSelectors;
use telltale_crds::{AlertRule, AlertRuleSpec, AlertingSpec};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::prometheus_rules::{
    PrometheusRuleScope, Reported, RuleStores, report_event, select_rules,
};
use crate::rules::manager::RuleManager;

/// What [`watch_cluster`] watches and merges.
#[derive(Clone, Debug, Default)]
pub struct ClusterWatchOptions {
    /// The namespace of the AlertRules, the MetricCluster and the Secrets.
    pub namespace: String,
    /// The MetricCluster whose `spec.alerting` routes the alerts; `None` keeps the
    /// routing the manager was created with (from `-f` files).
    pub metric_cluster: Option<String>,
    /// AlertRules from files, applied together with the cluster's.
    pub file_rules: Vec<AlertRule>,
    /// How long changes settle before the rule set is applied again.
    pub debounce: Duration,
    /// Where prometheus-operator's PrometheusRules are watched (the MetricCluster's
    /// `ruleSelector` picks them; none without `metric_cluster`).
    pub prometheus_rules: PrometheusRuleScope,
}

/// The running watches; dropping it stops them.
pub struct ClusterWatch {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        telltale_crds::GROUP,
        telltale_crds::VERSION,
        kind,
    ))
}

/// Starts watching through `client` and applying what is found to `manager`. Must be
/// called within a Tokio runtime.
pub fn watch_cluster(
    client: Client,
    manager: Arc<RuleManager>,
    options: ClusterWatchOptions,
) -> ClusterWatch {
    let mut tasks = Vec::new();
    let ar = resource("AlertRule");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &options.namespace, &ar);
    let writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let store = writer.as_reader();
    let changed = Arc::new(Notify::new());
    let notify = changed.clone();
    tasks.push(tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer);
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => notify.notify_one(),
                Err(e) => tracing::warn!(kind = "AlertRule", error = %e, "kubernetes watch failed; retrying"),
            }
        }
        tracing::warn!(kind = "AlertRule", "kubernetes watch ended");
    }));
    let operator_rules = RuleStores::start(
        &client,
        options.prometheus_rules,
        &options.namespace,
        &changed,
        &mut tasks,
    );
    let (selectors_tx, selectors) = watch::channel(None);
    tasks.push(tokio::spawn(apply_rules(
        store,
        changed.clone(),
        manager.clone(),
        options.clone(),
        operator_rules.map(|stores| (stores, selectors)),
        client.clone(),
    )));
    if let Some(name) = options.metric_cluster.clone() {
        let ar = resource("MetricCluster");
        let api: Api<DynamicObject> = Api::namespaced_with(client, &options.namespace, &ar);
        tasks.push(tokio::spawn(follow_alerting(
            api,
            name,
            manager,
            selectors_tx,
            changed,
        )));
    }
    ClusterWatch { tasks }
}

/// Decodes `obj.spec` alone (status and unknown metadata do not matter here).
fn decode_spec<T: DeserializeOwned>(obj: &DynamicObject) -> Result<T, String> {
    let spec = obj
        .data
        .get("spec")
        .cloned()
        .unwrap_or(serde_json::json!({}));
    serde_json::from_value(spec).map_err(|e| format!("spec: {e}"))
}

fn qualified(obj: &DynamicObject) -> String {
    format!(
        "{}/{}",
        obj.metadata.namespace.as_deref().unwrap_or(""),
        obj.metadata.name.as_deref().unwrap_or("")
    )
}

/// Applies the cluster's AlertRules (and the files', and the selected PrometheusRules)
/// after every settled change.
async fn apply_rules(
    store: Store<DynamicObject>,
    changed: Arc<Notify>,
    manager: Arc<RuleManager>,
    options: ClusterWatchOptions,
    operator: Option<(RuleStores, watch::Receiver<Option<MonitorSelectors>>)>,
    client: Client,
) {
    if store.wait_until_ready().await.is_err() {
        return;
    }
    if let Some((stores, _)) = &operator {
        stores.settled().await;
    }
    let recorder = kube::runtime::events::Recorder::new(
        client,
        kube::runtime::events::Reporter {
            controller: "telltale-alertmanager".into(),
            instance: None,
        },
    );
    // PrometheusRules: the last good translation of each, and what was reported.
    let mut operator_last_good: BTreeMap<String, AlertRule> = BTreeMap::new();
    let mut operator_reported = Reported::new();
    // The last version of each AlertRule that decoded, and the resourceVersion last
    // reported as malformed (so it is counted once).
    let mut last_good: BTreeMap<String, AlertRule> = BTreeMap::new();
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let mut rules = options.file_rules.clone();
        let mut present = BTreeMap::new();
        let mut objects = store.state();
        objects.sort_by_key(|o| qualified(o));
        for obj in objects {
            let key = qualified(&obj);
            match decode_spec::<AlertRuleSpec>(&obj) {
                Ok(spec) => {
                    let mut rule = AlertRule::new(obj.metadata.name.as_deref().unwrap_or(""), spec);
                    rule.metadata = obj.metadata.clone();
                    reported.remove(&key);
                    present.insert(key, rule);
                }
                Err(e) => {
                    let version = obj.metadata.resource_version.clone().unwrap_or_default();
                    if reported.get(&key) != Some(&version) {
                        tracing::error!(alert_rule = %key, error = %e, "malformed AlertRule, keeping its previous rules");
                        manager.count_rejected("AlertRule");
                        reported.insert(key.clone(), version);
                    }
                    if let Some(previous) = last_good.get(&key) {
                        present.insert(key, previous.clone());
                    }
                }
            }
        }
        let names: std::collections::BTreeSet<String> =
            store.state().iter().map(|o| qualified(o)).collect();
        reported.retain(|k, _| names.contains(k));
        rules.extend(present.values().cloned());
        last_good = present;
        if let Some((stores, selectors)) = &operator {
            let selected = select_rules(
                &stores.rules(),
                selectors.borrow().as_ref(),
                &options.namespace,
                &stores.namespace_labels(),
            );
            let mut now_reported = Reported::new();
            let mut kept = selected.rules;
            for report in &selected.reports {
                let k = (report.key.clone(), report.resource_version.clone());
                if !operator_reported.contains(&k) {
                    for m in &report.messages {
                        if report.invalid {
                            tracing::error!(prometheus_rule = %report.key, error = %m, "invalid PrometheusRule, keeping its previous rules");
                            manager.count_rejected("PrometheusRule");
                        } else {
                            tracing::warn!(prometheus_rule = %report.key, "not honoured: {m}");
                        }
                    }
                    report_event(&recorder, report).await;
                }
                now_reported.insert(k);
                if report.invalid
                    && let Some(previous) = operator_last_good.get(&report.key)
                {
                    kept.insert(report.key.clone(), previous.clone());
                }
            }
            operator_reported = now_reported;
            rules.extend(kept.values().cloned());
            operator_last_good = kept;
        }
        tracing::debug!(rules = rules.len(), "applying AlertRules");
        manager.apply(&rules);
        changed.notified().await;
        tokio::time::sleep(options.debounce).await;
    }
}

/// Applies the alerting section of MetricCluster `name` whenever it changes, and
/// publishes its PrometheusRule selectors (waking `changed` when they change).
async fn follow_alerting(
    api: Api<DynamicObject>,
    name: String,
    manager: Arc<RuleManager>,
    selectors: watch::Sender<Option<MonitorSelectors>>,
    changed: Arc<Notify>,
) {
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .touched_objects();
    futures::pin_mut!(stream);
    let mut reported = None;
    while let Some(event) = stream.next().await {
        let obj = match event {
            Ok(obj) if obj.metadata.name.as_deref() == Some(name.as_str()) => obj,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(kind = "MetricCluster", error = %e, "kubernetes watch failed; retrying");
                continue;
            }
        };
        if obj.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let spec = obj.data.get("spec").cloned().unwrap_or_default();
        let picked = serde_json::from_value::<MonitorSelectors>(spec).ok();
        if selectors.send_if_modified(|current| {
            let modified = *current != picked;
            *current = picked.clone();
            modified
        }) {
            changed.notify_one();
        }
        let alerting = obj
            .data
            .get("spec")
            .and_then(|s| s.get("alerting"))
            .cloned()
            .map_or_else(
                || Ok(AlertingSpec::default()),
                |v| serde_json::from_value::<AlertingSpec>(v).map_err(|e| e.to_string()),
            );
        match alerting {
            Ok(alerting) => {
                // set_alerting logs and counts an invalid section itself.
                let _ = manager.set_alerting(&alerting);
                reported = None;
            }
            Err(e) => {
                let version = obj.metadata.resource_version.clone();
                if reported != version {
                    tracing::error!(metric_cluster = %name, error = %e, "malformed spec.alerting, keeping the routing in use");
                    manager.count_rejected("MetricCluster");
                    reported = version;
                }
            }
        }
    }
    tracing::warn!(kind = "MetricCluster", "kubernetes watch ended");
}
