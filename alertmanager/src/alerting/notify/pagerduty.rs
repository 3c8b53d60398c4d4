//! [`PagerDuty`]: PagerDuty Events API v2 — `trigger` while a group fires, `resolve` once
//! all its alerts resolved, with a `dedup_key` derived from the group key (SHA-256, hex,
//! as Alertmanager derives it) so every notification of a group updates one incident.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use telltale_crds::PagerdutyConfig;

use crate::error::Result;
use crate::alerting::notify::text::{plain, subject};
use crate::alerting::notify::webhook::post_json;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};

/// The Events API v2 endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// One PagerDuty service integration.
pub struct PagerDuty {
    config: PagerdutyConfig,
    ctx: IntegrationContext,
}

/// An Events API v2 event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PagerDutyEvent {
    pub routing_key: String,
    /// `trigger` or `resolve`.
    pub event_action: &'static str,
    pub dedup_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<PagerDutyPayload>,
    pub client: &'static str,
    pub client_url: String,
}

/// What a `trigger` event says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PagerDutyPayload {
    pub summary: String,
    pub source: String,
    pub severity: String,
    pub custom_details: serde_json::Value,
}

/// The stable deduplication key of a group: hex SHA-256 of its group key.
pub fn dedup_key(group_key: &str) -> String {
    Sha256::digest(group_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PagerDutyEvent {
    /// The event for `n`; `routing_key` is the resolved secret.
    pub fn new(config: &PagerdutyConfig, routing_key: &str, n: &Notification) -> PagerDutyEvent {
        let firing = n.status() == "firing";
        let payload = firing.then(|| {
            let common = n.common_labels();
            let severity = config.severity.clone().unwrap_or_else(|| {
                common
                    .get("severity")
                    .map(|s| s.to_lowercase())
                    .filter(|s| SEVERITIES.contains(&s.as_str()))
                    .unwrap_or_else(|| "error".to_string())
            });
            let mut summary = subject(n);
            if summary.len() > 1024 {
                let mut cut = 1021;
                while !summary.is_char_boundary(cut) {
                    cut -= 1;
                }
                summary.truncate(cut);
                summary.push_str("...");
            }
            PagerDutyPayload {
                summary,
                source: config
                    .source
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| non_empty(&n.external_url, "telltale")),
                severity,
                custom_details: serde_json::json!({
                    "num_firing": n.firing().count(),
                    "num_resolved": n.resolved().count(),
                    "details": plain(n),
                }),
            }
        });
        PagerDutyEvent {
            routing_key: routing_key.to_string(),
            event_action: if firing { "trigger" } else { "resolve" },
            dedup_key: dedup_key(&n.group_key),
            payload,
            client: "Telltale",
            client_url: n.external_url.clone(),
        }
    }
}

fn non_empty(s: &str, default: &str) -> String {
    if s.is_empty() {
        default.to_string()
    } else {
        s.to_string()
    }
}

impl PagerDuty {
    pub fn new(config: PagerdutyConfig, ctx: IntegrationContext) -> PagerDuty {
        PagerDuty { config, ctx }
    }
}

#[async_trait::async_trait]
impl Notifier for PagerDuty {
    fn integration(&self) -> &'static str {
        "pagerduty"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    fn timeout(&self) -> Duration {
        timeout_of(self.config.timeout)
    }

    async fn notify(&self, n: &Notification) -> Result<()> {
        let key = self.ctx.secrets.resolve(&self.config.routing_key).await?;
        let event = PagerDutyEvent::new(&self.config, key.expose(), n);
        let url = self.config.url.as_deref().unwrap_or(DEFAULT_URL);
        post_json(&self.ctx, "pagerduty", url, &event, self.timeout()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};
    use telltale_crds::SecretRef;

    fn config() -> PagerdutyConfig {
        PagerdutyConfig {
            routing_key: SecretRef::file("/k"),
            url: None,
            severity: None,
            source: None,
            send_resolved: true,
            timeout: None,
            description: None,
            details: Default::default(),
            client: None,
            client_url: None,
        }
    }

    #[test]
    fn dedup_key_is_sha256_of_the_group_key() {
        assert_eq!(
            dedup_key(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(dedup_key("{}:{a=\"1\"}"), dedup_key("{}:{a=\"1\"}"));
    }

    #[test]
    fn trigger_then_resolve_share_the_key() {
        let firing = PagerDutyEvent::new(&config(), "R", &notification(vec![alert("a", false)]));
        assert_eq!(firing.event_action, "trigger");
        let p = firing.payload.as_ref().unwrap();
        assert_eq!(p.severity, "error", "`page` is not a PagerDuty severity");
        assert_eq!(p.summary, "[FIRING:1] Down (a node page)");
        assert_eq!(p.source, "http://tt");
        let resolved = PagerDutyEvent::new(&config(), "R", &notification(vec![alert("a", true)]));
        assert_eq!(resolved.event_action, "resolve");
        assert!(resolved.payload.is_none());
        assert_eq!(resolved.dedup_key, firing.dedup_key);
        assert_eq!(resolved.routing_key, "R");
    }
}
