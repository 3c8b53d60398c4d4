//! The Telltale alertmanager: evaluates the PromQL alerting and recording rules of
//! `AlertRule` resources on a schedule, tracks each alert through pending, firing and
//! resolved as Prometheus does, and routes, groups, inhibits, silences and notifies them
//! as Prometheus's Alertmanager does — to webhooks, Slack, PagerDuty, email, SMS and
//! voice calls. Alert state, the notification log and silences survive restarts.
//!
//! ```text
//!  AlertRule --apply--> RuleManager --one task per rule group, every interval-->
//!     RuleQuerier::query(expr, t) --> AlertSet::evaluate (pure state machine)
//!        |-- recording rules, ALERTS, ALERTS_FOR_STATE --> SampleWriter
//!        v
//!  Dispatcher (also fed by POST /api/v2/alerts)
//!     RouteTree -> Aggregator groups (group_wait / group_interval)
//!     -> mute: Silences, Inhibitor -> NotificationLog (repeat_interval, dedup)
//!     -> Notifier per integration, retried with backoff
//!  StateStore (RocksStateStore, synced writes): rules.json, nflog.json, silences.json
//!  router(): /api/v1/alerts, /api/v1/rules, Alertmanager's /api/v2/...
//! ```
//!
//! Key types: [`RuleManager`], [`ManagerOptions`], [`RuleQuerier`],
//! [`state::AlertSet`], [`route::RouteTree`], [`dispatch::Aggregator`],
//! [`dispatch::Dispatcher`], [`silence::Silences`], [`notify::Notifier`],
//! [`secrets::SecretResolver`], [`store::StateStore`].

/// The Prometheus-compatible HTTP API (`/api/v1/alerts`, `/api/v1/rules`).
pub mod api;
/// Alertmanager's v2 HTTP API: alerts, groups, silences, status, receivers.
pub mod api_v2;
/// Routing, aggregation groups, muting and delivery of notifications.
pub mod dispatch;
/// The crate's error type.
pub mod error;
/// The evaluation task of one rule group.
pub mod evaluation;
/// Go-compatible rendering of numbers and times.
pub mod format;
/// Rule groups: their rules' state and their evaluation schedule.
pub mod group;
/// Inhibition rules.
pub mod inhibit;
/// In a Kubernetes cluster: AlertRules and routing from the API, Secrets.
pub mod kubernetes;
/// Label sets, fingerprints and their text form.
pub mod labels;
/// The rule manager: schedules group evaluations and applies rule changes.
pub mod manager;
/// Alertmanager label matchers and their text form.
pub mod matcher;
/// Self-metrics.
pub mod metrics;
/// Integrations: webhook, Slack, PagerDuty, email, SMS, voice; retries.
pub mod notify;
/// The rule manager's settings.
pub mod options;
/// The query interface rules are evaluated through.
pub mod querier;
/// The routing tree.
pub mod route;
/// Prometheus rule files and `check rules`.
pub mod rule_file;
/// Credentials: redacted values and their resolvers.
pub mod secrets;
/// Series written by rules: recordings, `ALERTS`, `ALERTS_FOR_STATE`.
pub mod series;
/// Silences.
pub mod silence;
/// The pure alert state machine of one rule.
pub mod state;
/// Persisted state in RocksDB (the store the alertmanager uses).
pub mod state_db;
/// Persisted state: the store trait, its documents, and the former file implementation.
pub mod store;
/// Prometheus-style templates of annotations and labels.
pub mod template;
/// Checking `AlertRule` specs and alerting sections.
pub mod validate;

pub use api::router;
pub use error::{Error, Result};
pub use kubernetes::{ClusterWatch, ClusterWatchOptions, KubernetesSecrets, watch_cluster};
pub use manager::{RuleManager, now_ms};
pub use options::ManagerOptions;
pub use querier::{QueriedSample, RuleQuerier};
pub use rule_file::{alert_rule_from_file, check_rules_file, load_prometheus_rule_file};
pub use secrets::{FileSecrets, Secret, SecretResolver, StaticSecrets};
pub use state_db::RocksStateStore;
pub use store::{FileStateStore, StateStore};
pub use validate::{validate_alerting, validate_rules};
