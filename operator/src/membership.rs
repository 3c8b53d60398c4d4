//! Raft membership that follows `spec.replicasPerShard`, one replica at a time.
//!
//! ```text
//!  storage pods ──probe (gRPC Status at each pod's IP)──> ShardGroup, per shard
//!     ShardGroup ──layout() (pure)──> StatefulSet replicas, PDB minAvailable
//!     ShardGroup ──next() (pure)────> the next step, taken through
//!                  telltale_storage_api::cluster::reconcile::change_voters (1 step)
//!     ShardGroup ──status() (pure)──> status.shards
//! ```
//!
//! Every storage pod carries the address of every replica its shard can have
//! (`--peers`, ids 1..=9) and the number of replicas the group was created with
//! (`--initial-voters`), so neither depends on `replicasPerShard` and a change of it
//! restarts nothing. Growing: the StatefulSet gets the new pods first; once a new pod is
//! ready, its replica is added as a learner, caught up (snapshot and log) and promoted.
//! Shrinking: the replicas above the wanted count leave the group one at a time (the
//! leader last, never below quorum), and only then does the StatefulSet lose their pods
//! (whose claims it deletes: `whenScaled: Delete`, so a later grow starts them empty).
//! The PodDisruptionBudget keeps the quorum of the voters as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use telltale_crds::status::{MemberStatus, ShardStatus};
use telltale_storage_api::cluster::membership::{Group, PlanError, Step, plan};
use telltale_storage_api::cluster::reconcile::{self, ChangeError, ChangeOptions, Changed};
use telltale_storage_api::raft_pb::StatusResponse;
use telltale_storage_api::tls::ClientTls;

use crate::naming::{Names, STORAGE_GRPC_PORT, pod_ordinal, quorum};
use crate::observe::pod_ready;

/// How long a replica may take to answer a status call.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// One storage pod of a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaPod {
    pub name: String,
    pub ip: Option<String>,
    pub ready: bool,
}

/// A shard's replicas: their pods and what each answered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardGroup {
    pub shard: u32,
    /// Replica id (ordinal + 1) -> its pod.
    pub pods: BTreeMap<u64, ReplicaPod>,
    /// Replica id -> its Raft status (absent: no answer).
    pub answers: BTreeMap<u64, StatusResponse>,
}

/// What the workloads of a shard should be, given its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// StatefulSet `replicas`: the wanted count, or more while members above it are
    /// still to leave.
    pub replicas: u32,
    /// PodDisruptionBudget `minAvailable`: the quorum of the voters.
    pub min_available: u32,
}

/// What to do next to a shard's group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// The voters are the wanted replicas.
    Done,
    /// Nothing can be done now; why.
    Wait(String),
    /// Take this step.
    Take(Step),
}

impl ShardGroup {
    /// The gRPC address of the replica that says it leads, if one does.
    pub fn leader_address(&self) -> Option<String> {
        let (id, _) = self.answers.iter().find(|(_, s)| s.role == "leader")?;
        pod_address(self.pods.get(id)?)
    }

    /// The leader of the highest term, as the replicas answer.
    pub fn leader(&self) -> Option<&StatusResponse> {
        self.answers
            .values()
            .filter(|s| s.role == "leader")
            .max_by_key(|s| s.term)
    }

    fn group(&self) -> Option<Group> {
        let l = self.leader()?;
        Some(Group {
            voters: l.voters.iter().map(|m| m.id).collect(),
            learners: l.learners.iter().map(|m| m.id).collect(),
            leader: Some(l.id),
            reachable: self.answers.keys().copied().collect(),
        })
    }

    /// The workloads of this shard for `desired` voters; `current` is the StatefulSet's
    /// `replicas` now (kept while the group cannot be read, so nothing shrinks blind).
    pub fn layout(&self, desired: u32, current: Option<u32>) -> Layout {
        match self.group() {
            Some(g) => {
                let highest = g.voters.iter().chain(&g.learners).max().copied();
                Layout {
                    replicas: desired.max(highest.unwrap_or(0) as u32),
                    min_available: quorum(g.voters.len() as u32),
                }
            }
            None => {
                let replicas = desired.max(current.unwrap_or(0));
                Layout {
                    replicas,
                    min_available: quorum(replicas),
                }
            }
        }
    }

    /// The next step towards the replicas `1..=desired` as voters. A replica is added
    /// only once its pod is ready.
    pub fn next(&self, desired: u32) -> Next {
        let Some(group) = self.group() else {
            return Next::Wait(if self.answers.is_empty() {
                "no replica answers".into()
            } else {
                "the group has no leader".into()
            });
        };
        let wanted: BTreeSet<u64> = (1..=u64::from(desired)).collect();
        let not_ready = wanted
            .difference(&group.voters)
            .find(|id| !self.pods.get(id).is_some_and(|p| p.ready));
        if let Some(id) = not_ready {
            return Next::Wait(format!(
                "replica {id} (pod ordinal {}) is not ready to join",
                id - 1
            ));
        }
        match plan(&group, &wanted) {
            Ok(steps) => steps.first().map_or(Next::Done, |s| Next::Take(*s)),
            Err(e) => Next::Wait(e.to_string()),
        }
    }

    /// The shard's entry of `status.shards`.
    pub fn status(&self) -> ShardStatus {
        let leader = self.leader();
        let voters: Vec<u64> = leader
            .map(|l| l.voters.iter().map(|m| m.id).collect())
            .unwrap_or_default();
        let learners: Vec<u64> = leader
            .map(|l| l.learners.iter().map(|m| m.id).collect())
            .unwrap_or_default();
        let ids: BTreeSet<u64> = voters
            .iter()
            .chain(&learners)
            .chain(self.pods.keys())
            .copied()
            .collect();
        let members = ids
            .into_iter()
            .map(|id| {
                let member = voters.contains(&id) || learners.contains(&id);
                let role = match self.answers.get(&id) {
                    None => "unreachable".to_string(),
                    Some(_) if leader.is_some() && !member => "removed".to_string(),
                    Some(s) => s.role.clone(),
                };
                let lag = leader.and_then(|l| {
                    let matched = l.matched.get(&id)?;
                    Some(l.last_log_index.saturating_sub(*matched))
                });
                MemberStatus {
                    id,
                    pod: self
                        .pods
                        .get(&id)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                    role,
                    lag: if member { lag } else { None },
                }
            })
            .collect();
        ShardStatus {
            shard: self.shard,
            leader: leader.map(|l| l.id),
            leader_pod: leader.and_then(|l| self.pods.get(&l.id).map(|p| p.name.clone())),
            term: self.answers.values().map(|s| s.term).max().unwrap_or(0),
            commit_index: leader.map_or(0, |l| l.commit_index),
            voters,
            learners,
            members,
        }
    }
}

/// Why a shard is under-replicated for `desired` voters, if it is.
pub fn under_replicated(s: &ShardStatus, desired: u32) -> Option<String> {
    if s.leader.is_none() {
        return Some(format!("shard {}: no leader", s.shard));
    }
    let down: Vec<u64> = s
        .members
        .iter()
        .filter(|m| s.voters.contains(&m.id) && m.role == "unreachable")
        .map(|m| m.id)
        .collect();
    if (s.voters.len() as u32) < desired || !down.is_empty() {
        return Some(format!(
            "shard {}: {} of {desired} voters{}",
            s.shard,
            s.voters.len() - down.len(),
            if down.is_empty() {
                String::new()
            } else {
                format!(" answer (down: {down:?})")
            }
        ));
    }
    None
}

/// Why a shard has no quorum, if it has none.
pub fn without_quorum(s: &ShardStatus) -> Option<String> {
    if s.leader.is_none() {
        return Some(format!("shard {}: no leader", s.shard));
    }
    let answering = s
        .members
        .iter()
        .filter(|m| s.voters.contains(&m.id) && m.role != "unreachable")
        .count() as u32;
    let needed = quorum(s.voters.len() as u32);
    (answering < needed).then(|| {
        format!(
            "shard {}: {answering} of {} voters answer, {needed} needed",
            s.shard,
            s.voters.len()
        )
    })
}

/// The gRPC address a pod is reached at (its IP; the operator need not resolve the
/// cluster's DNS names).
fn pod_address(p: &ReplicaPod) -> Option<String> {
    p.ip.as_ref().map(|ip| format!("{ip}:{STORAGE_GRPC_PORT}"))
}

/// The storage pods of `shard` (by replica id) and what each answers.
/// `tls`: the operator's identity for the cluster (`None`: plain gRPC).
pub async fn probe(shard: u32, pods: &[Pod], tls: Option<&Arc<ClientTls>>) -> ShardGroup {
    let pods: BTreeMap<u64, ReplicaPod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            let ordinal = pod_ordinal(&p.name_any())?;
            let pod = ReplicaPod {
                name: p.name_any(),
                ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
                ready: pod_ready(p),
            };
            Some((u64::from(ordinal) + 1, pod))
        })
        .collect();
    let asks = pods.iter().filter_map(|(id, p)| {
        let address = pod_address(p)?;
        Some(async move {
            let status = reconcile::status_with(&address, PROBE_TIMEOUT, tls).await;
            (*id, status)
        })
    });
    let answers = futures::future::join_all(asks)
        .await
        .into_iter()
        // A replica answering under another id is not this pod's.
        .filter_map(|(id, s)| s.filter(|s| s.id == id).map(|s| (id, s)))
        .collect();
    ShardGroup {
        shard,
        pods,
        answers,
    }
}

/// Takes one step towards the replicas `1..=desired` of `group` as voters.
pub async fn step(
    names: &Names,
    group: &ShardGroup,
    desired: u32,
    tls: Option<Arc<ClientTls>>,
) -> Result<Changed, ChangeError> {
    let replicas: BTreeMap<u64, String> = group
        .pods
        .iter()
        .filter_map(|(id, p)| Some((*id, pod_address(p)?)))
        .collect();
    let advertised = (1..=u64::from(telltale_crds::MAX_REPLICAS_PER_SHARD))
        .map(|id| (id, names.storage_address(group.shard, (id - 1) as u32)))
        .collect();
    let wanted: BTreeSet<u64> = (1..=u64::from(desired)).collect();
    if let Some(id) = wanted.iter().find(|id| !replicas.contains_key(id)) {
        return Err(PlanError::Unreachable(*id).into());
    }
    let opts = ChangeOptions {
        step_timeout: Duration::from_secs(60),
        max_steps: Some(1),
        advertised,
        tls,
        ..ChangeOptions::default()
    };
    reconcile::change_voters(&replicas, &wanted, &opts).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_storage_api::raft_pb::Member;

    fn member(id: u64) -> Member {
        Member {
            id,
            address: format!("r{id}"),
        }
    }

    fn answer(id: u64, role: &str, voters: &[u64], learners: &[u64]) -> StatusResponse {
        StatusResponse {
            id,
            role: role.into(),
            term: 3,
            initialized: true,
            voters: voters.iter().copied().map(member).collect(),
            learners: learners.iter().copied().map(member).collect(),
            last_log_index: 100,
            commit_index: 100,
            matched: voters.iter().map(|v| (*v, 100 - *v)).collect(),
            ..StatusResponse::default()
        }
    }

    /// Pods `1..=pods` (all ready), answers from `answering` with `voters`, led by 1.
    fn shard(pods: u64, answering: &[u64], voters: &[u64], learners: &[u64]) -> ShardGroup {
        ShardGroup {
            shard: 0,
            pods: (1..=pods)
                .map(|id| {
                    (
                        id,
                        ReplicaPod {
                            name: format!("mc-storage-0-{}", id - 1),
                            ip: Some(format!("10.0.0.{id}")),
                            ready: true,
                        },
                    )
                })
                .collect(),
            answers: answering
                .iter()
                .map(|id| {
                    let role = if *id == 1 { "leader" } else { "follower" };
                    (*id, answer(*id, role, voters, learners))
                })
                .collect(),
        }
    }

    #[test]
    fn growing_adds_ready_replicas_one_at_a_time() {
        let g = shard(5, &[1, 2, 3, 4, 5], &[1, 2, 3], &[]);
        assert_eq!(g.next(5), Next::Take(Step::Add(4)));
        assert_eq!(g.layout(5, Some(5)).replicas, 5);
        assert_eq!(
            g.layout(5, Some(5)).min_available,
            2,
            "quorum of the 3 voters"
        );
        let mut waiting = g.clone();
        waiting.pods.get_mut(&5).unwrap().ready = false;
        assert!(
            matches!(waiting.next(5), Next::Wait(why) if why.contains("replica 5")),
            "a replica joins only once its pod is ready"
        );
    }

    #[test]
    fn shrinking_keeps_pods_until_their_replicas_left() {
        let g = shard(5, &[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5], &[]);
        assert_eq!(g.next(3), Next::Take(Step::Remove(5)));
        assert_eq!(g.layout(3, Some(5)).replicas, 5, "5 is still a voter");
        let g = shard(5, &[1, 2, 3, 4, 5], &[1, 2, 3], &[]);
        assert_eq!(g.next(3), Next::Done);
        assert_eq!(g.layout(3, Some(5)).replicas, 3);
        // The leader leaves last.
        let g = shard(3, &[1, 2, 3], &[1, 2, 3], &[]);
        assert_eq!(g.next(1), Next::Take(Step::Remove(3)));
        let g = shard(3, &[1, 2, 3], &[1, 2], &[]);
        assert_eq!(g.next(1), Next::Take(Step::Remove(2)));
    }

    #[test]
    fn nothing_shrinks_blind() {
        let g = shard(5, &[], &[], &[]);
        assert_eq!(g.layout(3, Some(5)).replicas, 5);
        assert!(matches!(g.next(3), Next::Wait(_)));
        // A shrink that would need a replica that is down is refused.
        let g = shard(3, &[1], &[1, 2, 3], &[]);
        assert!(matches!(g.next(1), Next::Wait(why) if why.contains("quorum")));
    }

    #[test]
    fn status_lists_members_roles_and_lag() {
        let g = shard(4, &[1, 2, 4], &[1, 2, 3], &[4]);
        let s = g.status();
        assert_eq!(s.leader, Some(1));
        assert_eq!(s.leader_pod.as_deref(), Some("mc-storage-0-0"));
        assert_eq!(s.voters, vec![1, 2, 3]);
        assert_eq!(s.learners, vec![4]);
        let roles: Vec<(&str, Option<u64>)> =
            s.members.iter().map(|m| (m.role.as_str(), m.lag)).collect();
        assert_eq!(
            roles,
            vec![
                ("leader", Some(1)),
                ("follower", Some(2)),
                ("unreachable", Some(3)),
                ("follower", None),
            ]
        );
        assert_eq!(
            under_replicated(&s, 3).as_deref(),
            Some("shard 0: 2 of 3 voters answer (down: [3])")
        );
        assert_eq!(without_quorum(&s), None);
        let lost = shard(3, &[1], &[1, 2, 3], &[]).status();
        assert_eq!(
            without_quorum(&lost).as_deref(),
            Some("shard 0: 1 of 3 voters answer, 2 needed")
        );
    }
}
