//! [`Labels`]: the sorted label set that names a series.
//!
//! A range query evaluates its expression at every step, and every step hands the same
//! series' labels on through selectors, functions and aggregations. So a label set is
//! shared, not copied: cloning one is a reference count, its hash is computed once, and
//! the set without `__name__` (which most functions return) is derived once per series.
//!
//! With `promql-delayed-name-removal` a function that would drop `__name__` marks the set
//! instead ([`Labels::name_to_drop`]): the name stays visible to `label_replace`,
//! `label_join` and `by (__name__)` until the query's result is finished
//! ([`Labels::finished`]), as Prometheus's `DropName` flag.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, OnceLock};

use telltale_storage_api::METRIC_NAME;

/// A label set sorted by label name, with unique names and no empty values.
#[derive(Clone)]
pub struct Labels(Arc<Inner>);

struct Inner {
    pairs: Vec<(String, String)>,
    /// The hash of `pairs` (a fixed-key hasher, so equal sets hash equally).
    hash: u64,
    /// Whether `pairs` holds `__name__`.
    has_name: bool,
    /// `without_name()` (when `has_name`), computed on first use.
    without_name: OnceLock<Labels>,
    /// Delayed name removal: `__name__` goes when the result is finished.
    drop_name: bool,
    /// The same pairs with `drop_name` flipped (`name_to_drop()` of a plain set,
    /// `name_kept()` of a marked one), computed on first use.
    flipped: OnceLock<Labels>,
}

static EMPTY: LazyLock<Labels> = LazyLock::new(|| Labels::from_sorted(Vec::new()));

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        EMPTY.clone()
    }

    /// A set from pairs already sorted by name, names unique, values non-empty.
    fn from_sorted(pairs: Vec<(String, String)>) -> Self {
        Self::build(pairs, false)
    }

    fn build(pairs: Vec<(String, String)>, drop_name: bool) -> Self {
        let mut h = std::hash::DefaultHasher::new();
        pairs.hash(&mut h);
        drop_name.hash(&mut h);
        let has_name = pairs.iter().any(|(n, _)| n == METRIC_NAME);
        Labels(Arc::new(Inner {
            hash: h.finish(),
            has_name,
            drop_name: drop_name && has_name,
            pairs,
            without_name: OnceLock::new(),
            flipped: OnceLock::new(),
        }))
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        let pairs = &self.0.pairs;
        pairs
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| pairs[i].1.as_str())
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.pairs.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.pairs.is_empty()
    }

    /// The same set without `__name__` (derived once per set, then shared).
    pub fn without_name(&self) -> Labels {
        if !self.0.has_name {
            return self.clone();
        }
        self.0
            .without_name
            .get_or_init(|| self.without(&[METRIC_NAME]))
            .clone()
    }

    /// The same set with `__name__` marked for removal when the result is finished
    /// (delayed name removal); itself when it has no name or is marked already.
    pub fn name_to_drop(&self) -> Labels {
        if !self.0.has_name || self.0.drop_name {
            return self.clone();
        }
        self.0
            .flipped
            .get_or_init(|| Labels::build(self.0.pairs.clone(), true))
            .clone()
    }

    /// Whether `__name__` is marked for removal ([`Labels::name_to_drop`]).
    pub fn drops_name(&self) -> bool {
        self.0.drop_name
    }

    /// The same set with `__name__` kept: the mark cleared (`label_replace` writing
    /// `__name__`, or grouping by it).
    pub fn name_kept(&self) -> Labels {
        self.name_kept_ref().clone()
    }

    /// [`Labels::name_kept`] without a reference count (for comparing).
    pub fn name_kept_ref(&self) -> &Labels {
        if !self.0.drop_name {
            return self;
        }
        self.0
            .flipped
            .get_or_init(|| Labels::from_sorted(self.0.pairs.clone()))
    }

    /// The set a finished result carries: without `__name__` when it was marked.
    pub fn finished(&self) -> Labels {
        if self.0.drop_name {
            self.without_name()
        } else {
            self.clone()
        }
    }

    /// The same set without the given names (never marked).
    pub fn without(&self, names: &[&str]) -> Labels {
        self.filtered(|n| !names.contains(&n))
    }

    /// Only the labels with the given names (never marked).
    pub fn keep(&self, names: &[&str]) -> Labels {
        self.filtered(|n| names.contains(&n))
    }

    fn filtered(&self, keep: impl Fn(&str) -> bool) -> Labels {
        if self.0.pairs.iter().all(|(n, _)| keep(n)) {
            return self.name_kept();
        }
        Labels::from_sorted(
            self.0
                .pairs
                .iter()
                .filter(|(n, _)| keep(n))
                .cloned()
                .collect(),
        )
    }

    /// Sets `name` to `value`; an empty value removes the label. A mark to drop the
    /// name stays while there is a name.
    pub fn set(&mut self, name: &str, value: &str) {
        let mut pairs = self.0.pairs.clone();
        match pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                pairs.remove(i);
            }
            Ok(i) if pairs[i].1 == value => return,
            Ok(i) => pairs[i].1 = value.to_string(),
            Err(_) if value.is_empty() => return,
            Err(i) => pairs.insert(i, (name.to_string(), value.to_string())),
        }
        *self = Labels::build(pairs, self.0.drop_name);
    }
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash
                && self.0.drop_name == other.0.drop_name
                && self.0.pairs == other.0.pairs)
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0
            .pairs
            .cmp(&other.0.pairs)
            .then(self.0.drop_name.cmp(&other.0.drop_name))
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("Labels");
        t.field(&self.0.pairs);
        if self.0.drop_name {
            t.field(&"drop_name");
        }
        t.finish()
    }
}

impl From<Vec<(String, String)>> for Labels {
    fn from(mut v: Vec<(String, String)>) -> Self {
        v.retain(|(_, value)| !value.is_empty());
        v.sort();
        // Keep the last value given for a name.
        let mut out: Vec<(String, String)> = Vec::with_capacity(v.len());
        for (n, value) in v {
            match out.last_mut() {
                Some(last) if last.0 == n => last.1 = value,
                _ => out.push((n, value)),
            }
        }
        Labels::from_sorted(out)
    }
}

impl From<&[telltale_storage_api::Label]> for Labels {
    fn from(v: &[telltale_storage_api::Label]) -> Self {
        Labels::from(
            v.iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect::<Vec<_>>(),
        )
    }
}

/// `{a="b", c="d"}`, as Prometheus prints a label set.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs = self.0.pairs.iter();
        telltale_model::write_labels(f, pairs.map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn sorted_and_displayed_like_prometheus() {
        let l = ls(&[("job", "api"), ("__name__", "up"), ("empty", "")]);
        assert_eq!(l.to_string(), r#"{__name__="up", job="api"}"#);
        assert_eq!(l.get("job"), Some("api"));
        assert_eq!(l.get("empty"), None);
        assert_eq!(l.without_name().to_string(), r#"{job="api"}"#);
    }

    #[test]
    fn set_inserts_replaces_and_removes() {
        let mut l = ls(&[("b", "2")]);
        l.set("a", "1");
        l.set("b", "3");
        assert_eq!(l.to_string(), r#"{a="1", b="3"}"#);
        l.set("a", "");
        assert_eq!(l.to_string(), r#"{b="3"}"#);
    }

    #[test]
    fn shared_sets_compare_hash_and_order_like_their_pairs() {
        use std::collections::HashSet;
        let a = ls(&[("__name__", "up"), ("job", "api")]);
        let b = ls(&[("job", "api"), ("__name__", "up")]);
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(HashSet::from([a.clone(), b.clone()]).len(), 1);
        let c = ls(&[("__name__", "up"), ("job", "db")]);
        assert!(a < c && a != c);
        // The derived set is shared, and equal to one built from scratch.
        let n1 = a.without_name();
        assert!(Arc::ptr_eq(&n1.0, &a.without_name().0));
        assert_eq!(n1, ls(&[("job", "api")]));
        assert_eq!(HashSet::from([n1, ls(&[("job", "api")])]).len(), 1);
        let mut d = a.clone();
        d.set("job", "db");
        assert_eq!(d, c);
        assert_eq!(
            a.get("job"),
            Some("api"),
            "set must not change a shared copy"
        );
        assert_eq!(Labels::default(), ls(&[]));
    }

    #[test]
    fn a_name_marked_for_removal_stays_until_the_result_is_finished() {
        let a = ls(&[("__name__", "up"), ("job", "api")]);
        let m = a.name_to_drop();
        assert!(m.drops_name() && !a.drops_name());
        assert_eq!(m.get("__name__"), Some("up"));
        // A marked set is another key than the plain one, and shared when derived again.
        assert_ne!(m, a);
        assert!(Arc::ptr_eq(&m.0, &a.name_to_drop().0));
        assert_eq!(m.finished(), ls(&[("job", "api")]));
        assert_eq!(a.finished(), a);
        // Grouping and matching sets are never marked; setting a label keeps the mark.
        assert_eq!(m.keep(&["__name__", "job"]), a);
        assert_eq!(m.without(&["x"]), a);
        assert_eq!(m.name_kept(), a);
        let mut s = m.clone();
        s.set("env", "1");
        assert!(s.drops_name());
        s.set("__name__", "");
        assert!(!s.drops_name(), "no name, nothing to drop");
        assert!(!ls(&[("job", "api")]).name_to_drop().drops_name());
    }
}
