//! [`NotificationLog`]: what each integration was last told about each alert group, and
//! the decision whether a group's current alerts need a notification (Alertmanager's
//! `DedupStage`): new firing alerts, newly resolved ones (when resolved alerts are sent),
//! all resolved, or the repeat interval passed. It is persisted, so a restart does not
//! notify again what was already delivered.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::alerting::notify::NotifyAlert;

/// How long an entry is kept after its last notification (Alertmanager's retention).
pub const RETENTION_MS: i64 = 120 * 3_600_000;

/// What to do with a group's current alerts.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Nothing changed that the receiver needs to hear.
    Skip,
    /// POST these alerts, then [`NotificationLog::record`] the group.
    Send(Vec<NotifyAlert>),
    /// Nothing to POST (only resolved alerts and the receiver does not want them), but
    /// record the group so its firing alerts are cleared from the log.
    RecordOnly,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    sent_at_ms: i64,
}

/// Per key (integration and group key), the firing and resolved alerts last delivered
/// and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationLog {
    entries: BTreeMap<String, Entry>,
}

fn split(alerts: &[NotifyAlert]) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let (mut firing, mut resolved) = (BTreeSet::new(), BTreeSet::new());
    for a in alerts {
        if a.is_resolved() {
            resolved.insert(a.fingerprint());
        } else {
            firing.insert(a.fingerprint());
        }
    }
    (firing, resolved)
}

impl NotificationLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides about `alerts`, the group's current firing and recently resolved alerts.
    pub fn plan(
        &self,
        group: &str,
        alerts: &[NotifyAlert],
        send_resolved: bool,
        now_ms: i64,
        repeat_ms: i64,
    ) -> Plan {
        if alerts.is_empty() {
            return Plan::Skip;
        }
        let (firing, resolved) = split(alerts);
        let needed = match self.entries.get(group) {
            None => !firing.is_empty(),
            Some(entry) if !firing.is_subset(&entry.firing) => true,
            // Everything resolved: tell the receiver if it was told about firing ones.
            Some(entry) if firing.is_empty() => !entry.firing.is_empty(),
            Some(entry) if send_resolved && !resolved.is_subset(&entry.resolved) => true,
            Some(entry) => now_ms - entry.sent_at_ms >= repeat_ms,
        };
        if !needed {
            return Plan::Skip;
        }
        let to_send: Vec<NotifyAlert> = alerts
            .iter()
            .filter(|a| send_resolved || !a.is_resolved())
            .cloned()
            .collect();
        if to_send.is_empty() {
            Plan::RecordOnly
        } else {
            Plan::Send(to_send)
        }
    }

    /// Records that the receiver now knows `alerts` of `group` (all of them, including
    /// resolved ones it was not sent).
    pub fn record(&mut self, group: &str, alerts: &[NotifyAlert], now_ms: i64) {
        let (firing, resolved) = split(alerts);
        self.entries.insert(
            group.to_string(),
            Entry {
                firing,
                resolved,
                sent_at_ms: now_ms,
            },
        );
    }

    /// Forgets a group that has no alerts left.
    pub fn forget(&mut self, group: &str) {
        self.entries.remove(group);
    }

    /// Forgets entries last sent more than [`RETENTION_MS`] ago; true if any was.
    pub fn gc(&mut self, now_ms: i64) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|_, e| now_ms - e.sent_at_ms < RETENTION_MS);
        before != self.entries.len()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const REPEAT: i64 = 4 * H;

    fn alert(instance: &str, resolved: bool) -> NotifyAlert {
        NotifyAlert {
            labels: [("instance".to_string(), instance.to_string())].into(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: resolved.then_some(1),
            generator_url: String::new(),
        }
    }

    fn sent(plan: Plan) -> usize {
        match plan {
            Plan::Send(a) => a.len(),
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    #[test]
    fn first_firing_is_sent_then_deduplicated_until_repeat() {
        let mut log = NotificationLog::new();
        let now = [alert("a", false)];
        assert_eq!(sent(log.plan("g", &now, true, 0, REPEAT)), 1);
        log.record("g", &now, 0);
        assert_eq!(log.plan("g", &now, true, H, REPEAT), Plan::Skip);
        assert_eq!(sent(log.plan("g", &now, true, REPEAT, REPEAT)), 1);
    }

    #[test]
    fn only_resolved_alerts_never_notified_before_are_skipped() {
        let log = NotificationLog::new();
        assert_eq!(
            log.plan("g", &[alert("a", true)], true, 0, REPEAT),
            Plan::Skip
        );
    }

    #[test]
    fn new_firing_alert_in_group_is_sent_with_the_others() {
        let mut log = NotificationLog::new();
        log.record("g", &[alert("a", false)], 0);
        let now = [alert("a", false), alert("b", false)];
        assert_eq!(sent(log.plan("g", &now, true, 1, REPEAT)), 2);
    }

    #[test]
    fn resolution_is_sent_only_when_wanted() {
        let mut log = NotificationLog::new();
        log.record("g", &[alert("a", false), alert("b", false)], 0);
        let now = [alert("a", false), alert("b", true)];
        assert_eq!(sent(log.plan("g", &now, true, 1, REPEAT)), 2);
        assert_eq!(log.plan("g", &now, false, 1, REPEAT), Plan::Skip);

        // All resolved: a resolved message, or only a log entry without send_resolved.
        let all = [alert("a", true), alert("b", true)];
        assert_eq!(sent(log.plan("g", &all, true, 1, REPEAT)), 2);
        assert_eq!(log.plan("g", &all, false, 1, REPEAT), Plan::RecordOnly);
        log.record("g", &all, 1);
        assert_eq!(log.plan("g", &all, true, 2, REPEAT), Plan::Skip);
        assert_eq!(log.plan("g", &all, true, 2 * REPEAT, REPEAT), Plan::Skip);
    }

    #[test]
    fn nothing_to_say_is_skipped_and_the_log_survives_serialization() {
        let mut log = NotificationLog::new();
        log.record("g", &[alert("a", false)], 0);
        assert_eq!(log.plan("g", &[], true, REPEAT, REPEAT), Plan::Skip);
        let json = serde_json::to_string(&log).unwrap();
        let restored: NotificationLog = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, log);
        assert_eq!(
            restored.plan("g", &[alert("a", false)], true, 1, REPEAT),
            Plan::Skip
        );
        assert!(!log.gc(RETENTION_MS - 1));
        assert!(log.gc(RETENTION_MS));
        assert!(log.is_empty());
    }

    #[test]
    fn refiring_after_resolution_is_sent_again() {
        let mut log = NotificationLog::new();
        log.record("g", &[alert("a", true)], 0);
        assert_eq!(
            sent(log.plan("g", &[alert("a", false)], true, 1, REPEAT)),
            1
        );
        log.forget("g");
        assert_eq!(
            sent(log.plan("g", &[alert("a", false)], true, 1, REPEAT)),
            1
        );
    }
}
