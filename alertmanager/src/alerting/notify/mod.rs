//! Notification: the alerts of one aggregation group, rendered for and delivered to each
//! integration of a receiver.
//!
//! ```text
//!  Notification (receiver, group key and labels, alerts, external URL)
//!      --> deliver(): Notifier::notify per attempt, timeout, exponential backoff, metrics
//!            webhook (Alertmanager JSON v4) | slack | pagerduty | email | sms | voice
//! ```
//!
//! The HTTP integrations send with the client of their `httpConfig` (Alertmanager's
//! `http_config`: TLS with a CA and client certificate, authorization, basic auth,
//! proxy), or of `global.httpConfig` when unset — `telltale_web::client`, the code the
//! scraper's targets use.

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
use telltale_crds::{HttpConfig, PromDuration, Receiver};
use telltale_web::client::{ClientOptions, ClientSettings, HttpClient, from_prometheus};

use crate::alerting::secrets::SecretResolver;
use crate::error::{Error, Result};
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

/// What integrations share, and the HTTP client of one integration.
#[derive(Clone)]
pub struct IntegrationContext {
    /// The integration's HTTP client (its `httpConfig`, else `global.httpConfig`, else
    /// the default: system roots, no auth), or why it cannot be made — reported by
    /// every notification until the configuration changes.
    pub http: std::result::Result<Arc<HttpClient>, Error>,
    /// `global.httpConfig`: the client settings of integrations without their own.
    pub global_http: Option<HttpConfig>,
    pub secrets: Arc<dyn SecretResolver>,
    /// The alerting section's message templates.
    pub templates: Arc<template::NotifyTemplates>,
}

fn client_options() -> ClientOptions {
    ClientOptions::new(concat!("telltale-alertmanager/", env!("CARGO_PKG_VERSION")))
}

impl IntegrationContext {
    /// A context with the default HTTP client (timeouts are per request).
    pub fn new(secrets: Arc<dyn SecretResolver>) -> IntegrationContext {
        IntegrationContext {
            http: Ok(Arc::new(HttpClient::new(
                ClientSettings::default(),
                client_options(),
            ))),
            global_http: None,
            secrets,
            templates: Arc::default(),
        }
    }

    /// The context of an integration whose `httpConfig` is `own` (`at` names it in
    /// errors): its client is made from `own`, or from `global.httpConfig` when unset
    /// (as a whole, as Alertmanager does).
    pub fn for_integration(&self, own: Option<&HttpConfig>, at: &str) -> IntegrationContext {
        let (config, at) = match own {
            Some(c) => (Some(c), at.to_string()),
            None => (self.global_http.as_ref(), "global.httpConfig".to_string()),
        };
        let mut ctx = self.clone();
        if let Some(config) = config {
            ctx.http = http_client(config, &at, self.secrets.as_ref()).map(Arc::new);
            if let Err(e) = &ctx.http {
                tracing::error!(error = %e, "an integration's HTTP client cannot be made: its notifications fail");
            }
        }
        ctx
    }

    /// The integration's HTTP client, or the configuration error.
    pub fn http(&self) -> Result<&HttpClient> {
        self.http.as_deref().map_err(Clone::clone)
    }
}

/// The client of an `httpConfig`: checked as Alertmanager does, every file it names
/// allowed by `secrets` (in a cluster only the pod's service-account files).
fn http_client(config: &HttpConfig, at: &str, secrets: &dyn SecretResolver) -> Result<HttpClient> {
    let c = config.to_prometheus();
    let tls = c.tls_config.as_ref();
    let files = [
        ("bearer_token_file", c.bearer_token_file.as_ref()),
        (
            "authorization.credentials_file",
            c.authorization
                .as_ref()
                .and_then(|a| a.credentials_file.as_ref()),
        ),
        (
            "basic_auth.password_file",
            c.basic_auth.as_ref().and_then(|b| b.password_file.as_ref()),
        ),
        ("tls_config.ca_file", tls.and_then(|t| t.ca_file.as_ref())),
        (
            "tls_config.cert_file",
            tls.and_then(|t| t.cert_file.as_ref()),
        ),
        ("tls_config.key_file", tls.and_then(|t| t.key_file.as_ref())),
    ];
    for (field, path) in files {
        if let Some(path) = path.filter(|p| !p.is_empty())
            && !secrets.allows_file(path)
        {
            return Err(Error::Config {
                field: format!("{at}.{field}"),
                message: format!("{path}: {FILES_REFUSED}"),
            });
        }
    }
    let settings = from_prometheus(&c, at).map_err(|e| match e {
        telltale_web::Error::Client { field, message } => Error::Config { field, message },
        other => Error::Config {
            field: at.to_string(),
            message: other.to_string(),
        },
    })?;
    Ok(HttpClient::new(settings, client_options()))
}

/// Why a file is refused in a cluster.
pub const FILES_REFUSED: &str = "files are refused in a cluster (only the pod's service-account files under /var/run/secrets/kubernetes.io/serviceaccount/); use a Secret";

pub(crate) fn timeout_of(t: Option<PromDuration>) -> Duration {
    t.map_or(DEFAULT_TIMEOUT, |d| d.0)
}

/// Every integration of `receiver`, in the order webhooks, Slack, PagerDuty, email, SMS,
/// voice.
/// Each HTTP integration gets the client of its `httpConfig` (or the global one).
pub fn notifiers(receiver: &Receiver, ctx: &IntegrationContext) -> Vec<Arc<dyn Notifier>> {
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    let at = |kind: &str, i: usize| format!("receivers[{}].{kind}[{i}].httpConfig", receiver.name);
    for (i, c) in receiver.webhooks.iter().enumerate() {
        let ctx = ctx.for_integration(c.http_config.as_ref(), &at("webhooks", i));
        out.push(Arc::new(webhook::Webhook::new(c.clone(), ctx)));
    }
    for (i, c) in receiver.slack_configs.iter().enumerate() {
        let ctx = ctx.for_integration(c.http_config.as_ref(), &at("slackConfigs", i));
        out.push(Arc::new(slack::Slack::new(c.clone(), ctx)));
    }
    for (i, c) in receiver.pagerduty_configs.iter().enumerate() {
        let ctx = ctx.for_integration(c.http_config.as_ref(), &at("pagerdutyConfigs", i));
        out.push(Arc::new(pagerduty::PagerDuty::new(c.clone(), ctx)));
    }
    for c in &receiver.email_configs {
        out.push(Arc::new(email::Email::new(c.clone(), ctx.clone())));
    }
    for (i, c) in receiver.sms_configs.iter().enumerate() {
        let ctx = ctx.for_integration(c.http_config.as_ref(), &at("smsConfigs", i));
        out.push(Arc::new(twilio::Twilio::sms(c.clone(), ctx)));
    }
    for (i, c) in receiver.voice_configs.iter().enumerate() {
        let ctx = ctx.for_integration(c.http_config.as_ref(), &at("voiceConfigs", i));
        out.push(Arc::new(twilio::Twilio::voice(c.clone(), ctx)));
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

    /// A resolver that, as in a cluster, allows only service-account files.
    struct ClusterPolicy;

    #[async_trait::async_trait]
    impl SecretResolver for ClusterPolicy {
        async fn resolve(&self, reference: &telltale_crds::SecretRef) -> Result<crate::Secret> {
            Err(Error::Secret {
                reference: reference.to_string(),
                message: "not used".into(),
            })
        }

        fn allows_file(&self, path: &str) -> bool {
            telltale_crds::scrape_client::is_service_account_file(path)
        }
    }

    fn http_config(yaml: &str) -> HttpConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn own_config_else_global_and_cluster_files_refused() {
        let mut ctx = IntegrationContext::new(Arc::new(ClusterPolicy));
        ctx.global_http = Some(http_config("{tls_config: {ca_file: /etc/ca.pem}}"));
        // The global config applies as a whole, and its file is refused in a cluster.
        let e = ctx
            .for_integration(None, "x")
            .http()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("global.httpConfig.tls_config.ca_file: /etc/ca.pem: {FILES_REFUSED}")
        );
        let own = http_config(
            "{authorization: {credentials_file: /var/run/secrets/kubernetes.io/serviceaccount/token}}",
        );
        assert!(
            ctx.for_integration(Some(&own), "r.webhooks[0].httpConfig")
                .http()
                .is_ok()
        );
        let bad = http_config("{bearer_token: a, basic_auth: {username: u}}");
        let e = ctx
            .for_integration(Some(&bad), "r.webhooks[0].httpConfig")
            .http()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("r.webhooks[0].httpConfig: at most one of"),
            "{e}"
        );
        // Without a global config, the default client.
        let plain = IntegrationContext::new(Arc::new(ClusterPolicy));
        assert!(plain.for_integration(None, "x").http().is_ok());
    }

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
