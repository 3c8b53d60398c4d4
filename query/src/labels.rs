//! [`Labels`]: the sorted label set that names a series.

use std::fmt;

use telltale_storage_api::METRIC_NAME;

/// A label set sorted by label name, with unique names and no empty values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Labels(Vec::new())
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same set without `__name__`.
    pub fn without_name(&self) -> Labels {
        self.without(&[METRIC_NAME])
    }

    /// The same set without the given names.
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| !names.contains(&n.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Only the labels with the given names.
    pub fn keep(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| names.contains(&n.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name.to_string(), value.to_string())),
        }
    }

    /// A string that is equal for two sets exactly when the sets are equal.
    pub(crate) fn signature(&self) -> String {
        let mut s = String::new();
        for (n, v) in &self.0 {
            s.push_str(n);
            s.push('\u{ff}');
            s.push_str(v);
            s.push('\u{fe}');
        }
        s
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
        Labels(out)
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

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
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
    fn signature_distinguishes_sets() {
        assert_ne!(
            ls(&[("a", "bc")]).signature(),
            ls(&[("ab", "c")]).signature()
        );
        assert_eq!(ls(&[("a", "1")]).signature(), ls(&[("a", "1")]).signature());
    }
}
