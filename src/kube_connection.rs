//! The Kubernetes API client of prometheus.yml's `kubernetes_sd_configs` (standalone): a
//! section's `kubeconfig_file`, or its `api_server` with the section's HTTP client
//! settings (`bearer_token[_file]`, `authorization`, `basic_auth`, `tls_config`), or —
//! when no section names one — the in-cluster credentials or `$KUBECONFIG`, as
//! Prometheus defaults. Telltale watches one API server: the first section naming one
//! decides, and sections naming another are logged.

use anyhow::Context;
use telltale_crds::prometheus::{HttpClientConfig, KubernetesSdConfig, PrometheusConfig};

/// Where a section connects.
#[derive(Debug, Clone, PartialEq)]
enum Connection {
    Default,
    Kubeconfig(String),
    ApiServer(String, Box<HttpClientConfig>),
}

impl Connection {
    fn of(k: &KubernetesSdConfig) -> Connection {
        match (&k.kubeconfig_file, &k.api_server) {
            (Some(f), _) if !f.is_empty() => Connection::Kubeconfig(f.clone()),
            (_, Some(api)) if !api.is_empty() => {
                Connection::ApiServer(api.clone(), Box::new(k.http.clone()))
            }
            _ => Connection::Default,
        }
    }
}

/// Every `kubernetes_sd_configs` section of the file, with its path.
fn sections(p: &PrometheusConfig) -> Vec<(String, &KubernetesSdConfig)> {
    let mut out = Vec::new();
    for (i, sc) in p.scrape_configs.iter().enumerate() {
        for (j, k) in sc.kubernetes_sd_configs.iter().enumerate() {
            out.push((format!("scrape_configs[{i}].kubernetes_sd_configs[{j}]"), k));
        }
    }
    for (i, am) in p.alertmanagers().iter().enumerate() {
        for (j, k) in am.kubernetes_sd_configs.iter().enumerate() {
            out.push((
                format!("alerting.alertmanagers[{i}].kubernetes_sd_configs[{j}]"),
                k,
            ));
        }
    }
    out
}

/// The connection the file asks for (see the module's rule), and the sections that ask
/// for another one.
fn chosen(p: Option<&PrometheusConfig>) -> (Connection, Vec<String>) {
    let all: Vec<(String, Connection)> = p
        .map(sections)
        .unwrap_or_default()
        .into_iter()
        .map(|(at, k)| (at, Connection::of(k)))
        .collect();
    let choice = all
        .iter()
        .map(|(_, c)| c)
        .find(|c| **c != Connection::Default)
        .cloned()
        .unwrap_or(Connection::Default);
    let others = all
        .into_iter()
        .filter(|(_, c)| *c != choice)
        .map(|(at, _)| at)
        .collect();
    (choice, others)
}

/// The client for the configuration's Kubernetes discovery.
pub async fn client(p: Option<&PrometheusConfig>) -> anyhow::Result<kube::Client> {
    let (connection, others) = chosen(p);
    for at in others {
        tracing::warn!(
            section = %at,
            "another Kubernetes API server than the first section's: Telltale watches one, that one"
        );
    }
    let config = match &connection {
        Connection::Default => kube::Config::infer().await.context(
            "kubernetes_sd_configs need the Kubernetes API: no in-cluster credentials or kubeconfig ($KUBECONFIG, ~/.kube/config)",
        )?,
        Connection::Kubeconfig(file) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(file)
                .with_context(|| format!("kubeconfig_file {file}"))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("kubeconfig_file {file}"))?
        }
        Connection::ApiServer(url, http) => api_server(url, http)?,
    };
    kube::Client::try_from(config).context("the Kubernetes API client")
}

/// A client configuration of `api_server` with the section's HTTP client settings.
fn api_server(url: &str, http: &HttpClientConfig) -> anyhow::Result<kube::Config> {
    let uri: axum::http::Uri = url.parse().with_context(|| format!("api_server {url:?}"))?;
    let mut c = kube::Config::new(uri);
    let read = |f: &str| std::fs::read_to_string(f).with_context(|| format!("reading {f}"));
    if let Some(t) = &http.tls_config {
        c.accept_invalid_certs = t.insecure_skip_verify;
        c.tls_server_name = t.server_name.clone().filter(|s| !s.is_empty());
        if let Some(ca) = t.ca_file.as_deref().filter(|f| !f.is_empty()) {
            c.root_cert_file = Some(ca.into());
        }
        c.auth_info.client_certificate = t.cert_file.clone();
        c.auth_info.client_key = t.key_file.clone();
    }
    if let Some(f) = http.bearer_token_file.as_deref().filter(|f| !f.is_empty()) {
        c.auth_info.token_file = Some(f.to_string());
    } else if let Some(t) = http.bearer_token.as_deref().filter(|t| !t.is_empty()) {
        c.auth_info.token = Some(t.to_string().into());
    } else if let Some(a) = &http.authorization {
        match (&a.credentials, &a.credentials_file) {
            (_, Some(f)) if !f.is_empty() => c.auth_info.token_file = Some(f.clone()),
            (Some(t), _) if !t.is_empty() => c.auth_info.token = Some(t.clone().into()),
            _ => {}
        }
    } else if let Some(b) = &http.basic_auth {
        c.auth_info.username = Some(b.username.clone());
        let password = match (&b.password, &b.password_file) {
            (_, Some(f)) if !f.is_empty() => Some(read(f)?.trim().to_string()),
            (Some(p), _) => Some(p.clone()),
            _ => None,
        };
        c.auth_info.password = password.map(Into::into);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> PrometheusConfig {
        PrometheusConfig::from_str(std::path::Path::new("/etc/p/prometheus.yml"), yaml).unwrap()
    }

    #[test]
    fn the_first_section_naming_a_server_decides() {
        let c = config(
            "scrape_configs:
  - {job_name: a, kubernetes_sd_configs: [{role: pod}]}
  - {job_name: b, kubernetes_sd_configs: [{role: node, kubeconfig_file: kc.yml}]}
  - job_name: c
    kubernetes_sd_configs: [{role: pod, api_server: 'https://k8s:6443', bearer_token_file: /t}]
alerting:
  alertmanagers:
    - kubernetes_sd_configs: [{role: pod, kubeconfig_file: kc.yml}]
",
        );
        let (choice, others) = chosen(Some(&c));
        assert_eq!(choice, Connection::Kubeconfig("/etc/p/kc.yml".into()));
        assert_eq!(
            others,
            [
                "scrape_configs[0].kubernetes_sd_configs[0]",
                "scrape_configs[2].kubernetes_sd_configs[0]"
            ]
        );
        assert_eq!(chosen(None).0, Connection::Default);
    }

    #[test]
    fn api_server_takes_the_sections_client_settings() {
        let c = config(
            "scrape_configs:
  - job_name: c
    kubernetes_sd_configs:
      - role: pod
        api_server: 'https://k8s.example:6443'
        bearer_token_file: /var/run/token
        tls_config: {ca_file: /etc/ca.pem, insecure_skip_verify: false, server_name: k8s}
",
        );
        let (Connection::ApiServer(url, http), _) = chosen(Some(&c)) else {
            panic!()
        };
        let k = api_server(&url, &http).unwrap();
        assert_eq!(k.cluster_url.to_string(), "https://k8s.example:6443/");
        assert_eq!(k.auth_info.token_file.as_deref(), Some("/var/run/token"));
        assert_eq!(
            k.root_cert_file.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(k.tls_server_name.as_deref(), Some("k8s"));
    }
}
