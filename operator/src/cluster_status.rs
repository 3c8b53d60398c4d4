//! A MetricCluster's status, decided from what its workloads report (no I/O): the
//! `Available`, `Progressing` and `Degraded` conditions, the phase and the `Ready` column.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use telltale_crds::ResourceStatus;
use telltale_crds::status::ShardStatus;
use telltale_crds::status::condition::{
    ACCEPTED, AVAILABLE, DEGRADED, NO_QUORUM, PROGRESSING, UNDER_REPLICATED,
};

use crate::membership::{under_replicated, without_quorum};

use crate::naming::{Component, quorum};

/// One workload (a storage shard's StatefulSet, the scraper StatefulSet, a Deployment)
/// as its status reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadView {
    pub component: Component,
    pub shard: Option<u32>,
    pub desired: u32,
    pub ready: u32,
    /// Pods made from the current template.
    pub updated: u32,
}

impl WorkloadView {
    fn label(&self) -> String {
        match self.shard {
            Some(s) => format!("storage shard {s}"),
            None => self.component.as_str().to_string(),
        }
    }

    /// A shard keeps a quorum; any other component has at least one ready pod.
    fn serving(&self) -> bool {
        match self.component {
            Component::Storage => self.ready >= quorum(self.desired),
            _ => self.ready >= 1,
        }
    }
}

/// What the reconciler saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub generation: Option<i64>,
    pub workloads: Vec<WorkloadView>,
    /// Why the storage rollout is waiting or which pod it replaced, while one is going on.
    pub rollout: Option<String>,
    /// The membership change going on (or waiting), while a shard's voters are not
    /// `replicasPerShard`.
    pub membership: Option<String>,
    /// Every shard's Raft group (empty when no storage pod answered yet).
    pub shards: Vec<ShardStatus>,
    /// `spec.replicasPerShard`.
    pub replicas_per_shard: u32,
}

/// Phases a valid MetricCluster goes through.
pub mod phase {
    pub const PROGRESSING: &str = "Progressing";
    pub const AVAILABLE: &str = "Available";
    pub const DEGRADED: &str = "Degraded";
}

/// A condition of `type_`, keeping the previous transition time when the status did not
/// change.
pub fn condition(
    previous: &ResourceStatus,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = previous
        .condition(type_)
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The status of a valid MetricCluster.
pub fn decide(observed: &Observed, previous: &ResourceStatus, now: &Time) -> ResourceStatus {
    let g = observed.generation;
    let desired: u32 = observed.workloads.iter().map(|w| w.desired).sum();
    let ready: u32 = observed
        .workloads
        .iter()
        .map(|w| w.ready.min(w.desired))
        .sum();
    let not_serving: Vec<String> = observed
        .workloads
        .iter()
        .filter(|w| !w.serving())
        .map(WorkloadView::label)
        .collect();
    let converging: Vec<String> = observed
        .workloads
        .iter()
        .filter(|w| w.ready < w.desired || w.updated < w.desired)
        .map(|w| format!("{} {}/{} ready", w.label(), w.ready, w.desired))
        .collect();
    let available = not_serving.is_empty() && !observed.workloads.is_empty();
    let was_up = [AVAILABLE, DEGRADED]
        .iter()
        .any(|t| previous.condition(t).is_some_and(|c| c.status == "True"));
    let degraded = !available && was_up;
    let progressing =
        !converging.is_empty() || observed.rollout.is_some() || observed.membership.is_some();

    let available_c = if available {
        condition(
            previous,
            AVAILABLE,
            true,
            "QuorumAvailable",
            "every shard has a quorum and every component a ready pod".into(),
            g,
            now,
        )
    } else {
        condition(
            previous,
            AVAILABLE,
            false,
            "NotServing",
            format!("not serving: {}", not_serving.join(", ")),
            g,
            now,
        )
    };
    let progressing_c = match (&observed.rollout, progressing) {
        (None, _) if observed.membership.is_some() => condition(
            previous,
            PROGRESSING,
            true,
            "MembershipChange",
            observed.membership.clone().unwrap_or_default(),
            g,
            now,
        ),
        (Some(r), _) => condition(
            previous,
            PROGRESSING,
            true,
            "RollingUpdate",
            r.clone(),
            g,
            now,
        ),
        (None, true) => condition(
            previous,
            PROGRESSING,
            true,
            if was_up { "Scaling" } else { "Creating" },
            converging.join(", "),
            g,
            now,
        ),
        (None, false) => condition(
            previous,
            PROGRESSING,
            false,
            "Reconciled",
            "every pod runs the current spec and is ready".into(),
            g,
            now,
        ),
    };
    let degraded_c = if degraded {
        condition(
            previous,
            DEGRADED,
            true,
            "QuorumLost",
            format!("not serving: {}", not_serving.join(", ")),
            g,
            now,
        )
    } else {
        condition(previous, DEGRADED, false, "Healthy", String::new(), g, now)
    };
    let accepted_c = condition(previous, ACCEPTED, true, "Valid", String::new(), g, now);
    let under: Vec<String> = observed
        .shards
        .iter()
        .filter_map(|s| under_replicated(s, observed.replicas_per_shard))
        .collect();
    let no_quorum: Vec<String> = observed.shards.iter().filter_map(without_quorum).collect();
    let (unknown, answered) = (observed.shards.is_empty(), "every shard answered");
    let under_c = if under.is_empty() && !unknown {
        condition(
            previous,
            UNDER_REPLICATED,
            false,
            "FullyReplicated",
            format!("{answered} with {} voters", observed.replicas_per_shard),
            g,
            now,
        )
    } else {
        let message = if unknown {
            "no storage replica answered yet".to_string()
        } else {
            under.join("; ")
        };
        condition(
            previous,
            UNDER_REPLICATED,
            true,
            "UnderReplicated",
            message,
            g,
            now,
        )
    };
    let quorum_c = if no_quorum.is_empty() && !unknown {
        condition(
            previous,
            NO_QUORUM,
            false,
            "QuorumAvailable",
            String::new(),
            g,
            now,
        )
    } else {
        let message = if unknown {
            "no storage replica answered yet".to_string()
        } else {
            no_quorum.join("; ")
        };
        condition(previous, NO_QUORUM, true, "NoQuorum", message, g, now)
    };
    let phase = if degraded {
        phase::DEGRADED
    } else if progressing || !available {
        phase::PROGRESSING
    } else {
        phase::AVAILABLE
    };
    ResourceStatus {
        phase: Some(phase.into()),
        message: None,
        observed_generation: g,
        ready: Some(format!("{ready}/{desired}")),
        conditions: vec![
            accepted_c,
            available_c,
            progressing_c,
            degraded_c,
            under_c,
            quorum_c,
        ],
        shards: observed.shards.clone(),
        // The controller records a backup it ran over this.
        backup: previous.backup.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn now(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn cluster(shard_ready: u32, others_ready: u32, updated: u32) -> Observed {
        let w = |component, shard, desired: u32, ready: u32| WorkloadView {
            component,
            shard,
            desired,
            ready,
            updated: updated.min(desired),
        };
        Observed {
            generation: Some(2),
            workloads: vec![
                w(Component::Storage, Some(0), 3, shard_ready),
                w(Component::Scraper, None, 2, others_ready.min(2)),
                w(Component::Query, None, 1, others_ready.min(1)),
                w(Component::Alertmanager, None, 1, others_ready.min(1)),
            ],
            rollout: None,
            membership: None,
            shards: Vec::new(),
            replicas_per_shard: 3,
        }
    }

    fn status(s: &ResourceStatus, t: &str) -> String {
        s.condition(t).unwrap().status.clone()
    }

    #[test]
    fn conditions_follow_pod_readiness() {
        let none = ResourceStatus::default();
        let creating = decide(&cluster(0, 0, 3), &none, &now(1));
        assert_eq!(creating.phase.as_deref(), Some("Progressing"));
        assert_eq!(status(&creating, AVAILABLE), "False");
        assert_eq!(
            status(&creating, DEGRADED),
            "False",
            "creation is not degradation"
        );
        assert_eq!(creating.condition(PROGRESSING).unwrap().reason, "Creating");
        assert_eq!(creating.ready.as_deref(), Some("0/7"));

        let up = decide(&cluster(3, 2, 3), &creating, &now(2));
        assert_eq!(up.phase.as_deref(), Some("Available"));
        assert_eq!(status(&up, AVAILABLE), "True");
        assert_eq!(status(&up, PROGRESSING), "False");
        assert_eq!(up.ready.as_deref(), Some("7/7"));
        assert_eq!(up.observed_generation, Some(2));
        assert_eq!(
            up.condition(AVAILABLE).unwrap().last_transition_time,
            now(2)
        );

        // One storage pod down: still a quorum, so still available, but progressing.
        let one_down = decide(&cluster(2, 2, 3), &up, &now(3));
        assert_eq!(status(&one_down, AVAILABLE), "True");
        assert_eq!(one_down.phase.as_deref(), Some("Progressing"));
        assert_eq!(
            one_down.condition(AVAILABLE).unwrap().last_transition_time,
            now(2),
            "an unchanged condition keeps its transition time"
        );

        // Quorum lost after having been up: degraded.
        let lost = decide(&cluster(1, 2, 3), &one_down, &now(4));
        assert_eq!(lost.phase.as_deref(), Some("Degraded"));
        assert_eq!(status(&lost, DEGRADED), "True");
        assert!(
            lost.condition(DEGRADED)
                .unwrap()
                .message
                .contains("storage shard 0")
        );

        let back = decide(&cluster(3, 2, 3), &lost, &now(5));
        assert_eq!(back.phase.as_deref(), Some("Available"));
        assert_eq!(status(&back, DEGRADED), "False");
    }

    #[test]
    fn a_rollout_is_progressing() {
        let mut o = cluster(3, 2, 3);
        o.rollout = Some("replaced pod mc-storage-0-2".into());
        let s = decide(&o, &ResourceStatus::default(), &now(1));
        assert_eq!(s.condition(PROGRESSING).unwrap().reason, "RollingUpdate");
        assert_eq!(s.phase.as_deref(), Some("Progressing"));
        // Outdated pods alone are progress too.
        let s = decide(&cluster(3, 2, 1), &ResourceStatus::default(), &now(1));
        assert_eq!(status(&s, PROGRESSING), "True");
    }
}
