//! [`MetricCluster`]: one monitoring cluster and where its alerts go.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::receiver::Receiver;
use crate::routing::{InhibitRule, Route};
use crate::status::ResourceStatus;

/// One Telltale cluster. In standalone mode the storage layout does not apply (one node
/// holds everything); the alerting section does.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "telltale.dev",
    version = "v1alpha1",
    kind = "MetricCluster",
    namespaced,
    shortname = "mc",
    status = "ResourceStatus"
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricClusterSpec {
    /// Number of storage shards.
    #[serde(default = "one")]
    pub shards: u32,
    /// Raft replicas per shard.
    #[serde(default = "three")]
    pub replicas_per_shard: u32,
    #[serde(default)]
    pub alerting: AlertingSpec,
}

/// Receivers, the routing tree that picks them and the inhibition rules.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertingSpec {
    /// The root of the routing tree. Without one, every alert goes to the first receiver,
    /// grouped by `alertname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<Receiver>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "inhibit_rules"
    )]
    pub inhibit_rules: Vec<InhibitRule>,
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}

impl MetricClusterSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.shards == 0 {
            return Err(FieldError::new("spec.shards", "must be at least 1"));
        }
        if self.replicas_per_shard == 0 || self.replicas_per_shard.is_multiple_of(2) {
            return Err(FieldError::new(
                "spec.replicasPerShard",
                format!("{} must be odd and at least 1", self.replicas_per_shard),
            ));
        }
        self.alerting.validate()
    }
}

impl AlertingSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.receivers.iter().enumerate() {
            let at = format!("spec.alerting.receivers[{i}]");
            r.validate(&at)?;
            if !names.insert(r.name.as_str()) {
                return Err(FieldError::new(
                    format!("{at}.name"),
                    format!("receiver {:?} is defined twice", r.name),
                ));
            }
        }
        if let Some(route) = &self.route {
            let names: Vec<&str> = names.into_iter().collect();
            route.validate("spec.alerting.route", &names, true)?;
        }
        for (i, rule) in self.inhibit_rules.iter().enumerate() {
            if rule.target_matchers.is_empty() {
                return Err(FieldError::new(
                    format!("spec.alerting.inhibitRules[{i}].targetMatchers"),
                    "needs at least one matcher",
                ));
            }
        }
        Ok(())
    }
}
