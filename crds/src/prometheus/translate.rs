//! prometheus.yml in Telltale's model: each scrape config becomes a [`ScrapeTarget`]
//! (named after its job, Prometheus's defaults from `global` already filled); what has
//! no ScrapeTarget equivalent is read through accessors.

use std::collections::BTreeMap;

use super::HttpClientConfig;
use super::{AlertmanagerConfig, PrometheusConfig, RemoteWriteConfig, ScrapeConfig};
use crate::duration::PromDuration;
use crate::scrape_client::{Authorization, ScrapeClient, TlsConfig};
use crate::scrape_target::{
    FileSdConfig, HttpSd, KubernetesSd, KubernetesSdSelector, RelabelConfig, Scheme, ScrapeTarget,
    ScrapeTargetSpec, StaticTargets,
};

impl PrometheusConfig {
    /// One ScrapeTarget per scrape config, in file order, named after its `job_name`.
    pub fn scrape_targets(&self) -> Vec<ScrapeTarget> {
        self.scrape_configs
            .iter()
            .map(ScrapeConfig::to_scrape_target)
            .collect()
    }

    /// `global.external_labels`.
    pub fn external_labels(&self) -> &BTreeMap<String, String> {
        &self.global.external_labels
    }

    /// `global.evaluation_interval`: the interval of rule groups that set none.
    pub fn evaluation_interval(&self) -> PromDuration {
        self.global.evaluation_interval()
    }

    /// The rule file patterns, absolute (`*` in the file name only; see
    /// [`crate::glob::expand`]).
    pub fn rule_file_patterns(&self) -> &[String] {
        &self.rule_files
    }

    /// `alerting.alertmanagers`.
    pub fn alertmanagers(&self) -> &[AlertmanagerConfig] {
        &self.alerting.alertmanagers
    }

    /// `alerting.alert_relabel_configs` as relabeling steps.
    pub fn alert_relabelings(&self) -> Vec<RelabelConfig> {
        self.alerting
            .alert_relabel_configs
            .iter()
            .map(|r| r.to_spec())
            .collect()
    }

    /// `remote_write`.
    pub fn remote_writes(&self) -> &[RemoteWriteConfig] {
        &self.remote_write
    }

    /// The settings this file sets that the ScrapeTargets cannot carry (the client
    /// settings of HTTP discovery, Kubernetes node metadata), one
    /// `path: field` each, for a warning on load.
    pub fn not_translated(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, sc) in self.scrape_configs.iter().enumerate() {
            let at = format!("scrape_configs[{i}]");
            for (j, h) in sc.http_sd_configs.iter().enumerate() {
                for f in h.http.fields_set() {
                    out.push(format!("{at}.http_sd_configs[{j}].{f}"));
                }
            }
            for (j, k) in sc.kubernetes_sd_configs.iter().enumerate() {
                // `api_server`, `kubeconfig_file` and the client settings of an API server
                // make standalone's one Kubernetes client.
                if k.attach_metadata.as_ref().is_some_and(|a| a.node) {
                    out.push(format!("{at}.kubernetes_sd_configs[{j}].attach_metadata"));
                }
            }
        }
        out
    }
}

impl ScrapeConfig {
    /// The ScrapeTarget of this job: name and `job` the job name; interval and timeout
    /// as resolved on load; static, file, HTTP and Kubernetes discovery; relabeling;
    /// limits.
    pub fn to_scrape_target(&self) -> ScrapeTarget {
        let spec = ScrapeTargetSpec {
            job: Some(self.job_name.clone()),
            static_targets: static_targets(&self.static_configs),
            path: self.metrics_path().to_string(),
            scheme: if self.scheme() == "https" {
                Scheme::Https
            } else {
                Scheme::Http
            },
            interval: self.interval(),
            scrape_timeout: Some(self.timeout()),
            params: self.params.clone(),
            file_sd: file_sd(&self.file_sd_configs),
            http_sd: http_sd(&self.http_sd_configs),
            kubernetes_sd: kubernetes_sd(&self.kubernetes_sd_configs),
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps(),
            relabelings: self.relabel_configs.iter().map(|r| r.to_spec()).collect(),
            metric_relabelings: self
                .metric_relabel_configs
                .iter()
                .map(|r| r.to_spec())
                .collect(),
            sample_limit: self.sample_limit,
            label_limit: self.label_limit,
            label_name_length_limit: self.label_name_length_limit,
            label_value_length_limit: self.label_value_length_limit,
            target_limit: self.target_limit,
            body_size_limit: self.body_size_limit.clone().filter(|b| !b.is_empty()),
            scrape_classic_histograms: self.scrape_classic_histograms,
            scrape_protocols: self.scrape_protocols.clone(),
            fallback_scrape_protocol: self.fallback_scrape_protocol,
            ..ScrapeTargetSpec::default()
        };
        let client = scrape_client(&self.http);
        let spec = ScrapeTargetSpec {
            tls_config: client.tls_config,
            authorization: client.authorization,
            basic_auth: client.basic_auth,
            oauth2: client.oauth2,
            proxy_url: client.proxy_url,
            follow_redirects: client.follow_redirects,
            enable_http2: client.enable_http2,
            inline_credentials: client.inline,
            ..spec
        };
        ScrapeTarget::new(&self.job_name, spec)
    }
}

impl AlertmanagerConfig {
    /// The Alertmanagers of this section as a ScrapeTarget named `name` that is
    /// discovered but never scraped: its static, file, HTTP and Kubernetes discovery, its
    /// scheme, its
    /// alerts path (`<path_prefix>/api/v2/alerts`) as the metrics path and its
    /// `relabel_configs` with `__alerts_path__` read as `__metrics_path__`. Each target
    /// left is one Alertmanager at the target's URL.
    pub fn to_scrape_target(&self, name: &str) -> ScrapeTarget {
        let prefix = self.path_prefix().trim_end_matches('/');
        let spec = ScrapeTargetSpec {
            job: Some(name.to_string()),
            static_targets: static_targets(&self.static_configs),
            file_sd: file_sd(&self.file_sd_configs),
            http_sd: http_sd(&self.http_sd_configs),
            kubernetes_sd: kubernetes_sd(&self.kubernetes_sd_configs),
            scheme: if self.scheme() == "https" {
                Scheme::Https
            } else {
                Scheme::Http
            },
            path: format!("{prefix}/api/v2/alerts"),
            relabelings: self
                .relabel_configs
                .iter()
                .map(|r| alerts_path_as_metrics_path(r.to_spec()))
                .collect(),
            ..ScrapeTargetSpec::default()
        };
        ScrapeTarget::new(name, spec)
    }
}

/// A relabeling step with Prometheus's `__alerts_path__` renamed to the scrape's
/// `__metrics_path__`.
fn alerts_path_as_metrics_path(mut r: RelabelConfig) -> RelabelConfig {
    let rename = |l: &mut String| {
        if l == "__alerts_path__" {
            *l = "__metrics_path__".to_string();
        }
    };
    r.source_labels.iter_mut().for_each(rename);
    if let Some(t) = r.target_label.as_mut() {
        rename(t);
    }
    r
}

fn static_targets(configs: &[super::StaticConfig]) -> Vec<StaticTargets> {
    configs
        .iter()
        .map(|g| StaticTargets {
            targets: g.targets.clone(),
            labels: g.labels.clone(),
        })
        .collect()
}

/// File discovery, refreshed every 5 minutes unless set (Prometheus's default).
fn file_sd(configs: &[super::scrape::FileSdConfig]) -> Vec<FileSdConfig> {
    configs
        .iter()
        .map(|f| FileSdConfig {
            files: f.files.clone(),
            refresh_interval: Some(f.refresh_interval.unwrap_or(super::scrape::FILE_SD_REFRESH)),
        })
        .collect()
}

/// Kubernetes discovery: role, namespaces and selectors.
fn kubernetes_sd(configs: &[super::scrape::KubernetesSdConfig]) -> Vec<KubernetesSd> {
    configs
        .iter()
        .map(|k| {
            let ns = k.namespaces.clone().unwrap_or_default();
            KubernetesSd {
                role: k.role(),
                namespaces: ns.names,
                own_namespace: ns.own_namespace,
                selectors: k
                    .selectors
                    .iter()
                    .map(|s| KubernetesSdSelector {
                        role: s.role,
                        label: s.label.clone().filter(|l| !l.is_empty()),
                        field: s.field.clone().filter(|f| !f.is_empty()),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// HTTP discovery, refreshed every minute unless set (Prometheus's default).
fn http_sd(configs: &[super::scrape::HttpSdConfig]) -> Vec<HttpSd> {
    configs
        .iter()
        .map(|h| HttpSd {
            url: h.url.clone(),
            refresh_interval: Some(h.refresh_interval.unwrap_or(super::scrape::HTTP_SD_REFRESH)),
        })
        .collect()
}

/// The scrape client settings of a scrape config — files, TLS, proxy, redirects, OAuth
/// 2.0, and the credentials written inline (carried as
/// [`InlineCredentials`](crate::scrape_client::InlineCredentials)).
fn scrape_client(http: &HttpClientConfig) -> ScrapeClient {
    let file = |f: &Option<String>| f.clone().filter(|f| !f.is_empty());
    let inline = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let tls = |t: &super::http_client::TlsConfig| TlsConfig {
        ca_file: file(&t.ca_file),
        cert_file: file(&t.cert_file),
        key_file: file(&t.key_file),
        server_name: t.server_name.clone().filter(|s| !s.is_empty()),
        insecure_skip_verify: t.insecure_skip_verify,
        min_version: t.min_version.clone(),
        ..TlsConfig::default()
    };
    let tls_config = http.tls_config.as_ref().map(tls);
    let mut secrets = crate::scrape_client::InlineCredentials::default();
    let mut authorization = None;
    if let Some(a) = &http.authorization {
        secrets.credentials = inline(&a.credentials);
        authorization = Some(Authorization {
            type_: a.type_.clone(),
            credentials: None,
            credentials_file: file(&a.credentials_file),
        });
    }
    if let Some(token) = inline(&http.bearer_token) {
        secrets.credentials = Some(token);
        authorization = Some(Authorization::default());
    } else if let Some(f) = file(&http.bearer_token_file) {
        authorization = Some(Authorization {
            credentials_file: Some(f),
            ..Authorization::default()
        });
    }
    let basic_auth = http.basic_auth.as_ref().map(|b| {
        secrets.username = Some(b.username.clone());
        secrets.password = inline(&b.password);
        crate::scrape_client::BasicAuth {
            password_file: file(&b.password_file),
            ..crate::scrape_client::BasicAuth::default()
        }
    });
    let oauth2 = http.oauth2.as_ref().map(|o| {
        secrets.client_id = Some(o.client_id.clone());
        secrets.client_secret = inline(&o.client_secret);
        crate::scrape_client::OAuth2 {
            client_secret_file: file(&o.client_secret_file),
            token_url: o.token_url.clone(),
            scopes: o.scopes.clone(),
            endpoint_params: o.endpoint_params.clone(),
            tls_config: o.tls_config.as_ref().map(tls),
            proxy_url: o.proxy_url.clone().filter(|p| !p.is_empty()),
            ..crate::scrape_client::OAuth2::default()
        }
    });
    ScrapeClient {
        tls_config,
        authorization,
        basic_auth,
        oauth2,
        proxy_url: http.proxy_url.clone().filter(|p| !p.is_empty()),
        follow_redirects: http.follow_redirects,
        enable_http2: http.enable_http2,
        inline: secrets,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::prometheus::KubernetesRole;

    #[test]
    fn a_scrape_config_becomes_a_scrape_target() {
        let c = PrometheusConfig::from_str(
            Path::new("/etc/p/prometheus.yml"),
            r#"
global: {scrape_interval: 15s, external_labels: {cluster: eu1}, evaluation_interval: 30s}
rule_files: [rules/*.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['am:9093']}]}]
scrape_configs:
  - job_name: node
    scheme: https
    metrics_path: /m
    params: {format: [prometheus]}
    honor_timestamps: false
    sample_limit: 100
    target_limit: 5
    static_configs: [{targets: ['a:9100'], labels: {env: prod}}]
    file_sd_configs: [{files: [t/*.json]}]
    http_sd_configs: [{url: 'http://sd:8080/targets'}]
    metric_relabel_configs: [{action: labeldrop, regex: tmp_.*}]
  - job_name: pods
    scrape_interval: 5s
    kubernetes_sd_configs:
      - role: pod
        namespaces: {names: [web]}
        selectors: [{role: pod, label: 'app=web'}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: 'true'
"#,
        )
        .unwrap();
        let t = c.scrape_targets();
        assert_eq!(t.len(), 2);
        let node = &t[0];
        assert_eq!(node.metadata.name.as_deref(), Some("node"));
        let s = &node.spec;
        assert_eq!(s.job.as_deref(), Some("node"));
        assert_eq!((s.scheme, s.path.as_str()), (Scheme::Https, "/m"));
        assert_eq!(s.interval, PromDuration::from_secs(15));
        assert_eq!(s.timeout(), PromDuration::from_secs(10));
        assert!(!s.honor_timestamps);
        assert_eq!((s.sample_limit, s.target_limit), (100, 5));
        assert_eq!(s.static_targets[0].labels["env"], "prod");
        assert_eq!(s.file_sd[0].files, ["/etc/p/t/*.json"]);
        assert_eq!(
            s.file_sd[0].refresh_interval,
            Some(PromDuration::from_secs(300))
        );
        assert_eq!(s.http_sd[0].refresh(), PromDuration::from_secs(60));
        assert_eq!(s.metric_relabelings[0].regex(), "tmp_.*");
        s.validate().unwrap();
        let pods = &t[1].spec;
        assert_eq!(pods.timeout(), PromDuration::from_secs(5));
        assert_eq!(pods.kubernetes_sd[0].role, KubernetesRole::Pod);
        assert_eq!(pods.kubernetes_sd[0].namespaces, ["web"]);
        assert_eq!(
            pods.kubernetes_sd[0].selectors[0].label.as_deref(),
            Some("app=web")
        );
        assert!(pods.selects_cluster_objects());
        pods.validate().unwrap();

        assert_eq!(c.external_labels()["cluster"], "eu1");
        assert_eq!(c.evaluation_interval(), PromDuration::from_secs(30));
        assert_eq!(c.rule_file_patterns(), ["/etc/p/rules/*.yml"]);
        assert_eq!(
            c.alertmanagers()[0].static_targets().collect::<Vec<_>>(),
            ["am:9093"]
        );
        assert_eq!(c.alertmanagers()[0].api_version(), "v2");
        assert!(c.not_translated().is_empty());
    }

    /// What ScrapeTargets load from YAML is what the translation writes, but for the
    /// credentials written inline, which YAML never carries.
    #[test]
    fn the_translation_round_trips_through_yaml() {
        let c = PrometheusConfig::from_str(
            Path::new("p.yml"),
            "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n    kubernetes_sd_configs: [{role: endpoints}]\n",
        )
        .unwrap();
        let t = &c.scrape_targets()[0];
        let yaml = serde_yaml::to_string(&t.spec).unwrap();
        let back: ScrapeTargetSpec = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(t.spec.inline_credentials.password.as_deref(), Some("p"));
        let without_inline = ScrapeTargetSpec {
            inline_credentials: Default::default(),
            ..t.spec.clone()
        };
        assert_eq!(back, without_inline);
        assert!(yaml.contains("kubernetesSd"), "{yaml}");
        assert!(
            !yaml.contains("password") && !yaml.contains(": u"),
            "{yaml}"
        );
        assert!(c.not_translated().is_empty());
    }

    /// Files, TLS, proxy and redirects become the ScrapeTarget's; inline secrets and a
    /// basic auth username written inline cannot, and are listed.
    #[test]
    fn scrape_client_settings_are_carried() {
        let c = PrometheusConfig::from_str(
            Path::new("/etc/p/prometheus.yml"),
            r#"
scrape_configs:
  - job_name: kubelet
    scheme: https
    bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
    tls_config: {ca_file: ca.crt, server_name: kubelet, insecure_skip_verify: false, min_version: TLS12}
    proxy_url: 'http://proxy:3128'
    follow_redirects: false
    static_configs: [{targets: ['node:10250']}]
  - job_name: inline
    authorization: {credentials: s3cret}
    static_configs: [{targets: ['a:1']}]
  - job_name: basic
    basic_auth: {username: u, password: pw}
    static_configs: [{targets: ['b:1']}]
  - job_name: oauth
    oauth2: {client_id: c, client_secret: s3cret, token_url: 'http://t/token', scopes: [a],
             endpoint_params: {audience: x}, tls_config: {ca_file: oca.crt}}
    static_configs: [{targets: ['c:1']}]
"#,
        )
        .unwrap();
        let t = c.scrape_targets();
        let s = &t[0].spec;
        assert_eq!(s.scheme, Scheme::Https);
        let a = s.authorization.as_ref().unwrap();
        assert_eq!(
            a.credentials_file.as_deref(),
            Some("/var/run/secrets/kubernetes.io/serviceaccount/token")
        );
        assert_eq!(a.scheme(), "Bearer");
        let tls = s.tls_config.as_ref().unwrap();
        assert_eq!(tls.ca_file.as_deref(), Some("/etc/p/ca.crt"));
        assert_eq!(tls.server_name.as_deref(), Some("kubelet"));
        assert_eq!(tls.min_version.as_deref(), Some("TLS12"));
        assert_eq!(s.proxy_url.as_deref(), Some("http://proxy:3128"));
        assert_eq!(s.follow_redirects, Some(false));
        s.validate().unwrap();
        // Inline credentials are carried beside the resource, never in what it shows.
        let inline = t[1].spec.client();
        assert_eq!(inline.authorization.unwrap().scheme(), "Bearer");
        assert_eq!(inline.inline.credentials.as_deref(), Some("s3cret"));
        let basic = t[2].spec.client();
        assert!(basic.basic_auth.is_some());
        assert_eq!(basic.inline.username.as_deref(), Some("u"));
        assert_eq!(basic.inline.password.as_deref(), Some("pw"));
        for target in &t {
            let shown = format!("{} {target:?}", serde_json::to_string(target).unwrap());
            assert!(
                !shown.contains("s3cret") && !shown.contains("pw\""),
                "{shown}"
            );
        }
        let oauth = t[3].spec.client();
        let o = oauth.oauth2.as_ref().unwrap();
        assert_eq!(o.token_url, "http://t/token");
        assert_eq!(o.scopes, ["a"]);
        assert_eq!(o.endpoint_params["audience"], "x");
        assert_eq!(
            o.tls_config.as_ref().unwrap().ca_file.as_deref(),
            Some("/etc/p/oca.crt")
        );
        assert_eq!(oauth.inline.client_id.as_deref(), Some("c"));
        assert_eq!(oauth.inline.client_secret.as_deref(), Some("s3cret"));
        oauth.validate("spec").unwrap();
        assert!(c.not_translated().is_empty(), "{:?}", c.not_translated());
    }
}
