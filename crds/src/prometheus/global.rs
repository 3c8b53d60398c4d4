//! The `global` section: defaults for every scrape config, the rule evaluation interval
//! and the external labels.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;

/// Prometheus's default `scrape_interval`.
pub const DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration(Duration::from_secs(60));
/// Prometheus's default `scrape_timeout` (capped at the interval).
pub const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration(Duration::from_secs(10));
/// Prometheus's default `evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: PromDuration = PromDuration(Duration::from_secs(60));

/// `global` as Prometheus 2.42 reads it (the global limits came with 2.45 and are
/// rejected, as 2.42 rejects them). Unset durations are filled on load.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_log_file: Option<String>,
    /// Labels added to every series and alert sent outside (remote_write, federation,
    /// Alertmanager).
    #[serde(default, deserialize_with = "super::de::scalar_map")]
    pub external_labels: BTreeMap<String, String>,
}

impl GlobalConfig {
    pub fn scrape_interval(&self) -> PromDuration {
        self.scrape_interval.unwrap_or(DEFAULT_SCRAPE_INTERVAL)
    }

    /// The global timeout: as written, or 10s capped at the global interval.
    pub fn scrape_timeout(&self) -> PromDuration {
        self.scrape_timeout
            .unwrap_or_else(|| DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval()))
    }

    pub fn evaluation_interval(&self) -> PromDuration {
        self.evaluation_interval
            .unwrap_or(DEFAULT_EVALUATION_INTERVAL)
    }

    /// Prometheus's `GlobalConfig.UnmarshalYAML`: external label names, then the
    /// defaults (a zero duration counts as unset) and timeout ≤ interval.
    pub fn resolve(&mut self) -> Result<(), FieldError> {
        for name in self.external_labels.keys() {
            if !telltale_model::is_valid_label_name(name) {
                return Err(FieldError::new(
                    format!("global.external_labels.{name}"),
                    format!("{name:?} is not a valid label name"),
                ));
            }
        }
        let nonzero = |d: Option<PromDuration>| d.filter(|d| !d.0.is_zero());
        let interval = nonzero(self.scrape_interval).unwrap_or(DEFAULT_SCRAPE_INTERVAL);
        self.scrape_interval = Some(interval);
        if let Some(t) = self.scrape_timeout
            && t > interval
        {
            return Err(FieldError::new(
                "global.scrape_timeout",
                "global scrape timeout greater than scrape interval",
            ));
        }
        self.scrape_timeout =
            Some(nonzero(self.scrape_timeout).unwrap_or(DEFAULT_SCRAPE_TIMEOUT.min(interval)));
        self.evaluation_interval =
            Some(nonzero(self.evaluation_interval).unwrap_or(DEFAULT_EVALUATION_INTERVAL));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(yaml: &str) -> Result<GlobalConfig, FieldError> {
        let mut g: GlobalConfig = serde_yaml::from_str(yaml).unwrap();
        g.resolve().map(|()| g)
    }

    #[test]
    fn prometheus_defaults() {
        let g = global("{}").unwrap();
        assert_eq!(g.scrape_interval(), PromDuration::from_secs(60));
        assert_eq!(g.scrape_timeout(), PromDuration::from_secs(10));
        assert_eq!(g.evaluation_interval(), PromDuration::from_secs(60));
        // The default timeout is capped at a shorter interval.
        let g = global("{scrape_interval: 5s}").unwrap();
        assert_eq!(g.scrape_timeout(), PromDuration::from_secs(5));
        let g = global("{scrape_interval: 0s, scrape_timeout: 0s}").unwrap();
        assert_eq!(g.scrape_interval(), PromDuration::from_secs(60));
        assert_eq!(g.scrape_timeout(), PromDuration::from_secs(10));
    }

    #[test]
    fn checks() {
        let e = global("{scrape_interval: 5s, scrape_timeout: 10s}").unwrap_err();
        assert_eq!(e.field, "global.scrape_timeout");
        let e = global("{external_labels: {bad-name: x}}").unwrap_err();
        assert_eq!(e.field, "global.external_labels.bad-name");
        assert!(serde_yaml::from_str::<GlobalConfig>("{sample_limit: 10}").is_err());
    }
}
