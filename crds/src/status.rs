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
    /// MetricCluster: each storage shard's Raft group as its replicas report it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardStatus>,
    /// MetricCluster with `spec.backup`: the last scheduled backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStatus>,
}

/// The last scheduled backup of a MetricCluster.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// When the last backup was started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_time: Option<String>,
    /// When the last successful one was started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<String>,
    /// Where the last successful one is (`telltale restore --from` it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_url: Option<String>,
    /// Why the last attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One storage shard's Raft group.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    pub shard: u32,
    /// The leader's replica id (absent while the group has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<u64>,
    /// The leader's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_pod: Option<String>,
    #[serde(default)]
    pub term: u64,
    /// The highest log index stored by a majority of the voters.
    #[serde(default)]
    pub commit_index: u64,
    /// Replica ids that vote.
    #[serde(default)]
    pub voters: Vec<u64>,
    /// Replica ids being caught up before they vote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learners: Vec<u64>,
    /// Every replica that is a member or has a pod.
    #[serde(default)]
    pub members: Vec<MemberStatus>,
}

/// One replica of a shard.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// The replica id (the pod's ordinal + 1).
    pub id: u64,
    pub pod: String,
    /// `leader`, `follower`, `candidate`, `learner`, `removed` (answers but is not a
    /// member) or `unreachable`.
    pub role: String,
    /// Log entries the replica is behind the leader's last entry (as the leader knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
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
    /// Some shard has fewer voting replicas than `replicasPerShard`, or a voter does not
    /// answer (MetricCluster).
    pub const UNDER_REPLICATED: &str = "UnderReplicated";
    /// Some shard's group has no leader or fewer answering voters than its quorum
    /// (MetricCluster).
    pub const NO_QUORUM: &str = "NoQuorum";
}
