//! Notification: from the alerts of evaluated rules to webhook POSTs.
//!
//! ```text
//!  rule group task --RuleAlerts--> Dispatcher (groups by alertname, picks the receiver)
//!                                      | GroupSnapshot, try_send (never blocks evaluation)
//!                                      v
//!                         one WebhookWorker task per webhook of the receiver:
//!                         NotificationLog decides (new firing / resolved / repeat),
//!                         POST with retries, records what was delivered
//! ```

pub mod dedup;
pub mod dispatch;
pub mod payload;
pub mod webhook;

use crate::labels::{LabelSet, fingerprint};
use crate::state::{Alert, AlertState};

/// An alert as it is notified: firing (`ends_at_ms` unset) or resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifyAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at_ms: i64,
    /// When it resolved; `None` while it fires.
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

    pub fn is_resolved(&self) -> bool {
        self.ends_at_ms.is_some()
    }

    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }
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

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
    }
}
