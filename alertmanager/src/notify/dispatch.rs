//! [`Dispatcher`]: collects the alerts of every rule into groups (one per `alertname`),
//! picks the receiver, and hands each changed group to the receiver's webhook workers
//! without ever waiting for them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use telltale_crds::{AlertingSpec, Receiver};
use tokio::sync::mpsc::error::TrySendError;

use crate::metrics::Metrics;
use crate::notify::NotifyAlert;
use crate::notify::webhook::{WebhookHandle, WebhookWorker, WorkerOptions};

/// The notifiable alerts of one rule after one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleAlerts {
    /// Identifies the rule (stable while the rule's name and labels stay the same).
    pub rule: String,
    pub alertname: String,
    /// Its firing and recently resolved alerts.
    pub alerts: Vec<NotifyAlert>,
    /// The rule is gone: notify these alerts once more, then forget the rule.
    pub retire: bool,
}

/// The current alerts of one group, handed to each webhook of the receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSnapshot {
    pub alertname: String,
    /// Every firing and recently resolved alert of the group, in label order.
    pub alerts: Vec<NotifyAlert>,
    /// Evaluation time of the update that produced the snapshot.
    pub now_ms: i64,
}

/// The alerts of every rule, grouped by alert name.
#[derive(Clone, Debug, Default)]
pub struct GroupStore {
    groups: BTreeMap<String, BTreeMap<String, Vec<NotifyAlert>>>,
}

impl GroupStore {
    /// Applies rule updates; returns the current alerts of each group they touched (an
    /// empty list for a group that has no alerts left).
    pub fn apply(&mut self, updates: Vec<RuleAlerts>) -> Vec<(String, Vec<NotifyAlert>)> {
        let mut touched = BTreeSet::new();
        let mut retired = Vec::new();
        for update in updates {
            let group = self.groups.entry(update.alertname.clone()).or_default();
            if update.alerts.is_empty() {
                group.remove(&update.rule);
            } else {
                group.insert(update.rule.clone(), update.alerts);
            }
            if update.retire {
                retired.push((update.alertname.clone(), update.rule));
            }
            touched.insert(update.alertname);
        }
        let snapshots = touched
            .into_iter()
            .map(|name| {
                let mut alerts: Vec<NotifyAlert> = self
                    .groups
                    .get(&name)
                    .map(|g| g.values().flatten().cloned().collect())
                    .unwrap_or_default();
                alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
                (name, alerts)
            })
            .collect();
        for (name, rule) in retired {
            if let Some(group) = self.groups.get_mut(&name) {
                group.remove(&rule);
            }
        }
        self.groups.retain(|_, g| !g.is_empty());
        snapshots
    }
}

/// The receiver alerts go to: the route's, else the first one, else none.
pub fn chosen_receiver(alerting: &AlertingSpec) -> Option<&Receiver> {
    match &alerting.route {
        Some(route) => alerting.receivers.iter().find(|r| r.name == route.receiver),
        None => alerting.receivers.first(),
    }
}

/// Groups alerts and feeds the webhook workers of the chosen receiver.
pub struct Dispatcher {
    receiver: Option<String>,
    store: Mutex<GroupStore>,
    workers: Mutex<Vec<WebhookHandle>>,
    metrics: Metrics,
}

impl Dispatcher {
    /// Starts one worker per webhook of the chosen receiver. Must run inside a Tokio
    /// runtime.
    pub fn new(alerting: &AlertingSpec, options: WorkerOptions, metrics: Metrics) -> Dispatcher {
        let receiver = chosen_receiver(alerting);
        match receiver {
            None if alerting.receivers.is_empty() => {
                tracing::debug!("no alert receivers configured: notifications are not sent")
            }
            None => tracing::warn!(
                route = ?alerting.route,
                "the route names no configured receiver: notifications are not sent"
            ),
            Some(r) if r.webhooks.is_empty() => {
                tracing::debug!(receiver = %r.name, "receiver has no webhooks")
            }
            Some(_) => {}
        }
        let workers = receiver
            .map(|r| {
                r.webhooks
                    .iter()
                    .map(|hook| {
                        WebhookWorker::new(&r.name, hook.clone(), options.clone(), metrics.clone())
                            .spawn()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Dispatcher {
            receiver: receiver.map(|r| r.name.clone()),
            store: Mutex::new(GroupStore::default()),
            workers: Mutex::new(workers),
            metrics,
        }
    }

    /// Takes the alerts of rules just evaluated at `now_ms` and queues a snapshot of each
    /// touched group for every webhook; never blocks (a full queue drops the snapshot, the
    /// next evaluation sends a fresh one).
    pub fn dispatch(&self, updates: Vec<RuleAlerts>, now_ms: i64) {
        let Some(receiver) = &self.receiver else {
            return;
        };
        let snapshots = self.store.lock().expect("store lock").apply(updates);
        let workers = self.workers.lock().expect("workers lock");
        for (alertname, alerts) in snapshots {
            for worker in workers.iter() {
                let snapshot = GroupSnapshot {
                    alertname: alertname.clone(),
                    alerts: alerts.clone(),
                    now_ms,
                };
                match worker.tx.try_send(snapshot) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        self.metrics
                            .notifications
                            .with_label_values(&[receiver.as_str(), "dropped"])
                            .inc();
                        tracing::warn!(url = %worker.url, %alertname, "webhook queue full, update dropped");
                    }
                    Err(TrySendError::Closed(_)) => {}
                }
            }
        }
    }

    /// Stops taking updates; workers finish what is queued and exit.
    pub fn close(&self) {
        self.workers.lock().expect("workers lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::{Route, WebhookConfig};

    fn alert(name: &str, instance: &str) -> NotifyAlert {
        NotifyAlert {
            labels: [
                ("alertname".to_string(), name.to_string()),
                ("instance".to_string(), instance.to_string()),
            ]
            .into(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        }
    }

    fn update(rule: &str, name: &str, alerts: Vec<NotifyAlert>, retire: bool) -> RuleAlerts {
        RuleAlerts {
            rule: rule.into(),
            alertname: name.into(),
            alerts,
            retire,
        }
    }

    #[test]
    fn groups_alerts_of_all_rules_by_alertname() {
        let mut store = GroupStore::default();
        let out = store.apply(vec![
            update("r1", "Down", vec![alert("Down", "b")], false),
            update("r2", "Down", vec![alert("Down", "a")], false),
            update("r3", "Slow", vec![], false),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, "Down");
        let instances: Vec<_> = out[0]
            .1
            .iter()
            .map(|a| a.labels["instance"].clone())
            .collect();
        assert_eq!(instances, ["a", "b"]);
        assert_eq!(out[1], ("Slow".to_string(), vec![]));

        // Another evaluation of r1 alone still reports r2's alerts.
        let out = store.apply(vec![update("r1", "Down", vec![], false)]);
        assert_eq!(out[0].1.len(), 1);
    }

    #[test]
    fn retired_rules_are_reported_once_then_forgotten() {
        let mut store = GroupStore::default();
        store.apply(vec![update("r1", "Down", vec![alert("Down", "a")], false)]);
        let out = store.apply(vec![update("r1", "Down", vec![alert("Down", "a")], true)]);
        assert_eq!(out[0].1.len(), 1);
        let out = store.apply(vec![update("r2", "Down", vec![], false)]);
        assert!(out[0].1.is_empty());
    }

    #[test]
    fn receiver_is_the_routes_or_the_first() {
        let hook = WebhookConfig {
            url: "http://x".into(),
            send_resolved: true,
        };
        let mut spec = AlertingSpec {
            route: None,
            receivers: ["a", "b"]
                .iter()
                .map(|n| Receiver {
                    name: n.to_string(),
                    webhooks: vec![hook.clone()],
                })
                .collect(),
        };
        assert_eq!(chosen_receiver(&spec).unwrap().name, "a");
        spec.route = Some(Route {
            receiver: "b".into(),
        });
        assert_eq!(chosen_receiver(&spec).unwrap().name, "b");
        assert!(chosen_receiver(&AlertingSpec::default()).is_none());
    }
}
