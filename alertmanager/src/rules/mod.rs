//! The rule-evaluation half: rule groups on their schedule, the pure alert state machine,
//! label and annotation templates, the series rules write back, Prometheus rule files
//! and their unit tests, and the Prometheus-compatible `/api/v1/alerts` and `/rules`.

/// The Prometheus-compatible HTTP API (`/api/v1/alerts`, `/api/v1/rules`).
pub mod api;
/// The evaluation task of one rule group.
pub mod evaluation;
/// Alertmanagers outside the process (prometheus.yml's `alerting.alertmanagers`).
pub mod external;
/// Rule groups: their rules' state and their evaluation schedule.
pub mod group;
/// The rule manager: schedules group evaluations and applies rule changes.
pub mod manager;
/// The rule manager's settings.
pub mod options;
/// The query interface rules are evaluated through.
pub mod querier;
/// Prometheus rule files and `check rules`.
pub mod rule_file;
/// Series written by rules: recordings, `ALERTS`, `ALERTS_FOR_STATE`.
pub mod series;
/// The pure alert state machine of one rule.
pub mod state;
/// `telltale test rules`: promtool's rule unit tests.
pub mod unittest;
/// Checking `AlertRule` specs: PromQL and templates.
pub mod validate;
