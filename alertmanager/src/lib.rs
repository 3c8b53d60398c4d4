//! The Telltale alertmanager: evaluates the PromQL alerting and recording rules of
//! `AlertRule` resources on a schedule, tracks each alert through pending, firing and
//! resolved as Prometheus does, and routes, groups, inhibits, silences and notifies them
//! as Prometheus's Alertmanager does — to webhooks, Slack, PagerDuty, email, SMS and
//! voice calls. Alert state, the notification log and silences survive restarts.
//!
//! Two halves, in two folders: [`rules`] (evaluation) and [`alerting`] (notification),
//! with [`template`] (Go's `text/template`, used by both) and [`persistence`] beside them.
//!
//! ```text
//!  rules/   AlertRule --apply--> RuleManager --one task per rule group, every interval-->
//!             RuleQuerier::query(expr, t) --> AlertSet::evaluate (pure state machine,
//!             templates expanded off the async workers; `query` at the evaluation time)
//!             |-- recording rules, ALERTS, ALERTS_FOR_STATE --> SampleWriter
//!             v
//!  alerting/ Dispatcher (also fed by POST /api/v2/alerts)
//!             RouteTree -> Aggregator groups (group_wait / group_interval)
//!             -> mute: Silences, Inhibitor (indexed by source) -> NotificationLog
//!             -> receiver templates -> Notifier per integration, retried with backoff
//!  persistence/ StateStore (RocksStateStore, synced writes): rules, nflog, silences
//!  rules::api::router(): /api/v1/alerts, /api/v1/rules, Alertmanager's /api/v2/...
//! ```
//!
//! The query engine is not a dependency: the binary implements [`RuleQuerier`] over it.
//!
//! Key types: [`RuleManager`], [`ManagerOptions`], [`RuleQuerier`],
//! [`rules::state::AlertSet`], [`alerting::route::RouteTree`],
//! [`alerting::dispatch::Aggregator`], [`alerting::dispatch::Dispatcher`],
//! [`alerting::silence::Silences`], [`alerting::notify::Notifier`],
//! [`template::Templates`], [`persistence::store::StateStore`].

/// The notification half: routing, grouping, inhibition, silences, receivers, v2 API.
pub mod alerting;
/// The crate's error type.
pub mod error;
/// Go-compatible rendering of numbers and times.
pub mod format;
/// In a Kubernetes cluster: AlertRules and routing from the API, Secrets.
pub mod kubernetes;
/// Label sets, fingerprints and their text form.
pub mod labels;
/// Self-metrics.
pub mod metrics;
/// Durable state in RocksDB.
pub mod persistence;
/// The rule-evaluation half: groups, state machine, rule files, unit tests, v1 API.
pub mod rules;
/// Go's `text/template` with Prometheus's and Alertmanager's functions.
pub mod template;

pub use alerting::secrets::{FileSecrets, Secret, SecretResolver, StaticSecrets};
pub use alerting::silence::SilenceLimits;
pub use alerting::validate::validate_alerting;
pub use error::{Error, Result};
pub use kubernetes::{
    ClusterWatch, ClusterWatchOptions, KubernetesSecrets, PrometheusRuleScope, watch_cluster,
};
pub use persistence::state_db::RocksStateStore;
pub use persistence::store::{FileStateStore, StateStore};
pub use rules::api::router;
pub use rules::external::{AlertRelabel, Endpoint as AlertmanagerEndpoint, ExternalAlertmanagers};
pub use rules::manager::RuleManager;
pub use rules::options::ManagerOptions;
pub use rules::querier::{QueriedSample, RuleQuerier};
pub use rules::rule_file::{alert_rule_from_file, check_rules_file, load_prometheus_rule_file};
pub use rules::validate::validate_rules;
