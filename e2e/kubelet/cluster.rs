//! The operator as the tests run it: its own process against the emulated API (with the
//! environment its Deployment gives it), what it rendered read back from the API, and
//! waiting on the pods it runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::api::KubeApi;
use super::pods::PlannedPod;
use super::run::RunningPod;
use crate::common::{Proc, TELLTALE, free_port, wait_ready};

/// The instance label of every object of the MetricCluster the tests create.
pub const CLUSTER: &str = "mc";
pub const COMPONENT: &str = "app.kubernetes.io/component";

/// `telltale operator --namespace NS` as its own process, ready.
pub async fn start_operator(dir: &Path, kubeconfig: &Path, namespace: &str) -> Proc {
    let op_port = free_port();
    let mut cmd = Command::new(TELLTALE);
    cmd.args(["operator", "--namespace", namespace])
        .args(["--listen", &format!("127.0.0.1:{op_port}")])
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAME", "telltale-operator-0")
        .env("POD_NAMESPACE", namespace);
    let mut operator = Proc::spawn("operator", &mut cmd, dir.join("operator.log"));
    wait_ready(
        &mut operator,
        &format!("http://127.0.0.1:{op_port}/-/ready"),
    )
    .await;
    operator
}

/// What the operator rendered, read back from the API once a workload exists for every
/// component and every ConfigMap the workloads mount exists.
pub struct Rendered {
    pub workloads: Vec<Value>,
    pub services: Vec<Value>,
    pub config_maps: Vec<Value>,
    pub secrets: Vec<Value>,
    pub service_accounts: Vec<Value>,
}

pub async fn read_rendered(api: &KubeApi, namespace: &str, operator: &mut Proc) -> Rendered {
    let selector = format!("app.kubernetes.io/instance={CLUSTER}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut workloads = api
            .list("apps/v1", "StatefulSet", namespace, &selector)
            .await;
        workloads.extend(
            api.list("apps/v1", "Deployment", namespace, &selector)
                .await,
        );
        let config_maps = api.list("v1", "ConfigMap", namespace, "").await;
        let components: BTreeSet<&str> = workloads
            .iter()
            .filter_map(|w| w["metadata"]["labels"][COMPONENT].as_str())
            .collect();
        let mounted: BTreeSet<&str> = workloads
            .iter()
            .flat_map(|w| w["spec"]["template"]["spec"]["volumes"].as_array())
            .flatten()
            .filter_map(|v| v["configMap"]["name"].as_str())
            .collect();
        let have: BTreeSet<&str> = config_maps
            .iter()
            .filter_map(|c| c["metadata"]["name"].as_str())
            .collect();
        let secrets = api.list("v1", "Secret", namespace, "").await;
        let secret_mounts: BTreeSet<&str> = workloads
            .iter()
            .flat_map(|w| w["spec"]["template"]["spec"]["volumes"].as_array())
            .flatten()
            .filter_map(|v| v["secret"]["secretName"].as_str())
            .collect();
        let have_secrets: BTreeSet<&str> = secrets
            .iter()
            .filter_map(|c| c["metadata"]["name"].as_str())
            .collect();
        if components == BTreeSet::from(["alertmanager", "query", "scraper", "storage"])
            && mounted.is_subset(&have)
            && secret_mounts.is_subset(&have_secrets)
        {
            return Rendered {
                workloads,
                services: api.list("v1", "Service", namespace, "").await,
                config_maps,
                secrets,
                service_accounts: api.list("v1", "ServiceAccount", namespace, "").await,
            };
        }
        if let Ok(Some(status)) = operator.child.try_wait() {
            panic!(
                "the operator exited with {status}:\n{}",
                operator.log_text()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the operator rendered {components:?} only:\n{}",
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes this test process a client of the cluster's replicas as the operator is: a
/// certificate of role operator issued from the `<mc>-ca` Secret, installed as the
/// process's gRPC identity (every Raft status call of the test then goes over TLS).
pub fn trust_cluster(rendered: &Rendered) {
    use base64::Engine;
    use telltale_operator::pki::{CertificateAuthority, operator_identity};
    use telltale_storage_api::tls::{Identity, Source, client};
    let ca = rendered
        .secrets
        .iter()
        .find(|s| s["metadata"]["name"] == format!("{CLUSTER}-ca"))
        .expect("the operator made the cluster's CA");
    let pem = |key: &str| {
        let b64 = ca["data"][key].as_str().expect("a CA key");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    };
    let ca = CertificateAuthority::from_pem(&pem("ca.crt"), &pem("ca.key")).unwrap();
    let id =
        operator_identity(&ca, Duration::from_secs(3600), std::time::SystemTime::now()).unwrap();
    client::global()
        .set(
            CLUSTER,
            Source::Fixed(Identity {
                ca_pem: id.ca_pem.into_bytes(),
                cert_pem: id.cert_pem.into_bytes(),
                key_pem: id.key_pem.into_bytes(),
            }),
        )
        .unwrap();
}

pub fn component(pod: &PlannedPod) -> &str {
    pod.labels
        .get(COMPONENT)
        .map(String::as_str)
        .unwrap_or_default()
}

/// `http://<address>` of a pod's `--listen` flag (mapped to 127.0.0.1).
pub fn http_base(pod: &RunningPod) -> String {
    format!("http://{}", pod.flag("--listen").expect("--listen"))
}

/// Polls `check` every 250 ms until it returns `Some`, failing after `within` with
/// `what` and the logs of `pods`.
pub async fn eventually<T, F, Fut>(
    what: &str,
    within: Duration,
    pods: &[RunningPod],
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            let logs: String = pods
                .iter()
                .map(|p| {
                    format!(
                        "--- {} ({})\n{}\n",
                        p.name,
                        p.command.join(" "),
                        tail(&p.proc.log_text())
                    )
                })
                .collect();
            panic!("{what}: not within {within:?}\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
