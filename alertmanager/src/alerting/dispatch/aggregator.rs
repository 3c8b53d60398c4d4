//! [`Aggregator`]: Alertmanager's aggregation groups without timers. Alerts are routed
//! into one group per (route, group labels); a group is due for its first flush
//! `group_wait` after it was created (at once when its alert is older than that), then
//! every `group_interval`. Pure: the caller passes the time and performs the flushes.
//!
//! ```text
//!  insert(alert) --route tree--> group {route}:{labels} --due at next_flush_ms-->
//!  take_due(now) -> FlushJob (snapshot; firing alerts without end) --notify-->
//!  finish(key, ok) -> resolved alerts unchanged since the snapshot are dropped;
//!                     an empty group is removed
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::alerting::notify::NotifyAlert;
use crate::alerting::route::RouteTree;
use crate::labels::LabelSet;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The alerts of one route with the same group labels.
#[derive(Clone, Debug)]
pub struct AggrGroup {
    pub route: usize,
    pub labels: LabelSet,
    /// By fingerprint.
    pub alerts: BTreeMap<u64, NotifyAlert>,
    pub next_flush_ms: i64,
    pub has_flushed: bool,
    in_flight: bool,
    /// Alerts inserted since the last snapshot was taken.
    touched: BTreeSet<u64>,
}

/// What a due group is to notify.
#[derive(Clone, Debug, PartialEq)]
pub struct FlushJob {
    pub group_key: String,
    pub receiver: String,
    pub group_labels: LabelSet,
    /// Every alert of the group in label order; firing ones without an end.
    pub alerts: Vec<NotifyAlert>,
    pub repeat_interval: Duration,
    pub now_ms: i64,
}

/// The aggregation groups of one routing tree.
#[derive(Clone, Debug)]
pub struct Aggregator {
    tree: RouteTree,
    groups: BTreeMap<String, AggrGroup>,
}

impl Aggregator {
    pub fn new(tree: RouteTree) -> Aggregator {
        Aggregator {
            tree,
            groups: BTreeMap::new(),
        }
    }

    pub fn tree(&self) -> &RouteTree {
        &self.tree
    }

    /// Routes `alert` into its groups (creating them); returns their keys.
    pub fn insert(&mut self, alert: &NotifyAlert, now_ms: i64) -> Vec<String> {
        let mut keys = Vec::new();
        for route in self.tree.matches(&alert.labels) {
            let labels = self.tree.group_labels(route, &alert.labels);
            let key = self.tree.group_key(route, &labels);
            let node = &self.tree.nodes[route];
            let wait = ms(node.group_wait);
            let group = self.groups.entry(key.clone()).or_insert_with(|| AggrGroup {
                route,
                labels,
                alerts: BTreeMap::new(),
                next_flush_ms: now_ms + wait,
                has_flushed: false,
                in_flight: false,
                touched: BTreeSet::new(),
            });
            // An alert that started longer than group_wait ago is not held back.
            if !group.has_flushed && alert.starts_at_ms + wait < now_ms {
                group.next_flush_ms = group.next_flush_ms.min(now_ms);
            }
            let fp = alert.fingerprint();
            group.alerts.insert(fp, alert.clone());
            group.touched.insert(fp);
            keys.push(key);
        }
        keys
    }

    /// When the next group is due, if any group is waiting.
    pub fn next_deadline(&self) -> Option<i64> {
        self.groups
            .values()
            .filter(|g| !g.in_flight)
            .map(|g| g.next_flush_ms)
            .min()
    }

    /// Snapshots every group due at `now_ms` and schedules its next flush one
    /// `group_interval` later. A group stays out of further flushes until
    /// [`Aggregator::finish`].
    pub fn take_due(&mut self, now_ms: i64) -> Vec<FlushJob> {
        let mut jobs = Vec::new();
        for (key, group) in &mut self.groups {
            if group.in_flight || group.next_flush_ms > now_ms {
                continue;
            }
            let node = &self.tree.nodes[group.route];
            group.in_flight = true;
            group.has_flushed = true;
            group.next_flush_ms = now_ms + ms(node.group_interval);
            group.touched.clear();
            let mut alerts: Vec<NotifyAlert> = group
                .alerts
                .values()
                .map(|a| {
                    let mut a = a.clone();
                    // Alerts must not resolve while the notification is on its way.
                    if !a.is_resolved_at(now_ms) {
                        a.ends_at_ms = None;
                    }
                    a
                })
                .collect();
            alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
            jobs.push(FlushJob {
                group_key: key.clone(),
                receiver: node.receiver.clone(),
                group_labels: group.labels.clone(),
                alerts,
                repeat_interval: node.repeat_interval,
                now_ms,
            });
        }
        jobs
    }

    /// Ends the flush of `job`. When every integration succeeded, the alerts it sent as
    /// resolved are dropped unless they were updated meanwhile; a group left empty is
    /// removed.
    pub fn finish(&mut self, job: &FlushJob, success: bool) {
        let Some(group) = self.groups.get_mut(&job.group_key) else {
            return;
        };
        group.in_flight = false;
        if success {
            for a in job.alerts.iter().filter(|a| a.is_resolved()) {
                let fp = a.fingerprint();
                if !group.touched.contains(&fp) {
                    group.alerts.remove(&fp);
                }
            }
        }
        if group.alerts.is_empty() {
            self.groups.remove(&job.group_key);
        }
    }

    /// Every group by key.
    pub fn groups(&self) -> impl Iterator<Item = (&String, &AggrGroup)> {
        self.groups.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::{AlertingSpec, Receiver};

    const T0: i64 = 1_700_000_000_000;

    fn alert(name: &str, instance: &str, ends: Option<i64>) -> NotifyAlert {
        NotifyAlert {
            labels: [("alertname", name), ("instance", instance)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: LabelSet::new(),
            starts_at_ms: T0,
            ends_at_ms: ends,
            generator_url: String::new(),
        }
    }

    fn aggregator() -> Aggregator {
        let spec = AlertingSpec {
            global: None,
            route: Some(
                serde_yaml::from_str(
                    "{receiver: ops, groupBy: [alertname], groupWait: 30s, groupInterval: 5m}",
                )
                .unwrap(),
            ),
            receivers: vec![Receiver {
                name: "ops".into(),
                ..Default::default()
            }],
            inhibit_rules: vec![],
            templates: vec![],
        };
        Aggregator::new(RouteTree::new(&spec, Duration::from_secs(3600)).unwrap())
    }

    #[test]
    fn alerts_with_the_same_group_labels_share_a_group_and_wait() {
        let mut agg = aggregator();
        for i in 0..10 {
            agg.insert(&alert("Down", &format!("i{i}"), None), T0);
        }
        agg.insert(&alert("Slow", "a", None), T0 + 1000);
        assert_eq!(agg.groups().count(), 2);
        assert_eq!(agg.next_deadline(), Some(T0 + 30_000));
        assert!(agg.take_due(T0 + 29_999).is_empty());
        let jobs = agg.take_due(T0 + 30_000);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].group_key, "{}:{alertname=\"Down\"}");
        assert_eq!(jobs[0].alerts.len(), 10);
        assert_eq!(jobs[0].receiver, "ops");
        assert_eq!(
            agg.next_deadline(),
            Some(T0 + 31_000),
            "Slow is next, Down in flight"
        );
        agg.finish(&jobs[0], true);
        assert_eq!(agg.take_due(T0 + 31_000).len(), 1);
        assert_eq!(
            agg.next_deadline(),
            Some(T0 + 330_000),
            "then every group_interval"
        );
    }

    #[test]
    fn old_alerts_are_flushed_at_once() {
        let mut agg = aggregator();
        agg.insert(&alert("Down", "a", None), T0 + 60_000);
        assert_eq!(agg.next_deadline(), Some(T0 + 60_000));
    }

    #[test]
    fn resolved_alerts_leave_after_a_successful_flush() {
        let mut agg = aggregator();
        agg.insert(&alert("Down", "a", None), T0);
        agg.insert(&alert("Down", "b", None), T0);
        let job = agg.take_due(T0 + 30_000).remove(0);
        assert!(job.alerts.iter().all(|a| a.ends_at_ms.is_none()));
        agg.finish(&job, true);
        agg.insert(&alert("Down", "b", Some(T0 + 40_000)), T0 + 40_000);
        let job = agg.take_due(T0 + 330_000).remove(0);
        assert_eq!(job.alerts[1].ends_at_ms, Some(T0 + 40_000));
        agg.finish(&job, false);
        assert_eq!(
            agg.groups().next().unwrap().1.alerts.len(),
            2,
            "kept on failure"
        );
        let job = agg.take_due(T0 + 630_000).remove(0);
        agg.finish(&job, true);
        assert_eq!(agg.groups().next().unwrap().1.alerts.len(), 1);
        agg.insert(&alert("Down", "a", Some(T0 + 700_000)), T0 + 700_000);
        let job = agg.take_due(T0 + 930_000).remove(0);
        agg.finish(&job, true);
        assert_eq!(agg.groups().count(), 0, "empty groups are removed");
    }

    #[test]
    fn alerts_ending_in_the_future_are_firing_in_the_snapshot() {
        let mut agg = aggregator();
        agg.insert(&alert("Down", "a", Some(T0 + 10 * 60_000)), T0);
        let job = agg.take_due(T0 + 30_000).remove(0);
        assert_eq!(job.alerts[0].ends_at_ms, None);
    }
}
