//! The alert state machine of one alerting rule, as Prometheus's `rules/alerting.go`:
//!
//! ```text
//!   result has the label set        held for `for`          result lacks it
//!  inactive ---------------> pending ------------> firing ------------------> resolved
//!                              |  result lacks it                 kept 15m, then dropped
//!                              +----------------> dropped
//! ```
//!
//! [`AlertSet::evaluate`] maps (previous state, query result, evaluation time) to the next
//! state and the alerts to hand to notification; it does no I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use telltale_crds::Rule;

use crate::error::{Error, Result};
use crate::labels::{ALERT_NAME, LabelSet, METRIC_NAME};
use crate::rules::querier::QueriedSample;
use crate::template::prometheus::{AlertTemplate, PromFunctions, TemplateQuerier, alert_data};

/// How long a resolved alert is kept (and re-sent as resolved) before it is forgotten.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The state of one alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved: the label set is no longer in the rule's result.
    Inactive,
    /// In the result, but not yet for the rule's `for`.
    Pending,
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`, as Prometheus's API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert: one label set of one rule's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub state: AlertState,
    /// The sample value of the last evaluation that returned this label set.
    pub value: f64,
    /// When the label set (re)appeared in the result.
    pub active_at_ms: i64,
    /// When the alert started firing.
    pub fired_at_ms: Option<i64>,
    /// When the alert resolved.
    pub resolved_at_ms: Option<i64>,
    /// When a firing alert's label set left the result while `keep_firing_for` holds it.
    #[serde(default)]
    pub keep_firing_since_ms: Option<i64>,
}

/// The alerts of one rule, by label set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertSet {
    /// Shared: a copy for an evaluation off the async threads costs nothing.
    alerts: Arc<BTreeMap<LabelSet, Alert>>,
}

/// The outcome of one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub alerts: AlertSet,
    /// Alerts for notification: every firing alert and every resolved one still kept.
    pub notify: Vec<Alert>,
}

/// The label and annotation templates of an alerting rule, parsed once.
#[derive(Clone, Debug, Default)]
pub struct RuleTemplates {
    labels: Vec<(String, AlertTemplate)>,
    annotations: Vec<(String, AlertTemplate)>,
}

impl RuleTemplates {
    pub fn new(rule: &Rule) -> RuleTemplates {
        let parse = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| (k.clone(), AlertTemplate::new(&rule.alert, v)))
                .collect()
        };
        RuleTemplates {
            labels: parse(&rule.labels),
            annotations: parse(&rule.annotations),
        }
    }
}

/// What the state machine needs to know about a rule.
#[derive(Clone, Copy)]
pub struct RuleContext<'a> {
    pub rule: &'a Rule,
    /// The rule's templates (parsed from `rule`).
    pub templates: &'a RuleTemplates,
    /// For `$externalURL` in templates.
    pub external_url: &'a str,
    /// For `$externalLabels` in templates.
    pub external_labels: &'a LabelSet,
    /// For `query` in templates (`None`: `query` fails).
    pub querier: Option<&'a dyn TemplateQuerier>,
}

impl AlertSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The set of `alerts` (as restored from persisted state).
    pub fn from_alerts(alerts: Vec<Alert>) -> Self {
        AlertSet {
            alerts: Arc::new(alerts.into_iter().map(|a| (a.labels.clone(), a)).collect()),
        }
    }

    /// Pending and firing alerts (what `ALERTS` reports).
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .values()
            .filter(|a| a.state != AlertState::Inactive)
    }

    /// All alerts, pending, firing and resolved, in label order.
    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Number of alerts in `state`.
    pub fn count(&self, state: AlertState) -> usize {
        self.alerts.values().filter(|a| a.state == state).count()
    }

    /// The alerts to notify about: firing, and resolved ones still kept.
    pub fn notifiable(&self) -> Vec<Alert> {
        self.alerts
            .values()
            .filter(|a| a.state != AlertState::Pending)
            .cloned()
            .collect()
    }

    /// Runs one evaluation: `result` is what the rule's expression returned at `eval_ms`.
    /// On error (two samples with the same labels after the rule's labels are applied)
    /// nothing changes, as in Prometheus.
    pub fn evaluate(
        &self,
        ctx: RuleContext<'_>,
        result: &[QueriedSample],
        eval_ms: i64,
    ) -> Result<Evaluation> {
        let rule = ctx.rule;
        let hold_ms = i64::try_from(rule.for_.as_duration().as_millis()).unwrap_or(i64::MAX);
        let keep_ms =
            i64::try_from(rule.keep_firing_for.as_duration().as_millis()).unwrap_or(i64::MAX);
        let mut current: BTreeMap<LabelSet, Alert> = BTreeMap::new();
        let funcs = PromFunctions {
            querier: ctx.querier,
            time_ms: eval_ms,
            external_url: ctx.external_url,
        };
        for sample in result {
            let data = alert_data(
                &sample.labels,
                ctx.external_labels,
                ctx.external_url,
                sample.value,
            );
            let mut labels = sample.labels.clone();
            labels.remove(METRIC_NAME);
            for (name, template) in &ctx.templates.labels {
                labels.insert(name.clone(), template.expand(&data, &funcs));
            }
            labels.insert(ALERT_NAME.to_string(), rule.alert.clone());
            let annotations = ctx
                .templates
                .annotations
                .iter()
                .map(|(name, template)| (name.clone(), template.expand(&data, &funcs)))
                .collect();
            if current.contains_key(&labels) {
                return Err(Error::DuplicateLabelSet {
                    alert: rule.alert.clone(),
                    labels: crate::labels::to_text(&labels),
                });
            }
            let alert = Alert {
                labels: labels.clone(),
                annotations,
                state: AlertState::Pending,
                value: sample.value,
                active_at_ms: eval_ms,
                fired_at_ms: None,
                resolved_at_ms: None,
                keep_firing_since_ms: None,
            };
            current.insert(labels, alert);
        }

        let mut next = (*self.alerts).clone();
        for (labels, fresh) in &current {
            match next.get_mut(labels) {
                Some(known) if known.state != AlertState::Inactive => {
                    known.value = fresh.value;
                    known.annotations = fresh.annotations.clone();
                    known.keep_firing_since_ms = None;
                }
                _ => {
                    next.insert(labels.clone(), fresh.clone());
                }
            }
        }
        next.retain(|labels, alert| {
            if !current.contains_key(labels) {
                let expired = alert
                    .resolved_at_ms
                    .is_some_and(|at| eval_ms - at > RESOLVED_RETENTION_MS);
                if alert.state == AlertState::Pending || expired {
                    return false;
                }
                if alert.state == AlertState::Firing && keep_ms > 0 {
                    let since = *alert.keep_firing_since_ms.get_or_insert(eval_ms);
                    if eval_ms - since < keep_ms {
                        return true;
                    }
                }
                if alert.state != AlertState::Inactive {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(eval_ms);
                    alert.keep_firing_since_ms = None;
                }
                return true;
            }
            if alert.state == AlertState::Pending && eval_ms - alert.active_at_ms >= hold_ms {
                alert.state = AlertState::Firing;
                alert.fired_at_ms = Some(eval_ms);
            }
            true
        });
        let alerts = AlertSet {
            alerts: Arc::new(next),
        };
        let notify = alerts.notifiable();
        Ok(Evaluation { alerts, notify })
    }

    /// Resolves every alert at `at_ms`, for a rule that is being removed: firing alerts
    /// become resolved, pending ones are dropped.
    pub fn resolve_all(&self, at_ms: i64) -> AlertSet {
        let mut alerts = (*self.alerts).clone();
        alerts.retain(|_, a| a.state != AlertState::Pending);
        for alert in alerts.values_mut() {
            if alert.state == AlertState::Firing {
                alert.state = AlertState::Inactive;
                alert.resolved_at_ms = Some(at_ms);
            }
        }
        AlertSet {
            alerts: Arc::new(alerts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use telltale_crds::PromDuration;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;
    static NO_LABELS: LabelSet = LabelSet::new();

    fn rule(for_secs: u64) -> Rule {
        Rule {
            alert: "HighLoad".into(),
            expr: "load > 1".into(),
            for_: PromDuration(Duration::from_secs(for_secs)),
            keep_firing_for: PromDuration::default(),
            record: String::new(),
            labels: [("severity".to_string(), "page".to_string())].into(),
            annotations: [(
                "summary".to_string(),
                "{{ $labels.instance }} load is {{ $value }}".to_string(),
            )]
            .into(),
        }
    }

    fn sample(instance: &str, value: f64) -> QueriedSample {
        QueriedSample {
            labels: [
                ("__name__".to_string(), "load".to_string()),
                ("instance".to_string(), instance.to_string()),
            ]
            .into(),
            value,
            histogram: None,
        }
    }

    fn eval(set: &AlertSet, rule: &Rule, result: &[QueriedSample], t: i64) -> Evaluation {
        let templates = RuleTemplates::new(rule);
        let ctx = RuleContext {
            rule,
            templates: &templates,
            external_url: "",
            external_labels: &NO_LABELS,
            querier: None,
        };
        set.evaluate(ctx, result, t).unwrap()
    }

    fn only(set: &AlertSet) -> &Alert {
        assert_eq!(set.len(), 1, "{set:?}");
        set.iter().next().unwrap()
    }

    #[test]
    fn new_result_is_pending_then_fires_after_for() {
        let r = rule(300);
        let e = eval(&AlertSet::new(), &r, &[sample("a", 2.0)], T0);
        let a = only(&e.alerts);
        assert_eq!(a.state, AlertState::Pending);
        assert_eq!(a.active_at_ms, T0);
        assert!(e.notify.is_empty(), "pending alerts are not notified");

        let e = eval(&e.alerts, &r, &[sample("a", 3.0)], T0 + 4 * MIN);
        assert_eq!(only(&e.alerts).state, AlertState::Pending);
        assert_eq!(only(&e.alerts).value, 3.0);

        let e = eval(&e.alerts, &r, &[sample("a", 4.0)], T0 + 5 * MIN);
        let a = only(&e.alerts);
        assert_eq!(a.state, AlertState::Firing);
        assert_eq!(a.active_at_ms, T0);
        assert_eq!(a.fired_at_ms, Some(T0 + 5 * MIN));
        assert_eq!(e.notify.len(), 1);
    }

    #[test]
    fn keep_firing_for_holds_a_cleared_alert() {
        let mut r = rule(0);
        r.keep_firing_for = PromDuration(Duration::from_secs(120));
        let e = eval(&AlertSet::new(), &r, &[sample("a", 2.0)], T0);
        let e = eval(&e.alerts, &r, &[], T0 + MIN);
        assert_eq!(only(&e.alerts).state, AlertState::Firing, "kept firing");
        assert_eq!(only(&e.alerts).keep_firing_since_ms, Some(T0 + MIN));
        // Back in the result: the hold is reset.
        let e = eval(&e.alerts, &r, &[sample("a", 2.0)], T0 + 2 * MIN);
        assert_eq!(only(&e.alerts).keep_firing_since_ms, None);
        let e = eval(&e.alerts, &r, &[], T0 + 3 * MIN);
        let e = eval(&e.alerts, &r, &[], T0 + 4 * MIN);
        assert_eq!(only(&e.alerts).state, AlertState::Firing);
        let e = eval(&e.alerts, &r, &[], T0 + 5 * MIN);
        let a = only(&e.alerts);
        assert_eq!(
            a.state,
            AlertState::Inactive,
            "resolved once the hold ran out"
        );
        assert_eq!(a.resolved_at_ms, Some(T0 + 5 * MIN));
        assert_eq!(a.fired_at_ms, Some(T0));
    }

    #[test]
    fn restored_alerts_continue_their_for_period() {
        let r = rule(300);
        let e = eval(&AlertSet::new(), &r, &[sample("a", 2.0)], T0);
        let saved = serde_json::to_string(&e.alerts.iter().cloned().collect::<Vec<_>>()).unwrap();
        let restored = AlertSet::from_alerts(serde_json::from_str(&saved).unwrap());
        assert_eq!(restored, e.alerts);
        let e = eval(&restored, &r, &[sample("a", 2.0)], T0 + 5 * MIN);
        assert_eq!(only(&e.alerts).state, AlertState::Firing);
        assert_eq!(only(&e.alerts).active_at_ms, T0);
    }

    #[test]
    fn zero_for_fires_immediately() {
        let r = rule(0);
        let e = eval(&AlertSet::new(), &r, &[sample("a", 2.0)], T0);
        let a = only(&e.alerts);
        assert_eq!(a.state, AlertState::Firing);
        assert_eq!(a.fired_at_ms, Some(T0));
        assert_eq!(e.notify, vec![a.clone()]);
    }

    #[test]
    fn firing_alert_resolves_and_is_dropped_after_retention() {
        let r = rule(0);
        let e = eval(&AlertSet::new(), &r, &[sample("a", 2.0)], T0);
        let e = eval(&e.alerts, &r, &[], T0 + MIN);
        let a = only(&e.alerts);
        assert_eq!(a.state, AlertState::Inactive);
        assert_eq!(a.resolved_at_ms, Some(T0 + MIN));
        assert_eq!(e.notify.len(), 1, "resolved alerts are notified");

        let e = eval(&e.alerts, &r, &[], T0 + 16 * MIN);
        assert_eq!(only(&e.alerts).resolved_at_ms, Some(T0 + MIN), "kept 15m");
        let e = eval(&e.alerts, &r, &[], T0 + 16 * MIN + 1);
        assert!(e.alerts.is_empty());
        assert!(e.notify.is_empty());
    }

    #[test]
    fn pending_alert_that_disappears_is_dropped() {
        let r = rule(300);
        let e = eval(&AlertSet::new(), &r, &[sample("a", 2.0)], T0);
        let e = eval(&e.alerts, &r, &[], T0 + MIN);
        assert!(e.alerts.is_empty());
        assert!(e.notify.is_empty());
        // Coming back starts the wait again.
        let e = eval(&e.alerts, &r, &[sample("a", 2.0)], T0 + 2 * MIN);
        assert_eq!(only(&e.alerts).active_at_ms, T0 + 2 * MIN);
    }

    #[test]
    fn flapping_alert_starts_over_as_pending() {
        let r = rule(120);
        let mut set = AlertSet::new();
        for t in [0, MIN, 2 * MIN] {
            set = eval(&set, &r, &[sample("a", 2.0)], T0 + t).alerts;
        }
        assert_eq!(only(&set).state, AlertState::Firing);
        set = eval(&set, &r, &[], T0 + 3 * MIN).alerts;
        assert_eq!(only(&set).state, AlertState::Inactive);
        let e = eval(&set, &r, &[sample("a", 5.0)], T0 + 4 * MIN);
        let a = only(&e.alerts);
        assert_eq!(a.state, AlertState::Pending);
        assert_eq!(a.active_at_ms, T0 + 4 * MIN);
        assert_eq!(a.resolved_at_ms, None);
        assert!(e.notify.is_empty());
    }

    #[test]
    fn labels_merge_with_rule_labels_winning() {
        let mut r = rule(0);
        r.labels.insert(
            "instance".into(),
            "overridden-{{ $labels.instance }}".into(),
        );
        let mut s = sample("a", 1.0);
        s.labels.insert("severity".into(), "info".into());
        let e = eval(&AlertSet::new(), &r, &[s], T0);
        let labels: Vec<_> = only(&e.alerts)
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            labels,
            [
                "alertname=HighLoad",
                "instance=overridden-a",
                "severity=page"
            ]
        );
    }

    #[test]
    fn annotations_are_templated_and_follow_the_latest_value() {
        let r = rule(0);
        let e = eval(&AlertSet::new(), &r, &[sample("db-1", 2.5)], T0);
        assert_eq!(only(&e.alerts).annotations["summary"], "db-1 load is 2.5");
        let e = eval(&e.alerts, &r, &[sample("db-1", 7.0)], T0 + MIN);
        assert_eq!(only(&e.alerts).annotations["summary"], "db-1 load is 7");
        assert_eq!(
            only(&e.alerts).fired_at_ms,
            Some(T0),
            "still the same alert"
        );
    }

    #[test]
    fn duplicate_label_sets_are_an_error_and_change_nothing() {
        let mut r = rule(0);
        r.labels.insert("instance".into(), "same".into());
        let before = eval(&AlertSet::new(), &r, &[sample("a", 1.0)], T0).alerts;
        let templates = RuleTemplates::new(&r);
        let err = before
            .evaluate(
                RuleContext {
                    rule: &r,
                    templates: &templates,
                    external_url: "",
                    external_labels: &NO_LABELS,
                    querier: None,
                },
                &[sample("a", 1.0), sample("b", 1.0)],
                T0 + MIN,
            )
            .unwrap_err();
        assert!(err.to_string().contains("same labelset"), "{err}");
    }

    #[test]
    fn several_label_sets_are_tracked_independently() {
        let r = rule(60);
        let e = eval(&AlertSet::new(), &r, &[sample("a", 1.0)], T0);
        let e = eval(
            &e.alerts,
            &r,
            &[sample("a", 1.0), sample("b", 1.0)],
            T0 + MIN,
        );
        assert_eq!(e.alerts.count(AlertState::Firing), 1);
        assert_eq!(e.alerts.count(AlertState::Pending), 1);
        let resolved = e.alerts.resolve_all(T0 + 2 * MIN);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved.count(AlertState::Inactive), 1);
    }
}
