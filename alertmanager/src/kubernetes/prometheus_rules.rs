//! prometheus-operator's PrometheusRules in the cluster: the ones the MetricCluster's
//! `ruleSelector` and `ruleNamespaceSelector` pick, each turned into the AlertRule of its
//! groups (`telltale_crds::prometheus_operator::rule`) and applied with the AlertRules.
//! The PrometheusRule CRD may not be installed: its watch then holds nothing (logged
//! once) and never holds the AlertRules back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use telltale_crds::AlertRule;
use telltale_crds::prometheus_operator::select::MonitorKind;
use telltale_crds::prometheus_operator::{self as operator, MonitorSelectors, PrometheusRule};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Where PrometheusRules are watched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrometheusRuleScope {
    /// Not watched.
    #[default]
    Off,
    /// In the alertmanager's namespace (a namespaced Role suffices).
    OwnNamespace,
    /// In every namespace (needs cluster-wide list/watch of prometheusrules and
    /// namespaces), so `ruleNamespaceSelector` can pick others.
    AllNamespaces,
}

/// The watched PrometheusRules and Namespaces.
pub(crate) struct RuleStores {
    rules: Store<DynamicObject>,
    namespaces: Option<Store<Namespace>>,
    settled: Vec<watch::Receiver<bool>>,
}

impl RuleStores {
    /// Starts the watches (PrometheusRules, and Namespaces for cluster-wide scope),
    /// waking `changed` on every change.
    pub(crate) fn start(
        client: &Client,
        scope: PrometheusRuleScope,
        namespace: &str,
        changed: &Arc<Notify>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Option<RuleStores> {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
            operator::GROUP,
            operator::VERSION,
            "PrometheusRule",
        ));
        let api: Api<DynamicObject> = match scope {
            PrometheusRuleScope::Off => return None,
            PrometheusRuleScope::OwnNamespace => {
                Api::namespaced_with(client.clone(), namespace, &ar)
            }
            PrometheusRuleScope::AllNamespaces => Api::all_with(client.clone(), &ar),
        };
        let mut settled = Vec::new();
        let writer = reflector::store::Writer::<DynamicObject>::new(ar);
        let rules = writer.as_reader();
        let (tx, rx) = watch::channel(false);
        settled.push(rx);
        tasks.push(spawn_optional(
            "PrometheusRule",
            api,
            writer,
            changed.clone(),
            tx,
        ));
        let namespaces = (scope == PrometheusRuleScope::AllNamespaces).then(|| {
            let (store, writer) = reflector::store::<Namespace>();
            let (tx, rx) = watch::channel(false);
            settled.push(rx);
            tasks.push(spawn_optional(
                "Namespace",
                Api::all(client.clone()),
                writer,
                changed.clone(),
                tx,
            ));
            store
        });
        Some(RuleStores {
            rules,
            namespaces,
            settled,
        })
    }

    /// Waits until every watch listed once or failed once.
    pub(crate) async fn settled(&self) {
        for rx in &self.settled {
            let _ = rx.clone().wait_for(|v| *v).await;
        }
    }

    pub(crate) fn rules(&self) -> Vec<Arc<DynamicObject>> {
        self.rules.state()
    }

    pub(crate) fn namespace_labels(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.namespaces
            .iter()
            .flat_map(|s| s.state())
            .map(|n| {
                (
                    n.metadata.name.clone().unwrap_or_default(),
                    n.metadata.labels.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// Watches `api` into `writer`; `settled` turns true once it listed, or failed the first
/// time (an absent CRD, 404, or a forbidden list, 403, is logged once and retried).
fn spawn_optional<K>(
    kind: &'static str,
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    changed: Arc<Notify>,
    settled: watch::Sender<bool>,
) -> JoinHandle<()>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer);
        futures::pin_mut!(stream);
        let mut reported = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    if matches!(event, watcher::Event::InitDone) {
                        settled.send_replace(true);
                        reported = false;
                    }
                    changed.notify_one();
                }
                Err(e) => {
                    settled.send_replace(true);
                    let code = match &e {
                        watcher::Error::InitialListFailed(kube::Error::Api(s))
                        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => Some(s.code),
                        _ => None,
                    };
                    match code {
                        Some(404 | 403) if reported => {}
                        Some(code @ (404 | 403)) => {
                            tracing::info!(
                                kind,
                                code,
                                "not served or not permitted (CRD not installed?); not watched until it lists (retrying)"
                            );
                            reported = true;
                        }
                        _ => tracing::warn!(kind, error = %e, "kubernetes watch failed; retrying"),
                    }
                }
            }
        }
        tracing::warn!(kind, "kubernetes watch ended");
    })
}

/// Something to say about one selected PrometheusRule.
#[derive(Debug, Clone)]
pub(crate) struct RuleReport {
    /// `namespace/name`.
    pub key: String,
    pub resource_version: String,
    /// The settings not honoured, or the one reason it is invalid.
    pub messages: Vec<String>,
    pub invalid: bool,
    pub reference: ObjectReference,
}

/// What the PrometheusRules of one round give.
#[derive(Debug, Default)]
pub(crate) struct SelectedRules {
    /// The AlertRule of each selected, valid PrometheusRule, by `namespace/name`.
    pub rules: BTreeMap<String, AlertRule>,
    /// Invalid ones and settings not honoured.
    pub reports: Vec<RuleReport>,
}

/// A Warning Event on the PrometheusRule saying what is not honoured or why it is
/// skipped; a failure to publish (no permission) is logged at debug level only.
pub(crate) async fn report_event(recorder: &Recorder, report: &RuleReport) {
    let note = telltale_crds::prometheus_operator::event_note(&report.messages);
    let event = Event {
        type_: EventType::Warning,
        reason: if report.invalid {
            "Invalid"
        } else {
            "NotHonoured"
        }
        .into(),
        note: Some(note),
        action: "Evaluate".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &report.reference).await {
        tracing::debug!(prometheus_rule = %report.key, error = %e, "cannot publish an Event");
    }
}

/// The PrometheusRules `selectors` pick for a MetricCluster in `own`, translated. Pure.
pub(crate) fn select_rules(
    objects: &[Arc<DynamicObject>],
    selectors: Option<&MonitorSelectors>,
    own: &str,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> SelectedRules {
    let mut out = SelectedRules::default();
    let Some(selectors) = selectors else {
        return out;
    };
    for obj in objects {
        let ns = obj.metadata.namespace.as_deref().unwrap_or("");
        let labels = obj.metadata.labels.clone().unwrap_or_default();
        if !selectors.selects(MonitorKind::PrometheusRule, own, ns, &labels, namespaces) {
            continue;
        }
        let key = format!("{ns}/{}", obj.metadata.name.as_deref().unwrap_or(""));
        let version = obj.metadata.resource_version.clone().unwrap_or_default();
        let reference = ObjectReference {
            api_version: Some(operator::API_VERSION.into()),
            kind: Some("PrometheusRule".into()),
            name: obj.metadata.name.clone(),
            namespace: obj.metadata.namespace.clone(),
            uid: obj.metadata.uid.clone(),
            resource_version: obj.metadata.resource_version.clone(),
            ..ObjectReference::default()
        };
        let spec = obj.data.get("spec").cloned().unwrap_or_default();
        let translated = serde_json::from_value(spec)
            .map_err(|e| format!("spec: {e}"))
            .and_then(|spec| {
                PrometheusRule {
                    metadata: obj.metadata.clone(),
                    spec,
                }
                .to_alert_rule()
                .map_err(|e| e.to_string())
            });
        match translated {
            Ok((rule, not_honoured)) => {
                if !not_honoured.is_empty() {
                    out.reports.push(RuleReport {
                        key: key.clone(),
                        resource_version: version,
                        messages: not_honoured,
                        invalid: false,
                        reference,
                    });
                }
                out.rules.insert(key, rule);
            }
            Err(e) => out.reports.push(RuleReport {
                key,
                resource_version: version,
                messages: vec![e],
                invalid: true,
                reference,
            }),
        }
    }
    out
}

/// Keys already reported at a resourceVersion, so each report is logged once.
pub(crate) type Reported = BTreeSet<(String, String)>;

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        ns: &str,
        name: &str,
        labels: serde_json::Value,
        spec: serde_json::Value,
    ) -> Arc<DynamicObject> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": name, "namespace": ns, "labels": labels, "resourceVersion": "3"},
                "spec": spec,
            }))
            .unwrap(),
        )
    }

    #[test]
    fn selected_rules_translate_and_bad_ones_are_listed() {
        let good = serde_json::json!({"groups": [{"name": "g", "limit": 5, "rules": [{"alert": "A", "expr": "up == 0"}]}]});
        let objects = vec![
            rule(
                "monitoring",
                "kps",
                serde_json::json!({"release": "kps"}),
                good.clone(),
            ),
            rule("monitoring", "other", serde_json::json!({}), good.clone()),
            rule(
                "apps",
                "elsewhere",
                serde_json::json!({"release": "kps"}),
                good,
            ),
            rule(
                "monitoring",
                "bad",
                serde_json::json!({"release": "kps"}),
                serde_json::json!({"groups": [{"name": "g", "rules": [{"expr": "up"}]}]}),
            ),
        ];
        let sel: MonitorSelectors =
            serde_yaml::from_str("ruleSelector: {matchLabels: {release: kps}}").unwrap();
        let s = select_rules(&objects, Some(&sel), "monitoring", &BTreeMap::new());
        assert_eq!(s.rules.keys().collect::<Vec<_>>(), ["monitoring/kps"]);
        let invalid: Vec<_> = s
            .reports
            .iter()
            .filter(|r| r.invalid)
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(invalid, ["monitoring/bad"]);
        let kps = s
            .reports
            .iter()
            .find(|r| r.key == "monitoring/kps")
            .unwrap();
        assert_eq!(
            kps.messages,
            ["spec.groups[0].limit: not supported by Telltale; ignored"]
        );
        assert_eq!(kps.reference.kind.as_deref(), Some("PrometheusRule"));
        assert!(
            select_rules(&objects, None, "monitoring", &BTreeMap::new())
                .rules
                .is_empty()
        );
    }
}
