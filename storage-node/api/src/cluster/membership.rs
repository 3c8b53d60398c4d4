//! Planning a change of a shard's voters (pure, no I/O): the steps from the group as it
//! is to the desired voters, one member at a time.
//!
//! - Every new member comes first, one at a time: it is added as a learner, caught up
//!   (snapshot and log, openraft's blocking `add_learner`), then promoted ([`Step::Add`]).
//!   Growing before shrinking means a replacement never passes through a smaller group.
//! - Then every member to go is removed, one at a time ([`Step::Remove`]), the others
//!   before the leader: the leader goes last, and the remaining voters elect a new one.
//! - A learner that is not wanted (an add that did not finish) is dropped
//!   ([`Step::DropLearner`]) before anything else.
//! - Every voter change is a joint-consensus change from the voters before to the voters
//!   after: it commits only with a majority of both, so each step needs a majority of
//!   both sets among the replicas that answer. A plan that would need a replica that does
//!   not answer is refused as a whole ([`PlanError::NoQuorum`]) rather than stopping half
//!   way.

use std::collections::BTreeSet;
use std::fmt;

/// A replica's id inside its shard's group.
pub type NodeId = u64;

/// A shard's Raft group as its leader reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    pub leader: Option<NodeId>,
    /// Replicas that answer (members or not): only they count towards a quorum, and only
    /// they can be added.
    pub reachable: BTreeSet<NodeId>,
}

/// One change of the group's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Add the replica as a learner, wait until it has caught up, make it a voter.
    Add(NodeId),
    /// Remove a voter.
    Remove(NodeId),
    /// Remove a learner that is not wanted.
    DropLearner(NodeId),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Add(id) => write!(f, "add replica {id} (learner, catch up, promote)"),
            Step::Remove(id) => write!(f, "remove voter {id}"),
            Step::DropLearner(id) => write!(f, "drop learner {id}"),
        }
    }
}

/// Why a change cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a group needs at least one voter")]
    Empty,
    #[error("the group has no leader")]
    NoLeader,
    #[error("replica {0} does not answer; it must run before it is added")]
    Unreachable(NodeId),
    #[error(
        "`{step}` would need {needed} of the voters {voters:?} to answer but only {answering:?} do: \
         the group would lose its quorum"
    )]
    NoQuorum {
        step: String,
        voters: BTreeSet<NodeId>,
        needed: usize,
        answering: BTreeSet<NodeId>,
    },
}

/// Voters a change needs to commit in a group of `n` voters.
pub fn quorum(n: usize) -> usize {
    n / 2 + 1
}

/// The steps from `group` to exactly `desired` as voters (and no learners).
pub fn plan(group: &Group, desired: &BTreeSet<NodeId>) -> Result<Vec<Step>, PlanError> {
    if desired.is_empty() {
        return Err(PlanError::Empty);
    }
    let leader = group.leader.ok_or(PlanError::NoLeader)?;
    let mut steps: Vec<Step> = group
        .learners
        .iter()
        .filter(|id| !desired.contains(id))
        .map(|id| Step::DropLearner(*id))
        .collect();
    for id in desired.difference(&group.voters) {
        if !group.reachable.contains(id) {
            return Err(PlanError::Unreachable(*id));
        }
        steps.push(Step::Add(*id));
    }
    // The others in descending id order, the leader last.
    let mut removed: Vec<NodeId> = group.voters.difference(desired).copied().collect();
    removed.sort_by_key(|id| (*id == leader, std::cmp::Reverse(*id)));
    steps.extend(removed.into_iter().map(Step::Remove));
    let mut voters = group.voters.clone();
    for step in &steps {
        let after = apply(&voters, *step);
        for set in [&voters, &after] {
            let answering: BTreeSet<NodeId> = set.intersection(&group.reachable).copied().collect();
            if answering.len() < quorum(set.len()) {
                return Err(PlanError::NoQuorum {
                    step: step.to_string(),
                    voters: set.clone(),
                    needed: quorum(set.len()),
                    answering,
                });
            }
        }
        voters = after;
    }
    Ok(steps)
}

/// The voters after `step`.
pub fn apply(voters: &BTreeSet<NodeId>, step: Step) -> BTreeSet<NodeId> {
    let mut after = voters.clone();
    match step {
        Step::Add(id) => {
            after.insert(id);
        }
        Step::Remove(id) => {
            after.remove(&id);
        }
        Step::DropLearner(_) => {}
    }
    after
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    fn group(voters: &[NodeId], leader: NodeId, reachable: &[NodeId]) -> Group {
        Group {
            voters: set(voters),
            learners: BTreeSet::new(),
            leader: Some(leader),
            reachable: set(reachable),
        }
    }

    #[test]
    fn grows_one_learner_at_a_time() {
        let g = group(&[1, 2, 3], 1, &[1, 2, 3, 4, 5]);
        assert_eq!(
            plan(&g, &set(&[1, 2, 3, 4, 5])).unwrap(),
            [Step::Add(4), Step::Add(5)]
        );
    }

    #[test]
    fn shrinks_one_voter_at_a_time_leader_last() {
        let g = group(&[1, 2, 3, 4, 5], 4, &[1, 2, 3, 4, 5]);
        assert_eq!(
            plan(&g, &set(&[1, 2, 3])).unwrap(),
            [Step::Remove(5), Step::Remove(4)]
        );
        let g = group(&[1, 2, 3], 3, &[1, 2, 3]);
        assert_eq!(
            plan(&g, &set(&[1])).unwrap(),
            [Step::Remove(2), Step::Remove(3)]
        );
    }

    #[test]
    fn replaces_by_adding_first_and_drops_stale_learners() {
        let mut g = group(&[1, 2, 3], 2, &[1, 2, 3, 4]);
        g.learners = set(&[7]);
        assert_eq!(
            plan(&g, &set(&[1, 3, 4])).unwrap(),
            [Step::DropLearner(7), Step::Add(4), Step::Remove(2)]
        );
        // A learner that is wanted is caught up and promoted.
        g.learners = set(&[4]);
        assert_eq!(plan(&g, &set(&[1, 2, 3, 4])).unwrap(), [Step::Add(4)]);
    }

    #[test]
    fn refuses_what_would_lose_the_quorum() {
        // Two of three answer: shrinking to the dead one's partner cannot commit.
        let g = group(&[1, 2, 3], 1, &[1, 2]);
        assert!(
            plan(&g, &set(&[1, 2])).is_ok(),
            "removing the dead one is fine"
        );
        let err = plan(&g, &set(&[1, 3])).unwrap_err();
        assert!(matches!(err, PlanError::NoQuorum { .. }), "{err}");
        assert_eq!(plan(&g, &BTreeSet::new()), Err(PlanError::Empty));
        assert_eq!(
            plan(&g, &set(&[1, 2, 3, 4])),
            Err(PlanError::Unreachable(4))
        );
        let leaderless = Group {
            leader: None,
            ..g.clone()
        };
        assert_eq!(plan(&leaderless, &set(&[1])), Err(PlanError::NoLeader));
        assert!(plan(&g, &set(&[1, 2, 3])).unwrap().is_empty());
    }

    fn arb_group() -> impl Strategy<Value = (Group, BTreeSet<NodeId>)> {
        (
            prop::collection::btree_set(1u64..10, 1..7),
            prop::collection::btree_set(1u64..10, 0..3),
            prop::collection::btree_set(1u64..10, 0..10),
            prop::collection::btree_set(1u64..10, 0..7),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(voters, learners, reachable, desired, leader)| {
                let v: Vec<NodeId> = voters.iter().copied().collect();
                let leader = v[leader.index(v.len())];
                let learners = learners.difference(&voters).copied().collect();
                let mut reachable = reachable;
                reachable.insert(leader);
                (
                    Group {
                        voters,
                        learners,
                        leader: Some(leader),
                        reachable,
                    },
                    desired,
                )
            })
    }

    proptest! {
        #[test]
        fn every_plan_reaches_the_target_one_member_at_a_time_keeping_a_quorum(
            (g, desired) in arb_group()
        ) {
            let Ok(steps) = plan(&g, &desired) else { return Ok(()) };
            let mut voters = g.voters.clone();
            let mut removed_leader = false;
            for step in &steps {
                prop_assert!(!removed_leader, "nothing after the leader's removal");
                let after = apply(&voters, *step);
                prop_assert!(voters.symmetric_difference(&after).count() <= 1);
                prop_assert!(!after.is_empty());
                for s in [&voters, &after] {
                    let up = s.intersection(&g.reachable).count();
                    prop_assert!(up >= quorum(s.len()));
                }
                if *step == Step::Remove(g.leader.unwrap()) {
                    removed_leader = true;
                }
                voters = after;
            }
            prop_assert_eq!(&voters, &desired);
            // Adds never come after removals.
            let first_remove = steps.iter().position(|s| matches!(s, Step::Remove(_)));
            let last_add = steps.iter().rposition(|s| matches!(s, Step::Add(_)));
            if let (Some(r), Some(a)) = (first_remove, last_add) {
                prop_assert!(a < r);
            }
        }

        #[test]
        fn with_every_replica_answering_any_target_is_planned((g, desired) in arb_group()) {
            let all: BTreeSet<NodeId> = g.voters.union(&desired).copied().collect();
            let g = Group { reachable: all, ..g };
            prop_assert_eq!(plan(&g, &desired).is_ok(), !desired.is_empty());
        }
    }
}
