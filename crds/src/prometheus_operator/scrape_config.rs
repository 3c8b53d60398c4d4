//! `ScrapeConfig` (`monitoring.coreos.com/v1alpha1`): a scrape job written directly, as
//! prometheus-operator's `generateScrapeConfig` turns it into one: job name
//! `scrapeConfig/<namespace>/<name>`, relabelings the job name kept in
//! `__tmp_prometheus_job_name`, `job` set from `jobName`, then the user's. Static,
//! file, HTTP and Kubernetes discovery are honoured, and the HTTP client settings
//! (`tlsConfig`, `authorization`, `basicAuth`, `oauth2`, `proxyUrl`, ... as an
//! endpoint's); every other discovery (Consul, DNS, EC2, ...) is reported as not
//! honoured.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::monitor::{ClientFields, RelabelConfig};
use super::translate::{Translated, client_settings, init_relabelings};
use super::{Object, report_unread};
use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::prometheus::KubernetesRole;
use crate::scrape_target::{
    FileSdConfig, HttpSd, KubernetesSd, KubernetesSdSelector, RelabelConfig as Step, Scheme,
    ScrapeTarget, ScrapeTargetSpec, StaticTargets,
};

/// A ScrapeConfig.
pub type ScrapeConfig = Object<ScrapeConfigSpec>;

/// The version of ScrapeConfig.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of a ScrapeConfig.
pub const API_VERSION: &str = "monitoring.coreos.com/v1alpha1";

/// `ScrapeConfig.spec` (the fields Telltale honours; the rest is reported).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeConfigSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(
        default,
        rename = "fileSDConfigs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub file_sd_configs: Vec<FileSd>,
    #[serde(
        default,
        rename = "httpSDConfigs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(
        default,
        rename = "kubernetesSDConfigs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<RelabelConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_relabelings: Vec<RelabelConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    /// TLS, authentication, proxy and redirects of the scrapes.
    #[serde(flatten)]
    pub client: ClientFields,
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
    /// Also store the classic series of histograms scraped as native ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_classic_histograms: Option<bool>,
    /// The exposition formats asked for, preferred first.
    #[serde(
        default,
        deserialize_with = "crate::prometheus::de::nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scrape_protocols: Vec<crate::ScrapeProtocol>,
    /// The format of a response without a usable Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<crate::ScrapeProtocol>,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileSd {
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<PromDuration>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpSdConfig {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<PromDuration>,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesSdConfig {
    /// `Pod`, `Endpoints`, `EndpointSlice`, `Service` (either case).
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Namespaces>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<Selector>,
    #[serde(flatten)]
    pub unread: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Namespaces {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_namespace: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
pub struct Selector {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A role written as the CRD allows (`Pod`, `pod`, `EndpointSlice`, ...).
fn role(s: &str, at: &str) -> Result<KubernetesRole, FieldError> {
    let lower = s.to_ascii_lowercase();
    KubernetesRole::ALL
        .into_iter()
        .find(|r| r.as_str() == lower)
        .ok_or_else(|| FieldError::new(at, format!("{s:?} is not a Kubernetes discovery role")))
}

impl Object<ScrapeConfigSpec> {
    /// The ScrapeTarget of this job, and what it does not honour.
    pub fn to_scrape_targets(&self) -> Result<Translated, FieldError> {
        let (ns, name, spec) = (self.namespace(), self.name(), &self.spec);
        let mut out = Translated::default();
        report_unread("spec", &spec.unread, &mut out.not_honoured);
        let job = format!("scrapeConfig/{ns}/{name}");
        let scheme = match spec
            .scheme
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(other) => {
                return Err(FieldError::new(
                    "spec.scheme",
                    format!("{other:?} is not http or https"),
                ));
            }
        };
        let mut kubernetes_sd = Vec::new();
        for (i, k) in spec.kubernetes_sd_configs.iter().enumerate() {
            let at = format!("spec.kubernetesSDConfigs[{i}]");
            report_unread(&at, &k.unread, &mut out.not_honoured);
            let ns = k.namespaces.clone().unwrap_or_default();
            let mut selectors = Vec::new();
            for (j, s) in k.selectors.iter().enumerate() {
                selectors.push(KubernetesSdSelector {
                    role: role(&s.role, &format!("{at}.selectors[{j}].role"))?,
                    label: s.label.clone().filter(|l| !l.is_empty()),
                    field: s.field.clone().filter(|f| !f.is_empty()),
                });
            }
            kubernetes_sd.push(KubernetesSd {
                role: role(&k.role, &format!("{at}.role"))?,
                namespaces: ns.names,
                own_namespace: ns.own_namespace.unwrap_or(false),
                selectors,
            });
        }
        for (i, h) in spec.http_sd_configs.iter().enumerate() {
            report_unread(
                &format!("spec.httpSDConfigs[{i}]"),
                &h.unread,
                &mut out.not_honoured,
            );
        }
        let mut relabelings = init_relabelings();
        if let Some(job_name) = &spec.job_name {
            relabelings.push(Step {
                target_label: Some("job".into()),
                replacement: Some(job_name.clone()).filter(|r| r != "$1"),
                ..Step::default()
            });
        }
        for (i, r) in spec.relabelings.iter().enumerate() {
            relabelings.push(r.to_spec(&format!("spec.relabelings[{i}]"))?);
        }
        let metric_relabelings = spec
            .metric_relabelings
            .iter()
            .enumerate()
            .map(|(i, r)| r.to_spec(&format!("spec.metricRelabelings[{i}]")))
            .collect::<Result<_, _>>()?;
        let client = client_settings(&spec.client, "spec")?;
        if let Some(v) = spec
            .client
            .tls_config
            .as_ref()
            .and_then(|t| t.max_version.as_deref())
        {
            out.not_honoured.push(format!(
                "spec.tlsConfig.maxVersion: {v} is not supported; TLS 1.2 and 1.3 are offered"
            ));
        }
        let mut target = ScrapeTargetSpec {
            job: Some(job.clone()),
            tls_config: client.tls_config,
            authorization: client.authorization,
            basic_auth: client.basic_auth,
            proxy_url: client.proxy_url,
            follow_redirects: client.follow_redirects,
            enable_http2: client.enable_http2,
            static_targets: spec
                .static_configs
                .iter()
                .map(|s| StaticTargets {
                    targets: s.targets.clone(),
                    labels: s.labels.clone(),
                })
                .collect(),
            file_sd: spec
                .file_sd_configs
                .iter()
                .map(|f| FileSdConfig {
                    files: f.files.clone(),
                    refresh_interval: f.refresh_interval,
                })
                .collect(),
            http_sd: spec
                .http_sd_configs
                .iter()
                .map(|h| HttpSd {
                    url: h.url.clone(),
                    refresh_interval: h.refresh_interval,
                })
                .collect(),
            kubernetes_sd,
            scheme,
            params: spec.params.clone(),
            scrape_timeout: spec.scrape_timeout,
            honor_labels: spec.honor_labels.unwrap_or(false),
            honor_timestamps: spec.honor_timestamps.unwrap_or(true),
            relabelings,
            metric_relabelings,
            sample_limit: spec.sample_limit.unwrap_or(0),
            target_limit: spec.target_limit.unwrap_or(0),
            label_limit: spec.label_limit.unwrap_or(0),
            label_name_length_limit: spec.label_name_length_limit.unwrap_or(0),
            label_value_length_limit: spec.label_value_length_limit.unwrap_or(0),
            scrape_classic_histograms: spec.scrape_classic_histograms.unwrap_or(false),
            scrape_protocols: spec.scrape_protocols.clone(),
            fallback_scrape_protocol: spec.fallback_scrape_protocol,
            ..ScrapeTargetSpec::default()
        };
        if let Some(path) = spec.metrics_path.as_deref().filter(|p| !p.is_empty()) {
            target.path = path.to_string();
        }
        if let Some(interval) = spec.scrape_interval {
            target.interval = interval;
        }
        target.validate()?;
        let mut target = ScrapeTarget::new(&job, target);
        // In the ScrapeConfig's namespace, where its Secrets are read.
        target.metadata.namespace = Some(ns.to_string());
        out.targets.push(target);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_config_is_one_scrape_target() {
        let sc: ScrapeConfig = serde_yaml::from_str(
            r#"
metadata: {name: blackbox, namespace: probes}
spec:
  jobName: blackbox
  scrapeInterval: 15s
  metricsPath: /probe
  params: {module: [http_2xx]}
  staticConfigs:
    - targets: [https://example.org]
      labels: {team: web}
  fileSDConfigs: [{files: [/etc/targets/*.json]}]
  kubernetesSDConfigs:
    - role: EndpointSlice
      namespaces: {names: [web], ownNamespace: true}
      selectors: [{role: Service, label: 'app=web'}]
  consulSDConfigs: [{server: consul:8500}]
  scheme: HTTPS
  tlsConfig: {ca: {secret: {name: probe-ca, key: ca.crt}}, serverName: blackbox}
  basicAuth: {username: {name: probe, key: user}, password: {name: probe, key: pass}}
  enableHTTP2: false
  relabelings:
    - {sourceLabels: [__address__], targetLabel: __param_target}
    - {targetLabel: __address__, replacement: 'blackbox:9115'}
"#,
        )
        .unwrap();
        let t = sc.to_scrape_targets().unwrap();
        assert_eq!(
            t.not_honoured,
            ["spec.consulSDConfigs: not supported by Telltale; ignored"]
        );
        let target = &t.targets[0];
        // Its client settings, Secrets read in its namespace.
        assert_eq!(target.metadata.namespace.as_deref(), Some("probes"));
        let c = target.spec.client();
        assert_eq!(target.spec.scheme, Scheme::Https);
        let tls = c.tls_config.unwrap();
        assert_eq!(tls.ca.unwrap().secret.unwrap().name, "probe-ca");
        assert_eq!(tls.server_name.as_deref(), Some("blackbox"));
        assert_eq!(c.basic_auth.unwrap().password.unwrap().key, "pass");
        assert_eq!(c.enable_http2, Some(false));
        assert_eq!(
            target.metadata.name.as_deref(),
            Some("scrapeConfig/probes/blackbox")
        );
        let s = &target.spec;
        assert_eq!(s.interval, PromDuration::from_secs(15));
        assert_eq!(s.path, "/probe");
        assert_eq!(s.static_targets[0].labels["team"], "web");
        assert_eq!(s.kubernetes_sd[0].role, KubernetesRole::EndpointSlice);
        assert!(s.kubernetes_sd[0].own_namespace);
        assert_eq!(
            s.kubernetes_sd[0].selectors[0].role,
            KubernetesRole::Service
        );
        // __tmp_prometheus_job_name, job, then the user's two.
        assert_eq!(s.relabelings.len(), 4);
        assert_eq!(s.relabelings[1].target_label.as_deref(), Some("job"));
        assert_eq!(s.relabelings[1].replacement.as_deref(), Some("blackbox"));

        let bad: ScrapeConfig = serde_yaml::from_str(
            "metadata: {name: a}\nspec: {kubernetesSDConfigs: [{role: Gateway}]}",
        )
        .unwrap();
        assert_eq!(
            bad.to_scrape_targets().unwrap_err().field,
            "spec.kubernetesSDConfigs[0].role"
        );
    }
}
