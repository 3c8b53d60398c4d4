//! The notification half, Alertmanager's: the routing tree, aggregation groups and their
//! timers, inhibition and silences, receivers and their message templates, credentials,
//! and Alertmanager's v2 HTTP API.

/// Alertmanager's v2 HTTP API: alerts, groups, silences, status, receivers.
pub mod api_v2;
/// Routing, aggregation groups, muting and delivery of notifications.
pub mod dispatch;
/// Inhibition rules.
pub mod inhibit;
/// Alertmanager label matchers and their text form.
pub mod matcher;
/// Integrations: webhook, Slack, PagerDuty, email, SMS, voice; retries.
pub mod notify;
/// Alerts posted to the v2 API: decoding and checks.
pub mod postable;
/// The routing tree.
pub mod route;
/// Credentials: redacted values and their resolvers.
pub mod secrets;
/// Silences.
pub mod silence;
/// Checking alerting sections.
pub mod validate;
