//! The Telltale alertmanager: evaluates the PromQL alerting rules of `AlertRule` resources
//! on a schedule, tracks each alert through pending, firing and resolved as Prometheus
//! does, and notifies webhooks with Alertmanager's JSON.
//!
//! ```text
//!  AlertRule --apply--> RuleManager --one task per rule group, every interval-->
//!     RuleQuerier::query(expr, t) --> AlertSet::evaluate (pure state machine)
//!        --> Dispatcher (group by alertname, receiver from AlertingSpec)
//!        --> WebhookWorker per webhook (dedup, repeat, retries) --> POST
//!  router(): GET /api/v1/alerts, GET /api/v1/rules
//! ```
//!
//! Key types: [`RuleManager`], [`RuleQuerier`], [`state::AlertSet`],
//! [`notify::payload::WebhookMessage`].

/// The Prometheus-compatible HTTP API (`/api/v1/alerts`, `/api/v1/rules`).
pub mod api;
/// The crate's error type.
pub mod error;
/// Go-compatible rendering of numbers and times.
pub mod format;
/// Rule groups: their rules' state and their evaluation schedule.
pub mod group;
/// Label sets, fingerprints and their text form.
pub mod labels;
/// The rule manager: schedules group evaluations and applies rule changes.
pub mod manager;
/// Self-metrics.
pub mod metrics;
/// Notification: grouping, deduplication, the webhook payload and its delivery.
pub mod notify;
/// The query interface rules are evaluated through.
pub mod querier;
/// The pure alert state machine of one rule.
pub mod state;
/// Prometheus-style templates of annotations and labels.
pub mod template;
/// Checking `AlertRule` specs, PromQL included.
pub mod validate;

pub use api::router;
pub use error::{Error, Result};
pub use manager::{ManagerOptions, RuleManager};
pub use querier::{QueriedSample, RuleQuerier};
pub use validate::validate_rules;
