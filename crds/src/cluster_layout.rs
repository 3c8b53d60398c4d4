//! What a [`MetricCluster`](crate::MetricCluster) deploys: the image, the storage volumes,
//! retention per rollup tier and the replicas and resources of each component.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;

/// The image every Telltale pod runs when `spec.image` is not set.
pub const DEFAULT_IMAGE: &str = "ghcr.io/telltale/telltale:0.1.0";

/// A CEL expression turning the Prometheus duration in `self.<field>` into milliseconds
/// (Kubernetes' regex and list libraries: `findAll`, `sum`).
pub(crate) fn cel_millis(field: &str) -> String {
    format!(
        "(self.{field} == '0' ? 0 : self.{field}.findAll('[0-9]+(ms|y|w|d|h|m|s)').map(t, \
         int(t.findAll('[0-9]+')[0]) * (t.endsWith('ms') ? 1 : t.endsWith('y') ? 31536000000 : \
         t.endsWith('w') ? 604800000 : t.endsWith('d') ? 86400000 : t.endsWith('h') ? 3600000 : \
         t.endsWith('m') ? 60000 : 1000)).sum())"
    )
}

/// The CEL rule that keeps coarser tiers at least as long as finer ones.
pub fn retention_order_rule() -> String {
    format!(
        "{} >= {} && {} >= {}",
        cel_millis("rollup1h"),
        cel_millis("rollup1m"),
        cel_millis("rollup1m"),
        cel_millis("raw")
    )
}

/// How long each tier keeps its data: raw samples, 1-minute and 1-hour rollups. A coarser
/// tier keeps data at least as long as a finer one.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new(retention_order_rule()).message("retention must satisfy rollup1h >= rollup1m >= raw"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionSpec {
    /// Raw samples (`--retention-raw`).
    #[serde(default = "default_raw")]
    #[schemars(length(max = 32))]
    pub raw: PromDuration,
    /// 1-minute rollups (`--retention-1m`).
    #[serde(default = "default_1m")]
    #[schemars(length(max = 32))]
    pub rollup1m: PromDuration,
    /// 1-hour rollups (`--retention-1h`).
    #[serde(default = "default_1h")]
    #[schemars(length(max = 32))]
    pub rollup1h: PromDuration,
}

fn default_raw() -> PromDuration {
    PromDuration::from_secs(7 * 86_400)
}
fn default_1m() -> PromDuration {
    PromDuration::from_secs(30 * 86_400)
}
fn default_1h() -> PromDuration {
    PromDuration::from_secs(365 * 86_400)
}

impl Default for RetentionSpec {
    fn default() -> Self {
        RetentionSpec {
            raw: default_raw(),
            rollup1m: default_1m(),
            rollup1h: default_1h(),
        }
    }
}

impl RetentionSpec {
    /// The same check as the CRD's CEL rule, for files loaded without an API server.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.raw.0.is_zero() {
            return Err(FieldError::new(
                "spec.retention.raw",
                "must be greater than 0",
            ));
        }
        if self.rollup1m < self.raw {
            return Err(FieldError::new(
                "spec.retention.rollup1m",
                format!("{} is shorter than raw {}", self.rollup1m, self.raw),
            ));
        }
        if self.rollup1h < self.rollup1m {
            return Err(FieldError::new(
                "spec.retention.rollup1h",
                format!(
                    "{} is shorter than rollup1m {}",
                    self.rollup1h, self.rollup1m
                ),
            ));
        }
        Ok(())
    }
}

/// The storage shards' pods: volume size and class, and container resources.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSpec {
    /// Size of each replica's PersistentVolumeClaim (a Kubernetes quantity).
    #[serde(default = "default_size")]
    #[x_kube(validation = Rule::new("quantity(self).isGreaterThan(quantity('0'))").message("size must be a positive quantity such as 10Gi"))]
    #[schemars(length(max = 32))]
    pub size: String,
    /// StorageClass of the claims; the cluster's default class when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn default_size() -> String {
    "10Gi".into()
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec {
            size: default_size(),
            storage_class_name: None,
            resources: None,
        }
    }
}

/// A stateless (or self-sharding) component: how many pods and their resources.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentSpec {
    /// Number of pods.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub replicas: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn one() -> u32 {
    1
}

impl Default for ComponentSpec {
    fn default() -> Self {
        ComponentSpec {
            replicas: 1,
            resources: None,
        }
    }
}

impl ComponentSpec {
    /// `replicas` pods, no resource requests.
    pub fn replicas(replicas: u32) -> Self {
        ComponentSpec {
            replicas,
            resources: None,
        }
    }

    pub(crate) fn validate(&self, at: &str) -> Result<(), FieldError> {
        if self.replicas == 0 {
            return Err(FieldError::new(
                format!("{at}.replicas"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_defaults_and_order() {
        let r = RetentionSpec::default();
        assert_eq!(r.raw.to_string(), "1w");
        assert_eq!(r.rollup1m.to_string(), "4w2d");
        assert_eq!(r.rollup1h.to_string(), "1y");
        r.validate().unwrap();
        let r: RetentionSpec = serde_yaml::from_str("{raw: 40d}").unwrap();
        assert_eq!(r.validate().unwrap_err().field, "spec.retention.rollup1m");
        let r: RetentionSpec = serde_yaml::from_str("{rollup1m: 400d}").unwrap();
        assert_eq!(r.validate().unwrap_err().field, "spec.retention.rollup1h");
        let r: RetentionSpec =
            serde_yaml::from_str("{raw: 2d, rollup1m: 2d, rollup1h: 2d}").unwrap();
        r.validate().unwrap();
    }

    #[test]
    fn retention_rule_covers_every_unit() {
        let rule = retention_order_rule();
        for unit in ["'ms'", "'y'", "'w'", "'d'", "'h'", "'m'"] {
            assert!(rule.contains(unit), "{unit} missing from {rule}");
        }
        // `ms` must be tested before `s` and `m`, or 5ms would count as 5 minutes.
        assert!(rule.find("'ms'").unwrap() < rule.find("'m')").unwrap());
    }

    #[test]
    fn component_replicas_must_be_positive() {
        assert!(ComponentSpec::replicas(0).validate("spec.query").is_err());
        ComponentSpec::default().validate("spec.query").unwrap();
    }
}
