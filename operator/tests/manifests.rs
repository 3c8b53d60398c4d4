//! Every object `render()` builds, the TLS Secrets the controller issues (with their
//! certificates), and every manifest of the Helm chart, validate against the official
//! Kubernetes schemas offline; the chart passes `helm lint` and renders.
//! Runs `charts/tests/check_chart.py` in the test venv (helm-python-sdk carries Helm as a
//! library, kubernetes-validate the schemas); fails when the venv is missing.

mod common;

use std::process::Command;
use std::time::SystemTime;

use common::{cluster, repo_root, venv_python};
use telltale_operator::pki::CertificateAuthority;
use telltale_operator::render::certificates::render_secrets;
use telltale_operator::render::{Meta, to_dynamic};

#[test]
fn chart_and_rendered_objects_validate_against_kubernetes_schemas() {
    let python = venv_python();
    let samples = [
        cluster("small", "{}"),
        cluster(
            "big",
            "shards: 3
replicasPerShard: 5
image: registry.local/telltale:2
imagePullPolicy: Always
storage:
  size: 100Gi
  storageClassName: fast
  resources: {requests: {cpu: '2', memory: 4Gi}, limits: {memory: 8Gi}}
retention: {raw: 14d, rollup1m: 90d, rollup1h: 2y}
scraper: {replicas: 4, resources: {requests: {cpu: 500m}}}
query: {replicas: 3}
alertmanager: {replicas: 1}
deletePVCs: true
alerting:
  receivers:
    - name: pd
      pagerdutyConfigs: [{routingKey: {secretKeyRef: {name: pagerduty, key: key}}}]
tls: {internal: {certificateValidity: 720h, renewBefore: 240h}}
web: {configSecret: {name: web-config}}
backup: {url: 's3://backups/big', schedule: '0 3 * * *', credentialsSecret: s3-keys}",
        ),
        cluster(
            "plain",
            "tls: {internal: {mode: Disabled}}\nnetworkPolicies: false",
        ),
    ];
    let mut yaml = String::new();
    let mut count = 0;
    let mut push = |obj: &kube::api::DynamicObject| {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(obj).unwrap());
        count += 1;
    };
    let mut kinds = std::collections::BTreeSet::new();
    for mc in &samples {
        for obj in telltale_operator::render(mc).unwrap() {
            kinds.insert(obj.types.clone().unwrap().kind);
            push(&obj);
        }
        if mc.spec.tls.internal.enabled() {
            let ca = CertificateAuthority::generate(
                &mc.metadata.name.clone().unwrap(),
                SystemTime::now(),
            )
            .unwrap();
            let m = Meta::new(mc).unwrap();
            for secret in render_secrets(&m, &mc.spec, &ca, SystemTime::now()).unwrap() {
                push(&to_dynamic(&secret).unwrap());
                kinds.insert("Secret".into());
            }
        }
    }
    for kind in ["Secret", "NetworkPolicy", "StatefulSet"] {
        assert!(kinds.contains(kind), "no {kind} validated: {kinds:?}");
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("telltale-rendered-objects.yaml");
    std::fs::write(&file, yaml).unwrap();
    let script = repo_root().join("charts/tests/check_chart.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg("--objects")
        .arg(&file)
        .output()
        .expect("run check_chart.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "check_chart.py failed ({} rendered objects):\n{stdout}\n{stderr}",
        count
    );
    assert!(stdout.contains(", 0 problems"), "{stdout}");
    let checked: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        checked > count,
        "only {checked} manifests checked for {count} rendered objects: {stdout}"
    );
    println!("{stdout}");
}
