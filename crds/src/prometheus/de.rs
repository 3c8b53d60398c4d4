//! What Prometheus's YAML reading does that serde does not by itself: `null` for an
//! empty list or map, unknown fields next to inlined (flattened) sections, URLs.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::error::FieldError;

/// A field written `key:` with nothing after it (YAML null) reads as its default, as in
/// Go's YAML decoder: `rule_files:` followed by commented-out entries is an empty list.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The fields of a section that no part of it knows (sections with inlined HTTP client
/// fields collect them here instead of using `deny_unknown_fields`).
pub type Unknown = BTreeMap<String, serde_yaml::Value>;

/// Prometheus's service discovery mechanisms that Telltale does not implement.
const UNSUPPORTED_SD: &[&str] = &[
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "dns_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

/// The error for the first unknown field of the section at `at`, if any.
pub fn deny_unknown(unknown: &Unknown, at: &str) -> Result<(), FieldError> {
    let Some(name) = unknown.keys().next() else {
        return Ok(());
    };
    let field = if at.is_empty() {
        name.clone()
    } else {
        format!("{at}.{name}")
    };
    if UNSUPPORTED_SD.contains(&name.as_str()) {
        return Err(FieldError::new(
            field,
            "this service discovery is not supported by Telltale (supported: static_configs, file_sd_configs, http_sd_configs, kubernetes_sd_configs)",
        ));
    }
    Err(FieldError::new(field, format!("unknown field `{name}`")))
}

/// Checks that `s` parses as an absolute URL (Prometheus's `config.URL`).
pub fn check_url(s: &str) -> Result<url::Url, String> {
    url::Url::parse(s).map_err(|e| e.to_string())
}

/// True for a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub use crate::scrape_target::is_label_name;

/// A list in which a `null` entry is an error, as in Prometheus ("empty or null ...
/// section"); a `null` list is empty.
pub fn non_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list: Option<Vec<Option<T>>> = Option::deserialize(d)?;
    list.unwrap_or_default()
        .into_iter()
        .map(|s| s.ok_or_else(|| serde::de::Error::custom("empty or null section")))
        .collect()
}

/// The text of a YAML scalar, as Go's decoder gives a string field: `regex: true` is the
/// regex `true`, `port: 80` the label value `80`.
fn scalar_text<E: serde::de::Error>(v: serde_yaml::Value) -> Result<String, E> {
    match v {
        serde_yaml::Value::String(s) => Ok(s),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Null => Ok(String::new()),
        other => Err(E::custom(format!(
            "invalid type: {}, expected a string",
            match other {
                serde_yaml::Value::Sequence(_) => "sequence",
                serde_yaml::Value::Mapping(_) => "map",
                _ => "tagged value",
            }
        ))),
    }
}

/// An optional string field that takes any scalar (see `scalar_text`).
pub fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_yaml::Value>::deserialize(d)? {
        None => Ok(None),
        Some(v) => scalar_text(v).map(Some),
    }
}

/// A map of strings whose values take any scalar (label sets, headers).
pub fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map: Option<BTreeMap<String, serde_yaml::Value>> = Option::deserialize(d)?;
    map.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| Ok((k, scalar_text(v)?)))
        .collect()
}
