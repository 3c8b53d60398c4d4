//! [`ResourceStatus`]: what the operator reports back on every Telltale resource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The status subresource shared by every kind: whether the spec was accepted, and (for a
/// MetricCluster) how far its pods are.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// `Accepted` or `Invalid`; a MetricCluster also goes through `Progressing`, `Available`
    /// and `Degraded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Why the resource is invalid: the field and what is wrong with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// MetricCluster: ready pods over desired pods, e.g. `5/6` (the `Ready` column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// Standard conditions: `Accepted` on every kind; `Available`, `Progressing` and
    /// `Degraded` on a MetricCluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl ResourceStatus {
    /// The condition of this type, if reported.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// Condition types the operator reports.
pub mod condition {
    /// The spec passed validation (every kind).
    pub const ACCEPTED: &str = "Accepted";
    /// Every pod of the cluster is ready (MetricCluster).
    pub const AVAILABLE: &str = "Available";
    /// The cluster is converging on its spec: pods being created or rolled (MetricCluster).
    pub const PROGRESSING: &str = "Progressing";
    /// Some shard has lost its quorum, or a component has no ready pod (MetricCluster).
    pub const DEGRADED: &str = "Degraded";
}
