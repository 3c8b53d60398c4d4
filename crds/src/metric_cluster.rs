//! [`MetricCluster`]: one monitoring cluster and where its alerts go.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster_layout::{ComponentSpec, DEFAULT_IMAGE, RetentionSpec, StorageSpec};
use crate::cluster_tls::{ClusterTls, WebSpec};
use crate::error::FieldError;
use crate::http_config::HttpConfig;
use crate::prometheus_operator::MonitorSelectors;
use crate::receiver::Receiver;
use crate::routing::{InhibitRule, Route};
use crate::status::ResourceStatus;

/// One Telltale cluster. In standalone mode the storage layout does not apply (one node
/// holds everything); the alerting section does.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "telltale.dev",
    version = "v1alpha1",
    kind = "MetricCluster",
    namespaced,
    shortname = "mc",
    category = "telltale",
    status = "ResourceStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","description":"storage, scraper, query and alertmanager pods ready / desired","jsonPath":".status.ready"}"#,
    printcolumn = r#"{"name":"Shards","type":"integer","jsonPath":".spec.shards"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricClusterSpec {
    /// Number of storage shards. Shards can be added, not removed.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    #[x_kube(validation = Rule::new("self >= oldSelf").message("shards can be added, not removed"))]
    pub shards: u32,
    /// Raft replicas per shard: odd, so that a majority survives a minority's loss, and
    /// at most 9. Changing it is a membership change of each shard's group, one replica
    /// at a time (new replicas are caught up before they vote; removed ones leave before
    /// their pods stop).
    #[serde(default = "three")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 9 && self % 2 == 1").message("replicasPerShard must be odd, between 1 and 9"))]
    pub replicas_per_shard: u32,
    #[serde(default)]
    pub alerting: AlertingSpec,
    /// The `telltale` image every pod runs.
    #[serde(default = "default_image")]
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never`; Kubernetes' default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['Always', 'IfNotPresent', 'Never']").message("imagePullPolicy must be Always, IfNotPresent or Never"))]
    pub image_pull_policy: Option<String>,
    /// Volumes and resources of the storage pods.
    #[serde(default)]
    pub storage: StorageSpec,
    /// Retention per rollup tier.
    #[serde(default)]
    pub retention: RetentionSpec,
    /// The scraper StatefulSet (targets are spread over its pods).
    #[serde(default = "two_replicas")]
    pub scraper: ComponentSpec,
    /// The query Deployment.
    #[serde(default)]
    pub query: ComponentSpec,
    /// The alertmanager Deployment.
    #[serde(default)]
    pub alertmanager: ComponentSpec,
    /// Delete the storage PersistentVolumeClaims when the MetricCluster is deleted
    /// (default: keep them).
    #[serde(default, rename = "deletePVCs")]
    pub delete_pvcs: bool,
    /// TLS between the components (`tls.internal`: mutual TLS on storage's gRPC, with
    /// certificates of a per-cluster CA by default).
    #[serde(default)]
    pub tls: ClusterTls,
    /// Prometheus's web configuration file for every component's HTTP server, from a
    /// Secret (TLS, client certificates, basic auth). Without it the HTTP ports are plain
    /// and open, as Prometheus's are by default; keep them behind the NetworkPolicies and
    /// your ingress then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebSpec>,
    /// Scheduled backups of every shard to object storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::backup::BackupSpec>,
    // The cold tier: its description is `ColdStorageSpec`'s (what `kubectl explain` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_storage: Option<crate::cold_storage::ColdStorageSpec>,
    /// Bootstrap a new cluster from a backup (see its fields): each shard starts from
    /// the backup's shard of the same number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<crate::backup::RestoreSpec>,
    /// NetworkPolicies admitting only the traffic the cluster needs to its pods
    /// (default true): storage's gRPC from the cluster's pods and the operator only,
    /// the other components' HTTP APIs from anywhere. Egress is not restricted.
    #[serde(default = "yes")]
    pub network_policies: bool,
    /// prometheus-operator's ServiceMonitors to scrape, by their labels (as the
    /// Prometheus resource's field): none when unset, every one with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor_selector: Option<LabelSelector>,
    /// The namespaces (by their labels) to look for ServiceMonitors in: this
    /// MetricCluster's own when unset, every namespace with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor_namespace_selector: Option<LabelSelector>,
    /// PodMonitors to scrape: none when unset, every one with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_monitor_selector: Option<LabelSelector>,
    /// The namespaces to look for PodMonitors in: own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_monitor_namespace_selector: Option<LabelSelector>,
    /// PrometheusRules to evaluate: none when unset, every one with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_selector: Option<LabelSelector>,
    /// The namespaces to look for PrometheusRules in: own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_namespace_selector: Option<LabelSelector>,
    /// prometheus-operator's ScrapeConfigs (`v1alpha1`) to scrape: none when unset,
    /// every one with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_config_selector: Option<LabelSelector>,
    /// The namespaces to look for ScrapeConfigs in: own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_config_namespace_selector: Option<LabelSelector>,
}

/// Receivers, the routing tree that picks them and the inhibition rules.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertingSpec {
    /// Settings every integration shares unless it sets its own (Alertmanager's
    /// `global`; only `httpConfig` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<AlertingGlobal>,
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
    /// Files of notification templates (`define`s) that receivers' templates can use,
    /// as Alertmanager's `templates:` (glob patterns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<String>,
}

/// Alertmanager's `global` section, as far as Telltale reads it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertingGlobal {
    /// The HTTP client settings of every integration without its own `httpConfig`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "http_config"
    )]
    pub http_config: Option<HttpConfig>,
}

fn one() -> u32 {
    1
}
fn two_replicas() -> ComponentSpec {
    ComponentSpec::replicas(2)
}
fn default_image() -> String {
    DEFAULT_IMAGE.into()
}
/// The largest Raft group of a shard (every replica's address is on each replica's
/// command line, so that replicas can be added without restarting the others).
pub const MAX_REPLICAS_PER_SHARD: u32 = 9;

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
        if self.replicas_per_shard == 0
            || self.replicas_per_shard > MAX_REPLICAS_PER_SHARD
            || self.replicas_per_shard.is_multiple_of(2)
        {
            return Err(FieldError::new(
                "spec.replicasPerShard",
                format!(
                    "{} must be odd, between 1 and {MAX_REPLICAS_PER_SHARD}",
                    self.replicas_per_shard
                ),
            ));
        }
        if self.image.is_empty() {
            return Err(FieldError::new("spec.image", "must not be empty"));
        }
        if let Some(p) = &self.image_pull_policy
            && !matches!(p.as_str(), "Always" | "IfNotPresent" | "Never")
        {
            return Err(FieldError::new(
                "spec.imagePullPolicy",
                format!("{p:?} is not Always, IfNotPresent or Never"),
            ));
        }
        if self.storage.size.is_empty() {
            return Err(FieldError::new("spec.storage.size", "must not be empty"));
        }
        self.retention.validate()?;
        self.scraper.validate("spec.scraper")?;
        self.query.validate("spec.query")?;
        self.alertmanager.validate("spec.alertmanager")?;
        self.monitor_selectors().validate()?;
        self.tls.internal.validate()?;
        if let Some(web) = &self.web {
            web.validate()?;
        }
        if let Some(backup) = &self.backup {
            backup.validate()?;
        }
        if let Some(restore) = &self.restore {
            restore.validate()?;
        }
        if let Some(cold) = &self.cold_storage {
            cold.validate(&self.storage.size, self.backup.as_ref())?;
        }
        self.alerting.validate()
    }

    /// The selectors of prometheus-operator's resources (the same fields, read as
    /// [`MonitorSelectors`] decodes them from the API).
    pub fn monitor_selectors(&self) -> MonitorSelectors {
        MonitorSelectors {
            service_monitor_selector: self.service_monitor_selector.clone(),
            service_monitor_namespace_selector: self.service_monitor_namespace_selector.clone(),
            pod_monitor_selector: self.pod_monitor_selector.clone(),
            pod_monitor_namespace_selector: self.pod_monitor_namespace_selector.clone(),
            rule_selector: self.rule_selector.clone(),
            rule_namespace_selector: self.rule_namespace_selector.clone(),
            scrape_config_selector: self.scrape_config_selector.clone(),
            scrape_config_namespace_selector: self.scrape_config_namespace_selector.clone(),
        }
    }
}

impl Default for MetricClusterSpec {
    /// The spec of `spec: {}`: one shard of three replicas, two scrapers, one query and
    /// one alertmanager pod.
    fn default() -> Self {
        MetricClusterSpec {
            shards: 1,
            replicas_per_shard: 3,
            alerting: AlertingSpec::default(),
            image: default_image(),
            image_pull_policy: None,
            storage: StorageSpec::default(),
            retention: RetentionSpec::default(),
            scraper: two_replicas(),
            query: ComponentSpec::default(),
            alertmanager: ComponentSpec::default(),
            delete_pvcs: false,
            tls: ClusterTls::default(),
            web: None,
            backup: None,
            cold_storage: None,
            restore: None,
            network_policies: true,
            service_monitor_selector: None,
            service_monitor_namespace_selector: None,
            pod_monitor_selector: None,
            pod_monitor_namespace_selector: None,
            rule_selector: None,
            rule_namespace_selector: None,
            scrape_config_selector: None,
            scrape_config_namespace_selector: None,
        }
    }
}

impl AlertingSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(h) = self.global.as_ref().and_then(|g| g.http_config.as_ref()) {
            h.validate("spec.alerting.global.httpConfig")?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_spec_gets_the_defaults() {
        let s: MetricClusterSpec = serde_yaml::from_str("{}").unwrap();
        assert_eq!(s, MetricClusterSpec::default());
        assert_eq!(s.scraper.replicas, 2);
        assert_eq!(s.storage.size, "10Gi");
        s.validate().unwrap();
    }

    #[test]
    fn cluster_fields_are_checked() {
        let field = |yaml: &str| {
            serde_yaml::from_str::<MetricClusterSpec>(yaml)
                .unwrap()
                .validate()
                .unwrap_err()
                .field
        };
        assert_eq!(field("replicasPerShard: 2"), "spec.replicasPerShard");
        assert_eq!(field("shards: 0"), "spec.shards");
        assert_eq!(field("imagePullPolicy: Sometimes"), "spec.imagePullPolicy");
        assert_eq!(field("query: {replicas: 0}"), "spec.query.replicas");
        assert_eq!(field("retention: {raw: 60d}"), "spec.retention.rollup1m");
        assert_eq!(
            field(
                "retention: {rollups: [{resolution: 1d, retention: 1y}, {resolution: 1h, retention: 2y}]}"
            ),
            "spec.retention.rollups[1].resolution"
        );
        assert_eq!(field("restore: {from: 'ftp://b'}"), "spec.restore.from");
        assert_eq!(
            field("coldStorage: {url: 's3://b', after: {1h: 0}}"),
            "spec.coldStorage.after.1h"
        );
        assert_eq!(
            field("storage: {size: 4Gi}\ncoldStorage: {url: 's3://b', cacheSize: 4Gi}"),
            "spec.coldStorage.cacheSize"
        );
        let s: MetricClusterSpec = serde_yaml::from_str("deletePVCs: true").unwrap();
        assert!(s.delete_pvcs);
        assert_eq!(
            field("tls: {internal: {mode: Secret}}"),
            "spec.tls.internal.caSecretName"
        );
        let s: MetricClusterSpec = serde_yaml::from_str("networkPolicies: false").unwrap();
        assert!(!s.network_policies);
        assert!(MetricClusterSpec::default().network_policies);
        assert_eq!(
            field("ruleSelector: {matchExpressions: [{key: a, operator: Near}]}"),
            "spec.ruleSelector.matchExpressions[0].operator"
        );
    }

    /// The selectors decode the same from the typed spec and from the API's JSON.
    #[test]
    fn monitor_selectors_read_as_the_prometheus_resource_names_them() {
        let yaml = "serviceMonitorSelector: {matchLabels: {release: kps}}\nruleNamespaceSelector: {}\nshards: 2";
        let s: MetricClusterSpec = serde_yaml::from_str(yaml).unwrap();
        let direct: MonitorSelectors = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(s.monitor_selectors(), direct);
        assert!(direct.service_monitor_selector.is_some() && direct.pod_monitor_selector.is_none());
        assert_eq!(
            direct.rule_namespace_selector,
            Some(LabelSelector::default())
        );
    }
}
