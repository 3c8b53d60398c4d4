//! Which scraper replica scrapes which target: rendezvous (highest random weight)
//! hashing over the live member set, and [`Membership`], how a [`crate::ScrapeManager`]
//! learns that set. The assignment is pure.
//!
//! Every member scores every target with a fixed seeded hash of (member name, target
//! identity); the highest score owns the target. So each target has exactly one owner,
//! owners spread evenly, and when a member leaves only its targets move (each to its
//! second-best member), when one joins only the targets it now wins (about 1/N) move.

use tokio::sync::watch;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The seed of [`score`]. Changing it reassigns every target: keep it.
pub const ASSIGNMENT_SEED: u64 = 0x5c4a_9e01_7e11_7a1e;

/// How a scraper replica knows its peers: its own name and the live member set (names
/// such as `telltale-scraper-0`), which whoever watches the cluster keeps up to date.
#[derive(Clone, Debug)]
pub struct Membership {
    /// This replica's name, as it appears in the member set.
    pub self_name: String,
    /// The live members. A replica absent from its own set scrapes nothing.
    pub members: watch::Receiver<Vec<String>>,
}

impl Membership {
    /// A membership and the sender that updates its member set.
    pub fn new(
        self_name: impl Into<String>,
        members: Vec<String>,
    ) -> (Membership, watch::Sender<Vec<String>>) {
        let (tx, rx) = watch::channel(members);
        (
            Membership {
                self_name: self_name.into(),
                members: rx,
            },
            tx,
        )
    }

    /// Whether this replica owns the target of `identity` in the current member set.
    pub fn owns(&self, identity: u64) -> bool {
        owner(&self.members.borrow(), identity) == Some(self.self_name.as_str())
    }
}

/// The member set of a StatefulSet of `replicas` pods whose names share the prefix of
/// `self_name` (`telltale-scraper-2` with 3 replicas: `telltale-scraper-0..2`); `None`
/// when `self_name` does not end in `-<ordinal>`.
pub fn stateful_set_members(self_name: &str, replicas: u32) -> Option<Vec<String>> {
    let (prefix, ordinal) = self_name.rsplit_once('-')?;
    if prefix.is_empty() || ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((0..replicas).map(|i| format!("{prefix}-{i}")).collect())
}

/// The weight of `member` for the target of `identity` (XXH3, [`ASSIGNMENT_SEED`]).
pub fn score(member: &str, identity: u64) -> u64 {
    let mut bytes = Vec::with_capacity(member.len() + 9);
    bytes.extend_from_slice(member.as_bytes());
    bytes.push(0xff);
    bytes.extend_from_slice(&identity.to_le_bytes());
    xxh3_64_with_seed(&bytes, ASSIGNMENT_SEED)
}

/// The member owning the target of `identity`: the highest score, ties to the smaller
/// name; `None` for an empty set. Duplicate names count once.
pub fn owner(members: &[String], identity: u64) -> Option<&str> {
    members
        .iter()
        .map(|m| (score(m, identity), m.as_str()))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::pull::target::test_target;

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("telltale-scraper-{i}")).collect()
    }

    /// Identities of 300 realistic targets.
    fn identities() -> Vec<u64> {
        (0..300)
            .map(|i| {
                test_target(
                    &format!("10.0.{}.{}:9100", i / 250, i % 250),
                    Duration::from_secs(15),
                )
                .identity_hash()
            })
            .collect()
    }

    fn assign(members: &[String], ids: &[u64]) -> Vec<String> {
        ids.iter()
            .map(|id| owner(members, *id).expect("members").to_string())
            .collect()
    }

    #[test]
    fn every_target_has_one_owner_and_shares_are_even() {
        let m = members(3);
        let ids = identities();
        let owners = assign(&m, &ids);
        assert_eq!(owners.len(), 300);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for o in &owners {
            *counts.entry(o.as_str()).or_default() += 1;
        }
        assert_eq!(counts.len(), 3);
        for (member, n) in counts {
            assert!((85..=115).contains(&n), "{member} owns {n} of 300");
        }
        // Order of the member list does not matter.
        let mut reversed = m.clone();
        reversed.reverse();
        assert_eq!(assign(&reversed, &ids), owners);
    }

    #[test]
    fn removing_a_member_moves_only_its_targets() {
        let m = members(3);
        let ids = identities();
        let before = assign(&m, &ids);
        let after = assign(&m[..2], &ids);
        for (b, a) in before.iter().zip(&after) {
            if b != "telltale-scraper-2" {
                assert_eq!(a, b, "a target of a surviving member moved");
            } else {
                assert_ne!(a, "telltale-scraper-2");
            }
        }
    }

    #[test]
    fn adding_a_member_moves_about_one_in_n() {
        let ids = identities();
        let before = assign(&members(3), &ids);
        let after = assign(&members(4), &ids);
        let moved: Vec<usize> = (0..ids.len()).filter(|&i| before[i] != after[i]).collect();
        assert!(
            moved.iter().all(|&i| after[i] == "telltale-scraper-3"),
            "targets only move to the new member"
        );
        // Even share of the new member: 75 of 300, within ±15 %.
        assert!((64..=86).contains(&moved.len()), "{} moved", moved.len());
    }

    #[test]
    fn membership_follows_its_channel() {
        let ids = identities();
        let (me, tx) = Membership::new("telltale-scraper-1", members(3));
        let owned = ids.iter().filter(|id| me.owns(**id)).count();
        assert!(owned > 0 && owned < 300);
        tx.send(vec!["telltale-scraper-1".into()]).unwrap();
        assert!(ids.iter().all(|id| me.owns(*id)));
        tx.send(vec![]).unwrap();
        assert!(!me.owns(ids[0]));
        assert_eq!(owner(&[], 1), None);
    }

    const GOLDEN_SCORE: u64 = 6_707_281_425_496_383_870;

    #[test]
    fn stateful_set_ordinals_name_the_members() {
        assert_eq!(
            stateful_set_members("telltale-scraper-2", 3),
            Some(members(3))
        );
        assert_eq!(
            stateful_set_members("a-b-0", 1),
            Some(vec!["a-b-0".to_string()])
        );
        assert_eq!(stateful_set_members("scraper", 3), None);
        assert_eq!(stateful_set_members("scraper-x", 3), None);
        assert_eq!(stateful_set_members("-1", 3), None);
    }

    #[test]
    fn scores_are_fixed_across_versions() {
        // Golden values: a change reassigns targets between replicas of different versions.
        assert_eq!(score("telltale-scraper-0", 42), GOLDEN_SCORE);
    }
}
