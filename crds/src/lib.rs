//! The custom resources of Telltale, shared by the operator and every component.
//!
//! Group `telltale.dev`, version `v1alpha1`:
//! - [`MetricCluster`]: one monitoring cluster (shards, replicas, retention, image and
//!   resources of each component, mutual TLS between them, alert receivers);
//! - [`ScrapeTarget`]: what to scrape and how;
//! - [`AlertRule`]: groups of PromQL alerting and recording rules.
//!
//! The same YAML documents are applied with `kubectl` in a cluster and loaded from files by
//! `telltale standalone -f FILE`; [`load`] reads such files and reports a bad document
//! with the file, the document and the field that is wrong.
//!
//! [`prometheus`] reads Prometheus's own `prometheus.yml` ([`PrometheusConfig`]) with
//! Prometheus 2.42's defaults and checks, and turns its scrape configs into
//! ScrapeTargets. [`prometheus_operator`] reads prometheus-operator's ServiceMonitors,
//! PodMonitors and PrometheusRules and turns them into ScrapeTargets and AlertRules.

/// `AlertRule`: groups of alerting rules.
pub mod alert_rule;
/// `spec.backup`: scheduled backups to object storage; `spec.restore`: a new cluster
/// from one.
pub mod backup;
/// `RetentionSpec`, `StorageSpec`, `ComponentSpec`: what a MetricCluster deploys.
pub mod cluster_layout;
/// `ClusterTls`: mutual TLS between a MetricCluster's components, and its CA.
pub mod cluster_tls;
/// `ColdStorageSpec`: the cold tier of the storage nodes in object storage.
pub mod cold_storage;
/// `PromDuration`: durations written as Prometheus writes them.
pub mod duration;
/// Load and validation errors that name the file, document and field.
pub mod error;
/// The CRD YAML generated from the types.
pub mod generate;
/// File name patterns with `*` in the last component (file_sd, rule_files).
pub mod glob;
/// `HttpConfig`: Alertmanager's `http_config` of receivers' integrations and `global`.
pub mod http_config;
/// Reading resources from multi-document YAML files.
pub mod load;
/// `MetricCluster`: one monitoring cluster and its alerting section.
pub mod metric_cluster;
/// Prometheus's `prometheus.yml`: types, checks, translation to ScrapeTargets.
pub mod prometheus;
/// prometheus-operator's ServiceMonitor, PodMonitor and PrometheusRule, translated.
pub mod prometheus_operator;
/// `quantity_bytes`: Kubernetes quantities as bytes.
pub mod quantity;
/// `Receiver`: webhook, Slack, PagerDuty, email, SMS and voice integrations.
pub mod receiver;
/// `RollupTier`: a rollup resolution and its retention, and the one parser of
/// `--rollup-tiers` (`1m:30d,1h:365d,1d:3y`).
pub mod rollup_tiers;
/// `Route` and `InhibitRule`: the routing tree and inhibition.
pub mod routing;
/// `TlsConfig`, `Authorization`, `BasicAuth`: how a ScrapeTarget's scrapes are secured.
pub mod scrape_client;
/// The exposition formats a scrape asks for (`scrape_protocols`).
pub mod scrape_protocol;
/// `ScrapeTarget`: what to scrape and how.
pub mod scrape_target;
/// `SecretRef`: credentials from a Kubernetes Secret or a file.
pub mod secret;
/// `NamespaceSelector`, port matching and selector checks: what a ScrapeTarget selects.
pub mod selection;
/// `HttpSd`, `KubernetesSd`: a ScrapeTarget's HTTP and Kubernetes discovery sections.
pub mod service_discovery;
/// `ResourceStatus` and its condition types: the status every kind reports.
pub mod status;
/// `TargetGroup`: the groups of file_sd files and http_sd answers.
pub mod target_group;

pub use alert_rule::{AlertRule, AlertRuleSpec, Rule, RuleGroup};
pub use backup::{BackupSpec, RestoreSpec, backup_schedule};
pub use cluster_layout::{ComponentSpec, DEFAULT_IMAGE, RetentionSpec, StorageSpec};
pub use cluster_tls::{
    ClusterTls, DEFAULT_WEB_CONFIG_KEY, InternalTls, InternalTlsMode, WebConfigSecret, WebSpec,
};
pub use cold_storage::{ColdAfter, ColdStorageSpec};
pub use duration::PromDuration;
pub use error::{ConfigError, FieldError};
pub use generate::crd_yaml;
pub use http_config::HttpConfig;
pub use load::{Document, Resource, load_file, load_str};
pub use metric_cluster::{
    AlertingGlobal, AlertingSpec, MAX_REPLICAS_PER_SHARD, MetricCluster, MetricClusterSpec,
};
pub use prometheus::PrometheusConfig;
pub use receiver::{
    EmailConfig, EmailTls, PagerdutyConfig, Receiver, SlackConfig, SlackField, TwilioConfig,
    WebhookConfig,
};
pub use rollup_tiers::{Resolution, RollupTier, format_rollup_tiers, parse_rollup_tiers};
pub use routing::{InhibitRule, Route};
pub use scrape_protocol::ScrapeProtocol;
pub use scrape_target::{
    HttpSd, KubernetesSd, KubernetesSdSelector, Scheme, ScrapeTarget, ScrapeTargetSpec,
    StaticTargets,
};
pub use secret::{SecretKeySelector, SecretRef};
pub use selection::NamespaceSelector;
pub use status::ResourceStatus;

/// The API group of every Telltale resource.
pub const GROUP: &str = "telltale.dev";
/// The version of the resources defined here.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in YAML documents.
pub const API_VERSION: &str = "telltale.dev/v1alpha1";
