//! The `storage` and `tracing` sections: parsed and kept (Telltale's storage is
//! configured on its MetricCluster; tracing is not exported).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::nullable;
use super::http_client::TlsConfig;
use crate::duration::PromDuration;
use crate::error::FieldError;

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<TsdbConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_order_time_window: Option<PromDuration>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_exemplars: Option<i64>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// `grpc` (the default) or `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_fraction: Option<f64>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, deserialize_with = "nullable")]
    pub headers: BTreeMap<String, String>,
    /// `gzip` or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
}

impl TracingConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(t) = &self.client_type
            && !matches!(t.as_str(), "grpc" | "http" | "")
        {
            return Err(FieldError::new(
                "tracing.client_type",
                format!("invalid tracing client type {t:?}"),
            ));
        }
        if let Some(c) = &self.compression
            && !matches!(c.as_str(), "gzip" | "")
        {
            return Err(FieldError::new(
                "tracing.compression",
                format!("invalid compression type {c} provided, valid options: gzip"),
            ));
        }
        Ok(())
    }
}
