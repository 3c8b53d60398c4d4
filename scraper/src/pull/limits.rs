//! [`Limits`]: the per-target limits that fail a whole scrape (`up` 0), with
//! Prometheus's wording of the reason. Pure.

use telltale_crds::ScrapeTargetSpec;
use telltale_storage_api::METRIC_NAME;

/// The limits of one target; 0 means no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a scrape's body, decompressed.
    pub body_size_limit: u64,
    /// Samples per scrape, counted after metric relabeling.
    pub sample_limit: u64,
    /// Labels per series, `__name__` included.
    pub label_limit: u64,
    /// Bytes per label name.
    pub label_name_length_limit: u64,
    /// Bytes per label value.
    pub label_value_length_limit: u64,
}

impl Limits {
    /// The limits a `ScrapeTarget` sets.
    pub fn from_spec(spec: &ScrapeTargetSpec) -> Self {
        Limits {
            // Checked when the resource was read.
            body_size_limit: spec.body_size_limit_bytes().unwrap_or(0),
            sample_limit: spec.sample_limit,
            label_limit: spec.label_limit,
            label_name_length_limit: spec.label_name_length_limit,
            label_value_length_limit: spec.label_value_length_limit,
        }
    }

    /// Checks one series' final labels against the label limits.
    pub fn check_labels(&self, labels: &[(String, String)]) -> Result<(), String> {
        let metric = || {
            let name = labels
                .iter()
                .find(|(n, _)| n == METRIC_NAME)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            cut(name, 50).to_string()
        };
        if self.label_limit > 0 && labels.len() as u64 > self.label_limit {
            return Err(format!(
                "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
                metric(),
                labels.len(),
                self.label_limit
            ));
        }
        for (name, value) in labels {
            if self.label_name_length_limit > 0 && name.len() as u64 > self.label_name_length_limit
            {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {}, label name: {}, length: {}, limit: {})",
                    metric(),
                    cut(name, 50),
                    name.len(),
                    self.label_name_length_limit
                ));
            }
            if self.label_value_length_limit > 0
                && value.len() as u64 > self.label_value_length_limit
            {
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {}, label name: {}, value: {:?}, length: {}, limit: {})",
                    metric(),
                    cut(name, 50),
                    cut(value, 50),
                    value.len(),
                    self.label_value_length_limit
                ));
            }
        }
        Ok(())
    }

    /// Checks the number of samples kept after metric relabeling.
    pub fn check_samples(&self, samples: usize) -> Result<(), String> {
        if self.sample_limit > 0 && samples as u64 > self.sample_limit {
            return Err(format!(
                "sample limit exceeded (number of samples: {samples}, limit: {})",
                self.sample_limit
            ));
        }
        Ok(())
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn zero_means_unlimited() {
        let l = Limits::default();
        l.check_samples(usize::MAX).unwrap();
        l.check_labels(&labels(&[("__name__", "m"), ("a", &"x".repeat(10_000))]))
            .unwrap();
    }

    #[test]
    fn each_limit_names_itself() {
        let set = labels(&[("__name__", "metric"), ("long_name", "value-of-ten")]);
        let count = Limits {
            label_limit: 1,
            ..Limits::default()
        };
        assert_eq!(
            count.check_labels(&set).unwrap_err(),
            "label_limit exceeded (metric: metric, number of labels: 2, limit: 1)"
        );
        let name = Limits {
            label_name_length_limit: 8,
            ..Limits::default()
        };
        assert!(name.check_labels(&set).unwrap_err().starts_with(
            "label_name_length_limit exceeded (metric: metric, label name: long_name, length: 9"
        ));
        let value = Limits {
            label_value_length_limit: 10,
            ..Limits::default()
        };
        assert!(
            value
                .check_labels(&set)
                .unwrap_err()
                .contains("value: \"value-of-ten\", length: 12, limit: 10")
        );
        let samples = Limits {
            sample_limit: 3,
            ..Limits::default()
        };
        samples.check_samples(3).unwrap();
        assert_eq!(
            samples.check_samples(4).unwrap_err(),
            "sample limit exceeded (number of samples: 4, limit: 3)"
        );
        assert_eq!(cut("ééé", 3), "é");
    }
}
