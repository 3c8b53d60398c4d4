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

/// Names the field inside inlined HTTP client settings that a deserialization error at
/// `e.field` came from (serde reports errors of flattened fields at the enclosing
/// section): each key of that section is tried alone as HTTP client settings.
pub fn refine_http_client_error(root: &serde_yaml::Value, e: FieldError) -> FieldError {
    let Some(serde_yaml::Value::Mapping(section)) = at_path(root, &e.field) else {
        return e;
    };
    for (k, v) in section {
        let mut single = serde_yaml::Mapping::new();
        single.insert(k.clone(), v.clone());
        let one = serde_yaml::Value::Mapping(single);
        if let Err(inner) = serde_path_to_error::deserialize::<_, super::HttpClientConfig>(one) {
            let path = inner.path().to_string();
            return FieldError::new(format!("{}.{path}", e.field), inner.inner().to_string());
        }
    }
    e
}

/// The value at a path such as `scrape_configs[0].http_sd_configs[1]`.
fn at_path<'a>(root: &'a serde_yaml::Value, path: &str) -> Option<&'a serde_yaml::Value> {
    let mut node = root;
    for part in path.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            node = node.get(name)?;
        }
        for idx in indexes.split('[').skip(1) {
            node = node.get(idx.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}
