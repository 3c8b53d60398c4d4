//! [`LabelSet`]: the canonical, validated identity of a series.

use std::fmt;

use telltale_model::{
    is_valid_label_name, is_valid_metric_name, render_labels as render, write_labels,
};
use telltale_storage_api::{Label, METRIC_NAME};

/// A series' labels, sorted by name, names unique, no empty values, `__name__` present.
///
/// Ordered the way Prometheus orders label sets (pairwise by name, then value; a
/// prefix sorts first), which is the order series are returned in.
///
/// Packed: every name and value in one string, and where each ends. The index holds one
/// per series, so two allocations instead of two per label keep it small, and comparing
/// two sets reads contiguous memory.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LabelSet {
    /// Name, value, name, value, ... concatenated.
    data: Box<str>,
    /// The end of each name and value in `data`.
    ends: Box<[u32]>,
}

impl LabelSet {
    /// Validates and canonicalises labels received in a write.
    ///
    /// Labels are sorted by name; a label with an empty value is dropped (an empty value
    /// means "no such label", as in Prometheus). Rejected: an empty set, an invalid label
    /// name, a duplicate name, a missing or invalid `__name__`, a value containing NUL.
    pub fn from_labels(labels: &[Label]) -> Result<Self, String> {
        if labels.is_empty() {
            return Err("a series needs at least one label".into());
        }
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(labels.len());
        for Label { name, value } in labels {
            if !is_valid_label_name(name) {
                return Err(format!(
                    "label name {name:?} is not valid (want [a-zA-Z_][a-zA-Z0-9_]*)"
                ));
            }
            if value.contains('\0') {
                return Err(format!("value of label {name:?} contains a NUL character"));
            }
            pairs.push((name, value));
        }
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("duplicate label name {:?}", w[0].0));
        }
        pairs.retain(|(_, v)| !v.is_empty());
        match pairs.iter().find(|(n, _)| *n == METRIC_NAME) {
            None => Err(format!(
                "missing (or empty) metric name label {METRIC_NAME:?}"
            )),
            Some((_, v)) if !is_valid_metric_name(v) => Err(format!(
                "metric name {v:?} is not valid (want [a-zA-Z_:][a-zA-Z0-9_:]*)"
            )),
            Some(_) => Self::pack(pairs.iter().copied())
                .ok_or_else(|| "labels longer than 4 GiB in total".to_string()),
        }
    }

    /// Wraps pairs already known to be canonical (decoded from our own storage).
    /// Returns `None` when they are not sorted by unique name or hold an empty value.
    pub(crate) fn from_canonical(pairs: Vec<(String, String)>) -> Option<Self> {
        let sorted = pairs.windows(2).all(|w| w[0].0 < w[1].0);
        let non_empty = pairs.iter().all(|(_, v)| !v.is_empty());
        if !(sorted && non_empty && !pairs.is_empty()) {
            return None;
        }
        Self::pack(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    fn pack<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Option<Self> {
        let len: usize = pairs.clone().map(|(n, v)| n.len() + v.len()).sum();
        u32::try_from(len).ok()?;
        let mut data = String::with_capacity(len);
        let mut ends = Vec::new();
        for (n, v) in pairs {
            data.push_str(n);
            ends.push(data.len() as u32);
            data.push_str(v);
            ends.push(data.len() as u32);
        }
        Some(LabelSet {
            data: data.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        })
    }

    /// The hash the index finds this set by ([`crate::hashing::label_hash`]).
    pub fn hash_key(&self) -> u64 {
        crate::hashing::label_hash(self.iter())
    }

    /// The value of label `name`, if the series has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        self.ends.chunks_exact(2).enumerate().map(|(i, end)| {
            let start = if i == 0 {
                0
            } else {
                self.ends[2 * i - 1] as usize
            };
            let (name_end, value_end) = (end[0] as usize, end[1] as usize);
            (&self.data[start..name_end], &self.data[name_end..value_end])
        })
    }

    /// The labels as protobuf messages, in name order.
    pub fn to_labels(&self) -> Vec<Label> {
        self.iter().map(|(n, v)| Label::new(n, v)).collect()
    }
}

impl Ord for LabelSet {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for LabelSet {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Display for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_labels(f, self.iter())
    }
}

/// Renders labels as `{name="value", ...}` (for error messages about raw input).
pub fn render_labels(labels: &[Label]) -> String {
    render(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    #[test]
    fn sorts_and_drops_empty_values() {
        let set = LabelSet::from_labels(&labels(&[
            ("zone", "a"),
            ("__name__", "up"),
            ("empty", ""),
            ("job", "node"),
        ]))
        .unwrap();
        assert_eq!(set.to_string(), r#"{__name__="up", job="node", zone="a"}"#);
        assert_eq!(set.get("job"), Some("node"));
        assert_eq!(set.get("empty"), None);
        assert_eq!(set.get("absent"), None);
    }

    #[test]
    fn rejects_malformed_label_sets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "at least one label"),
            (&[("job", "x")], "missing"),
            (&[("__name__", "")], "missing"),
            (&[("__name__", "1up")], "metric name \"1up\""),
            (&[("__name__", "up"), ("1a", "x")], "label name \"1a\""),
            (&[("__name__", "up"), ("a-b", "x")], "label name \"a-b\""),
            (&[("__name__", "up"), ("", "x")], "label name \"\""),
            (
                &[("__name__", "up"), ("a", "x"), ("a", "y")],
                "duplicate label name \"a\"",
            ),
            (&[("__name__", "up"), ("a", "x"), ("a", "")], "duplicate"),
            (&[("__name__", "up"), ("a", "x\0y")], "NUL"),
        ];
        for (input, want) in cases {
            let err = LabelSet::from_labels(&labels(input)).unwrap_err();
            assert!(
                err.contains(want),
                "{input:?}: {err:?} should mention {want:?}"
            );
        }
    }

    #[test]
    fn orders_like_prometheus() {
        let a = LabelSet::from_labels(&labels(&[("__name__", "a")])).unwrap();
        let a_x = LabelSet::from_labels(&labels(&[("__name__", "a"), ("x", "1")])).unwrap();
        let b = LabelSet::from_labels(&labels(&[("__name__", "b")])).unwrap();
        assert!(a < a_x && a_x < b);
    }

    #[test]
    fn from_canonical_checks_the_invariant() {
        let ok = vec![("__name__".to_string(), "a".to_string())];
        assert!(LabelSet::from_canonical(ok).is_some());
        let unsorted = vec![
            ("b".to_string(), "1".to_string()),
            ("a".to_string(), "1".to_string()),
        ];
        assert!(LabelSet::from_canonical(unsorted).is_none());
        assert!(LabelSet::from_canonical(vec![]).is_none());
    }

    proptest::proptest! {
        /// Packing keeps the pairs, and sets order as their pairs do (Prometheus's order).
        #[test]
        fn packed_sets_keep_pairs_and_order(
            a in proptest::collection::btree_map("[a-z_]{1,5}", "[a-zé]{1,4}", 0..6),
            b in proptest::collection::btree_map("[a-z_]{1,5}", "[a-zé]{1,4}", 0..6),
        ) {
            let with_name = |m: &std::collections::BTreeMap<String, String>| {
                let mut pairs: Vec<(String, String)> = m.clone().into_iter().collect();
                pairs.push(("__name__".into(), "m".into()));
                pairs.sort();
                pairs
            };
            let (pa, pb) = (with_name(&a), with_name(&b));
            let (sa, sb) = (
                LabelSet::from_canonical(pa.clone()).unwrap(),
                LabelSet::from_canonical(pb.clone()).unwrap(),
            );
            let back: Vec<(String, String)> =
                sa.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            proptest::prop_assert_eq!(&back, &pa);
            proptest::prop_assert_eq!(sa.cmp(&sb), pa.cmp(&pb));
            proptest::prop_assert_eq!(sa == sb, pa == pb);
            for (n, v) in &pa {
                proptest::prop_assert_eq!(sa.get(n), Some(v.as_str()));
            }
        }
    }
}
