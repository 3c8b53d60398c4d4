//! The short rendering of a [`Notification`] for SMS and voice calls: the subject and one
//! status line per alert.

use std::fmt::Write;

use crate::alerting::notify::{Notification, NotifyAlert};

/// Alertmanager's `__subject`: `[FIRING:2] InstanceDown (node page)` — the status (with
/// the number of firing alerts), the group labels' values, and in parentheses the values
/// of the other labels all alerts share.
pub fn subject(n: &Notification) -> String {
    let status = n.status().to_uppercase();
    let mut out = if n.status() == "firing" {
        format!("[{status}:{}]", n.firing().count())
    } else {
        format!("[{status}]")
    };
    for value in n.group_labels.values() {
        out.push(' ');
        out.push_str(value);
    }
    let common = n.common_labels();
    let rest: Vec<&str> = common
        .iter()
        .filter(|(k, _)| !n.group_labels.contains_key(*k))
        .map(|(_, v)| v.as_str())
        .collect();
    if !rest.is_empty() {
        let _ = write!(out, " ({})", rest.join(" "));
    }
    out
}

fn alert_line(a: &NotifyAlert) -> String {
    let status = if a.is_resolved() {
        "RESOLVED"
    } else {
        "FIRING"
    };
    let name = a.labels.get("alertname").map_or("", String::as_str);
    let mut out = format!("[{status}] {name}");
    if let Some(summary) = a
        .annotations
        .get("summary")
        .or_else(|| a.annotations.get("description"))
    {
        let _ = write!(out, ": {summary}");
    }
    out
}

/// A short message for SMS and voice: the subject and each alert's status line.
pub fn short(n: &Notification) -> String {
    let mut out = subject(n);
    for a in &n.alerts {
        out.push('\n');
        out.push_str(&alert_line(a));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert(instance: &str, resolved: bool) -> NotifyAlert {
        NotifyAlert {
            labels: [
                ("alertname", "Down"),
                ("instance", instance),
                ("job", "node"),
                ("severity", "page"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            annotations: [("summary".to_string(), format!("{instance} <down>"))].into(),
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: resolved.then_some(1_700_000_060_000),
            generator_url: "http://tt/graph".into(),
        }
    }

    pub(crate) fn notification(alerts: Vec<NotifyAlert>) -> Notification {
        Notification {
            receiver: "ops".into(),
            group_key: "{}:{alertname=\"Down\"}".into(),
            group_labels: [("alertname".to_string(), "Down".to_string())].into(),
            alerts,
            external_url: "http://tt".into(),
        }
    }

    #[test]
    fn subject_is_alertmanagers() {
        let n = notification(vec![alert("a", false), alert("b", false), alert("c", true)]);
        assert_eq!(subject(&n), "[FIRING:2] Down (node page)");
        let n = notification(vec![alert("a", true)]);
        assert_eq!(subject(&n), "[RESOLVED] Down (a node page)");
    }

    #[test]
    fn short_lists_every_alert() {
        let n = notification(vec![alert("a", false), alert("b", true)]);
        assert_eq!(
            short(&n),
            "[FIRING:1] Down (node page)\n[FIRING] Down: a <down>\n[RESOLVED] Down: b <down>"
        );
    }
}
