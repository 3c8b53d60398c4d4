//! [`plan`]: the pure decision of which scrape loops to start, update and stop to go from
//! the running targets to the desired ones.

use std::collections::{HashMap, HashSet};

use crate::pull::target::{Target, TargetKey};

/// What to do to the running loops.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Targets without a loop.
    pub start: Vec<Target>,
    /// Targets whose loop runs with other settings (interval, timeout...).
    pub update: Vec<Target>,
    /// Loops whose target is no longer wanted.
    pub stop: Vec<TargetKey>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.update.is_empty() && self.stop.is_empty()
    }
}

/// Compares the running targets with the desired ones. A target listed twice (same pool,
/// URL and labels) is scraped once, with the first listing's settings.
pub fn plan<'a>(
    running: impl IntoIterator<Item = (&'a TargetKey, &'a Target)>,
    desired: Vec<Target>,
) -> Plan {
    let running: HashMap<&TargetKey, &Target> = running.into_iter().collect();
    let mut seen: HashSet<TargetKey> = HashSet::with_capacity(desired.len());
    let mut out = Plan::default();
    for target in desired {
        let key = target.key();
        if seen.contains(&key) {
            continue;
        }
        match running.get(&key) {
            None => out.start.push(target),
            Some(current) if **current != target => out.update.push(target),
            Some(_) => {}
        }
        seen.insert(key);
    }
    let mut stop: Vec<TargetKey> = running
        .keys()
        .filter(|k| !seen.contains(**k))
        .map(|k| (*k).clone())
        .collect();
    stop.sort();
    out.stop = stop;
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pull::target::test_target;

    fn target(address: &str, interval_s: u64) -> Target {
        test_target(address, Duration::from_secs(interval_s))
    }

    fn running(ts: &[Target]) -> Vec<(TargetKey, Target)> {
        ts.iter().map(|t| (t.key(), t.clone())).collect()
    }

    #[test]
    fn starts_updates_and_stops() {
        let now = running(&[target("a:1", 10), target("b:1", 10), target("c:1", 10)]);
        let p = plan(
            now.iter().map(|(k, t)| (k, t)),
            vec![target("a:1", 10), target("b:1", 5), target("d:1", 10)],
        );
        assert_eq!(p.start, vec![target("d:1", 10)]);
        assert_eq!(p.update, vec![target("b:1", 5)]);
        assert_eq!(p.stop, vec![target("c:1", 10).key()]);
    }

    #[test]
    fn nothing_to_do_when_unchanged_and_duplicates_collapse() {
        let now = running(&[target("a:1", 10)]);
        let p = plan(now.iter().map(|(k, t)| (k, t)), vec![target("a:1", 10)]);
        assert!(p.is_empty());
        let p = plan(
            std::iter::empty(),
            vec![target("a:1", 10), target("a:1", 20)],
        );
        assert_eq!(p.start, vec![target("a:1", 10)]);
    }

    #[test]
    fn empty_desired_stops_everything() {
        let now = running(&[target("a:1", 10), target("b:1", 10)]);
        let p = plan(now.iter().map(|(k, t)| (k, t)), vec![]);
        assert_eq!(p.stop.len(), 2);
        assert!(p.start.is_empty() && p.update.is_empty());
    }
}
