//! `PrometheusRule` (`monitoring.coreos.com/v1`): rule groups in the shape of a
//! Prometheus rule file, turned into an [`AlertRule`] so the same evaluation runs them.
//!
//! prometheus-operator writes each PrometheusRule into its own rule file
//! (`<namespace>-<name>-<uid>.yaml`) and keeps the group names as written, so two
//! PrometheusRules may both hold a group `general.rules`. Here each becomes one AlertRule
//! named `PrometheusRule/<name>` in its namespace (the rule manager keys groups by that
//! and the group name, as Prometheus keys them by file and name); no Kubernetes name
//! contains `/`, so it cannot collide with a real AlertRule.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use super::Object;
use super::report_unread;
use crate::alert_rule::{AlertRule, AlertRuleSpec, Rule, RuleGroup};
use crate::duration::PromDuration;
use crate::error::FieldError;

/// A PrometheusRule.
pub type PrometheusRule = Object<PrometheusRuleSpec>;

/// The evaluation interval of a group that sets none: prometheus-operator's default
/// `evaluationInterval` of the Prometheus resource.
pub const DEFAULT_GROUP_INTERVAL: PromDuration = PromDuration(std::time::Duration::from_secs(30));

/// `PrometheusRule.spec`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRuleSpec {
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// One rule group.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default)]
    pub rules: Vec<OperatorRule>,
    /// Thanos' setting; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_response_strategy: Option<String>,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// One rule. `expr` may be written as a number (`expr: 1`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
pub struct OperatorRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub expr: IntOrString,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// An optional duration field (`""` is unset), named `at` in errors.
fn duration(value: &Option<String>, at: &str) -> Result<Option<PromDuration>, FieldError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => PromDuration::parse(s)
            .map(Some)
            .map_err(|e| FieldError::new(at, e)),
    }
}

impl PrometheusRule {
    /// The AlertRule holding this PrometheusRule's groups (see the module docs for its
    /// name), checked, and the settings it does not honour.
    pub fn to_alert_rule(&self) -> Result<(AlertRule, Vec<String>), FieldError> {
        let mut not_honoured = Vec::new();
        report_unread("spec", &self.spec.unread, &mut not_honoured);
        let mut groups = Vec::new();
        for (g, group) in self.spec.groups.iter().enumerate() {
            let at = format!("spec.groups[{g}]");
            report_unread(&at, &group.unread, &mut not_honoured);
            let mut rules = Vec::new();
            for (r, rule) in group.rules.iter().enumerate() {
                let at = format!("{at}.rules[{r}]");
                report_unread(&at, &rule.unread, &mut not_honoured);
                rules.push(Rule {
                    alert: rule.alert.clone().unwrap_or_default(),
                    record: rule.record.clone().unwrap_or_default(),
                    expr: match &rule.expr {
                        IntOrString::Int(n) => n.to_string(),
                        IntOrString::String(s) => s.clone(),
                    },
                    for_: duration(&rule.for_, &format!("{at}.for"))?.unwrap_or_default(),
                    keep_firing_for: duration(
                        &rule.keep_firing_for,
                        &format!("{at}.keep_firing_for"),
                    )?
                    .unwrap_or_default(),
                    labels: rule.labels.clone().unwrap_or_default(),
                    annotations: rule.annotations.clone().unwrap_or_default(),
                });
            }
            groups.push(RuleGroup {
                name: group.name.clone(),
                interval: duration(&group.interval, &format!("{at}.interval"))?
                    .unwrap_or(DEFAULT_GROUP_INTERVAL),
                rules,
            });
        }
        let spec = AlertRuleSpec { groups };
        spec.validate()?;
        let mut rule = AlertRule::new(&format!("PrometheusRule/{}", self.name()), spec);
        rule.metadata.namespace = Some(self.namespace().to_string());
        rule.metadata.labels = self.metadata.labels.clone();
        Ok((rule, not_honoured))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_become_an_alert_rule() {
        let r: PrometheusRule = serde_yaml::from_str(
            r#"
metadata: {name: kube-state-metrics, namespace: monitoring, labels: {release: kps}}
spec:
  groups:
    - name: kube-state-metrics
      partial_response_strategy: warn
      limit: 10
      rules:
        - alert: KubeStateMetricsListErrors
          expr: |
            (sum(rate(kube_state_metrics_list_total{job="kube-state-metrics",result="error"}[5m])) by (cluster)
              /
            sum(rate(kube_state_metrics_list_total{job="kube-state-metrics"}[5m])) by (cluster))
            > 0.01
          for: 15m
          keep_firing_for: 5m
          labels: {severity: critical}
          annotations: {summary: kube-state-metrics is experiencing errors in list operations.}
    - name: always
      interval: 1m
      rules:
        - {record: 'one', expr: 1}
"#,
        )
        .unwrap();
        let (a, not_honoured) = r.to_alert_rule().unwrap();
        assert_eq!(
            a.metadata.name.as_deref(),
            Some("PrometheusRule/kube-state-metrics")
        );
        assert_eq!(a.metadata.namespace.as_deref(), Some("monitoring"));
        let g = &a.spec.groups;
        assert_eq!(
            (g[0].name.as_str(), g[0].interval),
            ("kube-state-metrics", DEFAULT_GROUP_INTERVAL)
        );
        let alert = &g[0].rules[0];
        assert_eq!(alert.for_, PromDuration::from_secs(900));
        assert_eq!(alert.keep_firing_for, PromDuration::from_secs(300));
        assert_eq!(alert.labels["severity"], "critical");
        assert_eq!(g[1].interval, PromDuration::from_secs(60));
        assert_eq!(g[1].rules[0].expr, "1");
        assert_eq!(
            not_honoured,
            ["spec.groups[0].limit: not supported by Telltale; ignored"]
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let bad = |yaml: &str| {
            serde_yaml::from_str::<PrometheusRule>(yaml)
                .unwrap()
                .to_alert_rule()
                .unwrap_err()
                .field
        };
        assert_eq!(
            bad("spec: {groups: [{name: g, rules: [{alert: A, expr: up, for: 5 minutes}]}]}"),
            "spec.groups[0].rules[0].for"
        );
        assert_eq!(
            bad("spec: {groups: [{name: g, rules: [{expr: up}]}]}"),
            "spec.groups[0].rules[0]"
        );
    }
}
