//! [`PagerDuty`]: PagerDuty Events API v2 — `trigger` while a group fires, `resolve` once
//! all its alerts resolved, with a `dedup_key` derived from the group key (SHA-256, hex,
//! as Alertmanager derives it) so every notification of a group updates one incident.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use telltale_crds::PagerdutyConfig;

use crate::alerting::notify::template::{NotifyTemplates, notification_data, render_map};
use crate::alerting::notify::webhook::post_json;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};
use crate::error::Result;

/// The Events API v2 endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// One PagerDuty service integration.
pub struct PagerDuty {
    config: PagerdutyConfig,
    ctx: IntegrationContext,
}

/// An Events API v2 event, as Alertmanager sends it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PagerDutyEvent {
    pub routing_key: String,
    pub dedup_key: String,
    /// `trigger` or `resolve`.
    pub event_action: &'static str,
    pub payload: PagerDutyPayload,
    pub client: String,
    pub client_url: String,
}

/// What an event says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PagerDutyPayload {
    pub summary: String,
    pub source: String,
    pub severity: String,
    pub custom_details: BTreeMap<String, String>,
}

/// The stable deduplication key of a group: hex SHA-256 of its group key.
pub fn dedup_key(group_key: &str) -> String {
    Sha256::digest(group_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Alertmanager's default details.
fn default_details() -> BTreeMap<String, String> {
    [
        (
            "firing",
            r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
        ),
        (
            "resolved",
            r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#,
        ),
        ("num_firing", "{{ .Alerts.Firing | len }}"),
        ("num_resolved", "{{ .Alerts.Resolved | len }}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// At most `max` characters, the last one `…` when cut (Alertmanager's `Truncate`).
fn truncate(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

impl PagerDutyEvent {
    /// The event for `n`; `routing_key` is the resolved secret.
    pub fn new(
        config: &PagerdutyConfig,
        routing_key: &str,
        n: &Notification,
        t: &NotifyTemplates,
    ) -> Result<PagerDutyEvent> {
        let firing = n.status() == "firing";
        let data = notification_data(n);
        let f = |configured: &Option<String>, default: &str| {
            t.field(configured.as_deref(), default, &data)
        };
        let common = n.common_labels();
        let severity = config.severity.clone().unwrap_or_else(|| {
            common
                .get("severity")
                .map(|s| s.to_lowercase())
                .filter(|s| SEVERITIES.contains(&s.as_str()))
                .unwrap_or_else(|| "error".to_string())
        });
        let client = f(
            &config.client,
            r#"{{ template "pagerduty.default.client" . }}"#,
        )?;
        // The configured details go over Alertmanager's defaults, which stay for the
        // keys not configured.
        let mut details = default_details();
        details.extend(config.details.clone());
        Ok(PagerDutyEvent {
            routing_key: routing_key.to_string(),
            dedup_key: dedup_key(&n.group_key),
            event_action: if firing { "trigger" } else { "resolve" },
            payload: PagerDutyPayload {
                summary: truncate(
                    f(
                        &config.description,
                        r#"{{ template "pagerduty.default.description" . }}"#,
                    )?,
                    1024,
                ),
                source: match config.source.as_deref().filter(|s| !s.is_empty()) {
                    Some(s) => t.render(s, &data, false)?,
                    None => client.clone(),
                },
                severity,
                custom_details: render_map(t, &details, &data)?,
            },
            client_url: f(
                &config.client_url,
                r#"{{ template "pagerduty.default.clientURL" . }}"#,
            )?,
            client,
        })
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
        let event = PagerDutyEvent::new(&self.config, key.expose(), n, &self.ctx.templates)?;
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
            http_config: None,
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
        let t = NotifyTemplates::default();
        let mut a = alert("a", false);
        a.labels.insert("instance".into(), "a<1>".into());
        let firing = PagerDutyEvent::new(&config(), "R", &notification(vec![a]), &t).unwrap();
        assert_eq!(firing.event_action, "trigger");
        let p = &firing.payload;
        assert_eq!(p.severity, "error", "`page` is not a PagerDuty severity");
        assert_eq!(p.summary, "[FIRING:1] Down (a<1> node page)");
        assert_eq!(p.source, "Alertmanager");
        // Alertmanager 0.25's details for the same alert.
        assert_eq!(
            p.custom_details["firing"],
            "Labels:\n - alertname = Down\n - instance = a<1>\n - job = node\n - severity = page\nAnnotations:\n - summary = a <down>\nSource: http://tt/graph\n"
        );
        assert_eq!(
            (
                p.custom_details["num_firing"].as_str(),
                p.custom_details["resolved"].as_str()
            ),
            ("1", "")
        );
        assert_eq!(firing.client, "Alertmanager");
        assert_eq!(firing.client_url, "http://tt/#/alerts?receiver=ops");
        let resolved =
            PagerDutyEvent::new(&config(), "R", &notification(vec![alert("a", true)]), &t).unwrap();
        assert_eq!(resolved.event_action, "resolve");
        assert_eq!(resolved.dedup_key, dedup_key("{}:{alertname=\"Down\"}"));
        assert_eq!(resolved.routing_key, "R");
    }
}
