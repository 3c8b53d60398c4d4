//! `telltale standalone --config.file prometheus.yml` as a Prometheus user runs it: a real
//! node_exporter scraped through the file's scrape config (relabeling and metric
//! relabeling included), a rule file's recording rule, external labels, and reloads on
//! `POST /-/reload` and SIGHUP (a bad file keeps the previous configuration), remote_write
//! forwarding to a real Prometheus receiver with the external labels; and
//! `telltale check config` agreeing with `promtool check config` on the same files.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Telltale, eventually, start_node_exporter, value_of, write_file};

/// prometheus.yml scraping node_exporter at `target` every second as job `job`, adding
/// `team="sre"` to the target and dropping `go_*` series, with `rules` as rule file, and
/// forwarding `node_load1` and the recording rule to `remote`, sending alerts to the
/// Alertmanagers that the file_sd file `am` lists with `role: primary`.
fn prometheus_yml(job: &str, target: &str, rules: &Path, remote: &str, am: &Path) -> String {
    format!(
        "global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    cluster: eu1
rule_files:
  - {rules}
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: ['{target}']
        labels:
          env: test
    relabel_configs:
      - target_label: team
        replacement: sre
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
alerting:
  alert_relabel_configs:
    - target_label: via
      replacement: relabel
    - source_labels: [alertname]
      regex: 'Dropped.*'
      action: drop
  alertmanagers:
    - file_sd_configs:
        - files: ['{am}']
      relabel_configs:
        - source_labels: [role]
          regex: primary
          action: keep
remote_write:
  - url: {remote}
    name: receiver
    queue_config:
      batch_send_deadline: 1s
    write_relabel_configs:
      - source_labels: [__name__]
        regex: 'node_load1|job:node_load1:max'
        action: keep
",
        rules = rules.display(),
        am = am.display()
    )
}

/// A file_sd file listing the Alertmanager at `am` (`role: primary`) and one that does
/// not listen (`role: standby`), which the relabeling drops.
fn alertmanagers_file(dir: &Path, am: &str) -> std::path::PathBuf {
    write_file(
        dir,
        "alertmanagers.json",
        &format!(
            r#"[{{"targets": ["{am}"], "labels": {{"role": "primary"}}}},
                {{"targets": ["127.0.0.1:1"], "labels": {{"role": "standby"}}}}]"#
        ),
    )
}

const RULES: &str = "groups:
  - name: node
    rules:
      - record: job:node_load1:max
        expr: max by (job) (node_load1)
      - alert: NodeExporterUp
        expr: up{job=~\"node.*\"} == 1
        labels:
          severity: info
        annotations:
          summary: 'node_exporter {{ $labels.instance }} is up'
      - alert: DroppedByRelabeling
        expr: up{job=~\"node.*\"} == 1
";

async fn post_reload(t: &Telltale) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(t.url("/-/reload"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn reload_gauge(t: &Telltale) -> f64 {
    let metrics = common::get_text(&t.url("/metrics")).await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_config_last_reload_successful "))
        .unwrap_or_else(|| panic!("no reload gauge in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_yml_scrapes_records_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let (_exporter, exporter) = start_node_exporter(dir.path()).await;
    let (_receiver, receiver) = common::start_prometheus_receiver(dir.path()).await;
    let remote = format!("{receiver}/api/v1/write");
    let (_am, am) = common::start_alertmanager(dir.path()).await;
    let rules = write_file(dir.path(), "node.rules.yml", RULES);
    let am_file = alertmanagers_file(dir.path(), &am);
    let yml = |job: &str| prometheus_yml(job, &exporter.to_string(), &rules, &remote, &am_file);
    let config = write_file(dir.path(), "prometheus.yml", &yml("node"));
    let config_arg = config.display().to_string();
    let t = Telltale::start(&dir.path().join("data"), &["--config.file", &config_arg]).await;
    let base = t.url("");

    // The scrape config's job, static labels and relabeling; metric relabeling drops go_*.
    let up = eventually(
        &base,
        r#"up{job="node",env="test",team="sre"}"#,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(value_of(&up[0]), 1.0);
    eventually(&base, r#"node_load1{job="node"}"#, Duration::from_secs(30)).await;
    assert!(
        t.query(r#"{__name__=~"go_.*",job="node"}"#)
            .await
            .is_empty()
    );
    // The rule file's recording rule.
    eventually(
        &base,
        r#"job:node_load1:max{job="node"}"#,
        Duration::from_secs(30),
    )
    .await;
    // The configuration as loaded.
    let status = common::get_json(&t.url("/api/v1/status/config")).await;
    let yaml = status["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("job_name: node"), "{yaml}");
    assert!(yaml.contains("cluster: eu1"), "{yaml}");
    assert_eq!(reload_gauge(&t).await, 1.0);

    // remote_write: the kept series reach the receiving Prometheus with the external
    // labels; the others are not sent.
    let forwarded = eventually(
        &receiver,
        r#"node_load1{job="node",cluster="eu1",team="sre"}"#,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(forwarded.len(), 1);
    eventually(
        &receiver,
        r#"job:node_load1:max{cluster="eu1"}"#,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        common::query_at(&receiver, r#"up{job="node"}"#)
            .await
            .is_empty()
    );

    // alerting.alertmanagers: the firing alert reaches the real Alertmanager with the
    // external labels and its annotations.
    let alert = common::wait_for_alert(&am, "NodeExporterUp").await;
    assert_eq!(alert["labels"]["cluster"], "eu1", "{alert}");
    // alert_relabel_configs: a label added, and an alert firing alongside dropped.
    assert_eq!(alert["labels"]["via"], "relabel", "{alert}");
    let all = common::get_json(&format!("http://{am}/api/v2/alerts")).await;
    assert!(!all.to_string().contains("DroppedByRelabeling"), "{all}");
    assert_eq!(alert["labels"]["severity"], "info", "{alert}");
    assert_eq!(
        alert["annotations"]["summary"],
        format!("node_exporter {exporter} is up"),
        "{alert}"
    );
    // Discovered from the file, the standby dropped by the section's relabeling.
    let ams = common::get_json(&t.url("/api/v1/alertmanagers")).await;
    assert!(
        ams.to_string()
            .contains(&format!("http://{am}/api/v2/alerts")),
        "{ams}"
    );
    assert!(!ams.to_string().contains("127.0.0.1:1/"), "{ams}");

    // POST /-/reload picks up a renamed job.
    std::fs::write(&config, yml("node2")).unwrap();
    let (status, body) = post_reload(&t).await;
    assert_eq!(status, 200, "{body}");
    eventually(&base, r#"up{job="node2"} == 1"#, Duration::from_secs(30)).await;

    // A bad file is refused with its field, and the running configuration stays.
    std::fs::write(
        &config,
        yml("node3").replace("action: drop", "action: explode"),
    )
    .unwrap();
    let (status, body) = post_reload(&t).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("metric_relabel_configs[0].action"), "{body}");
    assert!(body.contains(&config_arg), "{body}");
    assert_eq!(reload_gauge(&t).await, 0.0);
    let targets = common::get_json(&t.url("/api/v1/targets")).await;
    let jobs: Vec<&str> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["labels"]["job"].as_str())
        .collect();
    assert!(
        jobs.contains(&"node2") && !jobs.contains(&"node3"),
        "{jobs:?}"
    );

    // SIGHUP reloads too; the remote_write section changes under the same name, so its
    // forwarder is closed and reopened on the same queue.
    std::fs::write(
        &config,
        yml("node4").replace("batch_send_deadline: 1s", "batch_send_deadline: 2s"),
    )
    .unwrap();
    let pid = t.proc.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    eventually(&base, r#"up{job="node4"} == 1"#, Duration::from_secs(30)).await;
    assert_eq!(reload_gauge(&t).await, 1.0);
    // The reopened forwarder still sends.
    eventually(
        &receiver,
        r#"node_load1{job="node4"}"#,
        Duration::from_secs(30),
    )
    .await;
}

/// Exit codes of `telltale check config FILE` and `promtool check config FILE`.
fn verdicts(file: &Path) -> (bool, bool) {
    let ours = Command::new(common::TELLTALE)
        .args(["check", "config"])
        .arg(file)
        .output()
        .unwrap();
    let theirs = Command::new("promtool")
        .args(["check", "config"])
        .arg(file)
        .output()
        .unwrap();
    (ours.status.success(), theirs.status.success())
}

#[test]
fn check_config_agrees_with_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_file(dir.path(), "r.yml", RULES);
    let remote = "http://127.0.0.1:9/api/v1/write";
    let am_file = alertmanagers_file(dir.path(), "127.0.0.1:9093");
    let good = prometheus_yml("node", "127.0.0.1:9100", &rules, remote, &am_file);
    let cases = [
        ("good.yml", good.clone()),
        (
            "bad-action.yml",
            good.replace("action: drop", "action: explode"),
        ),
        ("bad-regex.yml", good.replace("'go_.*'", "'go_(.*'")),
        (
            "bad-duration.yml",
            good.replace("scrape_interval: 1s", "scrape_interval: 1x"),
        ),
        (
            "unknown-field.yml",
            good.replace("  evaluation_interval", "  evaluaton_interval"),
        ),
        (
            "timeout-over-interval.yml",
            good.replace(
                "scrape_interval: 1s",
                "scrape_interval: 1s\n  scrape_timeout: 5s",
            ),
        ),
        ("missing-rules.yml", good.replace("r.yml", "nowhere.yml")),
        (
            "duplicate-job.yml",
            format!("{good}  - job_name: node\n    static_configs: [{{targets: ['a:1']}}]\n"),
        ),
    ];
    for (name, text) in cases {
        let file = write_file(dir.path(), name, &text);
        let (ours, theirs) = verdicts(&file);
        assert_eq!(
            ours, theirs,
            "{name}: telltale ok={ours}, promtool ok={theirs}"
        );
        assert_eq!(ours, name == "good.yml", "{name}");
    }
    // A bad rule expression in a named rule file fails both.
    let bad_rules = write_file(
        dir.path(),
        "bad.rules.yml",
        &RULES.replace("max by (job)", "max by job"),
    );
    let file = write_file(
        dir.path(),
        "bad-rule.yml",
        &prometheus_yml("node", "127.0.0.1:9100", &bad_rules, remote, &am_file),
    );
    assert_eq!(verdicts(&file), (false, false));
}
