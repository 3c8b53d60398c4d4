//! The `alerting` section: where alerts are sent (`alertmanagers`) and how their labels
//! are rewritten first (`alert_relabel_configs`).

use serde::{Deserialize, Serialize};

use super::de::{Unknown, deny_unknown, non_null};
use super::http_client::HttpClientConfig;
use super::relabel::{RelabelConfig, validate_all};
use super::scrape::{
    FileSdConfig, HttpSdConfig, KubernetesSdConfig, ServiceDiscovery, StaticConfig,
};
use crate::duration::PromDuration;
use crate::error::FieldError;

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    #[serde(default, deserialize_with = "non_null")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// A set of Alertmanagers, found like scrape targets.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct AlertmanagerConfig {
    /// `http` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// 10s unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// `v2` unless set (`v1` or `v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

impl AlertmanagerConfig {
    pub fn scheme(&self) -> &str {
        self.scheme.as_deref().unwrap_or("http")
    }

    pub fn path_prefix(&self) -> &str {
        self.path_prefix.as_deref().unwrap_or("/")
    }

    pub fn timeout(&self) -> PromDuration {
        self.timeout.unwrap_or(PromDuration::from_secs(10))
    }

    pub fn api_version(&self) -> &str {
        self.api_version.as_deref().unwrap_or("v2")
    }

    pub fn service_discovery(&self) -> ServiceDiscovery<'_> {
        ServiceDiscovery {
            static_configs: &self.static_configs,
            file_sd_configs: &self.file_sd_configs,
            http_sd_configs: &self.http_sd_configs,
            kubernetes_sd_configs: &self.kubernetes_sd_configs,
        }
    }

    /// The `host:port` of every static Alertmanager (before relabeling).
    pub fn static_targets(&self) -> impl Iterator<Item = &str> {
        self.static_configs
            .iter()
            .flat_map(|g| g.targets.iter().map(String::as_str))
    }

    fn validate(&self, at: &str) -> Result<(), FieldError> {
        deny_unknown(&self.unknown, at)?;
        if !matches!(self.api_version(), "v1" | "v2") {
            return Err(FieldError::new(
                format!("{at}.api_version"),
                format!(
                    "expected Alertmanager api version to be one of [v1 v2] but got {}",
                    self.api_version()
                ),
            ));
        }
        self.http.validate(at)?;
        self.service_discovery()
            .validate(at, !self.relabel_configs.is_empty())?;
        validate_all(&self.relabel_configs, &format!("{at}.relabel_configs"))
    }

    pub fn resolve(&mut self, dir: &std::path::Path) {
        self.http.resolve(dir);
        for f in &mut self.file_sd_configs {
            for file in &mut f.files {
                *file = super::resolve_path(dir, file);
            }
        }
        for h in &mut self.http_sd_configs {
            h.http.resolve(dir);
        }
        for k in &mut self.kubernetes_sd_configs {
            k.resolve(dir);
        }
    }
}

impl AlertingConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_all(
            &self.alert_relabel_configs,
            "alerting.alert_relabel_configs",
        )?;
        for (i, am) in self.alertmanagers.iter().enumerate() {
            am.validate(&format!("alerting.alertmanagers[{i}]"))?;
        }
        Ok(())
    }
}
