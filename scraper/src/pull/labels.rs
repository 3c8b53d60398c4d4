//! Label-set rules: how a scraped series and its target's labels combine
//! (Prometheus's `honor_labels: false`), and how label sets become storage labels.

use telltale_model::render_labels;
use telltale_storage_api::{Label, METRIC_NAME};

/// A label set as name/value pairs, sorted by name, without empty values.
pub type LabelPairs = Vec<(String, String)>;

/// The prefix a scraped label gets when a target label of the same name wins.
pub const EXPORTED_PREFIX: &str = "exported_";

/// Combines a scraped series' labels (its `__name__` included) with the target's labels.
///
/// Target labels win. A scraped label that collides with a target label is kept as
/// `exported_<name>` (or `exported_exported_<name>`... until the name is free), shortest
/// names first, as Prometheus does. Labels with empty values count as absent. The result is
/// sorted by name.
pub fn merge_target_labels(scraped: LabelPairs, target: &[(String, String)]) -> LabelPairs {
    let mut set: LabelPairs = scraped.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for (name, value) in target {
        match set.iter().position(|(n, _)| n == name) {
            Some(i) => {
                let (_, old) = std::mem::replace(&mut set[i], (name.clone(), value.clone()));
                conflicts.push((name.clone(), old));
                if value.is_empty() {
                    set.remove(i);
                }
            }
            None if !value.is_empty() => set.push((name.clone(), value.clone())),
            None => {}
        }
    }
    conflicts.sort_by_key(|(n, _)| n.len());
    for (name, value) in conflicts {
        let mut new_name = name;
        loop {
            new_name = format!("{EXPORTED_PREFIX}{new_name}");
            if !set.iter().any(|(n, _)| *n == new_name) {
                set.push((new_name, value));
                break;
            }
        }
    }
    set.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    set
}

/// Combines a scraped series' labels with the target's labels the `honor_labels: true`
/// way: scraped labels win, target labels are added where the series has none (an empty
/// scraped value counts as absent). The result is sorted by name, without empty values.
pub fn honor_scraped_labels(scraped: LabelPairs, target: &[(String, String)]) -> LabelPairs {
    let mut set: LabelPairs = scraped.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    for (name, value) in target {
        if !value.is_empty() && !set.iter().any(|(n, _)| n == name) {
            set.push((name.clone(), value.clone()));
        }
    }
    set.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    set
}

/// The label set of a scraped sample before target labels are added: `__name__` first,
/// then the sample's labels.
pub fn with_metric_name(name: String, labels: Vec<(String, String)>) -> LabelPairs {
    let mut set = Vec::with_capacity(labels.len() + 1);
    set.push((METRIC_NAME.to_string(), name));
    set.extend(labels);
    set
}

/// Storage labels of a sorted label set.
pub fn to_storage_labels(pairs: &[(String, String)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(n, v)| Label::new(n.clone(), v.clone()))
        .collect()
}

/// `{__name__="x", a="b"}` style rendering for logs and error messages.
pub fn format_labels(pairs: &[(String, String)]) -> String {
    render_labels(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// [`format_labels`] of the storage contract's labels.
pub fn format_storage_labels(labels: &[Label]) -> String {
    render_labels(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

/// [`format_storage_labels`] of a shared label set.
pub fn format_shared_labels(labels: &telltale_storage_api::SeriesLabels) -> String {
    render_labels(labels.pairs())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A label set from string pairs (also used by the other modules' tests).
    pub(crate) fn pairs(v: &[(&str, &str)]) -> LabelPairs {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn target_labels_are_added_and_result_sorted() {
        let got = merge_target_labels(
            pairs(&[("__name__", "up_total"), ("path", "/x")]),
            &pairs(&[("job", "node"), ("instance", "h:9100")]),
        );
        assert_eq!(
            got,
            pairs(&[
                ("__name__", "up_total"),
                ("instance", "h:9100"),
                ("job", "node"),
                ("path", "/x")
            ])
        );
    }

    #[test]
    fn conflicting_scraped_labels_become_exported() {
        let got = merge_target_labels(
            pairs(&[("__name__", "m"), ("job", "inner"), ("instance", "pod-1")]),
            &pairs(&[("instance", "h:1"), ("job", "outer")]),
        );
        assert_eq!(
            got,
            pairs(&[
                ("__name__", "m"),
                ("exported_instance", "pod-1"),
                ("exported_job", "inner"),
                ("instance", "h:1"),
                ("job", "outer"),
            ])
        );
    }

    #[test]
    fn exported_prefix_repeats_until_free() {
        let got = merge_target_labels(
            pairs(&[("__name__", "m"), ("job", "a"), ("exported_job", "b")]),
            &pairs(&[("job", "t"), ("exported_job", "u")]),
        );
        // Both scraped labels collide; the shorter name is resolved first.
        assert_eq!(
            got,
            pairs(&[
                ("__name__", "m"),
                ("exported_exported_exported_job", "b"),
                ("exported_exported_job", "a"),
                ("exported_job", "u"),
                ("job", "t"),
            ])
        );
    }

    #[test]
    fn honored_scraped_labels_win() {
        let got = honor_scraped_labels(
            pairs(&[("__name__", "m"), ("job", "inner"), ("instance", "")]),
            &pairs(&[("instance", "h:1"), ("job", "outer"), ("env", "p")]),
        );
        assert_eq!(
            got,
            pairs(&[
                ("__name__", "m"),
                ("env", "p"),
                ("instance", "h:1"),
                ("job", "inner")
            ])
        );
    }

    #[test]
    fn empty_values_are_absent() {
        let got = merge_target_labels(
            pairs(&[("__name__", "m"), ("a", ""), ("job", "")]),
            &pairs(&[("job", "t"), ("b", "")]),
        );
        assert_eq!(got, pairs(&[("__name__", "m"), ("job", "t")]));
    }

    #[test]
    fn format_labels_renders_a_selector() {
        assert_eq!(
            format_labels(&pairs(&[("__name__", "m"), ("a", "x\"y")])),
            r#"{__name__="m", a="x\"y"}"#
        );
    }
}
