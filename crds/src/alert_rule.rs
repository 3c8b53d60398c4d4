//! [`AlertRule`]: groups of PromQL alerting rules.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::scrape_target::is_label_name;
use crate::status::ResourceStatus;

/// Rule groups in the shape of a Prometheus rule file's `groups`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "telltale.dev",
    version = "v1alpha1",
    kind = "AlertRule",
    namespaced,
    shortname = "ar",
    status = "ResourceStatus"
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
    pub rules: Vec<AlertingRule>,
}

/// An alert that fires when `expr` returns samples for `for` in a row.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertingRule {
    /// The alert's name (its `alertname` label).
    pub alert: String,
    /// PromQL; every sample it returns is one alert.
    pub expr: String,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for")]
    pub for_: PromDuration,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
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
                if !is_label_name(&rule.alert) {
                    return Err(FieldError::new(
                        format!("{at}.alert"),
                        format!("{:?} is not a valid alert name", rule.alert),
                    ));
                }
                if rule.expr.trim().is_empty() {
                    return Err(FieldError::new(format!("{at}.expr"), "must not be empty"));
                }
                for name in rule.labels.keys().chain(rule.annotations.keys()) {
                    if !is_label_name(name) {
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
