//! Human-readable renderings of a [`Notification`], shared by Slack, email, SMS and voice:
//! Alertmanager's default subject, and deterministic text and HTML bodies.

use std::fmt::Write;

use crate::format::rfc3339;
use crate::labels::LabelSet;
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

fn pairs(set: &LabelSet) -> String {
    set.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
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

/// The plain-text body: the subject, then per alert its status line, labels,
/// annotations, start (and end) and source link.
pub fn plain(n: &Notification) -> String {
    let mut out = format!("{}\n", subject(n));
    for a in &n.alerts {
        let _ = write!(out, "\n{}\n  Labels: {}\n", alert_line(a), pairs(&a.labels));
        if !a.annotations.is_empty() {
            let _ = writeln!(out, "  Annotations: {}", pairs(&a.annotations));
        }
        let _ = writeln!(out, "  Started: {}", rfc3339(a.starts_at_ms));
        if let Some(end) = a.ends_at_ms {
            let _ = writeln!(out, "  Ended: {}", rfc3339(end));
        }
        if !a.generator_url.is_empty() {
            let _ = writeln!(out, "  Source: {}", a.generator_url);
        }
    }
    out
}

/// The Slack attachment text: one block per alert (status line and labels).
pub fn slack_text(n: &Notification) -> String {
    n.alerts
        .iter()
        .map(|a| format!("{}\n*Labels:* {}", alert_line(a), pairs(&a.labels)))
        .collect::<Vec<_>>()
        .join("\n\n")
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

/// The HTML body: the subject as a heading and one table row per alert.
pub fn html(n: &Notification) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><body>\n<h2>{}</h2>\n<table border=\"1\" cellpadding=\"4\">\n<tr><th>Status</th><th>Alert</th><th>Labels</th><th>Annotations</th><th>Started</th></tr>\n",
        escape_html(&subject(n))
    );
    for a in &n.alerts {
        let status = if a.is_resolved() {
            "resolved"
        } else {
            "firing"
        };
        let name = a.labels.get("alertname").map_or("", String::as_str);
        let _ = writeln!(
            out,
            "<tr><td>{status}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(name),
            escape_html(&pairs(&a.labels)),
            escape_html(&pairs(&a.annotations)),
            rfc3339(a.starts_at_ms)
        );
    }
    out.push_str("</table>\n");
    if !n.external_url.is_empty() {
        let _ = writeln!(
            out,
            "<p><a href=\"{0}\">{0}</a></p>",
            escape_html(&n.external_url)
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// Escapes `& < > " '` for HTML and XML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
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
    fn bodies_list_every_alert() {
        let n = notification(vec![alert("a", false), alert("b", true)]);
        assert_eq!(
            plain(&n),
            "[FIRING:1] Down (node page)\n\n\
             [FIRING] Down: a <down>\n  Labels: alertname=Down, instance=a, job=node, severity=page\n  Annotations: summary=a <down>\n  Started: 2023-11-14T22:13:20Z\n  Source: http://tt/graph\n\n\
             [RESOLVED] Down: b <down>\n  Labels: alertname=Down, instance=b, job=node, severity=page\n  Annotations: summary=b <down>\n  Started: 2023-11-14T22:13:20Z\n  Ended: 2023-11-14T22:14:20Z\n  Source: http://tt/graph\n"
        );
        let html = html(&n);
        assert!(html.contains("<td>firing</td><td>Down</td>"), "{html}");
        assert!(html.contains("summary=a &lt;down&gt;"), "{html}");
        assert_eq!(
            short(&n),
            "[FIRING:1] Down (node page)\n[FIRING] Down: a <down>\n[RESOLVED] Down: b <down>"
        );
    }
}
