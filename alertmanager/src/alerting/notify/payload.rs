//! [`WebhookMessage`]: the Alertmanager webhook JSON, version "4".

use serde::Serialize;

use crate::alerting::notify::Notification;
use crate::format::rfc3339_or_zero;
use crate::labels::{LabelSet, fingerprint_hex};

/// The body POSTed to a webhook, field for field as Alertmanager sends it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    pub version: &'static str,
    pub group_key: String,
    pub truncated_alerts: u64,
    /// `firing` when any alert fires, else `resolved`.
    pub status: &'static str,
    pub receiver: String,
    pub group_labels: LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<WebhookAlert>,
}

/// One alert of a [`WebhookMessage`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: &'static str,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
}

impl WebhookMessage {
    /// The message for `n`.
    pub fn new(n: &Notification) -> WebhookMessage {
        WebhookMessage {
            version: "4",
            group_key: n.group_key.clone(),
            truncated_alerts: 0,
            status: n.status(),
            receiver: n.receiver.clone(),
            group_labels: n.group_labels.clone(),
            common_labels: n.common_labels(),
            common_annotations: n.common_annotations(),
            external_url: n.external_url.clone(),
            alerts: n
                .alerts
                .iter()
                .map(|a| WebhookAlert {
                    status: if a.is_resolved() {
                        "resolved"
                    } else {
                        "firing"
                    },
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: rfc3339_or_zero(Some(a.starts_at_ms)),
                    ends_at: rfc3339_or_zero(a.ends_at_ms),
                    generator_url: a.generator_url.clone(),
                    fingerprint: fingerprint_hex(&a.labels),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};

    #[test]
    fn message_has_alertmanager_shape() {
        let n = notification(vec![alert("a", false), alert("b", true)]);
        let json = serde_json::to_value(WebhookMessage::new(&n)).unwrap();
        assert_eq!(json["version"], "4");
        assert_eq!(json["groupKey"], "{}:{alertname=\"Down\"}");
        assert_eq!(json["truncatedAlerts"], 0);
        assert_eq!(json["status"], "firing");
        assert_eq!(json["receiver"], "ops");
        assert_eq!(
            json["groupLabels"],
            serde_json::json!({"alertname": "Down"})
        );
        assert_eq!(
            json["commonLabels"],
            serde_json::json!({"alertname": "Down", "job": "node", "severity": "page"})
        );
        assert_eq!(json["commonAnnotations"], serde_json::json!({}));
        assert_eq!(json["externalURL"], "http://tt");
        let a = &json["alerts"][0];
        assert_eq!(a["status"], "firing");
        assert_eq!(a["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(a["generatorURL"], "http://tt/graph");
        assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
        let b = &json["alerts"][1];
        assert_eq!(b["status"], "resolved");
        assert_eq!(b["endsAt"], "2023-11-14T22:14:20Z");
    }

    #[test]
    fn all_resolved_is_resolved() {
        let msg = WebhookMessage::new(&notification(vec![alert("a", true)]));
        assert_eq!(msg.status, "resolved");
        assert_eq!(msg.common_annotations["summary"], "a <down>");
    }
}
