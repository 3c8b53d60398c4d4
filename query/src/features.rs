//! [`Features`]: the PromQL features Prometheus keeps behind `--enable-feature`, under
//! the same flag names.

/// PromQL features that are off unless enabled, as Prometheus's `--enable-feature`.
///
/// | flag (`--enable-feature=`)      | field                    | what it enables |
/// |---------------------------------|--------------------------|-----------------|
/// | `promql-experimental-functions` | `experimental_functions` | `double_exponential_smoothing`, `mad_over_time`, `ts_of_min_over_time`, `ts_of_max_over_time`, `ts_of_last_over_time`, `sort_by_label`, `sort_by_label_desc`, and the `limitk` / `limit_ratio` aggregations |
/// | `promql-duration-expr`          | `duration_expr`          | arithmetic (`+ - * / % ^`), `step()`, `min(a, b)` and `max(a, b)` in range, subquery and offset durations: `x[5m * 2]`, `x[1h:step()]`, `x offset (1h + 5m)` |
/// | `promql-delayed-name-removal`   | `delayed_name_removal`   | functions and operators that drop `__name__` mark it instead, so `label_replace`, `label_join` and `by (__name__)` still see it; it is removed from the query's result |
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub experimental_functions: bool,
    pub duration_expr: bool,
    pub delayed_name_removal: bool,
}

/// The flag names [`Features::enable`] knows, in Prometheus's spelling.
pub const FEATURE_FLAGS: &[&str] = &[
    "promql-experimental-functions",
    "promql-duration-expr",
    "promql-delayed-name-removal",
];

impl Features {
    /// Every feature on (what Prometheus's own test scripts run with).
    pub fn all() -> Self {
        Features {
            experimental_functions: true,
            duration_expr: true,
            delayed_name_removal: true,
        }
    }

    /// Turns on the feature `flag` names (an `--enable-feature` value); false when it
    /// is not one of [`FEATURE_FLAGS`] (Prometheus warns about unknown flags and starts).
    pub fn enable(&mut self, flag: &str) -> bool {
        match flag.trim() {
            "promql-experimental-functions" => self.experimental_functions = true,
            "promql-duration-expr" => self.duration_expr = true,
            "promql-delayed-name-removal" => self.delayed_name_removal = true,
            _ => return false,
        }
        true
    }

    /// The features named in `flags` (comma-separated values, as
    /// `--enable-feature=a,b` takes them); unknown names are returned apart.
    pub fn from_flags<'a>(flags: impl IntoIterator<Item = &'a str>) -> (Self, Vec<String>) {
        let mut features = Features::default();
        let mut unknown = Vec::new();
        for flag in flags.into_iter().flat_map(|f| f.split(',')) {
            if !flag.trim().is_empty() && !features.enable(flag) {
                unknown.push(flag.trim().to_string());
            }
        }
        (features, unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_prometheus_names() {
        let (f, unknown) = Features::from_flags([
            "promql-experimental-functions,promql-duration-expr",
            "native-histograms",
            "promql-delayed-name-removal",
        ]);
        assert!(f.experimental_functions && f.duration_expr && f.delayed_name_removal);
        assert_eq!(unknown, vec!["native-histograms".to_string()]);
        assert_eq!(
            Features::from_flags(FEATURE_FLAGS.iter().copied()).0,
            Features::all()
        );
    }
}
