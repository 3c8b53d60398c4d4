//! [`AlertRule`]: groups of PromQL alerting and recording rules, in the shape of a
//! Prometheus rule file.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telltale_model::{is_valid_label_name, is_valid_metric_name};

use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::status::ResourceStatus;

/// Rule groups in the shape of a Prometheus rule file's `groups`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "telltale.dev",
    version = "v1alpha1",
    kind = "AlertRule",
    namespaced,
    shortname = "ar",
    category = "telltale",
    status = "ResourceStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRuleSpec {
    pub groups: Vec<RuleGroup>,
}

/// Rules evaluated together, every `interval`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    /// How often the group is evaluated.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    pub rules: Vec<Rule>,
}

/// One rule: an alerting rule (`alert`) that fires when `expr` returns samples for `for`
/// in a row, or a recording rule (`record`) whose result is stored as a new series.
/// Snake-case `keep_firing_for` is accepted as in Prometheus rule files.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// The alert's name (its `alertname` label); empty for a recording rule.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alert: String,
    /// The metric name a recording rule stores its result under; empty for an alert.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub record: String,
    /// PromQL; every sample it returns is one alert (or one recorded sample).
    pub expr: String,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "is_zero")]
    pub for_: PromDuration,
    /// How long a firing alert keeps firing after its condition cleared.
    #[serde(default, alias = "keep_firing_for", skip_serializing_if = "is_zero")]
    pub keep_firing_for: PromDuration,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// An alerting rule without labels or annotations that fires at once.
    pub fn alert(name: impl Into<String>, expr: impl Into<String>) -> Rule {
        Rule {
            alert: name.into(),
            expr: expr.into(),
            ..Rule::default()
        }
    }

    /// A recording rule.
    pub fn record(metric: impl Into<String>, expr: impl Into<String>) -> Rule {
        Rule {
            record: metric.into(),
            expr: expr.into(),
            ..Rule::default()
        }
    }

    /// Whether this is a recording rule.
    pub fn is_recording(&self) -> bool {
        !self.record.is_empty()
    }

    /// The alert or the recorded metric name.
    pub fn name(&self) -> &str {
        if self.is_recording() {
            &self.record
        } else {
            &self.alert
        }
    }
}

fn is_zero(d: &PromDuration) -> bool {
    d.0.is_zero()
}

fn default_interval() -> PromDuration {
    PromDuration::from_secs(60)
}

impl AlertRuleSpec {
    /// Checks names, intervals and labels. PromQL syntax is checked by the component
    /// that evaluates the rules (see `telltale_alertmanager`), which owns the parser.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.groups.is_empty() {
            return Err(FieldError::new(
                "spec.groups",
                "at least one group is required",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (g, group) in self.groups.iter().enumerate() {
            let at = format!("spec.groups[{g}]");
            if group.name.is_empty() {
                return Err(FieldError::new(format!("{at}.name"), "must not be empty"));
            }
            if !names.insert(&group.name) {
                return Err(FieldError::new(
                    format!("{at}.name"),
                    format!("group {:?} is defined twice", group.name),
                ));
            }
            if group.interval.0.is_zero() {
                return Err(FieldError::new(
                    format!("{at}.interval"),
                    "must be greater than 0",
                ));
            }
            for (r, rule) in group.rules.iter().enumerate() {
                let at = format!("{at}.rules[{r}]");
                match (rule.alert.is_empty(), rule.record.is_empty()) {
                    (true, true) | (false, false) => {
                        return Err(FieldError::new(at, "set exactly one of alert and record"));
                    }
                    (false, true) if !is_valid_label_name(&rule.alert) => {
                        return Err(FieldError::new(
                            format!("{at}.alert"),
                            format!("{:?} is not a valid alert name", rule.alert),
                        ));
                    }
                    (true, false) if !is_valid_metric_name(&rule.record) => {
                        return Err(FieldError::new(
                            format!("{at}.record"),
                            format!("{:?} is not a valid metric name", rule.record),
                        ));
                    }
                    _ => {}
                }
                if rule.is_recording() {
                    for (field, set) in [
                        ("for", !rule.for_.0.is_zero()),
                        ("keepFiringFor", !rule.keep_firing_for.0.is_zero()),
                        ("annotations", !rule.annotations.is_empty()),
                    ] {
                        if set {
                            return Err(FieldError::new(
                                format!("{at}.{field}"),
                                "not allowed in a recording rule",
                            ));
                        }
                    }
                }
                if rule.expr.trim().is_empty() {
                    return Err(FieldError::new(format!("{at}.expr"), "must not be empty"));
                }
                for name in rule.labels.keys().chain(rule.annotations.keys()) {
                    if name == "__name__" {
                        return Err(FieldError::new(
                            format!("{at}.labels.{name}"),
                            "the metric name cannot be set as a label",
                        ));
                    }
                    if !is_valid_label_name(name) {
                        return Err(FieldError::new(
                            format!("{at}.labels.{name}"),
                            format!("{name:?} is not a valid label name"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rules: Vec<Rule>) -> AlertRuleSpec {
        AlertRuleSpec {
            groups: vec![RuleGroup {
                name: "g".into(),
                interval: PromDuration::from_secs(30),
                rules,
            }],
        }
    }

    #[test]
    fn alerting_and_recording_rules() {
        let yaml = "groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 10m
";
        let s: AlertRuleSpec = serde_yaml::from_str(yaml).unwrap();
        assert!(s.validate().is_ok());
        assert!(s.groups[0].rules[0].is_recording());
        assert_eq!(
            s.groups[0].rules[1].keep_firing_for,
            PromDuration::from_secs(600)
        );
        assert_eq!(s.groups[0].rules[1].name(), "Down");
    }

    #[test]
    fn a_rule_is_an_alert_or_a_recording() {
        let both = Rule {
            record: "x".into(),
            ..Rule::alert("A", "up")
        };
        assert_eq!(
            spec(vec![both]).validate().unwrap_err().field,
            "spec.groups[0].rules[0]"
        );
        let neither = Rule::default();
        assert!(spec(vec![neither]).validate().is_err());
        let bad_record = Rule::record("1bad", "up");
        assert_eq!(
            spec(vec![bad_record]).validate().unwrap_err().field,
            "spec.groups[0].rules[0].record"
        );
        let mut with_for = Rule::record("ok:x", "up");
        with_for.for_ = PromDuration::from_secs(60);
        assert_eq!(
            spec(vec![with_for]).validate().unwrap_err().field,
            "spec.groups[0].rules[0].for"
        );
    }
}
