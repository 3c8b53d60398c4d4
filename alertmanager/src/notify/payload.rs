//! [`WebhookMessage`]: the Alertmanager webhook JSON, version "4".

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::rfc3339_or_zero;
use crate::labels::{ALERT_NAME, LabelSet, fingerprint_hex, to_text};
use crate::notify::NotifyAlert;

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

/// The labels an alert group is grouped by, for now `alertname` only.
pub fn group_labels(alertname: &str) -> LabelSet {
    BTreeMap::from([(ALERT_NAME.to_string(), alertname.to_string())])
}

/// Alertmanager's group key for a group of the root route: `{}:{alertname="X"}`.
pub fn group_key(alertname: &str) -> String {
    format!("{{}}:{}", to_text(&group_labels(alertname)))
}

impl WebhookMessage {
    /// The message for the alerts of group `alertname` sent to `receiver`.
    pub fn new(
        receiver: &str,
        alertname: &str,
        alerts: &[NotifyAlert],
        external_url: &str,
    ) -> WebhookMessage {
        let firing = alerts.iter().any(|a| !a.is_resolved());
        WebhookMessage {
            version: "4",
            group_key: group_key(alertname),
            truncated_alerts: 0,
            status: if firing { "firing" } else { "resolved" },
            receiver: receiver.to_string(),
            group_labels: group_labels(alertname),
            common_labels: common(alerts.iter().map(|a| &a.labels)),
            common_annotations: common(alerts.iter().map(|a| &a.annotations)),
            external_url: external_url.to_string(),
            alerts: alerts
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

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(instance: &str, severity: &str, ends: Option<i64>) -> NotifyAlert {
        NotifyAlert {
            labels: [
                ("alertname", "Down"),
                ("instance", instance),
                ("severity", severity),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            annotations: [("summary".to_string(), format!("{instance} down"))].into(),
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: ends,
            generator_url: "http://x/graph".into(),
        }
    }

    #[test]
    fn message_has_alertmanager_shape() {
        let alerts = [
            alert("a", "page", None),
            alert("b", "page", Some(1_700_000_060_500)),
        ];
        let msg = WebhookMessage::new("ops", "Down", &alerts, "http://am");
        let json = serde_json::to_value(&msg).unwrap();
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
            serde_json::json!({"alertname": "Down", "severity": "page"})
        );
        assert_eq!(json["commonAnnotations"], serde_json::json!({}));
        assert_eq!(json["externalURL"], "http://am");
        let a = &json["alerts"][0];
        assert_eq!(a["status"], "firing");
        assert_eq!(a["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(a["generatorURL"], "http://x/graph");
        assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
        let b = &json["alerts"][1];
        assert_eq!(b["status"], "resolved");
        assert_eq!(b["endsAt"], "2023-11-14T22:14:20.5Z");
    }

    #[test]
    fn all_resolved_is_resolved() {
        let msg = WebhookMessage::new("ops", "Down", &[alert("a", "page", Some(1))], "");
        assert_eq!(msg.status, "resolved");
        assert_eq!(msg.common_annotations["summary"], "a down");
    }
}
