//! Prometheus's configuration file, `prometheus.yml`, as Prometheus 2.42 reads it.
//!
//! ```text
//!  prometheus.yml --PrometheusConfig::load_file--> PrometheusConfig (defaults filled from
//!    `global`, relative paths resolved against the file's directory, every check of
//!    Prometheus's: errors name the file, the field path and the reason)
//!      --check::check_file--> Checked (+ rule files read and checked)
//!      --scrape_targets()--> ScrapeTarget resources, one per scrape config
//!      --external_labels(), evaluation_interval(), rule_files, alertmanagers(),
//!        remote_write--> what has no ScrapeTarget equivalent
//! ```
//!
//! Unknown fields are errors everywhere (Prometheus reads the file strictly); sections
//! that inline the HTTP client fields ([`http_client::HttpClientConfig`]) collect the
//! rest and report it on load. Service discovery other than static, file, HTTP and
//! Kubernetes is reported as not supported.

/// `alerting`: Alertmanagers and alert relabeling.
pub mod alerting;
/// `telltale check config`: the file, then its rule files.
pub mod check;
/// Null-tolerant lists, unknown fields, URLs.
pub mod de;
/// `global`.
pub mod global;
/// The inlined HTTP client fields (auth, TLS, proxy).
pub mod http_client;
/// `relabel_config` in prometheus.yml's spelling.
pub mod relabel;
/// `remote_write` and `remote_read`.
pub mod remote;
/// `scrape_configs` and their service discovery sections.
pub mod scrape;
/// `storage` and `tracing`.
pub mod storage;
/// prometheus.yml to ScrapeTarget resources and the rest.
pub mod translate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use alerting::{AlertingConfig, AlertmanagerConfig};
pub use check::{Checked, RuleCheck, check_file, check_file_with};
use de::{non_null, nullable};
pub use global::GlobalConfig;
pub use http_client::HttpClientConfig;
pub use relabel::RelabelConfig;
pub use remote::{RemoteReadConfig, RemoteWriteConfig};
pub use scrape::{
    FileSdConfig, HttpSdConfig, KubernetesRole, KubernetesSdConfig, ScrapeConfig, StaticConfig,
};
pub use storage::{StorageConfig, TracingConfig};

use crate::error::{ConfigError, FieldError};

/// The whole file. After [`PrometheusConfig::from_str`] every scrape config has its
/// interval and timeout, and every relative path is absolute.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub global: GlobalConfig,
    #[serde(default, deserialize_with = "nullable")]
    pub alerting: AlertingConfig,
    /// Patterns of rule files (`*` in the file name only).
    #[serde(default, deserialize_with = "nullable")]
    pub rule_files: Vec<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub scrape_configs: Vec<ScrapeConfig>,
    #[serde(default, deserialize_with = "nullable")]
    pub storage: StorageConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub remote_write: Vec<RemoteWriteConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub remote_read: Vec<RemoteReadConfig>,
}

/// The fields that hold Prometheus's `Secret` values (written as `<secret>` when the
/// configuration is shown).
const SECRET_FIELDS: [&str; 5] = [
    "password",
    "credentials",
    "bearer_token",
    "client_secret",
    "secret_key",
];

impl PrometheusConfig {
    /// The configuration as YAML with every secret written inline replaced by
    /// `<secret>`, as Prometheus shows its configuration (`/api/v1/status/config`).
    pub fn masked_yaml(&self) -> String {
        fn mask(v: &mut serde_yaml::Value) {
            match v {
                serde_yaml::Value::Mapping(m) => {
                    for (k, v) in m.iter_mut() {
                        let secret = k.as_str().is_some_and(|k| SECRET_FIELDS.contains(&k));
                        if secret && v.as_str().is_some_and(|s| !s.is_empty()) {
                            *v = serde_yaml::Value::String("<secret>".into());
                        } else {
                            mask(v);
                        }
                    }
                }
                serde_yaml::Value::Sequence(s) => s.iter_mut().for_each(mask),
                _ => {}
            }
        }
        let mut value = serde_yaml::to_value(self).unwrap_or_default();
        mask(&mut value);
        serde_yaml::to_string(&value).unwrap_or_default()
    }

    /// Reads and checks `path`.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_str(path, &text)
    }

    /// Parses and checks `text`, the contents of `file` (relative paths in it are taken
    /// relative to the file's directory). An empty file is Prometheus's defaults.
    pub fn from_str(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |error: FieldError| ConfigError::Field {
            file: file.to_path_buf(),
            error,
        };
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax {
                file: file.to_path_buf(),
                document: 1,
                message: e.to_string(),
            })?;
        let mut config: PrometheusConfig = if value.is_null() {
            PrometheusConfig::default()
        } else {
            crate::load::typed(value.clone())
                .map_err(|e| invalid(de::refine_http_client_error(&value, e)))?
        };
        let dir = file.parent().unwrap_or(Path::new(""));
        config.finish(dir).map_err(invalid)?;
        Ok(config)
    }

    /// Prometheus's defaults and checks over the parsed file, in Prometheus's order.
    fn finish(&mut self, dir: &Path) -> Result<(), FieldError> {
        self.global.resolve()?;
        for (i, sc) in self.scrape_configs.iter().enumerate() {
            sc.validate(&format!("scrape_configs[{i}]"))?;
        }
        self.alerting.validate()?;
        for (i, rw) in self.remote_write.iter().enumerate() {
            rw.validate(&format!("remote_write[{i}]"))?;
        }
        for (i, rr) in self.remote_read.iter().enumerate() {
            rr.validate(&format!("remote_read[{i}]"))?;
        }
        if let Some(t) = &self.tracing {
            t.validate()?;
        }
        for (i, rf) in self.rule_files.iter().enumerate() {
            if !crate::glob::star_only_in_last_component(rf) {
                return Err(FieldError::new(
                    format!("rule_files[{i}]"),
                    format!("invalid rule file path {rf:?}"),
                ));
            }
        }
        let mut jobs = std::collections::BTreeSet::new();
        let global = self.global.clone();
        for (i, sc) in self.scrape_configs.iter_mut().enumerate() {
            let at = format!("scrape_configs[{i}]");
            sc.apply_global(&global, &at)?;
            if !jobs.insert(sc.job_name.clone()) {
                return Err(FieldError::new(
                    format!("{at}.job_name"),
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                ));
            }
        }
        for (what, names) in [
            (
                "remote_write",
                self.remote_write
                    .iter()
                    .map(|r| &r.name)
                    .collect::<Vec<_>>(),
            ),
            (
                "remote_read",
                self.remote_read.iter().map(|r| &r.name).collect(),
            ),
        ] {
            let mut seen = std::collections::BTreeSet::new();
            for (i, name) in names.into_iter().enumerate() {
                if let Some(name) = name.as_deref().filter(|n| !n.is_empty())
                    && !seen.insert(name)
                {
                    let kind = what.replace('_', " ");
                    return Err(FieldError::new(
                        format!("{what}[{i}].name"),
                        format!("found multiple {kind} configs with job name {name:?}"),
                    ));
                }
            }
        }
        self.resolve(dir);
        Ok(())
    }

    /// Makes every relative path absolute against `dir`, as Prometheus's `SetDirectory`.
    fn resolve(&mut self, dir: &Path) {
        for rf in &mut self.rule_files {
            *rf = resolve_path(dir, rf);
        }
        for sc in &mut self.scrape_configs {
            sc.resolve(dir);
        }
        for am in &mut self.alerting.alertmanagers {
            am.resolve(dir);
        }
        for rw in &mut self.remote_write {
            rw.http.resolve(dir);
        }
        for rr in &mut self.remote_read {
            rr.http.resolve(dir);
        }
        if let Some(f) = &mut self.global.query_log_file {
            *f = resolve_path(dir, f);
        }
    }
}

/// `path` joined to `dir` unless it is absolute (or empty).
pub(crate) fn resolve_path(dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_string();
    }
    let joined: PathBuf = dir.join(path);
    joined.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<PrometheusConfig, ConfigError> {
        PrometheusConfig::from_str(Path::new("/etc/prometheus/prometheus.yml"), text)
    }

    fn error(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_and_commented_sections_are_defaults() {
        let c = load("").unwrap();
        assert_eq!(c.global.scrape_interval(), global::DEFAULT_SCRAPE_INTERVAL);
        let c = load("global:\nrule_files:\n  # - a.yml\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - targets:\n").unwrap();
        assert!(c.rule_files.is_empty());
        assert_eq!(c.scrape_configs[0].interval(), PromDuration::from_secs(60));
        assert_eq!(c.scrape_configs[0].timeout(), PromDuration::from_secs(10));
    }

    use crate::PromDuration;

    #[test]
    fn scrape_configs_inherit_global_with_the_timeout_capped() {
        let c = load(
            "global: {scrape_interval: 15s, scrape_timeout: 12s}
scrape_configs:
  - job_name: a
  - job_name: b
    scrape_interval: 5s
  - job_name: c
    scrape_interval: 1m
    scrape_timeout: 50s
",
        )
        .unwrap();
        let got: Vec<_> = c
            .scrape_configs
            .iter()
            .map(|s| (s.interval().to_string(), s.timeout().to_string()))
            .collect();
        assert_eq!(
            got,
            [("15s", "12s"), ("5s", "5s"), ("1m", "50s")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn errors_name_the_file_the_path_and_the_reason() {
        assert_eq!(
            error(
                "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: c\n    relabel_configs:\n      - action: explode\n"
            ),
            "/etc/prometheus/prometheus.yml: scrape_configs[2].relabel_configs[0].action: unknown relabel action \"explode\""
        );
        assert_eq!(
            error(
                "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n"
            ),
            "/etc/prometheus/prometheus.yml: scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval for scrape config with job name \"a\""
        );
        assert!(
            error("scrape_configs:\n  - job_name: a\n  - job_name: a\n")
                .contains("scrape_configs[1].job_name: found multiple scrape configs")
        );
        assert!(
            error("scrape_configs:\n  - job_name: a\n    lables: {}\n")
                .contains("scrape_configs[0].lables: unknown field `lables`")
        );
        assert!(
            error("scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{names: [x]}]\n")
                .contains(
                    "scrape_configs[0].dns_sd_configs: this service discovery is not supported"
                )
        );
        assert!(error("global: {scrape_interval: 1m30}\n").contains("global.scrape_interval: "));
        // Errors inside the inlined HTTP client settings name their field too.
        assert_eq!(
            error(
                "scrape_configs:\n  - job_name: a\n  - job_name: b\n    tls_config: {min_version: [1]}\n"
            ),
            "/etc/prometheus/prometheus.yml: scrape_configs[1].tls_config.min_version: invalid type: sequence, expected a string"
        );
        assert!(
            error("remote_write:\n  - url: http://a/\n    follow_redirects: maybe\n").starts_with(
                "/etc/prometheus/prometheus.yml: remote_write[0].follow_redirects: invalid type"
            )
        );
        assert!(error("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [a:1], lables: {}}]\n")
            .contains("scrape_configs[0].static_configs[0].lables: unknown field `lables`"));
        assert!(
            error("remote_write:\n  - url: http://a/\n    headers: {content-type: x}\n").contains(
                "remote_write[0].headers.content-type: content-type is a reserved header"
            )
        );
        assert!(error("scrape_configs:\n  -\n").contains("scrape_configs: empty or null section"));
        assert!(
            error("rule_files: ['a/*/b.yml']\n").contains("rule_files[0]: invalid rule file path")
        );
    }

    #[test]
    fn relative_paths_are_resolved_against_the_file() {
        let c = load(
            "rule_files: [rules/*.yml, /abs/r.yml]
scrape_configs:
  - job_name: a
    file_sd_configs: [{files: [targets/*.json]}]
",
        )
        .unwrap();
        assert_eq!(c.rule_files, ["/etc/prometheus/rules/*.yml", "/abs/r.yml"]);
        assert_eq!(
            c.scrape_configs[0].file_sd_configs[0].files,
            ["/etc/prometheus/targets/*.json"]
        );
    }
}
