//! Notification: the alerts of one aggregation group, rendered for and delivered to each
//! integration of a receiver.
//!
//! ```text
//!  Notification (receiver, group key and labels, alerts, external URL)
//!      --> deliver(): Notifier::notify per attempt, timeout, exponential backoff, metrics
//!            webhook (Alertmanager JSON v4) | slack | pagerduty | email | sms | voice
//! ```

pub mod email;
pub mod pagerduty;
pub mod payload;
pub mod retry;
pub mod slack;
pub mod template;
pub mod text;
pub mod twilio;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use telltale_crds::{PromDuration, Receiver};

use crate::alerting::secrets::SecretResolver;
use crate::error::Result;
pub use crate::format::query_escape;
use crate::labels::{LabelSet, fingerprint};
use crate::rules::state::{Alert, AlertState};

/// Limit of one attempt when the integration sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An alert as it is notified: firing (`ends_at_ms` unset, or in the future) or
/// resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifyAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at_ms: i64,
    /// When it resolved (or, for alerts posted to the API, when it will resolve unless
    /// posted again); `None` while it fires.
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
}

impl NotifyAlert {
    /// The notification form of a firing or resolved alert (`None` for a pending one).
    /// `startsAt` is when it started firing, as Prometheus sends it.
    pub fn from_alert(alert: &Alert, generator_url: &str) -> Option<NotifyAlert> {
        let ends_at_ms = match alert.state {
            AlertState::Pending => return None,
            AlertState::Firing => None,
            AlertState::Inactive => Some(alert.resolved_at_ms.unwrap_or(alert.active_at_ms)),
        };
        Some(NotifyAlert {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
            ends_at_ms,
            generator_url: generator_url.to_string(),
        })
    }

    /// Whether it had resolved by `now_ms`.
    pub fn is_resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms.is_some_and(|t| t <= now_ms)
    }

    /// Whether it is resolved, for alerts of a [`Notification`] (whose firing alerts
    /// have no end).
    pub fn is_resolved(&self) -> bool {
        self.ends_at_ms.is_some()
    }

    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// The fingerprint as Alertmanager prints it.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint())
    }
}

/// What one integration is told: the alerts of one aggregation group.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub receiver: String,
    /// Alertmanager's group key, `{route}:{group labels}`.
    pub group_key: String,
    pub group_labels: LabelSet,
    /// Firing alerts (no end) and resolved ones, in label order.
    pub alerts: Vec<NotifyAlert>,
    pub external_url: String,
}

impl Notification {
    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().any(|a| !a.is_resolved()) {
            "firing"
        } else {
            "resolved"
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts.iter().filter(|a| !a.is_resolved())
    }

    pub fn resolved(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts.iter().filter(|a| a.is_resolved())
    }

    /// The labels every alert has.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// The annotations every alert has.
    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
    }
}

/// The name/value pairs every set has.
fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut out = first.clone();
    for set in sets {
        out.retain(|k, v| set.get(k) == Some(v));
    }
    out
}

/// One integration of a receiver: one attempt to deliver a notification.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// `webhook`, `slack`, `pagerduty`, `email`, `sms` or `voice` (the metric label).
    fn integration(&self) -> &'static str;
    /// Whether resolved alerts are sent.
    fn send_resolved(&self) -> bool;
    /// Limit of one attempt.
    fn timeout(&self) -> Duration;
    /// One attempt; retries are the caller's ([`retry::deliver`]).
    async fn notify(&self, notification: &Notification) -> Result<()>;
}

/// What integrations share.
#[derive(Clone)]
pub struct IntegrationContext {
    pub client: reqwest::Client,
    pub secrets: Arc<dyn SecretResolver>,
    /// The alerting section's message templates.
    pub templates: Arc<template::NotifyTemplates>,
}

impl IntegrationContext {
    /// A context with an HTTP client for the integrations (timeouts are per request).
    pub fn new(secrets: Arc<dyn SecretResolver>) -> IntegrationContext {
        let client = reqwest::Client::builder()
            .user_agent(concat!("telltale-alertmanager/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot build the notification HTTP client, using defaults");
                reqwest::Client::new()
            });
        IntegrationContext {
            client,
            secrets,
            templates: Arc::default(),
        }
    }
}

pub(crate) fn timeout_of(t: Option<PromDuration>) -> Duration {
    t.map_or(DEFAULT_TIMEOUT, |d| d.0)
}

/// Every integration of `receiver`, in the order webhooks, Slack, PagerDuty, email, SMS,
/// voice.
pub fn notifiers(receiver: &Receiver, ctx: &IntegrationContext) -> Vec<Arc<dyn Notifier>> {
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    for c in &receiver.webhooks {
        out.push(Arc::new(webhook::Webhook::new(c.clone(), ctx.clone())));
    }
    for c in &receiver.slack_configs {
        out.push(Arc::new(slack::Slack::new(c.clone(), ctx.clone())));
    }
    for c in &receiver.pagerduty_configs {
        out.push(Arc::new(pagerduty::PagerDuty::new(c.clone(), ctx.clone())));
    }
    for c in &receiver.email_configs {
        out.push(Arc::new(email::Email::new(c.clone(), ctx.clone())));
    }
    for c in &receiver.sms_configs {
        out.push(Arc::new(twilio::Twilio::sms(c.clone(), ctx.clone())));
    }
    for c in &receiver.voice_configs {
        out.push(Arc::new(twilio::Twilio::voice(c.clone(), ctx.clone())));
    }
    out
}

/// Prometheus's link back to a rule's expression:
/// `<external URL>/graph?g0.expr=<query-escaped expr>&g0.tab=1`.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        query_escape(expr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_url_escapes_like_go() {
        assert_eq!(
            generator_url("http://tt:9093/", "rate(x{a=\"b\"}[5m]) > 0.5"),
            "http://tt:9093/graph?g0.expr=rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29+%3E+0.5&g0.tab=1"
        );
    }

    #[test]
    fn pending_alerts_are_not_notified() {
        let mut alert = Alert {
            labels: LabelSet::new(),
            annotations: LabelSet::new(),
            state: AlertState::Pending,
            value: 1.0,
            active_at_ms: 10,
            fired_at_ms: None,
            resolved_at_ms: None,
            keep_firing_since_ms: None,
        };
        assert_eq!(NotifyAlert::from_alert(&alert, ""), None);
        alert.state = AlertState::Firing;
        alert.fired_at_ms = Some(20);
        let n = NotifyAlert::from_alert(&alert, "").unwrap();
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (20, None));
        alert.state = AlertState::Inactive;
        alert.resolved_at_ms = Some(30);
        let n = NotifyAlert::from_alert(&alert, "").unwrap();
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (20, Some(30)));
        assert!(n.is_resolved());
        assert!(!n.is_resolved_at(29));
        assert!(n.is_resolved_at(30));
    }
}
