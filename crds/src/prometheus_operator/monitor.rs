//! `ServiceMonitor` and `PodMonitor` (`monitoring.coreos.com/v1`) with
//! prometheus-operator's field names. Fields not modelled here land in `unread` and are
//! reported as not honoured by the translation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Deserializer, Serialize};

use super::Object;
use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::scrape_target::{RelabelAction, RelabelConfig as SpecRelabel};
use crate::selection::NamespaceSelector;

/// A ServiceMonitor: the endpoints of the Services its `selector` matches.
pub type ServiceMonitor = Object<ServiceMonitorSpec>;
/// A PodMonitor: the pods its `selector` matches.
pub type PodMonitor = Object<PodMonitorSpec>;

/// `ServiceMonitor.spec`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// The Service label whose value becomes the `job` label (the Service's name when
    /// unset or empty on a Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_label: Option<String>,
    /// Service labels copied onto the targets.
    #[serde(default, deserialize_with = "nullable")]
    pub target_labels: Vec<String>,
    /// Pod labels copied onto the targets.
    #[serde(default, deserialize_with = "nullable")]
    pub pod_target_labels: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub endpoints: Vec<Endpoint>,
    /// The Services to scrape.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Where the Services are: the ServiceMonitor's namespace unless set.
    #[serde(default)]
    pub namespace_selector: NamespaceSelector,
    /// `Endpoints` (default) or `EndpointSlice`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_discovery_role: Option<String>,
    #[serde(flatten)]
    pub limits: Limits,
    /// Fields not modelled (reported as not honoured).
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// `PodMonitor.spec`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// The pod label whose value becomes the `job` label (`<namespace>/<name>` of the
    /// PodMonitor when unset or empty on a pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_label: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub pod_target_labels: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub namespace_selector: NamespaceSelector,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// The per-monitor limits (0 or unset: none) and monitor-wide scrape settings.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Also store the classic series of histograms scraped as native ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_classic_histograms: Option<bool>,
    /// The exposition formats asked for, preferred first.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scrape_protocols: Vec<crate::ScrapeProtocol>,
    /// The format of a response without a usable Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<crate::ScrapeProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    /// `{node: true}` adds node metadata in Prometheus; not honoured when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_metadata: Option<AttachMetadata>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct AttachMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<bool>,
}

/// How an endpoint is scraped: the settings both monitor kinds share.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https` (either case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(
        default,
        deserialize_with = "optional_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<PromDuration>,
    #[serde(
        default,
        deserialize_with = "optional_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default)]
    pub honor_labels: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub relabelings: Vec<RelabelConfig>,
    #[serde(default, deserialize_with = "nullable")]
    pub metric_relabelings: Vec<RelabelConfig>,
    /// Drop targets of pods in phase Failed or Succeeded (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_running: Option<bool>,
}

/// The HTTP client settings of an endpoint (and of a ScrapeConfig); flattened beside
/// [`ScrapeSettings`], not inside it (serde's nested `flatten` would leave its keys in
/// `unread` too).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// `enableHttp2` on endpoints, `enableHTTP2` on ScrapeConfigs.
    #[serde(
        default,
        alias = "enableHTTP2",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_http2: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<SafeAuthorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated by prometheus-operator for `authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_secret: Option<SecretKeySelector>,
    /// Deprecated by prometheus-operator for `authorization`; the pod's service-account
    /// token for kubelet scrapes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    #[serde(default, alias = "proxyURL", skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// Kubernetes' `SecretKeySelector` (and `ConfigMapKeySelector`) as monitors write them.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    /// Accepted; a missing Secret fails the scrape either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `SecretOrConfigMap`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretOrConfigMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<SecretKeySelector>,
}

/// An endpoint's `tlsConfig` (`SafeTLSConfig` plus the file fields of `TLSConfig`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretOrConfigMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<SecretOrConfigMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// Not honoured (rustls offers no upper bound below TLS 1.3 worth having).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}

/// `SafeAuthorization`: `type` (Bearer unless set) and credentials from a Secret.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SafeAuthorization {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SecretKeySelector>,
}

/// `BasicAuth`: username and password from Secrets.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretKeySelector>,
}

/// `OAuth2`: client id (Secret or ConfigMap) and secret (Secret), the token endpoint and
/// its own TLS and proxy.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SecretOrConfigMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretKeySelector>,
    #[serde(default)]
    pub token_url: String,
    #[serde(default, deserialize_with = "nullable")]
    pub scopes: Vec<String>,
    #[serde(default, deserialize_with = "nullable_map")]
    pub endpoint_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, alias = "proxyURL", skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// One endpoint of a ServiceMonitor.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The Service port, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The pod's container port, by name or number (when `port` is unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    #[serde(flatten)]
    pub scrape: ScrapeSettings,
    /// TLS, authentication, proxy and redirects of the scrapes.
    #[serde(flatten)]
    pub client: ClientFields,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// One endpoint of a PodMonitor.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodMetricsEndpoint {
    /// The container port, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The container port, by number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_number: Option<i32>,
    /// Deprecated: the container port by name or number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    #[serde(flatten)]
    pub scrape: ScrapeSettings,
    /// TLS, authentication, proxy and redirects of the scrapes.
    #[serde(flatten)]
    pub client: ClientFields,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

/// A relabeling step as prometheus-operator writes it: camelCase fields, the action in
/// either case (`Replace`, `replace`, `LabelMap`, ...).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub source_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl RelabelConfig {
    /// The step in Telltale's terms; `at` names it in errors.
    pub fn to_spec(&self, at: &str) -> Result<SpecRelabel, FieldError> {
        let action = match &self.action {
            None => RelabelAction::default(),
            Some(a) => serde_json::from_value(serde_json::Value::String(a.to_ascii_lowercase()))
                .map_err(|_| {
                    FieldError::new(format!("{at}.action"), format!("unknown action {a:?}"))
                })?,
        };
        let step = SpecRelabel {
            source_labels: self.source_labels.clone(),
            separator: self.separator.clone().filter(|s| s != ";"),
            target_label: self.target_label.clone().filter(|t| !t.is_empty()),
            regex: self.regex.clone().filter(|r| r != "(.*)"),
            modulus: self.modulus.filter(|m| *m != 0),
            replacement: self.replacement.clone().filter(|r| r != "$1"),
            action,
        };
        step.validate(at)?;
        Ok(step)
    }
}

/// `null` read as an empty list (charts render `targetLabels:` with nothing after it).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `null` read as an empty map.
fn nullable_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default())
}

/// An optional duration where `""` means unset, as prometheus-operator reads it.
fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PromDuration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => PromDuration::parse(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_kept_not_refused() {
        let s: ServiceMonitorSpec = serde_yaml::from_str(
            r#"
selector: {matchLabels: {app: x}}
scrapeClass: fancy
endpoints:
  - port: http-metrics
    interval: ""
    tlsConfig: {insecureSkipVerify: true}
    oauth2: {clientId: {secret: {name: a, key: b}}, tokenUrl: 'https://idp/token'}
    noProxy: internal
    relabelings: [{action: LabelMap, regex: '__meta_kubernetes_pod_label_(.+)'}]
"#,
        )
        .unwrap();
        assert_eq!(s.unread.keys().collect::<Vec<_>>(), ["scrapeClass"]);
        let ep = &s.endpoints[0];
        assert_eq!(ep.scrape.interval, None);
        assert_eq!(ep.unread.keys().collect::<Vec<_>>(), ["noProxy"]);
        assert_eq!(
            ep.client.oauth2.as_ref().unwrap().token_url,
            "https://idp/token"
        );
        assert_eq!(
            ep.client.tls_config.as_ref().unwrap().insecure_skip_verify,
            Some(true)
        );
        let step = ep.scrape.relabelings[0].to_spec("r").unwrap();
        assert_eq!(step.action, RelabelAction::LabelMap);
    }

    #[test]
    fn relabel_actions_in_either_case_and_bad_ones_named() {
        let r: RelabelConfig = serde_yaml::from_str(
            "{action: HashMod, sourceLabels: [a], modulus: 3, targetLabel: h}",
        )
        .unwrap();
        assert_eq!(r.to_spec("x").unwrap().action, RelabelAction::HashMod);
        let r: RelabelConfig = serde_yaml::from_str("{action: frobnicate}").unwrap();
        assert_eq!(r.to_spec("x[0]").unwrap_err().field, "x[0].action");
        let r: RelabelConfig = serde_yaml::from_str("{sourceLabels: [a]}").unwrap();
        assert_eq!(r.to_spec("x[0]").unwrap_err().field, "x[0].targetLabel");
    }
}
