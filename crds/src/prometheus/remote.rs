//! `remote_write` and `remote_read`: other Prometheus-compatible systems to forward every
//! sample to, or to read from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::{Unknown, check_url, deny_unknown, non_null};
use super::http_client::HttpClientConfig;
use super::relabel::{RelabelConfig, validate_all};
use crate::duration::PromDuration;
use crate::error::FieldError;

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct RemoteWriteConfig {
    #[serde(default)]
    pub url: String,
    /// 30s unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_timeout: Option<PromDuration>,
    #[serde(default, deserialize_with = "super::de::scalar_map")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "non_null")]
    pub write_relabel_configs: Vec<RelabelConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub send_exemplars: bool,
    #[serde(default)]
    pub send_native_histograms: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_config: Option<QueueConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_config: Option<MetadataConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<Sigv4Config>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

/// How samples are queued and sent; Prometheus's defaults where unset.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_shards: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_shards: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples_per_send: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_send_deadline: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<PromDuration>,
    #[serde(default)]
    pub retry_on_http_429: bool,
}

impl QueueConfig {
    pub fn capacity(&self) -> i64 {
        self.capacity.unwrap_or(2500)
    }
    pub fn max_shards(&self) -> i64 {
        self.max_shards.unwrap_or(200)
    }
    pub fn min_shards(&self) -> i64 {
        self.min_shards.unwrap_or(1)
    }
    pub fn max_samples_per_send(&self) -> i64 {
        self.max_samples_per_send.unwrap_or(500)
    }
    pub fn batch_send_deadline(&self) -> PromDuration {
        self.batch_send_deadline
            .unwrap_or(PromDuration::from_secs(5))
    }
    pub fn min_backoff(&self) -> PromDuration {
        self.min_backoff
            .unwrap_or(PromDuration(std::time::Duration::from_millis(30)))
    }
    pub fn max_backoff(&self) -> PromDuration {
        self.max_backoff.unwrap_or(PromDuration::from_secs(5))
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_interval: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples_per_send: Option<i64>,
}

/// AWS Signature Version 4 signing of the requests (parsed and kept).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sigv4Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct RemoteReadConfig {
    #[serde(default)]
    pub url: String,
    /// 1m unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_timeout: Option<PromDuration>,
    #[serde(default, deserialize_with = "super::de::scalar_map")]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub read_recent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::de::scalar_map")]
    pub required_matchers: BTreeMap<String, String>,
    /// True unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_external_labels: Option<bool>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

/// Headers Prometheus sets itself (compared in Go's canonical form).
const RESERVED_HEADERS: &[&str] = &[
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

fn check_headers(headers: &BTreeMap<String, String>, at: &str) -> Result<(), FieldError> {
    for name in headers.keys() {
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(FieldError::new(
                format!("{at}.headers.{name}"),
                format!("{name} is a reserved header. It must not be changed"),
            ));
        }
    }
    Ok(())
}

fn check_endpoint(url: &str, at: &str, what: &str) -> Result<(), FieldError> {
    if url.is_empty() {
        return Err(FieldError::new(
            format!("{at}.url"),
            format!("url for {what} is empty"),
        ));
    }
    check_url(url).map_err(|m| FieldError::new(format!("{at}.url"), format!("{url:?}: {m}")))?;
    Ok(())
}

impl RemoteWriteConfig {
    pub fn remote_timeout(&self) -> PromDuration {
        self.remote_timeout.unwrap_or(PromDuration::from_secs(30))
    }

    pub fn queue(&self) -> QueueConfig {
        self.queue_config.clone().unwrap_or_default()
    }

    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        deny_unknown(&self.unknown, at)?;
        check_endpoint(&self.url, at, "remote_write")?;
        check_headers(&self.headers, at)?;
        validate_all(
            &self.write_relabel_configs,
            &format!("{at}.write_relabel_configs"),
        )?;
        self.http.validate(at)?;
        if self.sigv4.is_some()
            && (self.http.basic_auth.is_some()
                || self.http.authorization.is_some()
                || self.http.oauth2.is_some())
        {
            return Err(FieldError::new(
                at,
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured",
            ));
        }
        Ok(())
    }
}

impl RemoteReadConfig {
    pub fn remote_timeout(&self) -> PromDuration {
        self.remote_timeout.unwrap_or(PromDuration::from_secs(60))
    }

    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        deny_unknown(&self.unknown, at)?;
        check_endpoint(&self.url, at, "remote_read")?;
        check_headers(&self.headers, at)?;
        self.http.validate(at)
    }
}
