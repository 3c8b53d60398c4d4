//! The storage rollout: which pod to replace next, decided from what the StatefulSets
//! and pods say (no I/O). Storage StatefulSets use `OnDelete`, so a pod gets the new
//! template only when the operator deletes it; the operator deletes one pod at a time,
//! and only when every storage pod of the cluster is ready (so the previous one has
//! rejoined its Raft group and every shard keeps its quorum).

/// What the rollout needs to know about one storage pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub ordinal: u32,
    /// The StatefulSet revision the pod was made from (`controller-revision-hash`).
    pub revision: Option<String>,
    pub ready: bool,
    pub terminating: bool,
}

/// One shard's StatefulSet and its pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardView {
    pub shard: u32,
    /// `spec.replicas`.
    pub desired: u32,
    /// `status.updateRevision`: the revision of the current template.
    pub update_revision: Option<String>,
    pub pods: Vec<PodView>,
}

impl ShardView {
    /// Pods not yet made from the current template.
    fn outdated(&self) -> impl Iterator<Item = &PodView> {
        self.pods.iter().filter(move |p| {
            !p.terminating && self.update_revision.is_some() && p.revision != self.update_revision
        })
    }

    /// Why this shard is not fully ready, if it is not.
    fn unsettled(&self) -> Option<String> {
        if let Some(p) = self.pods.iter().find(|p| p.terminating) {
            return Some(format!("pod {} is terminating", p.name));
        }
        if (self.pods.len() as u32) < self.desired {
            return Some(format!(
                "shard {} has {} of {} pods",
                self.shard,
                self.pods.len(),
                self.desired
            ));
        }
        self.pods
            .iter()
            .find(|p| !p.ready)
            .map(|p| format!("pod {} is not ready", p.name))
    }
}

/// The next step of the rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Every pod runs the current template.
    Done,
    /// Pods are outdated but one must become ready first.
    Wait { reason: String },
    /// Delete this pod (its StatefulSet recreates it from the current template).
    Delete { shard: u32, pod: String },
}

/// Decides the next step over every shard of a cluster:
/// 1. an outdated pod that is not ready holds no quorum: replace it at once;
/// 2. otherwise wait until every storage pod of the cluster is ready;
/// 3. then replace the outdated pod with the highest ordinal of the first shard that has one.
pub fn next_step(shards: &[ShardView]) -> Step {
    let mut any_outdated = false;
    for shard in shards {
        for p in shard.outdated() {
            any_outdated = true;
            if !p.ready {
                return Step::Delete {
                    shard: shard.shard,
                    pod: p.name.clone(),
                };
            }
        }
    }
    if !any_outdated {
        return Step::Done;
    }
    if let Some(reason) = shards.iter().find_map(ShardView::unsettled) {
        return Step::Wait { reason };
    }
    for shard in shards {
        if let Some(p) = shard.outdated().max_by_key(|p| p.ordinal) {
            return Step::Delete {
                shard: shard.shard,
                pod: p.name.clone(),
            };
        }
    }
    Step::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(shard: u32, ordinal: u32, rev: &str, ready: bool) -> PodView {
        PodView {
            name: format!("mc-storage-{shard}-{ordinal}"),
            ordinal,
            revision: Some(rev.into()),
            ready,
            terminating: false,
        }
    }

    fn shard(shard: u32, pods: Vec<PodView>) -> ShardView {
        ShardView {
            shard,
            desired: 3,
            update_revision: Some("new".into()),
            pods,
        }
    }

    /// Plays the rollout: after each deletion the pod comes back on the new revision,
    /// first not ready, then ready. Returns the deleted pods in order.
    fn play(mut shards: Vec<ShardView>) -> Vec<String> {
        let mut order = Vec::new();
        for _ in 0..50 {
            match next_step(&shards) {
                Step::Done => return order,
                Step::Wait { .. } => {
                    // The pod that came back becomes ready.
                    for s in &mut shards {
                        for p in &mut s.pods {
                            p.ready = true;
                        }
                    }
                }
                Step::Delete {
                    shard: sh,
                    pod: name,
                } => {
                    // Nothing else may be deleted while that pod is down.
                    let s = shards.iter_mut().find(|s| s.shard == sh).unwrap();
                    let p = s.pods.iter_mut().find(|p| p.name == name).unwrap();
                    p.revision = Some("new".into());
                    p.ready = false;
                    order.push(name);
                }
            }
        }
        panic!("rollout did not finish: {order:?}");
    }

    #[test]
    fn rolls_one_pod_at_a_time_highest_ordinal_first() {
        let shards = vec![
            shard(0, (0..3).map(|i| pod(0, i, "old", true)).collect()),
            shard(1, (0..3).map(|i| pod(1, i, "old", true)).collect()),
        ];
        assert_eq!(
            play(shards),
            [
                "mc-storage-0-2",
                "mc-storage-0-1",
                "mc-storage-0-0",
                "mc-storage-1-2",
                "mc-storage-1-1",
                "mc-storage-1-0"
            ]
        );
    }

    #[test]
    fn waits_for_the_previous_pod_to_be_ready() {
        let shards = vec![shard(
            0,
            vec![
                pod(0, 0, "old", true),
                pod(0, 1, "old", true),
                pod(0, 2, "new", false),
            ],
        )];
        assert_eq!(
            next_step(&shards),
            Step::Wait {
                reason: "pod mc-storage-0-2 is not ready".into()
            }
        );
        // A not-ready pod elsewhere in the cluster holds the rollout too.
        let shards = vec![
            shard(0, (0..3).map(|i| pod(0, i, "old", true)).collect()),
            shard(
                1,
                vec![
                    pod(1, 0, "new", true),
                    pod(1, 1, "new", false),
                    pod(1, 2, "new", true),
                ],
            ),
        ];
        assert!(matches!(next_step(&shards), Step::Wait { .. }));
    }

    #[test]
    fn a_missing_or_terminating_pod_holds_the_rollout() {
        let shards = vec![shard(
            0,
            vec![pod(0, 0, "old", true), pod(0, 1, "old", true)],
        )];
        assert!(matches!(next_step(&shards), Step::Wait { reason } if reason.contains("2 of 3")));
        let mut p = pod(0, 2, "new", true);
        p.terminating = true;
        let shards = vec![shard(
            0,
            vec![pod(0, 0, "old", true), pod(0, 1, "old", true), p],
        )];
        assert!(
            matches!(next_step(&shards), Step::Wait { reason } if reason.contains("terminating"))
        );
    }

    #[test]
    fn an_outdated_unready_pod_is_replaced_first() {
        let shards = vec![shard(
            0,
            vec![
                pod(0, 0, "old", false),
                pod(0, 1, "old", true),
                pod(0, 2, "old", true),
            ],
        )];
        assert_eq!(
            next_step(&shards),
            Step::Delete {
                shard: 0,
                pod: "mc-storage-0-0".into()
            }
        );
    }

    #[test]
    fn up_to_date_or_unknown_revision_is_done() {
        let shards = vec![shard(0, (0..3).map(|i| pod(0, i, "new", i != 1)).collect())];
        assert_eq!(next_step(&shards), Step::Done);
        let mut s = shard(0, (0..3).map(|i| pod(0, i, "old", true)).collect());
        s.update_revision = None;
        assert_eq!(next_step(&[s]), Step::Done);
    }
}
