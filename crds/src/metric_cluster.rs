//! [`MetricCluster`]: one monitoring cluster and where its alerts go.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
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

/// Receivers and the route that picks one for each alert.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertingSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<Receiver>,
}

/// The top of the routing tree.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// Name of the receiver alerts go to.
    pub receiver: String,
}

/// A named set of notification integrations.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Receiver {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
}

/// POSTs the Alertmanager webhook JSON (version "4") to `url`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Also notify when alerts resolve.
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn yes() -> bool {
    true
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
            if r.name.is_empty() {
                return Err(FieldError::new(
                    format!("spec.alerting.receivers[{i}].name"),
                    "must not be empty",
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(FieldError::new(
                    format!("spec.alerting.receivers[{i}].name"),
                    format!("receiver {:?} is defined twice", r.name),
                ));
            }
            for (w, hook) in r.webhooks.iter().enumerate() {
                if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                    return Err(FieldError::new(
                        format!("spec.alerting.receivers[{i}].webhooks[{w}].url"),
                        format!("{:?} is not an http(s) URL", hook.url),
                    ));
                }
            }
        }
        if let Some(route) = &self.route
            && !names.contains(route.receiver.as_str())
        {
            return Err(FieldError::new(
                "spec.alerting.route.receiver",
                format!("no receiver named {:?}", route.receiver),
            ));
        }
        Ok(())
    }
}
