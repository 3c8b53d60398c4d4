//! [`ScrapeTarget`]: what to scrape, how often and how.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::status::ResourceStatus;

/// Endpoints to scrape and how to scrape them. In standalone mode only `static` targets
/// are discovered.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "telltale.dev",
    version = "v1alpha1",
    kind = "ScrapeTarget",
    namespaced,
    shortname = "st",
    status = "ResourceStatus"
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScrapeTargetSpec {
    /// The `job` label of every series scraped; defaults to the resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Fixed `host:port` endpoints, each group with extra labels.
    #[serde(default, rename = "static", skip_serializing_if = "Vec::is_empty")]
    pub static_targets: Vec<StaticTargets>,
    /// HTTP path of the metrics endpoint.
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub scheme: Scheme,
    /// How often to scrape.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    /// Give up on a scrape after this long; at most `interval`.
    #[serde(default = "default_timeout")]
    pub scrape_timeout: PromDuration,
    /// URL query parameters sent with every scrape.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
}

/// A group of fixed endpoints sharing extra labels.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticTargets {
    /// `host:port` of each endpoint.
    pub targets: Vec<String>,
    /// Labels added to every series of these endpoints.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

fn default_path() -> String {
    "/metrics".into()
}
fn default_interval() -> PromDuration {
    PromDuration::from_secs(30)
}
fn default_timeout() -> PromDuration {
    PromDuration::from_secs(10)
}

impl ScrapeTargetSpec {
    /// Checks what the schema cannot: endpoint syntax, path, timeout within interval.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(job) = &self.job
            && job.is_empty()
        {
            return Err(FieldError::new("spec.job", "must not be empty"));
        }
        if !self.path.starts_with('/') {
            return Err(FieldError::new(
                "spec.path",
                format!("{:?} must start with '/'", self.path),
            ));
        }
        if self.interval.0.is_zero() {
            return Err(FieldError::new("spec.interval", "must be greater than 0"));
        }
        if self.scrape_timeout.0.is_zero() {
            return Err(FieldError::new(
                "spec.scrapeTimeout",
                "must be greater than 0",
            ));
        }
        if self.scrape_timeout > self.interval {
            return Err(FieldError::new(
                "spec.scrapeTimeout",
                format!(
                    "{} is longer than spec.interval {}",
                    self.scrape_timeout, self.interval
                ),
            ));
        }
        for (g, group) in self.static_targets.iter().enumerate() {
            for (t, target) in group.targets.iter().enumerate() {
                validate_host_port(target)
                    .map_err(|m| FieldError::new(format!("spec.static[{g}].targets[{t}]"), m))?;
            }
            for name in group.labels.keys() {
                if !is_label_name(name) {
                    return Err(FieldError::new(
                        format!("spec.static[{g}].labels.{name}"),
                        format!("{name:?} is not a valid label name"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// True for a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate_host_port(s: &str) -> Result<(), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not host:port"))?;
    if host.is_empty() || host.contains('/') {
        return Err(format!("{s:?} is not host:port"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("{s:?} has no valid port"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ScrapeTargetSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_apply() {
        let s = spec("static: [{targets: ['127.0.0.1:9100']}]");
        assert_eq!(s.path, "/metrics");
        assert_eq!(s.interval, PromDuration::from_secs(30));
        assert_eq!(s.scheme, Scheme::Http);
        s.validate().unwrap();
    }

    #[test]
    fn timeout_longer_than_interval_is_rejected() {
        let s = spec("interval: 5s\nscrapeTimeout: 10s");
        assert_eq!(s.validate().unwrap_err().field, "spec.scrapeTimeout");
    }

    #[test]
    fn bad_endpoint_names_its_index() {
        let s = spec("static: [{targets: ['a:1', 'nope']}]");
        assert_eq!(s.validate().unwrap_err().field, "spec.static[0].targets[1]");
    }
}
