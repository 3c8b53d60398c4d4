//! ServiceMonitors and PodMonitors as ScrapeTargets, generated as prometheus-operator's
//! `pkg/prometheus/promcfg.go` generates their scrape configs: one ScrapeTarget per
//! endpoint, named after the scrape job (`serviceMonitor/<ns>/<name>/<i>`,
//! `podMonitor/<ns>/<name>/<i>`, so the targets' `scrapePool` is Prometheus's), with a
//! `kubernetesSd` of role `endpoints` (or `endpointslice`) or `pod` over the selected
//! namespaces and the relabelings in the operator's order: the job name kept in
//! `__tmp_prometheus_job_name`, the selector's `keep`/`drop` steps, the port, the
//! `node`/`pod`/`namespace`/`service`/`container` labels, the Running filter, target and
//! pod target labels, `job`, `endpoint`, then the endpoint's own relabelings.
//!
//! The operator's sharding steps (`hashmod` of `__address__` into `__tmp_hash`, kept
//! for this shard) are not generated: Telltale spreads targets over its scrapers by its
//! own rendezvous hashing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::monitor::{
    ClientFields, Limits, RelabelConfig, ScrapeSettings,
    SecretKeySelector as MonitorSecretKeySelector, SecretOrConfigMap as MonitorSecretOrConfigMap,
};
use super::{Object, PodMonitor, ServiceMonitor, report_unread};
use super::{PodMonitorSpec, ServiceMonitorSpec};
use crate::error::FieldError;
use crate::prometheus::KubernetesRole;
use crate::scrape_client::{Authorization, BasicAuth, ScrapeClient, SecretOrConfigMap, TlsConfig};
use crate::scrape_target::{
    KubernetesSd, RelabelAction, RelabelConfig as Step, Scheme, ScrapeTarget, ScrapeTargetSpec,
};
use crate::secret::SecretKeySelector;
use crate::selection::NamespaceSelector;

/// The ScrapeTargets of a monitor and the settings they do not honour.
#[derive(Clone, Debug, Default)]
pub struct Translated {
    pub targets: Vec<ScrapeTarget>,
    /// `field: why`, one per setting that is not honoured.
    pub not_honoured: Vec<String>,
}

/// promcfg.go's `sanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn step(source: &[&str], target: &str) -> Step {
    Step {
        source_labels: source.iter().map(|s| s.to_string()).collect(),
        target_label: Some(target.into()),
        ..Step::default()
    }
}

fn filter(action: RelabelAction, source: &[String], regex: String) -> Step {
    Step {
        source_labels: source.to_vec(),
        regex: Some(regex),
        action,
        ..Step::default()
    }
}

/// `source` (when not empty) written to `target` when it matches `regex`, as `${1}`.
fn copy(source: &[&str], target: &str, regex: Option<&str>) -> Step {
    Step {
        regex: regex.map(str::to_string),
        replacement: Some("${1}".into()),
        ..step(source, target)
    }
}

fn fixed(target: &str, value: &str) -> Step {
    Step {
        replacement: Some(value.into()),
        ..step(&[], target)
    }
}

/// The `endpoint` label of a monitor's target, as prometheus-operator sets it: the
/// port's name, else the target port (name or number) when one is given.
fn endpoint_label(port: Option<&str>, target_port: Option<&IntOrString>) -> Option<Step> {
    let value = match (port, target_port) {
        (Some(p), _) => p.to_string(),
        (None, Some(IntOrString::Int(n))) => n.to_string(),
        (None, Some(IntOrString::String(s))) => s.clone(),
        (None, None) => return None,
    };
    (!value.is_empty()).then(|| fixed("endpoint", &value))
}

/// The relabeling every generated job starts with.
pub(crate) fn init_relabelings() -> Vec<Step> {
    vec![step(&["job"], "__tmp_prometheus_job_name")]
}

/// promcfg.go's running filter: targets of finished pods are dropped.
fn running_filter() -> Step {
    filter(
        RelabelAction::Drop,
        &["__meta_kubernetes_pod_phase".into()],
        "(Failed|Succeeded)".into(),
    )
}

/// The selector as relabeling steps over `__meta_kubernetes_<kind>_label_*`: `keep` for
/// `matchLabels` (sorted by key), `In` and `Exists`; `drop` for `NotIn` and
/// `DoesNotExist`.
fn selector_steps(kind: &str, selector: &LabelSelector) -> Vec<Step> {
    let label = |k: &str| format!("__meta_kubernetes_{kind}_label_{}", sanitize_label_name(k));
    let present = |k: &str| {
        format!(
            "__meta_kubernetes_{kind}_labelpresent_{}",
            sanitize_label_name(k)
        )
    };
    let mut out = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        out.push(filter(
            RelabelAction::Keep,
            &[label(k), present(k)],
            format!("({v});true"),
        ));
    }
    for exp in selector.match_expressions.iter().flatten() {
        let values = exp.values.clone().unwrap_or_default().join("|");
        let k = exp.key.as_str();
        match exp.operator.as_str() {
            "In" => out.push(filter(
                RelabelAction::Keep,
                &[label(k), present(k)],
                format!("({values});true"),
            )),
            "NotIn" => out.push(filter(
                RelabelAction::Drop,
                &[label(k), present(k)],
                format!("({values});true"),
            )),
            "Exists" => out.push(filter(RelabelAction::Keep, &[present(k)], "true".into())),
            "DoesNotExist" => out.push(filter(RelabelAction::Drop, &[present(k)], "true".into())),
            _ => {}
        }
    }
    out
}

/// The namespaces a monitor looks in: all (empty) with `any`, `matchNames`, or its own.
fn namespaces(sel: &NamespaceSelector, own: &str) -> Vec<String> {
    if sel.any {
        Vec::new()
    } else if sel.match_names.is_empty() {
        vec![own.to_string()]
    } else {
        sel.match_names.clone()
    }
}

fn relabel_all(steps: &[RelabelConfig], at: &str) -> Result<Vec<Step>, FieldError> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| s.to_spec(&format!("{at}[{i}]")))
        .collect()
}

/// The ScrapeTarget spec of the settings every endpoint has; relabelings are added by
/// the caller.
fn base_spec(
    job: &str,
    role: KubernetesRole,
    namespaces: Vec<String>,
    scrape: &ScrapeSettings,
    client: &ClientFields,
    limits: &Limits,
    at: &str,
) -> Result<ScrapeTargetSpec, FieldError> {
    let scheme = match scrape
        .scheme
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => {
            return Err(FieldError::new(
                format!("{at}.scheme"),
                format!("{other:?} is not http or https"),
            ));
        }
    };
    let client = client_settings(client, at)?;
    let mut spec = ScrapeTargetSpec {
        job: Some(job.to_string()),
        tls_config: client.tls_config,
        authorization: client.authorization,
        basic_auth: client.basic_auth,
        oauth2: client.oauth2,
        proxy_url: client.proxy_url,
        follow_redirects: client.follow_redirects,
        enable_http2: client.enable_http2,
        kubernetes_sd: vec![KubernetesSd {
            role,
            namespaces,
            own_namespace: false,
            selectors: Vec::new(),
        }],
        scheme,
        params: scrape.params.clone(),
        honor_labels: scrape.honor_labels,
        honor_timestamps: scrape.honor_timestamps.unwrap_or(true),
        scrape_timeout: scrape.scrape_timeout,
        metric_relabelings: relabel_all(
            &scrape.metric_relabelings,
            &format!("{at}.metricRelabelings"),
        )?,
        sample_limit: limits.sample_limit.unwrap_or(0),
        target_limit: limits.target_limit.unwrap_or(0),
        label_limit: limits.label_limit.unwrap_or(0),
        label_name_length_limit: limits.label_name_length_limit.unwrap_or(0),
        label_value_length_limit: limits.label_value_length_limit.unwrap_or(0),
        scrape_classic_histograms: limits.scrape_classic_histograms.unwrap_or(false),
        scrape_protocols: limits.scrape_protocols.clone(),
        fallback_scrape_protocol: limits.fallback_scrape_protocol,
        ..ScrapeTargetSpec::default()
    };
    if let Some(path) = scrape.path.as_deref().filter(|p| !p.is_empty()) {
        spec.path = path.to_string();
    }
    if let Some(interval) = scrape.interval {
        spec.interval = interval;
    }
    Ok(spec)
}

/// What a monitor's spec and an endpoint set that is not honoured.
fn report_settings(
    at: &str,
    client: &ClientFields,
    unread: &std::collections::BTreeMap<String, serde_json::Value>,
    out: &mut Vec<String>,
) {
    report_unread(at, unread, out);
    if let Some(v) = client
        .tls_config
        .as_ref()
        .and_then(|t| t.max_version.as_deref())
    {
        out.push(format!(
            "{at}.tlsConfig.maxVersion: {v} is not supported; TLS 1.2 and 1.3 are offered"
        ));
    }
}

fn selector(s: &MonitorSecretKeySelector) -> SecretKeySelector {
    SecretKeySelector {
        name: s.name.clone(),
        key: s.key.clone(),
    }
}

fn object(o: &MonitorSecretOrConfigMap) -> SecretOrConfigMap {
    SecretOrConfigMap {
        secret: o.secret.as_ref().map(selector),
        config_map: o.config_map.as_ref().map(selector),
    }
}

/// The endpoint's (or ScrapeConfig's) client settings as promcfg.go writes them: `tlsConfig` (objects and
/// files), `bearerTokenFile` and `bearerTokenSecret` as an `authorization` of type
/// Bearer, `basicAuth`, `authorization`, `oauth2`, `proxyUrl`, `followRedirects`,
/// `enableHttp2`.
/// Conflicts are refused with Prometheus's messages.
pub(crate) fn client_settings(scrape: &ClientFields, at: &str) -> Result<ScrapeClient, FieldError> {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let tls = |t: &super::monitor::TlsConfig| TlsConfig {
        ca: t.ca.as_ref().map(object),
        cert: t.cert.as_ref().map(object),
        key_secret: t.key_secret.as_ref().map(selector),
        ca_file: nonempty(&t.ca_file),
        cert_file: nonempty(&t.cert_file),
        key_file: nonempty(&t.key_file),
        server_name: nonempty(&t.server_name),
        insecure_skip_verify: t.insecure_skip_verify.unwrap_or(false),
        min_version: nonempty(&t.min_version),
    };
    let tls_config = scrape.tls_config.as_ref().map(tls);
    let token_file = nonempty(&scrape.bearer_token_file);
    let token_secret = scrape
        .bearer_token_secret
        .as_ref()
        .filter(|s| !s.name.is_empty());
    let bearer = token_file.is_some() || token_secret.is_some();
    if token_file.is_some() && token_secret.is_some() {
        return Err(FieldError::new(
            at,
            "at most one of bearer_token & bearer_token_file must be configured",
        ));
    }
    if bearer && (scrape.basic_auth.is_some() || scrape.oauth2.is_some()) {
        return Err(FieldError::new(
            at,
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        ));
    }
    if bearer && scrape.authorization.is_some() {
        return Err(FieldError::new(
            format!("{at}.authorization"),
            "authorization is not compatible with bearer_token & bearer_token_file",
        ));
    }
    let authorization = if bearer {
        Some(Authorization {
            type_: None,
            credentials: token_secret.map(selector),
            credentials_file: token_file,
        })
    } else {
        scrape.authorization.as_ref().map(|a| Authorization {
            type_: nonempty(&a.type_),
            credentials: a.credentials.as_ref().map(selector),
            credentials_file: None,
        })
    };
    let basic_auth = scrape.basic_auth.as_ref().map(|b| BasicAuth {
        username: b.username.as_ref().map(selector),
        password: b.password.as_ref().map(selector),
        ..BasicAuth::default()
    });
    let oauth2 = scrape
        .oauth2
        .as_ref()
        .map(|o| crate::scrape_client::OAuth2 {
            client_id: o.client_id.as_ref().map(object),
            client_id_file: None,
            client_secret: o.client_secret.as_ref().map(selector),
            client_secret_file: None,
            token_url: o.token_url.clone(),
            scopes: o.scopes.clone(),
            endpoint_params: o.endpoint_params.clone(),
            tls_config: o.tls_config.as_ref().map(tls),
            proxy_url: nonempty(&o.proxy_url),
        });
    Ok(ScrapeClient {
        tls_config,
        authorization,
        basic_auth,
        oauth2,
        proxy_url: nonempty(&scrape.proxy_url),
        follow_redirects: scrape.follow_redirects,
        enable_http2: scrape.enable_http2,
        inline: Default::default(),
    })
}

fn report_limits(limits: &Limits, out: &mut Vec<String>) {
    if limits
        .attach_metadata
        .as_ref()
        .and_then(|a| a.node)
        .unwrap_or(false)
    {
        out.push("spec.attachMetadata.node: node metadata is not attached (the node role is not watched)".into());
    }
}

/// Finishes the ScrapeTarget of one endpoint: its relabelings, then a check of the whole.
/// It is placed in the monitor's namespace, where its Secrets are read from (its scrape
/// pool stays the job name: a name with `/` is its own pool).
fn finish(
    job: &str,
    namespace: &str,
    mut spec: ScrapeTargetSpec,
    relabelings: Vec<Step>,
) -> Result<ScrapeTarget, FieldError> {
    spec.relabelings = relabelings;
    spec.validate()?;
    let mut target = ScrapeTarget::new(job, spec);
    target.metadata.namespace = Some(namespace.to_string());
    Ok(target)
}

impl Object<ServiceMonitorSpec> {
    /// One ScrapeTarget per endpoint (see the module docs).
    pub fn to_scrape_targets(&self) -> Result<Translated, FieldError> {
        let m: &ServiceMonitor = self;
        let (ns, name, spec) = (m.namespace(), m.name(), &m.spec);
        let mut out = Translated::default();
        report_unread("spec", &spec.unread, &mut out.not_honoured);
        report_limits(&spec.limits, &mut out.not_honoured);
        let role = match spec.service_discovery_role.as_deref() {
            None | Some("") | Some("Endpoints") => KubernetesRole::Endpoints,
            Some("EndpointSlice") => KubernetesRole::EndpointSlice,
            Some(other) => {
                return Err(FieldError::new(
                    "spec.serviceDiscoveryRole",
                    format!("{other:?} is not Endpoints or EndpointSlice"),
                ));
            }
        };
        let (port_name, address_target) = if role == KubernetesRole::EndpointSlice {
            ("__meta_kubernetes_endpointslice_port_name", "endpointslice")
        } else {
            ("__meta_kubernetes_endpoint_port_name", "endpoint")
        };
        let kind = format!("__meta_kubernetes_{address_target}_address_target_kind");
        let target = format!("__meta_kubernetes_{address_target}_address_target_name");
        for (i, ep) in spec.endpoints.iter().enumerate() {
            let at = format!("spec.endpoints[{i}]");
            report_settings(&at, &ep.client, &ep.unread, &mut out.not_honoured);
            let job = format!("serviceMonitor/{ns}/{name}/{i}");
            let base = base_spec(
                &job,
                role,
                namespaces(&spec.namespace_selector, ns),
                &ep.scrape,
                &ep.client,
                &spec.limits,
                &at,
            )?;
            let mut r = init_relabelings();
            r.extend(selector_steps("service", &spec.selector));
            let port = ep.port.as_deref().filter(|p| !p.is_empty());
            match (port, &ep.target_port) {
                (Some(p), _) => r.push(filter(RelabelAction::Keep, &[port_name.into()], p.into())),
                (None, Some(IntOrString::String(p))) if !p.is_empty() => r.push(filter(
                    RelabelAction::Keep,
                    &["__meta_kubernetes_pod_container_port_name".into()],
                    p.clone(),
                )),
                (None, Some(IntOrString::Int(n))) if *n != 0 => r.push(filter(
                    RelabelAction::Keep,
                    &["__meta_kubernetes_pod_container_port_number".into()],
                    n.to_string(),
                )),
                _ => {}
            }
            for (regex, label) in [("Node;(.*)", "node"), ("Pod;(.*)", "pod")] {
                r.push(Step {
                    regex: Some(regex.into()),
                    replacement: Some("${1}".into()),
                    ..step(&[&kind, &target], label)
                });
            }
            r.push(step(&["__meta_kubernetes_namespace"], "namespace"));
            r.push(step(&["__meta_kubernetes_service_name"], "service"));
            r.push(step(&["__meta_kubernetes_pod_name"], "pod"));
            r.push(step(&["__meta_kubernetes_pod_container_name"], "container"));
            if ep.scrape.filter_running.unwrap_or(true) {
                r.push(running_filter());
            }
            for l in &spec.target_labels {
                let source = format!("__meta_kubernetes_service_label_{}", sanitize_label_name(l));
                r.push(copy(&[&source], &sanitize_label_name(l), Some("(.+)")));
            }
            for l in &spec.pod_target_labels {
                let source = format!("__meta_kubernetes_pod_label_{}", sanitize_label_name(l));
                r.push(copy(&[&source], &sanitize_label_name(l), Some("(.+)")));
            }
            r.push(copy(&["__meta_kubernetes_service_name"], "job", None));
            if let Some(l) = spec.job_label.as_deref().filter(|l| !l.is_empty()) {
                let source = format!("__meta_kubernetes_service_label_{}", sanitize_label_name(l));
                r.push(copy(&[&source], "job", Some("(.+)")));
            }
            r.extend(endpoint_label(port, ep.target_port.as_ref()));
            r.extend(relabel_all(
                &ep.scrape.relabelings,
                &format!("{at}.relabelings"),
            )?);
            out.targets
                .push(finish(&job, ns, base, r).map_err(|e| at_endpoint(e, &at))?);
        }
        Ok(out)
    }
}

impl Object<PodMonitorSpec> {
    /// One ScrapeTarget per pod metrics endpoint (see the module docs).
    pub fn to_scrape_targets(&self) -> Result<Translated, FieldError> {
        let m: &PodMonitor = self;
        let (ns, name, spec) = (m.namespace(), m.name(), &m.spec);
        let mut out = Translated::default();
        report_unread("spec", &spec.unread, &mut out.not_honoured);
        report_limits(&spec.limits, &mut out.not_honoured);
        for (i, ep) in spec.pod_metrics_endpoints.iter().enumerate() {
            let at = format!("spec.podMetricsEndpoints[{i}]");
            report_settings(&at, &ep.client, &ep.unread, &mut out.not_honoured);
            let job = format!("podMonitor/{ns}/{name}/{i}");
            let base = base_spec(
                &job,
                KubernetesRole::Pod,
                namespaces(&spec.namespace_selector, ns),
                &ep.scrape,
                &ep.client,
                &spec.limits,
                &at,
            )?;
            let mut r = init_relabelings();
            if ep.scrape.filter_running.unwrap_or(true) {
                r.push(running_filter());
            }
            r.extend(selector_steps("pod", &spec.selector));
            let port = ep.port.as_deref().filter(|p| !p.is_empty());
            let port_name = "__meta_kubernetes_pod_container_port_name";
            let port_number = "__meta_kubernetes_pod_container_port_number";
            match (port, ep.port_number.filter(|n| *n != 0), &ep.target_port) {
                (Some(p), _, _) => {
                    r.push(filter(RelabelAction::Keep, &[port_name.into()], p.into()))
                }
                (None, Some(n), _) => r.push(filter(
                    RelabelAction::Keep,
                    &[port_number.into()],
                    n.to_string(),
                )),
                (None, None, Some(IntOrString::String(p))) if !p.is_empty() => {
                    r.push(filter(RelabelAction::Keep, &[port_name.into()], p.clone()))
                }
                (None, None, Some(IntOrString::Int(n))) if *n != 0 => r.push(filter(
                    RelabelAction::Keep,
                    &[port_number.into()],
                    n.to_string(),
                )),
                _ => {}
            }
            r.push(step(&["__meta_kubernetes_namespace"], "namespace"));
            r.push(step(&["__meta_kubernetes_pod_container_name"], "container"));
            r.push(step(&["__meta_kubernetes_pod_name"], "pod"));
            for l in &spec.pod_target_labels {
                let source = format!("__meta_kubernetes_pod_label_{}", sanitize_label_name(l));
                r.push(copy(&[&source], &sanitize_label_name(l), Some("(.+)")));
            }
            r.push(fixed("job", &format!("{ns}/{name}")));
            if let Some(l) = spec.job_label.as_deref().filter(|l| !l.is_empty()) {
                let source = format!("__meta_kubernetes_pod_label_{}", sanitize_label_name(l));
                r.push(copy(&[&source], "job", Some("(.+)")));
            }
            r.extend(endpoint_label(port, ep.target_port.as_ref()));
            r.extend(relabel_all(
                &ep.scrape.relabelings,
                &format!("{at}.relabelings"),
            )?);
            out.targets
                .push(finish(&job, ns, base, r).map_err(|e| at_endpoint(e, &at))?);
        }
        Ok(out)
    }
}

/// A ScrapeTarget check's error (`spec.scrapeTimeout`) named at the endpoint it came
/// from (`spec.endpoints[0].scrapeTimeout`).
fn at_endpoint(e: FieldError, at: &str) -> FieldError {
    match e.field.strip_prefix("spec.") {
        Some(rest)
            if !rest.starts_with("endpoints") && !rest.starts_with("podMetricsEndpoints") =>
        {
            FieldError::new(format!("{at}.{rest}"), e.message)
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests;
