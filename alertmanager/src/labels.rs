//! Label sets of alerts: their fingerprint and their text form, both as Prometheus and
//! Alertmanager compute them so that webhook receivers see the same identifiers.

use std::collections::BTreeMap;

/// An alert's labels, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// The metric name label, dropped from alert labels.
pub const METRIC_NAME: &str = "__name__";
/// The label that carries the alerting rule's name.
pub const ALERT_NAME: &str = "alertname";

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

/// The FNV-1a fingerprint of a label set, equal to Prometheus's
/// `model.LabelSet.Fingerprint()` (names and values in name order, each followed by 0xff).
pub fn fingerprint(labels: &LabelSet) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[SEPARATOR]);
        add(value.as_bytes());
        add(&[SEPARATOR]);
    }
    hash
}

/// A fingerprint as Alertmanager prints it: 16 lower-case hex digits.
pub fn fingerprint_hex(labels: &LabelSet) -> String {
    format!("{:016x}", fingerprint(labels))
}

/// `{a="1", b="x\"y"}`, Prometheus's `LabelSet.String()`.
pub fn to_text(labels: &LabelSet) -> String {
    telltale_model::render_labels(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fingerprint_matches_prometheus() {
        // Values from prometheus/common model/signature_test.go (TestLabelsToSignature).
        assert_eq!(fingerprint(&LabelSet::new()), 14_695_981_039_346_656_037);
        assert_eq!(
            fingerprint(&set(&[
                ("name", "garland, briggs"),
                ("fear", "love is not enough")
            ])),
            5_799_056_148_416_392_346
        );
    }

    #[test]
    fn text_form_is_sorted_and_quoted() {
        assert_eq!(
            to_text(&set(&[("b", "x\"y"), ("a", "1")])),
            r#"{a="1", b="x\"y"}"#
        );
        assert_eq!(to_text(&LabelSet::new()), "{}");
    }
}
