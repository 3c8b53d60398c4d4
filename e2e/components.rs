//! Each component started alone, as the operator runs them in pods: a storage node,
//! scrapers, a query and an alertmanager process wired by flags and environment
//! variables.

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

/// `telltale query` answers for the other components, as in a cluster: the targets of
/// every scraper replica merged (each naming its owner; a replica that is down is a
/// warning), the alertmanager's rules, alerts and silences (amtool through the query's
/// address), and the storage node's status.
#[tokio::test(flavor = "multi_thread")]
async fn query_answers_for_the_scrapers_and_the_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_exporter, exporter) = start_node_exporter(d).await;
    let grpc = format!("127.0.0.1:{}", free_port());
    let storage_http = format!("127.0.0.1:{}", free_port());
    let scrapers: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let alerts_http = format!("127.0.0.1:{}", free_port());
    let query_http = format!("127.0.0.1:{}", free_port());
    let gone = format!("127.0.0.1:{}", free_port());

    // Five targets spread over the two scraper replicas by rendezvous hashing.
    let mut targets = vec![
        exporter.to_string(),
        storage_http.clone(),
        alerts_http.clone(),
    ];
    targets.extend(scrapers.iter().cloned());
    let quoted: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let targets_file = write_file(
        d,
        "targets.yaml",
        &format!(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: all}}\n\
             spec:\n  job: all\n  interval: 1s\n  scrapeTimeout: 900ms\n  \
             static: [{{targets: [{}]}}]\n",
            quoted.join(", ")
        ),
    );
    let rules_file = write_file(
        d,
        "rules.yaml",
        "apiVersion: telltale.dev/v1alpha1\nkind: AlertRule\nmetadata: {name: all}\n\
         spec:\n  groups:\n  - name: all\n    interval: 1s\n    rules:\n\
         \x20   - alert: Scraped\n      expr: up{job=\"all\"} == 1\n",
    );

    let mut procs = Vec::new();
    let mut storage = Proc::spawn(
        "storage",
        Command::new(TELLTALE)
            .arg("storage")
            .arg("--data-dir")
            .arg(d.join("storage"))
            .args(["--grpc-listen", &grpc, "--listen", &storage_http]),
        d.join("storage.log"),
    );
    wait_ready(&mut storage, &format!("http://{storage_http}/-/ready")).await;
    for (i, http) in scrapers.iter().enumerate() {
        let mut p = Proc::spawn(
            "scraper",
            Command::new(TELLTALE)
                .arg("scraper")
                .args(["--storage", &grpc, "--listen", http])
                .args(["--member-name", &format!("scraper-{i}"), "--members", "2"])
                .arg("--queue-dir")
                .arg(d.join(format!("queue-{i}")))
                .arg("-f")
                .arg(&targets_file),
            d.join(format!("scraper-{i}.log")),
        );
        wait_ready(&mut p, &format!("http://{http}/-/ready")).await;
        procs.push(p);
    }
    let mut alertmanager = Proc::spawn(
        "alertmanager",
        Command::new(TELLTALE)
            .arg("alertmanager")
            .args(["--storage", &grpc, "--listen", &alerts_http])
            .arg("--data-dir")
            .arg(d.join("alertmanager"))
            .arg("-f")
            .arg(&rules_file),
        d.join("alertmanager.log"),
    );
    wait_ready(&mut alertmanager, &format!("http://{alerts_http}/-/ready")).await;
    let mut query = Proc::spawn(
        "query",
        Command::new(TELLTALE)
            .arg("query")
            .args(["--storage", &grpc, "--listen", &query_http])
            .args(["--scraper-url", &format!("http://{}", scrapers[0])])
            // A replica that is down, next to the live ones (comma-separated form).
            .args([
                "--scraper-url",
                &format!("http://{},http://{gone}", scrapers[1]),
            ])
            .args(["--alertmanager-url", &format!("http://{alerts_http}/")]),
        d.join("query.log"),
    );
    wait_ready(&mut query, &format!("http://{query_http}/-/ready")).await;
    let query_base = format!("http://{query_http}");

    // Targets: every target once, with the replica that owns it, as each replica says.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let merged = loop {
        let v = get_json(&format!("{query_base}/api/v1/targets")).await;
        let active = v["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if active.len() == 5 && active.iter().all(|t| t["health"] == "up") {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "targets: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut owners = std::collections::BTreeMap::new();
    for (i, http) in scrapers.iter().enumerate() {
        let own = get_json(&format!("http://{http}/api/v1/targets")).await;
        for t in own["data"]["activeTargets"].as_array().unwrap() {
            assert_eq!(t["scraper"], format!("scraper-{i}"), "{t}");
            owners.insert(
                t["scrapeUrl"].as_str().unwrap().to_string(),
                t["scraper"].clone(),
            );
        }
    }
    let listed: std::collections::BTreeMap<String, serde_json::Value> =
        merged["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["scrapeUrl"].as_str().unwrap().to_string(),
                    t["scraper"].clone(),
                )
            })
            .collect();
    assert_eq!(listed, owners, "merged: {merged}");
    assert_eq!(listed.len(), 5);
    let warnings = merged["warnings"].to_string();
    assert!(warnings.contains(&gone), "{merged}");
    // The query's state filter reaches the replicas.
    let dropped_only = get_json(&format!("{query_base}/api/v1/targets?state=dropped")).await;
    assert_eq!(dropped_only["data"]["activeTargets"], serde_json::json!([]));

    // Rules and alerts of the alertmanager, through the query.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = get_json(&format!("{query_base}/api/v1/alerts")).await;
        let firing = v["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["state"] == "firing")
            .count();
        if firing == 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "alerts: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let rules = get_json(&format!("{query_base}/api/v1/rules")).await;
    assert_eq!(
        rules["data"]["groups"][0]["rules"][0]["name"], "Scraped",
        "{rules}"
    );

    // amtool (Alertmanager's own client) against the query's address: a silence posted
    // through it lands in the alertmanager.
    let out = Command::new("amtool")
        .args([
            "silence",
            "add",
            "alertname=Scraped",
            "--comment=through the query",
            "--author=e2e",
            "--duration=1h",
            &format!("--alertmanager.url={query_base}"),
        ])
        .output()
        .expect("amtool (Debian package prometheus-alertmanager) is installed");
    assert!(
        out.status.success(),
        "amtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let direct = get_json(&format!("http://{alerts_http}/api/v2/silences")).await;
    assert!(
        direct
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == id.as_str()),
        "silence {id} not in the alertmanager: {direct}"
    );
    let out = Command::new("amtool")
        .args([
            "silence",
            "query",
            &format!("--alertmanager.url={query_base}"),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("through the query"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The storage node's status: `telltale storage` without --peers is a group of one
    // replica, which leads; its disk per tier.
    let status = get_json(&format!("{query_base}/api/v1/status/cluster")).await;
    let replica = &status["data"]["shards"][0]["replicas"][0];
    assert_eq!(replica["address"], grpc.as_str(), "{status}");
    assert_eq!(replica["role"], "leader", "{status}");
    assert_eq!(
        status["data"]["shards"][0]["voters"],
        serde_json::json!([1]),
        "{status}"
    );
    assert!(replica["disk_bytes"]["raw"].is_u64(), "{status}");

    // With the alertmanager gone, its routes say so (503) instead of hanging or lying.
    alertmanager.kill9();
    let resp = reqwest::get(format!("{query_base}/api/v1/alerts"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "error", "{body}");
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
