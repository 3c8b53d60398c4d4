//! `scrape_configs` entries and the service discovery sections Telltale implements:
//! `static_configs`, `file_sd_configs`, `http_sd_configs`, `kubernetes_sd_configs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::de::{Unknown, deny_unknown, non_null, nullable};
use super::http_client::HttpClientConfig;
use super::relabel::{RelabelConfig, validate_all};
use crate::duration::PromDuration;
use crate::error::FieldError;

/// One scrape job. Intervals and timeouts left unset are filled from `global` when the
/// file is loaded (see [`super::PrometheusConfig`]), so after loading they are `Some`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct ScrapeConfig {
    #[serde(default)]
    pub job_name: String,
    #[serde(default)]
    pub honor_labels: bool,
    /// True unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// `/metrics` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<String>,
    /// `http` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Go's base-2 byte units (`10MB` is 10 MiB, `1GiB`); kept as written, checked on
    /// load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<String>,
    #[serde(default)]
    pub sample_limit: u64,
    #[serde(default)]
    pub target_limit: u64,
    #[serde(default)]
    pub label_limit: u64,
    #[serde(default)]
    pub label_name_length_limit: u64,
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// Also store the classic series of histograms scraped as native histograms
    /// (`always_scrape_classic_histograms` since Prometheus 3.0).
    #[serde(default, alias = "always_scrape_classic_histograms")]
    pub scrape_classic_histograms: bool,
    /// The exposition formats asked for, preferred first; unset: protobuf first.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scrape_protocols: Vec<crate::ScrapeProtocol>,
    /// The format of a response without a usable Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<crate::ScrapeProtocol>,
    #[serde(default, deserialize_with = "non_null")]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default, deserialize_with = "non_null")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
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

/// Fixed targets with common labels.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub targets: Vec<String>,
    #[serde(default, deserialize_with = "super::de::scalar_map")]
    pub labels: BTreeMap<String, String>,
}

/// Files of target groups (`.json`, `.yml`, `.yaml`; `*` in the last path component).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub files: Vec<String>,
    /// 5m unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<PromDuration>,
}

/// Prometheus's `file_sd_configs` refresh default.
pub const FILE_SD_REFRESH: PromDuration = PromDuration(std::time::Duration::from_secs(300));
/// Prometheus's `http_sd_configs` refresh default.
pub const HTTP_SD_REFRESH: PromDuration = PromDuration(std::time::Duration::from_secs(60));

/// Target groups fetched from an HTTP endpoint (a JSON list of `{targets, labels}`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct HttpSdConfig {
    #[serde(default)]
    pub url: String,
    /// 60s unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<PromDuration>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

/// The kind of Kubernetes object a `kubernetes_sd_configs` entry discovers.
#[derive(
    Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KubernetesRole {
    #[default]
    Pod,
    Service,
    Endpoints,
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    Node,
    Ingress,
}

impl KubernetesRole {
    pub const ALL: [KubernetesRole; 6] = [
        KubernetesRole::Pod,
        KubernetesRole::Service,
        KubernetesRole::Endpoints,
        KubernetesRole::EndpointSlice,
        KubernetesRole::Node,
        KubernetesRole::Ingress,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Node => "node",
            KubernetesRole::Ingress => "ingress",
        }
    }

    /// The selector roles an SD config of this role may use.
    fn allowed_selectors(&self) -> &'static [KubernetesRole] {
        use KubernetesRole as R;
        match self {
            R::Pod => &[R::Pod],
            R::Service => &[R::Service],
            R::EndpointSlice => &[R::Pod, R::Service, R::EndpointSlice],
            R::Endpoints => &[R::Pod, R::Service, R::Endpoints],
            R::Node => &[R::Node],
            R::Ingress => &[R::Ingress],
        }
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KubernetesRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown Kubernetes SD role {s:?}")))
    }
}

/// Discovery of pods, services, endpoints, endpointslices, nodes or ingresses through
/// the Kubernetes API.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct KubernetesSdConfig {
    /// Required; `None` only when missing from the file (an error on load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<KubernetesRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<NamespaceDiscovery>,
    #[serde(default, deserialize_with = "nullable")]
    pub selectors: Vec<SelectorConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_metadata: Option<AttachMetadata>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

/// The namespaces to discover in; every namespace when empty.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    #[serde(default)]
    pub own_namespace: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub names: Vec<String>,
}

/// A label and/or field selector for the objects of one role.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    pub role: KubernetesRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    #[serde(default)]
    pub node: bool,
}

/// The service discovery sections a scrape config or an Alertmanager config holds.
pub struct ServiceDiscovery<'a> {
    pub static_configs: &'a [StaticConfig],
    pub file_sd_configs: &'a [FileSdConfig],
    pub http_sd_configs: &'a [HttpSdConfig],
    pub kubernetes_sd_configs: &'a [KubernetesSdConfig],
}

impl ServiceDiscovery<'_> {
    /// Prometheus's checks of each section; static targets may not be URLs unless the
    /// section is relabeled (`relabeled`).
    pub fn validate(&self, at: &str, relabeled: bool) -> Result<(), FieldError> {
        for (g, group) in self.static_configs.iter().enumerate() {
            let at = format!("{at}.static_configs[{g}]");
            if !relabeled {
                for (t, target) in group.targets.iter().enumerate() {
                    if target.contains('/') {
                        return Err(FieldError::new(
                            format!("{at}.targets[{t}]"),
                            format!("{target:?} is not a valid hostname"),
                        ));
                    }
                }
            }
            for name in group.labels.keys() {
                if !telltale_model::is_valid_label_name(name) {
                    return Err(FieldError::new(
                        format!("{at}.labels.{name}"),
                        format!("{name:?} is not a valid label name"),
                    ));
                }
            }
        }
        for (i, f) in self.file_sd_configs.iter().enumerate() {
            let at = format!("{at}.file_sd_configs[{i}]");
            if f.files.is_empty() {
                return Err(FieldError::new(
                    format!("{at}.files"),
                    "file service discovery config must contain at least one path name",
                ));
            }
            for (j, file) in f.files.iter().enumerate() {
                if !is_sd_file_pattern(file) {
                    return Err(FieldError::new(
                        format!("{at}.files[{j}]"),
                        format!("path name {file:?} is not valid for file discovery"),
                    ));
                }
            }
        }
        for (i, h) in self.http_sd_configs.iter().enumerate() {
            let at = format!("{at}.http_sd_configs[{i}]");
            deny_unknown(&h.unknown, &at)?;
            let url_at = format!("{at}.url");
            if h.url.is_empty() {
                return Err(FieldError::new(url_at, "URL is missing"));
            }
            let url = super::de::check_url(&h.url).map_err(|m| FieldError::new(&url_at, m))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(FieldError::new(
                    url_at,
                    "URL scheme must be 'http' or 'https'",
                ));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(FieldError::new(url_at, "host is missing in URL"));
            }
            h.http.validate(&at)?;
        }
        for (i, k) in self.kubernetes_sd_configs.iter().enumerate() {
            k.validate(&format!("{at}.kubernetes_sd_configs[{i}]"))?;
        }
        Ok(())
    }
}

/// Prometheus's `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$` on the file name.
fn is_sd_file_pattern(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext_ok = ["json", "yml", "yaml", "JSON", "YML", "YAML"]
        .iter()
        .any(|e| {
            name.len() > e.len() && name.ends_with(e) && name[..name.len() - e.len()].ends_with('.')
        });
    ext_ok && crate::glob::star_only_in_last_component(path)
}

impl KubernetesSdConfig {
    /// Makes `kubeconfig_file` and the client's files absolute against `dir`.
    pub fn resolve(&mut self, dir: &std::path::Path) {
        self.http.resolve(dir);
        if let Some(f) = &mut self.kubeconfig_file {
            *f = super::resolve_path(dir, f);
        }
    }

    /// The role (`pod` when missing, which [`KubernetesSdConfig::validate`] rejects).
    pub fn role(&self) -> KubernetesRole {
        self.role.unwrap_or_default()
    }

    /// Prometheus's checks of `kubernetes_sd_configs` (role, API server vs kubeconfig,
    /// own namespace, selector roles).
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        deny_unknown(&self.unknown, at)?;
        let Some(role) = self.role else {
            return Err(FieldError::new(
                format!("{at}.role"),
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
            ));
        };
        self.http.validate(at)?;
        let err = |m: &str| Err(FieldError::new(at, m));
        if let Some(api) = &self.api_server {
            super::de::check_url(api)
                .map_err(|m| FieldError::new(format!("{at}.api_server"), m))?;
        }
        let own = self.namespaces.as_ref().is_some_and(|n| n.own_namespace);
        if self.api_server.is_some() && self.kubeconfig_file.is_some() {
            return err("cannot use 'kubeconfig_file' and 'api_server' simultaneously");
        }
        if self.kubeconfig_file.is_some() && !self.http.is_default() {
            return err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            );
        }
        if self.api_server.is_none() && !self.http.is_default() {
            return err(
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            );
        }
        if self.api_server.is_some() && own {
            return err("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously");
        }
        if self.kubeconfig_file.is_some() && own {
            return err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
            );
        }
        let mut seen = Vec::new();
        for (i, s) in self.selectors.iter().enumerate() {
            let at = format!("{at}.selectors[{i}]");
            if seen.contains(&s.role) {
                return Err(FieldError::new(
                    format!("{at}.role"),
                    format!("duplicated selector role: {}", s.role.as_str()),
                ));
            }
            seen.push(s.role);
            if let Some(label) = &s.label {
                crate::selection::parse_label_selector(label)
                    .map_err(|m| FieldError::new(format!("{at}.label"), m))?;
            }
            let allowed = role.allowed_selectors();
            if !allowed.contains(&s.role) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(FieldError::new(
                    format!("{at}.role"),
                    format!(
                        "{} role supports only {} selectors",
                        role.as_str(),
                        names.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl ScrapeConfig {
    /// Its service discovery sections.
    pub fn service_discovery(&self) -> ServiceDiscovery<'_> {
        ServiceDiscovery {
            static_configs: &self.static_configs,
            file_sd_configs: &self.file_sd_configs,
            http_sd_configs: &self.http_sd_configs,
            kubernetes_sd_configs: &self.kubernetes_sd_configs,
        }
    }

    /// `scrape_interval` (filled from `global` on load).
    pub fn interval(&self) -> PromDuration {
        self.scrape_interval
            .unwrap_or(super::global::DEFAULT_SCRAPE_INTERVAL)
    }

    /// `scrape_timeout` (filled from `global` on load).
    pub fn timeout(&self) -> PromDuration {
        self.scrape_timeout
            .unwrap_or_else(|| super::global::DEFAULT_SCRAPE_TIMEOUT.min(self.interval()))
    }

    pub fn metrics_path(&self) -> &str {
        self.metrics_path.as_deref().unwrap_or("/metrics")
    }

    pub fn scheme(&self) -> &str {
        self.scheme.as_deref().unwrap_or("http")
    }

    pub fn honor_timestamps(&self) -> bool {
        self.honor_timestamps.unwrap_or(true)
    }

    /// Prometheus's checks of one scrape config (job name, HTTP client, service
    /// discovery, relabeling); `at` is `scrape_configs[i]`. Interval and timeout are
    /// checked against `global` by [`ScrapeConfig::apply_global`].
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        deny_unknown(&self.unknown, at)?;
        if self.job_name.is_empty() {
            return Err(FieldError::new(
                format!("{at}.job_name"),
                "job_name is empty",
            ));
        }
        if !matches!(self.scheme(), "http" | "https") {
            // Prometheus 2.42 accepts any scheme here and fails every scrape; Telltale
            // scrapes over HTTP(S) only and says so on load.
            return Err(FieldError::new(
                format!("{at}.scheme"),
                format!("{:?} is not http or https", self.scheme()),
            ));
        }
        self.http.validate(at)?;
        if let Some(b) = &self.body_size_limit {
            telltale_model::parse_base2_bytes(b)
                .map_err(|e| FieldError::new(format!("{at}.body_size_limit"), e.to_string()))?;
        }
        self.service_discovery()
            .validate(at, !self.relabel_configs.is_empty())?;
        validate_all(&self.relabel_configs, &format!("{at}.relabel_configs"))?;
        validate_all(
            &self.metric_relabel_configs,
            &format!("{at}.metric_relabel_configs"),
        )?;
        Ok(())
    }

    /// Fills unset interval and timeout from `global` as Prometheus does (the timeout is
    /// the global one capped at the job's interval), and checks timeout ≤ interval.
    pub fn apply_global(
        &mut self,
        global: &super::GlobalConfig,
        at: &str,
    ) -> Result<(), FieldError> {
        let interval = match self.scrape_interval {
            Some(i) if !i.0.is_zero() => i,
            _ => global.scrape_interval(),
        };
        self.scrape_interval = Some(interval);
        match self.scrape_timeout {
            Some(t) if t > interval => {
                return Err(FieldError::new(
                    format!("{at}.scrape_timeout"),
                    format!(
                        "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                        self.job_name
                    ),
                ));
            }
            Some(t) if !t.0.is_zero() => {}
            _ => self.scrape_timeout = Some(global.scrape_timeout().min(interval)),
        }
        Ok(())
    }

    /// Makes relative file paths (file_sd files, credential and TLS files) absolute
    /// against `dir`.
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
