//! Candidate series of a [`Selector`] from an inverted index ([`PostingsSource`]),
//! following the selector's [`Plan`]. The caller then keeps the candidates whose labels
//! satisfy the whole selector.

use crate::error::Result;
use crate::matcher::{Plan, Selector};

/// An inverted index: for each `(label name, value)`, the ids of the series carrying it.
pub trait PostingsSource {
    /// Ids of the series with `name="value"`, ascending.
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>>;

    /// Calls `f(value, id)` for every series that has label `name`, grouped by value.
    fn for_each_posting(&self, name: &str, f: &mut dyn FnMut(&str, u64)) -> Result<()>;
}

/// Ids (ascending, unique) of every series that may match `selector`: a superset of the
/// matching series, exact for the matchers the plan used.
pub fn candidates(selector: &Selector, source: &dyn PostingsSource) -> Result<Vec<u64>> {
    match selector.plan() {
        Plan::Intersect(pairs) => {
            let mut lists = pairs
                .iter()
                .map(|(n, v)| source.postings(n, v))
                .collect::<Result<Vec<_>>>()?;
            // Start from the shortest list: the intersection is never longer.
            lists.sort_by_key(Vec::len);
            let mut lists = lists.into_iter();
            let mut acc = lists.next().unwrap_or_default();
            for list in lists {
                if acc.is_empty() {
                    break;
                }
                acc = intersect(&acc, &list);
            }
            Ok(acc)
        }
        Plan::ScanName { name, matcher } => {
            let m = &selector.matchers()[matcher];
            let mut ids = Vec::new();
            // Values arrive grouped, so the matcher runs once per distinct value.
            let mut last: Option<(String, bool)> = None;
            source.for_each_posting(name, &mut |value, id| {
                let keep = match &last {
                    Some((v, keep)) if v == value => *keep,
                    _ => {
                        let keep = m.matches_value(value);
                        last = Some((value.to_string(), keep));
                        keep
                    }
                };
                if keep {
                    ids.push(id);
                }
            })?;
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        }
    }
}

/// Intersection of two ascending lists.
fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use regex::Regex;
    use telltale_storage_api::{Label, MatchOp, Matcher};

    use super::*;
    use crate::labels::LabelSet;

    /// The postings of a list of label sets, series id = position.
    struct MemPostings(BTreeMap<(String, String), Vec<u64>>);

    impl MemPostings {
        fn new(sets: &[LabelSet]) -> Self {
            let mut map: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
            for (id, set) in sets.iter().enumerate() {
                for (n, v) in set.iter() {
                    map.entry((n.into(), v.into())).or_default().push(id as u64);
                }
            }
            MemPostings(map)
        }
    }

    impl PostingsSource for MemPostings {
        fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>> {
            Ok(self
                .0
                .get(&(name.to_string(), value.to_string()))
                .cloned()
                .unwrap_or_default())
        }

        fn for_each_posting(&self, name: &str, f: &mut dyn FnMut(&str, u64)) -> Result<()> {
            for ((n, v), ids) in &self.0 {
                if n == name {
                    ids.iter().for_each(|id| f(v, *id));
                }
            }
            Ok(())
        }
    }

    /// The definition, written independently of `LabelMatcher`: every matcher holds,
    /// an absent label reads as "".
    fn brute_force_matches(matchers: &[Matcher], labels: &[(String, String)]) -> bool {
        matchers.iter().all(|m| {
            let value = labels
                .iter()
                .find(|(n, _)| *n == m.name)
                .map_or("", |(_, v)| v.as_str());
            let re = || Regex::new(&format!("^(?:{})$", m.value)).unwrap();
            match MatchOp::try_from(m.op).unwrap() {
                MatchOp::Equal => value == m.value,
                MatchOp::NotEqual => value != m.value,
                MatchOp::Regex => re().is_match(value),
                MatchOp::NotRegex => !re().is_match(value),
            }
        })
    }

    fn label_set() -> impl Strategy<Value = Vec<(String, String)>> {
        (
            prop::sample::select(vec!["up", "http", "cpu"]),
            prop::collection::btree_map(
                prop::sample::select(vec!["job", "zone", "env"]),
                prop::sample::select(vec!["", "a", "b", "ab", "node"]),
                0..3,
            ),
        )
            .prop_map(|(name, rest)| {
                let mut v = vec![("__name__".to_string(), name.to_string())];
                v.extend(
                    rest.into_iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(n, v)| (n.to_string(), v.to_string())),
                );
                v
            })
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        let op = prop::sample::select(vec![
            MatchOp::Equal,
            MatchOp::NotEqual,
            MatchOp::Regex,
            MatchOp::NotRegex,
        ]);
        let name = prop::sample::select(vec!["__name__", "job", "zone", "env", "missing"]);
        let value = prop::sample::select(vec![
            "", "a", "b", "ab", "node", "up", "a|b", ".*", ".+", "a.*", "n.d.", "(up|cpu)",
        ]);
        (op, name, value).prop_map(|(op, n, v)| Matcher::new(op, n, v))
    }

    proptest! {
        #[test]
        fn candidates_then_filter_equals_brute_force(
            raw in prop::collection::vec(label_set(), 0..40),
            matchers in prop::collection::vec(matcher(), 1..4),
        ) {
            let sets: Vec<LabelSet> = raw
                .iter()
                .map(|pairs| {
                    let labels: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(n, v)).collect();
                    LabelSet::from_labels(&labels).unwrap()
                })
                .collect();
            let want: Vec<u64> = (0..raw.len() as u64)
                .filter(|i| brute_force_matches(&matchers, &raw[*i as usize]))
                .collect();
            match Selector::from_proto(&matchers) {
                Err(e) => {
                    // Only refused when every matcher accepts the empty value.
                    prop_assert!(matches!(e, crate::Error::EmptySelector));
                    prop_assert!(brute_force_matches(&matchers, &[]));
                }
                Ok(sel) => {
                    let cands = candidates(&sel, &MemPostings::new(&sets)).unwrap();
                    prop_assert!(cands.windows(2).all(|w| w[0] < w[1]));
                    let got: Vec<u64> = cands
                        .into_iter()
                        .filter(|id| sel.matches(&sets[*id as usize]))
                        .collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }

    #[test]
    fn intersect_sorted_lists() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[2, 3, 7, 9]), vec![3, 7]);
        assert!(intersect(&[], &[1]).is_empty());
    }
}
