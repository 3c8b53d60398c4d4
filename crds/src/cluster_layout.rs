//! What a [`MetricCluster`](crate::MetricCluster) deploys: the image, the storage volumes,
//! retention per rollup tier and the replicas and resources of each component.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::rollup_tiers::{RollupTier, check_rollup_tiers, default_rollup_tiers};

/// The image every Telltale pod runs when `spec.image` is not set.
pub const DEFAULT_IMAGE: &str = "ghcr.io/telltale/telltale:0.1.0";

/// A CEL expression turning the Prometheus duration `expr` (a string expression such as
/// `self.raw`) into milliseconds (Kubernetes' regex and list libraries: `findAll`, `sum`).
pub(crate) fn cel_millis(expr: &str) -> String {
    format!(
        "({expr} == '0' ? 0 : {expr}.findAll('[0-9]+(ms|y|w|d|h|m|s)').map(p, \
         int(p.findAll('[0-9]+')[0]) * (p.endsWith('ms') ? 1 : p.endsWith('y') ? 31536000000 : \
         p.endsWith('w') ? 604800000 : p.endsWith('d') ? 86400000 : p.endsWith('h') ? 3600000 : \
         p.endsWith('m') ? 60000 : 1000)).sum())"
    )
}

/// The CEL rules of `spec.retention`, as the API server checks them (the same as
/// [`RetentionSpec::validate`]): `rollups` or the deprecated fields, and the tiers'
/// order. The resolutions' rules are on `rollups` itself ([`rollups_rules`]).
pub fn retention_order_rule() -> String {
    let rollup1m = cel_millis("(has(self.rollup1m) ? self.rollup1m : '30d')");
    let rollup1h = cel_millis("(has(self.rollup1h) ? self.rollup1h : '365d')");
    let raw = cel_millis("self.raw");
    let first = cel_millis("self.rollups[0].retention");
    format!(
        "has(self.rollups) ? (!has(self.rollup1m) && !has(self.rollup1h) && \
         (size(self.rollups) == 0 || {first} >= {raw})) : \
         ({rollup1h} >= {rollup1m} && {rollup1m} >= {raw})"
    )
}

/// The CEL rule of `spec.retention.rollups`: each resolution once, finest first, and
/// retentions that do not shrink from one tier to the next.
pub fn rollups_rule() -> String {
    let retention = cel_millis("x.retention");
    "self.all(x, self.exists_one(y, y.resolution == x.resolution)) && \
     self.map(x, x.resolution == '1m' ? 1 : x.resolution == '5m' ? 5 : \
     x.resolution == '1h' ? 60 : 1440).isSorted() && \
     self.map(x, RETENTION).isSorted()"
        .replace("RETENTION", &retention)
}

/// How long each tier keeps its data: raw samples, and the rollup tiers (`rollups`;
/// by default 1-minute rollups for 30 days and 1-hour rollups for 365 days). A coarser
/// tier keeps data at least as long as a finer one, and the finest at least as long as
/// raw samples.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new(retention_order_rule()).message("retention: give rollups or the deprecated rollup1m/rollup1h, not both; the finest tier keeps data at least as long as raw (and rollup1h >= rollup1m >= raw)"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionSpec {
    /// Raw samples (`--retention-raw`).
    #[serde(default = "default_raw")]
    #[schemars(length(max = 32))]
    pub raw: PromDuration,
    /// The rollup tiers, finest first (`--rollup-tiers`): each `{resolution, retention}`
    /// with a resolution of `1m`, `5m`, `1h` or `1d`, listed at most once. Default
    /// `[{resolution: 1m, retention: 30d}, {resolution: 1h, retention: 365d}]`, or the
    /// 1m and 1h tiers of `rollup1m` and `rollup1h` when those are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4))]
    #[x_kube(validation = Rule::new(rollups_rule()).message("rollups: each resolution once, finest first (1m, 5m, 1h, 1d), coarser tiers kept at least as long"))]
    pub rollups: Option<Vec<RollupTier>>,
    /// Deprecated: the retention of the 1m tier when `rollups` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub rollup1m: Option<PromDuration>,
    /// Deprecated: the retention of the 1h tier when `rollups` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub rollup1h: Option<PromDuration>,
}

fn default_raw() -> PromDuration {
    PromDuration::from_secs(7 * 86_400)
}

impl Default for RetentionSpec {
    fn default() -> Self {
        RetentionSpec {
            raw: default_raw(),
            rollups: None,
            rollup1m: None,
            rollup1h: None,
        }
    }
}

impl RetentionSpec {
    /// The rollup tiers the storage nodes keep: `rollups`, else the 1m and 1h tiers of
    /// the deprecated fields (each defaulting as `rollups` does).
    pub fn tiers(&self) -> Vec<RollupTier> {
        if let Some(tiers) = &self.rollups {
            return tiers.clone();
        }
        let mut tiers = default_rollup_tiers();
        if let Some(r) = self.rollup1m {
            tiers[0].retention = r;
        }
        if let Some(r) = self.rollup1h {
            tiers[1].retention = r;
        }
        tiers
    }

    /// The same checks as the CRD's CEL rules, for files loaded without an API server.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.raw.0.is_zero() {
            return Err(FieldError::new(
                "spec.retention.raw",
                "must be greater than 0",
            ));
        }
        if self.rollups.is_some() {
            let deprecated = [("rollup1m", self.rollup1m), ("rollup1h", self.rollup1h)];
            if let Some((name, _)) = deprecated.iter().find(|(_, v)| v.is_some()) {
                return Err(FieldError::new(
                    "spec.retention.rollups",
                    format!(
                        "replaces the deprecated {name}: give rollups only (the 1m and 1h \
                         tiers among them)"
                    ),
                ));
            }
            let tiers = self.tiers();
            return check_rollup_tiers(&tiers, Some(self.raw)).map_err(|e| {
                let field = if tiers.is_empty() {
                    "spec.retention.rollups".to_string()
                } else {
                    format!("spec.retention.rollups[{}].{}", e.index, e.field)
                };
                FieldError::new(field, e.message)
            });
        }
        let tiers = self.tiers();
        if tiers[0].retention < self.raw {
            return Err(FieldError::new(
                "spec.retention.rollup1m",
                format!("{} is shorter than raw {}", tiers[0].retention, self.raw),
            ));
        }
        if tiers[1].retention < tiers[0].retention {
            return Err(FieldError::new(
                "spec.retention.rollup1h",
                format!(
                    "{} is shorter than rollup1m {}",
                    tiers[1].retention, tiers[0].retention
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
    use crate::rollup_tiers::format_rollup_tiers;

    #[test]
    fn retention_defaults_and_order() {
        let r = RetentionSpec::default();
        assert_eq!(r.raw.to_string(), "1w");
        assert_eq!(format_rollup_tiers(&r.tiers()), "1m:4w2d,1h:1y");
        r.validate().unwrap();
        let field = |yaml: &str| {
            let r: RetentionSpec = serde_yaml::from_str(yaml).unwrap();
            r.validate().unwrap_err().field
        };
        assert_eq!(field("{raw: 40d}"), "spec.retention.rollup1m");
        assert_eq!(field("{rollup1m: 400d}"), "spec.retention.rollup1h");
        let r: RetentionSpec =
            serde_yaml::from_str("{raw: 2d, rollup1m: 2d, rollup1h: 2d}").unwrap();
        r.validate().unwrap();
        assert_eq!(format_rollup_tiers(&r.tiers()), "1m:2d,1h:2d");
        // One deprecated field given: the other tier keeps its default.
        let r: RetentionSpec = serde_yaml::from_str("{rollup1h: 2y}").unwrap();
        assert_eq!(format_rollup_tiers(&r.tiers()), "1m:4w2d,1h:2y");
    }

    #[test]
    fn rollups_are_checked_with_the_tier_named() {
        let spec = |yaml: &str| serde_yaml::from_str::<RetentionSpec>(yaml).unwrap();
        let r = spec(
            "{raw: 14d, rollups: [{resolution: 1m, retention: 30d}, \
             {resolution: 5m, retention: 90d}, {resolution: 1h, retention: 2y}, \
             {resolution: 1d, retention: 10y}]}",
        );
        r.validate().unwrap();
        assert_eq!(
            format_rollup_tiers(&r.tiers()),
            "1m:4w2d,5m:12w6d,1h:2y,1d:10y"
        );
        let err = |yaml: &str| spec(yaml).validate().unwrap_err();
        let e = err("{rollups: [{resolution: 1m, retention: 30d}], rollup1m: 30d}");
        assert_eq!(e.field, "spec.retention.rollups");
        assert!(e.message.contains("rollup1m"), "{e}");
        let e = err(
            "{rollups: [{resolution: 1m, retention: 30d}, {resolution: 1h, retention: 1y}, \
             {resolution: 1d, retention: 20d}]}",
        );
        assert_eq!(e.field, "spec.retention.rollups[2].retention");
        let e =
            err("{rollups: [{resolution: 1h, retention: 1y}, {resolution: 1m, retention: 2y}]}");
        assert_eq!(e.field, "spec.retention.rollups[1].resolution");
        let e =
            err("{rollups: [{resolution: 1h, retention: 1y}, {resolution: 1h, retention: 2y}]}");
        assert_eq!(e.field, "spec.retention.rollups[1].resolution");
        let e = err("{raw: 60d, rollups: [{resolution: 5m, retention: 30d}]}");
        assert_eq!(e.field, "spec.retention.rollups[0].retention");
        assert!(e.message.contains("raw"), "{e}");
        let e = err("{rollups: [{resolution: 1m, retention: 0}]}");
        assert_eq!(e.field, "spec.retention.rollups[0].retention");
        assert_eq!(err("{rollups: []}").field, "spec.retention.rollups");
        assert!(
            serde_yaml::from_str::<RetentionSpec>("{rollups: [{resolution: 2m, retention: 1d}]}")
                .is_err()
        );
    }

    #[test]
    fn retention_rules_cover_every_unit() {
        for rule in [retention_order_rule(), rollups_rule()] {
            for unit in ["'ms'", "'y'", "'w'", "'d'", "'h'", "'m'"] {
                assert!(rule.contains(unit), "{unit} missing from {rule}");
            }
            // `ms` must be tested before `s` and `m`, or 5ms would count as 5 minutes.
            assert!(rule.find("'ms'").unwrap() < rule.find("'m')").unwrap());
        }
    }

    #[test]
    fn component_replicas_must_be_positive() {
        assert!(ComponentSpec::replicas(0).validate("spec.query").is_err());
        ComponentSpec::default().validate("spec.query").unwrap();
    }
}
