//! Each component started alone, as the operator will run them in pods: a storage node,
//! a scraper and a query process wired by flags and environment variables.

mod common;

use std::process::Command;
use std::time::Duration;

use common::remote_write::{push, series};
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn components_run_as_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let storage_http = format!("127.0.0.1:{}", free_port());
    let scraper_http = format!("127.0.0.1:{}", free_port());
    let query_http = format!("127.0.0.1:{}", free_port());
    let alerts_http = format!("127.0.0.1:{}", free_port());

    // Addresses by flag for the storage node...
    let mut storage = Proc::spawn(
        "storage",
        Command::new(TELLTALE)
            .arg("storage")
            .arg("--data-dir")
            .arg(dir.path().join("storage"))
            .args(["--grpc-listen", &grpc, "--listen", &storage_http]),
        dir.path().join("storage.log"),
    );
    wait_ready(&mut storage, &format!("http://{storage_http}/-/ready")).await;

    // ...and by environment variable for the others.
    let mut scraper = Proc::spawn(
        "scraper",
        Command::new(TELLTALE)
            .arg("scraper")
            .env("TELLTALE_STORAGE", &grpc)
            .env("TELLTALE_LISTEN", &scraper_http),
        dir.path().join("scraper.log"),
    );
    let mut query = Proc::spawn(
        "query",
        Command::new(TELLTALE)
            .arg("query")
            .env("TELLTALE_STORAGE", &grpc)
            .env("TELLTALE_LISTEN", &query_http),
        dir.path().join("query.log"),
    );
    let mut alertmanager = Proc::spawn(
        "alertmanager",
        Command::new(TELLTALE).arg("alertmanager").args([
            "--storage",
            &grpc,
            "--listen",
            &alerts_http,
        ]),
        dir.path().join("alertmanager.log"),
    );
    wait_ready(&mut scraper, &format!("http://{scraper_http}/-/ready")).await;
    wait_ready(&mut query, &format!("http://{query_http}/-/ready")).await;
    wait_ready(&mut alertmanager, &format!("http://{alerts_http}/-/ready")).await;

    let ts = now_ms();
    let status = push(
        &format!("http://{scraper_http}"),
        vec![series(
            &[("__name__", "split_roles"), ("via", "scraper")],
            ts,
            3.0,
        )],
    )
    .await;
    assert!(status.is_success(), "{status}");
    let result = eventually(
        &format!("http://{query_http}"),
        "split_roles",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(value_of(&result[0]), 3.0);
    assert_eq!(result[0]["metric"]["via"], "scraper");

    for (name, addr) in [
        ("storage", &storage_http),
        ("scraper", &scraper_http),
        ("query", &query_http),
        ("alertmanager", &alerts_http),
    ] {
        get_text(&format!("http://{addr}/-/healthy")).await;
        get_text(&format!("http://{addr}/-/ready")).await;
        let metrics = get_text(&format!("http://{addr}/metrics")).await;
        assert!(
            metrics.contains(&format!("component=\"{name}\"")),
            "{name} /metrics lacks its build info"
        );
    }
}

#[test]
fn crds_subcommand_prints_the_committed_crds() {
    let out = Command::new(TELLTALE).arg("crds").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crds/telltale.dev.yaml"
    ))
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[test]
fn operator_without_a_cluster_fails_with_a_clear_line() {
    let out = Command::new(TELLTALE)
        .args(["operator", "--listen", "127.0.0.1:0"])
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the Kubernetes API"),
        "{stderr}"
    );
}
