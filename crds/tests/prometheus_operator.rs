//! `telltale standalone -f` with prometheus-operator's resources as charts ship them
//! (`tests/prometheus_operator/`): ServiceMonitors load as the ScrapeTargets the
//! operator's scrape jobs would be, a PrometheusRule as an AlertRule with its groups.

use std::path::Path;

use telltale_crds::prometheus::KubernetesRole;
use telltale_crds::{PromDuration, Resource, load_file, load_str};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/prometheus_operator")
        .join(name)
}

#[test]
fn service_monitors_load_as_scrape_targets() {
    let docs = load_file(&fixture("kube-prometheus-stack-exporters.yaml")).unwrap();
    assert_eq!(docs.len(), 2);
    let names: Vec<_> = docs.iter().map(|d| d.resource.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "serviceMonitor/monitoring/kps-prometheus-node-exporter/0",
            "serviceMonitor/monitoring/kps-kube-state-metrics/0"
        ]
    );
    assert_eq!(
        docs[1].translated_from.as_deref(),
        Some("ServiceMonitor kps-kube-state-metrics")
    );
    let Resource::ScrapeTarget(ksm) = &docs[1].resource else {
        panic!("not a ScrapeTarget: {:?}", docs[1].resource)
    };
    let s = &ksm.spec;
    assert!(s.honor_labels);
    assert_eq!(s.kubernetes_sd[0].role, KubernetesRole::Endpoints);
    assert_eq!(s.kubernetes_sd[0].namespaces, ["monitoring"]);
    assert_eq!(
        s.job.as_deref(),
        Some("serviceMonitor/monitoring/kps-kube-state-metrics/0")
    );
    assert_eq!(s.interval, PromDuration::from_secs(30));
    // jobLabel app.kubernetes.io/name, sanitized.
    assert!(
        s.relabelings
            .iter()
            .any(|r| r.target_label.as_deref() == Some("job")
                && r.source_labels == ["__meta_kubernetes_service_label_app_kubernetes_io_name"])
    );
    assert!(docs.iter().all(|d| d.not_honoured.is_empty()));
}

#[test]
fn a_prometheus_rule_loads_as_an_alert_rule() {
    let docs = load_file(&fixture("kubernetes-mixin-rules.yaml")).unwrap();
    let [doc] = &docs[..] else { panic!("{docs:?}") };
    let Resource::AlertRule(rule) = &doc.resource else {
        panic!("not an AlertRule: {:?}", doc.resource)
    };
    assert_eq!(
        rule.metadata.name.as_deref(),
        Some("PrometheusRule/kps-kubernetes-apps")
    );
    assert_eq!(rule.metadata.namespace.as_deref(), Some("monitoring"));
    let groups: Vec<_> = rule.spec.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        groups,
        [
            "kubernetes-apps",
            "k8s.rules.container_cpu_usage_seconds_total"
        ]
    );
    let crash = &rule.spec.groups[0].rules[0];
    assert_eq!(crash.alert, "KubePodCrashLooping");
    assert_eq!(crash.for_, PromDuration::from_secs(900));
    assert!(crash.annotations["description"].contains("{{ $labels.pod }}"));
    assert!(rule.spec.groups[1].rules[0].is_recording());
    // prometheus-operator's default evaluation interval.
    assert_eq!(rule.spec.groups[0].interval, PromDuration::from_secs(30));
}

/// A ScrapeConfig (`v1alpha1`) as the blackbox exporter's chart documents one.
#[test]
fn a_scrape_config_loads_as_a_scrape_target() {
    let text = "apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata: {name: blackbox, namespace: monitoring, labels: {release: kps}}
spec:
  metricsPath: /probe
  params: {module: [http_2xx]}
  staticConfigs: [{targets: ['https://example.org'], labels: {probe: web}}]
  relabelings:
    - {sourceLabels: [__address__], targetLabel: __param_target}
    - {sourceLabels: [__param_target], targetLabel: instance}
    - {targetLabel: __address__, replacement: 'blackbox-exporter:9115'}
";
    let docs = load_str(Path::new("sc.yaml"), text).unwrap();
    let Resource::ScrapeTarget(t) = &docs[0].resource else {
        panic!("not a ScrapeTarget: {:?}", docs[0].resource)
    };
    assert_eq!(
        t.metadata.name.as_deref(),
        Some("scrapeConfig/monitoring/blackbox")
    );
    assert_eq!(t.spec.path, "/probe");
    assert_eq!(t.spec.relabelings.len(), 4);
    let err = load_str(Path::new("sc.yaml"), &text.replace("v1alpha1", "v1"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not \"monitoring.coreos.com/v1alpha1\""),
        "{err}"
    );
}

#[test]
fn operator_documents_are_checked_with_file_document_and_field() {
    let text =
        "apiVersion: telltale.dev/v1alpha1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {}\n";
    let err = load_str(Path::new("m.yaml"), text).unwrap_err().to_string();
    assert!(
        err.contains("apiVersion: \"telltale.dev/v1alpha1\" is not \"monitoring.coreos.com/v1\""),
        "{err}"
    );

    let text = "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: a}\nspec:\n  podMetricsEndpoints: [{port: m, relabelings: [{action: Keepme}]}]\n";
    let err = load_str(Path::new("m.yaml"), text).unwrap_err().to_string();
    assert_eq!(
        err,
        "m.yaml: document 1 (PodMonitor a): spec.podMetricsEndpoints[0].relabelings[0].action: unknown action \"Keepme\""
    );

    // Fields of newer operator versions do not fail the document; they are listed.
    let text = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a, namespace: n}\nspec:\n  scrapeProtocols: [PrometheusText1.0.0]\n  scrapeClassicHistograms: true\n  convertClassicHistogramsToNHCB: true\n  endpoints: [{port: m, tlsConfig: {insecureSkipVerify: true}, noProxy: internal}]\n";
    let docs = load_str(Path::new("m.yaml"), text).unwrap();
    assert_eq!(
        docs[0].not_honoured,
        [
            "spec.convertClassicHistogramsToNHCB: not supported by Telltale; ignored",
            "spec.endpoints[0].noProxy: only proxyUrl is supported; scraped without this proxy setting"
        ]
    );
    let Resource::ScrapeTarget(t) = &docs[0].resource else {
        panic!("{:?}", docs[0].resource)
    };
    assert!(t.spec.tls_config.as_ref().unwrap().insecure_skip_verify);
    // The scrape format settings are honoured.
    assert_eq!(
        t.spec.scrape_protocols,
        [telltale_crds::ScrapeProtocol::PrometheusText1_0_0]
    );
    assert!(t.spec.scrape_classic_histograms);
}
