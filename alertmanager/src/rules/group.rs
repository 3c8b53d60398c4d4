//! [`GroupState`]: the rules of one rule group with their alerts and health, and the
//! group's evaluation schedule (Prometheus's stable per-group offset).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use telltale_crds::{Rule, RuleGroup};

use crate::labels::{LabelSet, to_text};
use crate::rules::state::{Alert, AlertSet, AlertState, RuleTemplates};

/// Identifies a rule group: the `AlertRule` it comes from (`namespace/name`) and its name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// `namespace/name` of the `AlertRule` (just `name` without a namespace).
    pub file: String,
    pub group: String,
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{};{}", self.file, self.group)
    }
}

/// Result of a rule's last evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

impl Health {
    /// `unknown`, `ok` or `err`, as Prometheus's API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// One rule with its alerts (none for a recording rule).
#[derive(Clone, Debug)]
pub struct RuleStatus {
    pub rule: Rule,
    /// The rule's label and annotation templates, parsed.
    pub templates: Arc<RuleTemplates>,
    /// Stable identity for notification grouping (group, name, labels, occurrence).
    pub id: String,
    pub alerts: AlertSet,
    pub health: Health,
    pub last_error: Option<String>,
    pub last_evaluation_ms: Option<i64>,
    pub evaluation_seconds: f64,
    /// Whether the last update sent to notification had alerts.
    pub notified_any: bool,
    /// The series the rule wrote at its last successful evaluation: those missing from
    /// the next one get a staleness marker.
    pub written: Arc<BTreeSet<LabelSet>>,
}

/// A rule group and the state of its rules.
#[derive(Clone, Debug)]
pub struct GroupState {
    pub key: GroupKey,
    pub interval: Duration,
    pub rules: Vec<RuleStatus>,
    pub last_evaluation_ms: Option<i64>,
    pub evaluation_seconds: f64,
    /// (pending, firing) as last added to the `telltale_alerts` gauge.
    pub counted: (i64, i64),
    /// Set when the group is replaced or removed: its task must not publish any more.
    pub stopped: bool,
}

impl GroupState {
    /// A fresh group; rules whose name and labels match one of `previous` keep its state,
    /// as Prometheus carries alerts over on reload, and other rules take their alerts from
    /// `restored` (persisted state, by rule id). Returns the group and the previous rules
    /// that were not carried over.
    pub fn new(
        key: GroupKey,
        spec: &RuleGroup,
        previous: Vec<RuleStatus>,
        restored: &BTreeMap<String, Vec<Alert>>,
    ) -> (Self, Vec<RuleStatus>) {
        let mut previous: Vec<Option<RuleStatus>> = previous.into_iter().map(Some).collect();
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (i, rule) in spec.rules.iter().enumerate() {
            let occurrence = spec.rules[..i]
                .iter()
                .filter(|r| r.name() == rule.name() && r.labels == rule.labels)
                .count();
            let carried = previous
                .iter_mut()
                .find(|p| {
                    p.as_ref().is_some_and(|p| {
                        p.rule.name() == rule.name()
                            && p.rule.is_recording() == rule.is_recording()
                            && p.rule.labels == rule.labels
                    })
                })
                .and_then(Option::take);
            let status = match carried {
                Some(old) => RuleStatus {
                    rule: rule.clone(),
                    templates: Arc::new(RuleTemplates::new(rule)),
                    id: rule_id(&key, rule, occurrence),
                    ..old
                },
                None => RuleStatus {
                    rule: rule.clone(),
                    templates: Arc::new(RuleTemplates::new(rule)),
                    id: rule_id(&key, rule, occurrence),
                    alerts: restored
                        .get(&rule_id(&key, rule, occurrence))
                        .filter(|_| !rule.is_recording())
                        .map(|a| AlertSet::from_alerts(a.clone()))
                        .unwrap_or_default(),
                    health: Health::Unknown,
                    last_error: None,
                    last_evaluation_ms: None,
                    evaluation_seconds: 0.0,
                    notified_any: false,
                    written: Arc::default(),
                },
            };
            rules.push(status);
        }
        let state = GroupState {
            key,
            interval: spec.interval.as_duration(),
            rules,
            last_evaluation_ms: None,
            evaluation_seconds: 0.0,
            counted: (0, 0),
            stopped: false,
        };
        (state, previous.into_iter().flatten().collect())
    }

    /// (pending, firing) alerts of all rules.
    pub fn alert_counts(&self) -> (i64, i64) {
        self.rules.iter().fold((0, 0), |(p, f), r| {
            (
                p + r.alerts.count(AlertState::Pending) as i64,
                f + r.alerts.count(AlertState::Firing) as i64,
            )
        })
    }
}

fn rule_id(key: &GroupKey, rule: &Rule, occurrence: usize) -> String {
    let kind = if rule.is_recording() {
        "record"
    } else {
        "alert"
    };
    format!(
        "{key};{kind};{};{};{occurrence}",
        rule.name(),
        to_text(&rule.labels)
    )
}

/// The group's stable offset within its interval (FNV-1a of its key), so that groups with
/// the same interval spread out instead of all running at once.
pub fn eval_offset_ms(key: &GroupKey, interval_ms: i64) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.to_string().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % interval_ms.max(1) as u64) as i64
}

/// The latest evaluation time at or before `now_ms`: times are `offset` past a multiple of
/// the interval (Prometheus's `Group.EvalTimestamp`).
pub fn eval_timestamp(now_ms: i64, offset_ms: i64, interval_ms: i64) -> i64 {
    let start = now_ms - offset_ms;
    start - start.rem_euclid(interval_ms) + offset_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::PromDuration;

    fn rule(alert: &str, expr: &str) -> Rule {
        Rule::alert(alert, expr)
    }

    fn key() -> GroupKey {
        GroupKey {
            file: "ns/rules".into(),
            group: "g".into(),
        }
    }

    #[test]
    fn eval_times_are_aligned_by_a_stable_offset() {
        let offset = eval_offset_ms(&key(), 60_000);
        assert_eq!(offset, eval_offset_ms(&key(), 60_000));
        assert!((0..60_000).contains(&offset));
        let t = eval_timestamp(1_700_000_012_345, offset, 60_000);
        assert!(t <= 1_700_000_012_345 && t > 1_700_000_012_345 - 60_000);
        assert_eq!((t - offset).rem_euclid(60_000), 0);
        assert_eq!(eval_timestamp(t, offset, 60_000), t);
    }

    #[test]
    fn carries_state_of_rules_with_the_same_name_and_labels() {
        let old_spec = RuleGroup {
            name: "g".into(),
            interval: PromDuration::from_secs(60),
            rules: vec![rule("A", "a > 1"), rule("B", "b > 1")],
        };
        let (mut old, _) = GroupState::new(key(), &old_spec, vec![], &BTreeMap::new());
        old.rules[0].health = Health::Ok;
        old.rules[1].health = Health::Err;
        let new_spec = RuleGroup {
            rules: vec![rule("C", "c"), rule("A", "a > 2")],
            ..old_spec
        };
        let (new, dropped) = GroupState::new(key(), &new_spec, old.rules.clone(), &BTreeMap::new());
        assert_eq!(new.rules[0].health, Health::Unknown);
        assert_eq!(new.rules[1].health, Health::Ok);
        assert_eq!(new.rules[1].rule.expr, "a > 2");
        assert_eq!(new.rules[1].id, old.rules[0].id);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].rule.alert, "B");
    }
}

#[cfg(test)]
mod restore_tests {
    use super::*;
    use crate::rules::state::AlertState;
    use telltale_crds::PromDuration;

    #[test]
    fn persisted_alerts_are_restored_by_rule_id() {
        let key = GroupKey {
            file: "ns/r".into(),
            group: "g".into(),
        };
        let spec = RuleGroup {
            name: "g".into(),
            interval: PromDuration::from_secs(10),
            rules: vec![Rule::alert("A", "a > 1"), Rule::record("x:sum", "sum(x)")],
        };
        let (fresh, _) = GroupState::new(key.clone(), &spec, vec![], &BTreeMap::new());
        assert_eq!(fresh.rules[0].id, "ns/r;g;alert;A;{};0");
        let alert = Alert {
            labels: [("alertname".to_string(), "A".to_string())].into(),
            annotations: Default::default(),
            state: AlertState::Pending,
            value: 2.0,
            active_at_ms: 5,
            fired_at_ms: None,
            resolved_at_ms: None,
            keep_firing_since_ms: None,
        };
        let restored = BTreeMap::from([(fresh.rules[0].id.clone(), vec![alert])]);
        let (group, _) = GroupState::new(key, &spec, vec![], &restored);
        assert_eq!(group.rules[0].alerts.len(), 1);
        assert!(group.rules[1].alerts.is_empty());
    }
}
