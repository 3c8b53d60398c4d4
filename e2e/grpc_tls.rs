//! Mutual TLS between the components, with real processes: `telltale dev-cluster
//! --grpc-tls` runs its replicas as child processes with certificates of its CA (Raft
//! between them over TLS) and its own clients with a certificate of role operator; a
//! separate `telltale query` process reading through the shard map is refused without a
//! certificate or with one of another CA, and served with one of the cluster's CA given
//! by `--grpc.tls-*-file`; the replica that refused says so in its log.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::dev_cluster::DevCluster;
use common::remote_write::{push, series};
use common::{Proc, TELLTALE, free_port, now_ms, wait_ready};
use telltale_operator::pki::{CertificateAuthority, Leaf};
use telltale_storage_api::tls::Role;

/// Writes a query certificate of `ca` into `dir` and returns its three flags.
fn query_identity(ca: &CertificateAuthority, ca_file: &Path, dir: &Path) -> Vec<String> {
    let leaf = Leaf {
        role: Role::Query,
        common_name: "e2e-query".into(),
        dns_names: Vec::new(),
        server: false,
    };
    let issued = ca
        .issue(&leaf, Duration::from_secs(3600), SystemTime::now())
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key) = (dir.join("query.crt"), dir.join("query.key"));
    std::fs::write(&cert, issued.cert_pem).unwrap();
    std::fs::write(&key, issued.key_pem).unwrap();
    vec![
        "--grpc.tls-ca-file".into(),
        ca_file.display().to_string(),
        "--grpc.tls-cert-file".into(),
        cert.display().to_string(),
        "--grpc.tls-key-file".into(),
        key.display().to_string(),
    ]
}

/// A `telltale query` process over `shard_map` with `extra` flags, ready.
async fn query_process(
    dir: &Path,
    name: &str,
    shard_map: &Path,
    extra: &[String],
) -> (Proc, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(TELLTALE);
    cmd.arg("query")
        .arg("--shard-map")
        .arg(shard_map)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("TELLTALE_LOG", "info");
    let mut proc = Proc::spawn(name, &mut cmd, dir.join(format!("{name}.log")));
    wait_ready(&mut proc, &format!("{base}/-/ready")).await;
    (proc, base)
}

/// The instant query's JSON answer (status and all), whatever the HTTP status.
async fn answer(base: &str, expr: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dev_cluster_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let dc_dir = dir.path().join("dc");
    let dc = DevCluster::start_with(&dc_dir, 1, &["--grpc-tls"]).await;
    let tls_dir = dc_dir.join("tls");
    assert!(tls_dir.join("ca.crt").exists() && tls_dir.join("shard-0-replica-1.crt").exists());

    // Writes and reads through the dev cluster: its clients and the replicas' Raft over TLS.
    let ts = now_ms();
    let status = push(
        &dc.base,
        vec![series(&[("__name__", "tls_e2e"), ("job", "e2e")], ts, 42.0)],
    )
    .await;
    assert!(status.is_success(), "{status}");
    let got = common::eventually(&dc.base, "tls_e2e", Duration::from_secs(15)).await;
    assert_eq!(common::value_of(&got[0]), 42.0);

    let shard_map = dc_dir.join("shard-map.yaml");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let ca = CertificateAuthority::from_pem(
        &read(&tls_dir.join("ca.crt")),
        &read(&tls_dir.join("ca.key")),
    )
    .unwrap();

    // Without a certificate: refused; the query answers an error, not data.
    let (_plain, plain) = query_process(dir.path(), "query-plain", &shard_map, &[]).await;
    let refused = answer(&plain, "tls_e2e").await;
    assert_eq!(refused["status"], "error", "{refused}");
    // With a certificate of another CA: refused too.
    let other = CertificateAuthority::generate("intruder", SystemTime::now()).unwrap();
    let other_ca = dir.path().join("other-ca.crt");
    std::fs::write(&other_ca, other.cert_pem()).unwrap();
    let flags = query_identity(&other, &other_ca, &dir.path().join("other"));
    let (_stranger, stranger) =
        query_process(dir.path(), "query-stranger", &shard_map, &flags).await;
    let refused = answer(&stranger, "tls_e2e").await;
    assert_eq!(refused["status"], "error", "{refused}");

    // With one of the cluster's CA: the data.
    let flags = query_identity(&ca, &tls_dir.join("ca.crt"), &dir.path().join("mine"));
    let (_query, query) = query_process(dir.path(), "query-tls", &shard_map, &flags).await;
    let served = answer(&query, "tls_e2e").await;
    assert_eq!(served["status"], "success", "{served}");
    assert_eq!(served["data"]["result"][0]["value"][1], "42", "{served}");

    // A replica logged the refused handshakes.
    let logs: String = (1..=3)
        .map(|id| {
            std::fs::read_to_string(dc_dir.join(format!("shard-0/replica-{id}.log")))
                .unwrap_or_default()
        })
        .collect();
    assert!(
        logs.contains("gRPC TLS handshake refused"),
        "no refusal in the replicas' logs"
    );
    drop(dc);
}
