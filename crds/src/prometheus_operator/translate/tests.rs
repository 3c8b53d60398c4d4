//! The generated ScrapeTargets against what prometheus-operator generates for the same
//! monitors: its golden files (`testdata/`, the source of each noted in its header),
//! read with our prometheus.yml reader, without the sharding steps we do not generate.

use std::path::Path;

use super::*;
use crate::PromDuration;
use crate::prometheus::PrometheusConfig;

/// The first scrape config of a golden prometheus.yml as a ScrapeTarget, without the
/// operator's sharding steps (`__tmp_hash`).
fn golden(name: &str, text: &str) -> ScrapeTarget {
    let config = PrometheusConfig::from_str(Path::new(name), text).unwrap();
    let mut target = config.scrape_targets().remove(0);
    target.spec.relabelings.retain(|s| {
        s.target_label.as_deref() != Some("__tmp_hash")
            && !s.source_labels.iter().any(|l| l == "__tmp_hash")
    });
    target
}

fn service_monitor(yaml: &str) -> ServiceMonitor {
    serde_yaml::from_str(yaml).unwrap()
}

/// Relabelings, discovery, job and scrape settings are what the operator generates.
fn assert_same(ours: &ScrapeTarget, theirs: &ScrapeTarget) {
    assert_eq!(ours.metadata.name, theirs.metadata.name);
    let (a, b) = (&ours.spec, &theirs.spec);
    for (i, (x, y)) in a.relabelings.iter().zip(&b.relabelings).enumerate() {
        assert_eq!(x, y, "relabelings[{i}]");
    }
    assert_eq!(a.relabelings.len(), b.relabelings.len());
    assert_eq!(a.kubernetes_sd, b.kubernetes_sd);
    assert_eq!(a.job, b.job);
    assert_eq!(a.interval, b.interval);
    assert_eq!(
        (a.honor_labels, a.honor_timestamps),
        (b.honor_labels, b.honor_timestamps)
    );
    assert_eq!(a.metric_relabelings, b.metric_relabelings);
}

#[test]
fn match_expressions_service_monitor() {
    let m = service_monitor(
        r#"
metadata: {name: test, namespace: default}
spec:
  selector:
    matchExpressions: [{key: alpha, operator: In, values: [beta, gamma]}]
  endpoints: [{port: web, interval: 30s}]
"#,
    );
    let t = m.to_scrape_targets().unwrap();
    assert!(t.not_honoured.is_empty(), "{:?}", t.not_honoured);
    let text = include_str!("../testdata/MatchExpressionsServiceMonitor.golden");
    assert_same(
        &t.targets[0],
        &golden("MatchExpressionsServiceMonitor", text),
    );
}

#[test]
fn target_labels_and_honor_timestamps() {
    let m = service_monitor(
        r#"
metadata: {name: testservicemonitor1, namespace: default, labels: {group: group1}}
spec:
  targetLabels: [example, env]
  endpoints: [{honorTimestamps: false, port: web, interval: 30s, filterRunning: false}]
"#,
    );
    let t = m.to_scrape_targets().unwrap();
    let text = include_str!("../testdata/SettingHonorTimestamps.golden");
    assert_same(&t.targets[0], &golden("SettingHonorTimestamps", text));
}

#[test]
fn pod_monitor_with_pod_target_labels() {
    let m: PodMonitor = serde_yaml::from_str(
        r#"
metadata: {name: testpodmonitor1, namespace: default, labels: {group: group1}}
spec:
  podTargetLabels: [example, env]
  podMetricsEndpoints: [{honorTimestamps: false, port: web, interval: 30s, filterRunning: false}]
"#,
    )
    .unwrap();
    let t = m.to_scrape_targets().unwrap();
    let text = include_str!("../testdata/SettingHonorTimestampsInPodMonitor.golden");
    assert_same(
        &t.targets[0],
        &golden("SettingHonorTimestampsInPodMonitor", text),
    );
}

/// kube-prometheus-stack's node-exporter ServiceMonitor (prometheus-node-exporter chart,
/// templates/servicemonitor.yaml as rendered by kube-prometheus-stack 5x.x, written from
/// memory): jobLabel, a relabeling to `instance`, any namespace selector absent.
#[test]
fn kube_prometheus_stack_node_exporter() {
    let m = service_monitor(
        r#"
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: kps-prometheus-node-exporter
  namespace: monitoring
  labels: {release: kps, jobLabel: node-exporter}
spec:
  jobLabel: jobLabel
  selector:
    matchLabels: {app.kubernetes.io/instance: kps, app.kubernetes.io/name: prometheus-node-exporter}
  attachMetadata: {node: false}
  endpoints:
    - port: http-metrics
      scheme: http
      relabelings:
        - action: replace
          regex: (.*)
          replacement: $1
          sourceLabels: [__meta_kubernetes_pod_node_name]
          targetLabel: instance
"#,
    );
    let t = m.to_scrape_targets().unwrap();
    assert!(t.not_honoured.is_empty(), "{:?}", t.not_honoured);
    let s = &t.targets[0].spec;
    assert_eq!(
        t.targets[0].metadata.name.as_deref(),
        Some("serviceMonitor/monitoring/kps-prometheus-node-exporter/0")
    );
    assert_eq!(s.kubernetes_sd[0].role, KubernetesRole::Endpoints);
    assert_eq!(s.kubernetes_sd[0].namespaces, ["monitoring"]);
    assert_eq!(s.interval, PromDuration::from_secs(30));
    let r = &s.relabelings;
    // matchLabels sorted by key, names sanitized.
    assert_eq!(
        r[1].source_labels,
        [
            "__meta_kubernetes_service_label_app_kubernetes_io_instance",
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_instance"
        ]
    );
    assert_eq!(r[1].regex.as_deref(), Some("(kps);true"));
    assert_eq!(
        r[2].regex.as_deref(),
        Some("(prometheus-node-exporter);true")
    );
    // job from the Service's `jobLabel` label, after the Service name.
    let job: Vec<_> = r
        .iter()
        .filter(|s| s.target_label.as_deref() == Some("job"))
        .map(|s| s.source_labels[0].as_str())
        .collect();
    assert_eq!(
        job,
        [
            "__meta_kubernetes_service_name",
            "__meta_kubernetes_service_label_jobLabel"
        ]
    );
    // The user's relabeling comes last.
    let last = r.last().unwrap();
    assert_eq!(last.target_label.as_deref(), Some("instance"));
    assert_eq!(
        (last.regex.as_deref(), last.replacement.as_deref()),
        (None, None)
    );
}

#[test]
fn unhonoured_settings_are_listed_and_bad_ones_refused() {
    let m = service_monitor(
        r#"
metadata: {name: kubelet, namespace: monitoring}
spec:
  attachMetadata: {node: true}
  scrapeClass: x
  serviceDiscoveryRole: EndpointSlice
  namespaceSelector: {any: true}
  selector: {matchLabels: {k8s-app: kubelet}}
  endpoints:
    - port: https-metrics
      scheme: https
      tlsConfig: {insecureSkipVerify: true}
      bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
      followRedirects: false
"#,
    );
    let t = m.to_scrape_targets().unwrap();
    assert_eq!(
        t.not_honoured,
        [
            "spec.scrapeClass: not supported by Telltale; ignored",
            "spec.attachMetadata.node: node metadata is not attached (the node role is not watched)",
        ]
    );
    let s = &t.targets[0].spec;
    // The kubelet's: the pod's token, no verification, redirects not followed.
    assert_eq!(
        s.authorization
            .as_ref()
            .unwrap()
            .credentials_file
            .as_deref(),
        Some("/var/run/secrets/kubernetes.io/serviceaccount/token")
    );
    assert!(s.tls_config.as_ref().unwrap().insecure_skip_verify);
    assert_eq!(s.follow_redirects, Some(false));
    assert_eq!(
        t.targets[0].metadata.namespace.as_deref(),
        Some("monitoring")
    );
    assert_eq!(s.kubernetes_sd[0].role, KubernetesRole::EndpointSlice);
    assert!(s.kubernetes_sd[0].namespaces.is_empty());
    assert_eq!(s.scheme, Scheme::Https);
    assert_eq!(
        s.relabelings[2].source_labels,
        ["__meta_kubernetes_endpointslice_port_name"]
    );

    let bad = |yaml: &str| service_monitor(yaml).to_scrape_targets().unwrap_err().field;
    assert_eq!(
        bad(
            "metadata: {name: a}\nspec: {endpoints: [{port: x, interval: 5s, scrapeTimeout: 10s}]}"
        ),
        "spec.endpoints[0].scrapeTimeout"
    );
    assert_eq!(
        bad(
            "metadata: {name: a}\nspec: {endpoints: [{port: x, relabelings: [{action: keep}, {action: nope}]}]}"
        ),
        "spec.endpoints[0].relabelings[1].action"
    );
    assert_eq!(
        bad("metadata: {name: a}\nspec: {endpoints: [{port: x, scheme: ftp}]}"),
        "spec.endpoints[0].scheme"
    );
}

/// The endpoint's client settings as Telltale writes them (`testdata/*.golden`: the
/// ScrapeTarget YAML of those fields; `TELLTALE_BLESS=1` rewrites them). promcfg.go
/// writes the same settings into the scrape job: `tls_config` with the Secrets' and
/// ConfigMaps' keys, `authorization` (`bearerTokenSecret` and `bearerTokenFile` as its
/// Bearer credentials), `basic_auth`, `proxy_url`, `follow_redirects`, `enable_http2`.
fn assert_client_golden(name: &str, target: &ScrapeTarget) {
    let s = &target.spec;
    let fields = serde_json::json!({
        "metadata": {"name": target.metadata.name, "namespace": target.metadata.namespace},
        "scheme": s.scheme,
        "tlsConfig": s.tls_config,
        "authorization": s.authorization,
        "basicAuth": s.basic_auth,
        "proxyUrl": s.proxy_url,
        "followRedirects": s.follow_redirects,
        "enableHttp2": s.enable_http2,
    });
    let ours = serde_yaml::to_string(&fields).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/prometheus_operator/testdata")
        .join(format!("{name}.golden"));
    if std::env::var_os("TELLTALE_BLESS").is_some() {
        std::fs::write(&path, &ours).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    assert_eq!(ours, golden, "{name}.golden");
}

#[test]
fn tls_and_authorization_from_secrets() {
    let m = service_monitor(
        r#"
metadata: {name: shop, namespace: apps}
spec:
  selector: {matchLabels: {app: shop}}
  endpoints:
    - port: metrics
      scheme: HTTPS
      tlsConfig:
        ca: {configMap: {name: shop-ca, key: ca.crt}}
        cert: {secret: {name: shop-client, key: tls.crt}}
        keySecret: {name: shop-client, key: tls.key, optional: false}
        serverName: shop.apps.svc
        minVersion: TLS12
      authorization: {type: Token, credentials: {name: shop-token, key: token}}
      proxyUrl: 'http://proxy.apps:3128'
      enableHttp2: false
    - port: metrics
      bearerTokenSecret: {name: shop-token, key: token}
      basicAuth: null
"#,
    );
    let t = m.to_scrape_targets().unwrap();
    assert!(t.not_honoured.is_empty(), "{:?}", t.not_honoured);
    assert_client_golden("TLSAndAuthorizationServiceMonitor", &t.targets[0]);
    assert_client_golden("BearerTokenSecretServiceMonitor", &t.targets[1]);
}

#[test]
fn basic_auth_and_file_settings_of_a_pod_monitor() {
    let p: PodMonitor = serde_yaml::from_str(
        r#"
metadata: {name: db, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  podMetricsEndpoints:
    - port: metrics
      scheme: https
      basicAuth: {username: {name: db-auth, key: user}, password: {name: db-auth, key: pass}}
      tlsConfig: {caFile: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt, insecureSkipVerify: false, maxVersion: TLS12}
"#,
    )
    .unwrap();
    let t = p.to_scrape_targets().unwrap();
    assert_eq!(
        t.not_honoured,
        [
            "spec.podMetricsEndpoints[0].tlsConfig.maxVersion: TLS12 is not supported; TLS 1.2 and 1.3 are offered"
        ]
    );
    assert_client_golden("BasicAuthPodMonitor", &t.targets[0]);
}

/// Conflicts are refused as Prometheus refuses the generated job.
#[test]
fn conflicting_authentication_is_refused() {
    let bad = |ep: &str| {
        let yaml = format!("metadata: {{name: a, namespace: n}}\nspec: {{endpoints: [{ep}]}}");
        service_monitor(&yaml)
            .to_scrape_targets()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad("{port: x, bearerTokenFile: /t, bearerTokenSecret: {name: a, key: b}}"),
        "spec.endpoints[0]: at most one of bearer_token & bearer_token_file must be configured"
    );
    assert_eq!(
        bad("{port: x, bearerTokenFile: /t, basicAuth: {username: {name: a, key: b}}}"),
        "spec.endpoints[0]: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
    );
    assert_eq!(
        bad(
            "{port: x, authorization: {credentials: {name: a, key: b}}, basicAuth: {username: {name: a, key: b}}}"
        ),
        "spec.endpoints[0].authorization: at most one of basic_auth, oauth2 & authorization must be configured"
    );
    assert_eq!(
        bad("{port: x, tlsConfig: {cert: {secret: {name: a, key: b}}}}"),
        "spec.endpoints[0].tlsConfig: exactly one of key or key_file must be configured when a client certificate is configured"
    );
}

#[test]
fn target_port_by_number_and_pod_monitor_port_number() {
    let m = service_monitor(
        "metadata: {name: a, namespace: n}\nspec: {endpoints: [{targetPort: 8080}]}",
    );
    let r = &m.to_scrape_targets().unwrap().targets[0].spec.relabelings;
    assert_eq!(
        r[1].source_labels,
        ["__meta_kubernetes_pod_container_port_number"]
    );
    assert_eq!(r[1].regex.as_deref(), Some("8080"));
    assert_eq!(r.last().unwrap().replacement.as_deref(), Some("8080"));

    let p: PodMonitor = serde_yaml::from_str(
        "metadata: {name: a, namespace: n}\nspec: {jobLabel: app, selector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}, podMetricsEndpoints: [{portNumber: 9100}]}",
    )
    .unwrap();
    let r = &p.to_scrape_targets().unwrap().targets[0].spec.relabelings;
    assert_eq!(r[1].source_labels, ["__meta_kubernetes_pod_phase"]);
    assert_eq!(
        (r[2].action, r[2].source_labels[0].as_str()),
        (
            RelabelAction::Drop,
            "__meta_kubernetes_pod_labelpresent_tier"
        )
    );
    assert_eq!(r[3].regex.as_deref(), Some("9100"));
    let job = r
        .iter()
        .rev()
        .find(|s| s.target_label.as_deref() == Some("job"))
        .unwrap();
    assert_eq!(job.source_labels, ["__meta_kubernetes_pod_label_app"]);
}

/// The `endpoint` label: the port's name, else the target port by name or number, else
/// none (prometheus-operator's `endpoint` relabeling).
#[test]
fn the_endpoint_label_is_the_port_else_the_target_port() {
    let value = |port: Option<&str>, target: Option<IntOrString>| {
        endpoint_label(port, target.as_ref()).map(|s| s.replacement.unwrap_or_default())
    };
    let named = || Some(IntOrString::String("metrics".into()));
    assert_eq!(value(Some("web"), named()).as_deref(), Some("web"));
    assert_eq!(value(None, named()).as_deref(), Some("metrics"));
    assert_eq!(
        value(None, Some(IntOrString::Int(9100))).as_deref(),
        Some("9100")
    );
    assert_eq!(value(None, Some(IntOrString::String(String::new()))), None);
    assert_eq!(value(None, None), None);
}

/// `oauth2` as prometheus-operator writes it into the scrape job: client id from a
/// Secret or ConfigMap, client secret from a Secret, its own TLS; exclusive with the
/// other ways to authenticate.
#[test]
fn oauth2_from_secrets() {
    let m = service_monitor(
        r#"
metadata: {name: api, namespace: apps}
spec:
  selector: {matchLabels: {app: api}}
  endpoints:
    - port: metrics
      oauth2:
        clientId: {configMap: {name: idp, key: client-id}}
        clientSecret: {name: idp, key: client-secret}
        tokenUrl: https://idp.example/oauth2/token
        scopes: [metrics.read]
        endpointParams: {audience: prometheus}
        tlsConfig: {ca: {secret: {name: idp-ca, key: ca.crt}}}
"#,
    );
    let t = m.to_scrape_targets().unwrap();
    assert!(t.not_honoured.is_empty(), "{:?}", t.not_honoured);
    let c = t.targets[0].spec.client();
    let o = c.oauth2.as_ref().unwrap();
    assert_eq!(
        o.client_id
            .as_ref()
            .unwrap()
            .config_map
            .as_ref()
            .unwrap()
            .key,
        "client-id"
    );
    assert_eq!(o.client_secret.as_ref().unwrap().name, "idp");
    assert_eq!(o.token_url, "https://idp.example/oauth2/token");
    assert_eq!(o.scopes, ["metrics.read"]);
    assert_eq!(o.endpoint_params["audience"], "prometheus");
    assert!(o.tls_config.as_ref().unwrap().ca.is_some());
    assert!(c.references_objects());
    c.validate("spec").unwrap();

    let both = service_monitor(
        r#"
metadata: {name: api, namespace: apps}
spec:
  selector: {matchLabels: {app: api}}
  endpoints:
    - port: metrics
      basicAuth: {username: {name: u, key: u}}
      oauth2: {clientId: {secret: {name: a, key: b}}, tokenUrl: 'https://idp/token'}
"#,
    );
    let e = both.to_scrape_targets().unwrap_err().to_string();
    assert!(
        e.contains("at most one of basic_auth, oauth2 & authorization must be configured"),
        "{e}"
    );
}
