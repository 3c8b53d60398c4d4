//! The alertmanager in a cluster, against an emulated Kubernetes API over real HTTP
//! (kmock's emulator, `operator/tests/kube_emulator.py`): AlertRules and the
//! MetricCluster's routing are watched and applied live, a receiver's URL comes from a
//! Secret, invalid resources are counted and leave the last good configuration running.
//! prometheus-operator's PrometheusRules (as kube-prometheus-stack ships them) picked by
//! the MetricCluster's `ruleSelector` run next to the AlertRules.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{FakeQuerier, metric, sample, start_sink, wait_for};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use serde_json::json;
use telltale_alertmanager::{
    ClusterWatchOptions, KubernetesSecrets, ManagerOptions, PrometheusRuleScope, RuleManager,
    SecretResolver, watch_cluster,
};
use telltale_crds::{AlertRule, AlertingSpec, MetricCluster, SecretRef};

const NS: &str = "monitoring";

/// A running `kube_emulator.py`; it exits when this is dropped (its stdin closes).
struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    client: Client,
}

impl Emulator {
    fn start() -> Self {
        let home = std::env::var("HOME").expect("HOME is set");
        let python = std::path::Path::new(&home).join(".cache/telltale-venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/install-deps.sh",
            python.display()
        );
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../operator/tests/kube_emulator.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kube_emulator.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("kube_emulator.py did not start: {line:?}"));
        let config = Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
        Emulator {
            child,
            _stdin: stdin,
            client: Client::try_from(config).unwrap(),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), NS)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn secret(name: &str, key: &str, value: &str) -> KubeSecret {
    KubeSecret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        data: Some([(key.to_string(), ByteString(value.as_bytes().to_vec()))].into()),
        ..KubeSecret::default()
    }
}

fn alert_rule(name: &str, labels: serde_json::Value) -> AlertRule {
    serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1",
        "kind": "AlertRule",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"groups": [{"name": "g", "interval": "100ms", "rules": [
            {"alert": "Down", "expr": "up == 0", "labels": labels}
        ]}]}
    }))
    .unwrap()
}

/// Slack (URL from the Secret `hooks`) by default; `severity=page` to the webhook.
fn alerting(pager: &str, page_route: bool) -> serde_json::Value {
    let routes = if page_route {
        json!([{"matchers": ["severity=page"], "receiver": "pager"}])
    } else {
        json!([])
    };
    json!({
        "route": {"receiver": "chat", "groupBy": ["alertname"], "groupWait": "0s",
                  "groupInterval": "100ms", "routes": routes},
        "receivers": [
            {"name": "chat", "slackConfigs": [{"apiUrl": {"secretKeyRef": {"name": "hooks", "key": "slack-url"}}, "sendResolved": true}]},
            {"name": "pager", "webhooks": [{"url": pager}]}
        ]
    })
}

fn paths(sink: &common::Sink) -> Vec<String> {
    sink.all().into_iter().map(|r| r.path).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_routing_follow_the_cluster_live() {
    let emu = Emulator::start();
    let (sink, url) = start_sink(0).await;
    emu.api::<KubeSecret>()
        .create(
            &PostParams::default(),
            &secret("hooks", "slack-url", &format!("{url}/slack")),
        )
        .await
        .unwrap();
    let mc: MetricCluster = serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1",
        "kind": "MetricCluster",
        "metadata": {"name": "mc", "namespace": NS},
        "spec": {"alerting": alerting(&format!("{url}/pager"), false)}
    }))
    .unwrap();
    let clusters = emu.api::<MetricCluster>();
    clusters.create(&PostParams::default(), &mc).await.unwrap();
    let rules = emu.api::<AlertRule>();
    rules
        .create(&PostParams::default(), &alert_rule("up", json!({})))
        .await
        .unwrap();

    let querier = Arc::new(FakeQuerier::default());
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(
        querier.clone(),
        AlertingSpec::default(),
        ManagerOptions {
            secrets: Arc::new(KubernetesSecrets::new(
                emu.client.clone(),
                NS,
                Duration::from_millis(100),
            )),
            ..ManagerOptions::default()
        },
        &registry,
    );
    let _watch = watch_cluster(
        emu.client.clone(),
        manager.clone(),
        ClusterWatchOptions {
            namespace: NS.into(),
            metric_cluster: Some("mc".into()),
            file_rules: Vec::new(),
            debounce: Duration::from_millis(50),
            prometheus_rules: PrometheusRuleScope::Off,
        },
    );

    // The AlertRule fires; the MetricCluster routes it to Slack at the Secret's URL.
    wait_for("the Slack notification", || {
        paths(&sink).contains(&"/slack".to_string())
    })
    .await;
    let body = sink
        .all()
        .into_iter()
        .find(|r| r.path == "/slack")
        .unwrap()
        .json();
    assert!(body.to_string().contains("Down"), "{body}");

    // The route changes live: pages go to the webhook; the rule changes to page.
    clusters
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"alerting": alerting(&format!("{url}/pager"), true)}})),
        )
        .await
        .unwrap();
    wait_for("the new route", || {
        manager
            .alerting()
            .route
            .is_some_and(|r| r.routes.len() == 1)
    })
    .await;
    rules
        .patch(
            "up",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"groups": [{"name": "g", "interval": "100ms", "rules": [
                    {"alert": "Down", "expr": "up == 0", "labels": {"severity": "page"}}
                ]}]}}),
            ),
        )
        .await
        .unwrap();
    wait_for("the webhook notification", || {
        sink.all().iter().any(|r| {
            r.path == "/pager"
                && r.json()["status"] == "firing"
                && r.json()["commonLabels"]["severity"] == "page"
        })
    })
    .await;

    // An invalid AlertRule and an invalid route are counted; the good ones keep running.
    let bad = alert_rule("bad", json!({}));
    let mut bad = serde_json::to_value(&bad).unwrap();
    bad["spec"]["groups"][0]["rules"][0]["expr"] = json!("up ==");
    rules
        .create(
            &PostParams::default(),
            &serde_json::from_value(bad).unwrap(),
        )
        .await
        .unwrap();
    wait_for("the invalid AlertRule to be counted", || {
        metric(
            &registry,
            "telltale_alertmanager_config_rejected_total",
            &[("kind", "AlertRule")],
        ) == 1.0
    })
    .await;
    let mut broken = alerting(&format!("{url}/pager"), true);
    broken["route"]["routes"][0]["receiver"] = json!("nobody");
    clusters
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"alerting": broken}})),
        )
        .await
        .unwrap();
    wait_for("the invalid route to be counted", || {
        metric(
            &registry,
            "telltale_alertmanager_config_rejected_total",
            &[("kind", "MetricCluster")],
        ) == 1.0
    })
    .await;
    assert_eq!(
        manager.alerting().route.unwrap().routes[0]
            .receiver
            .as_deref(),
        Some("pager"),
        "the last good routing stays"
    );
    assert_eq!(manager.groups().len(), 1, "only the good AlertRule runs");

    // Deleting the AlertRule resolves its alert, once, on the route in use.
    rules.delete("up", &DeleteParams::default()).await.unwrap();
    wait_for("the resolved notification", || {
        sink.all()
            .iter()
            .any(|r| r.path == "/pager" && r.json()["status"] == "resolved")
    })
    .await;
    assert!(manager.groups().is_empty());
    manager.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_read_with_get_and_errors_name_no_value() {
    let emu = Emulator::start();
    let secrets = emu.api::<KubeSecret>();
    secrets
        .create(&PostParams::default(), &secret("pd", "key", "s3cr3t-v1\n"))
        .await
        .unwrap();
    let resolver = KubernetesSecrets::new(emu.client.clone(), NS, Duration::ZERO);
    let value = resolver
        .resolve(&SecretRef::secret("pd", "key"))
        .await
        .unwrap();
    assert_eq!(value.expose(), "s3cr3t-v1");
    // Rotation applies (no cache here).
    secrets
        .replace(
            "pd",
            &PostParams::default(),
            &secret("pd", "key", "s3cr3t-v2"),
        )
        .await
        .unwrap();
    let value = resolver
        .resolve(&SecretRef::secret("pd", "key"))
        .await
        .unwrap();
    assert_eq!(value.expose(), "s3cr3t-v2");
    let missing_key = resolver
        .resolve(&SecretRef::secret("pd", "other"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing_key.contains("pd") && missing_key.contains("other"),
        "{missing_key}"
    );
    assert!(!missing_key.contains("s3cr3t"), "{missing_key}");
    let missing = resolver
        .resolve(&SecretRef::secret("nope", "key"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("Secret monitoring/nope not found"),
        "{missing}"
    );
    assert!(!format!("{resolver:?}").contains("s3cr3t"));
}

/// kube-prometheus-stack's Watchdog, as its general.rules PrometheusRule carries it
/// (with a short interval so the test need not wait 30s).
fn watchdog_rule(release: &str) -> kube::api::DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "kps-general.rules", "namespace": NS,
                     "labels": {"app": "kube-prometheus-stack", "release": release}},
        "spec": {"groups": [{"name": "general.rules", "interval": "100ms", "rules": [{
            "alert": "Watchdog",
            "annotations": {"summary": "An alert that should always be firing to certify that Alertmanager is working properly."},
            "expr": "vector(1)",
            "labels": {"severity": "none"}
        }]}]}
    }))
    .unwrap()
}

fn operator_api(emu: &Emulator, kind: &str) -> Api<kube::api::DynamicObject> {
    let ar = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "monitoring.coreos.com",
        "v1",
        kind,
    ));
    Api::namespaced_with(emu.client.clone(), NS, &ar)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_rules_picked_by_the_rule_selector_run() {
    let emu = Emulator::start();
    let (sink, url) = start_sink(0).await;
    let mc: MetricCluster = serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1",
        "kind": "MetricCluster",
        "metadata": {"name": "mc", "namespace": NS},
        "spec": {
            "ruleSelector": {"matchLabels": {"release": "kps"}},
            "alerting": {"route": {"receiver": "hook", "groupWait": "0s", "groupInterval": "100ms"},
                         "receivers": [{"name": "hook", "webhooks": [{"url": format!("{url}/hook")}]}]}
        }
    }))
    .unwrap();
    emu.api::<MetricCluster>()
        .create(&PostParams::default(), &mc)
        .await
        .unwrap();
    let rules = operator_api(&emu, "PrometheusRule");
    // kubernetes-mixin's rules as kube-prometheus-stack ships them (release kps).
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crds/tests/prometheus_operator/kubernetes-mixin-rules.yaml");
    let text = std::fs::read_to_string(fixture).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let obj: kube::api::DynamicObject = serde::Deserialize::deserialize(doc).unwrap();
        rules.create(&PostParams::default(), &obj).await.unwrap();
    }
    // Another release's rules are not picked.
    rules
        .create(&PostParams::default(), &watchdog_rule("other"))
        .await
        .unwrap();

    let querier = Arc::new(FakeQuerier::default());
    querier.set("vector(1)", Ok(vec![sample(&[], 1.0)]));
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(
        querier.clone(),
        AlertingSpec::default(),
        ManagerOptions::default(),
        &registry,
    );
    let _watch = watch_cluster(
        emu.client.clone(),
        manager.clone(),
        ClusterWatchOptions {
            namespace: NS.into(),
            metric_cluster: Some("mc".into()),
            file_rules: vec![alert_rule("kps-kubernetes-apps", json!({}))],
            debounce: Duration::from_millis(50),
            prometheus_rules: PrometheusRuleScope::OwnNamespace,
        },
    );
    let groups = |m: &RuleManager| -> Vec<(String, String)> {
        let mut v: Vec<_> = m
            .groups()
            .into_iter()
            .map(|g| (g.key.file, g.key.group))
            .collect();
        v.sort();
        v
    };
    wait_for("the PrometheusRule's groups", || {
        groups(&manager).len() == 3
    })
    .await;
    assert_eq!(
        groups(&manager),
        [
            // An AlertRule of the same name does not collide with the PrometheusRule.
            (
                "monitoring/PrometheusRule/kps-kubernetes-apps".to_string(),
                "k8s.rules.container_cpu_usage_seconds_total".to_string()
            ),
            (
                "monitoring/PrometheusRule/kps-kubernetes-apps".to_string(),
                "kubernetes-apps".to_string()
            ),
            (
                "monitoring/kps-kubernetes-apps".to_string(),
                "g".to_string()
            ),
        ]
    );
    let apps = manager
        .groups()
        .into_iter()
        .find(|g| g.key.group == "kubernetes-apps")
        .unwrap();
    assert_eq!(apps.interval, Duration::from_secs(30));

    // The release's Watchdog appears, is evaluated and notifies.
    rules
        .patch(
            "kps-general.rules",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"release": "kps"}}})),
        )
        .await
        .unwrap();
    wait_for("the Watchdog notification", || {
        sink.all()
            .iter()
            .any(|r| r.path == "/hook" && r.json().to_string().contains("Watchdog"))
    })
    .await;

    // A setting Telltale does not honour (a group's query_offset, newer operators) is
    // said in an Event on the PrometheusRule; its rules still run.
    let offset: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": "offset", "namespace": NS, "labels": {"release": "kps"}},
        "spec": {"groups": [{"name": "offset", "query_offset": "1m",
                             "rules": [{"record": "one", "expr": "1"}]}]}
    }))
    .unwrap();
    rules.create(&PostParams::default(), &offset).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(emu.client.clone(), NS);
    let mut note = None;
    for _ in 0..200 {
        let list = events.list(&Default::default()).await.unwrap();
        note = list
            .items
            .into_iter()
            .find(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("offset"))
            .and_then(|e| e.note);
        if note.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        note.as_deref(),
        Some("spec.groups[0].query_offset: not supported by Telltale; ignored")
    );
    wait_for("the offset group", || groups(&manager).len() == 5).await;

    // The selector changes live: no PrometheusRule any more, the AlertRule stays.
    emu.api::<MetricCluster>()
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ruleSelector": null}})),
        )
        .await
        .unwrap();
    wait_for("only the AlertRule", || groups(&manager).len() == 1).await;
    assert_eq!(groups(&manager)[0].0, "monitoring/kps-kubernetes-apps");
    manager.shutdown();
}

/// In a cluster a `file:` reference (a MetricCluster editor's way to the pod's files) is
/// refused, but for the pod's own service-account files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_references_are_refused_in_a_cluster() {
    let emu = Emulator::start();
    let resolver = KubernetesSecrets::new(emu.client.clone(), NS, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("password");
    std::fs::write(&path, "hunter2").unwrap();
    let e = resolver
        .resolve(&SecretRef::file(path.to_str().unwrap()))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("files are refused in a cluster"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    assert!(resolver.allows_file("/var/run/secrets/kubernetes.io/serviceaccount/token"));
    assert!(!resolver.allows_file(path.to_str().unwrap()));
}
