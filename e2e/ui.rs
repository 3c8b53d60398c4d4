//! The web UI in headless Chromium, driven over WebDriver against the real binary in both
//! single-machine modes — `telltale standalone`, then `telltale dev-cluster` (one shard of
//! three replica processes) — with nothing faked: a node_exporter this test starts is the
//! scrape target, an AlertRule fires one alert and keeps another pending, a recording
//! rule runs, amtool makes a silence, and samples are pushed over remote_write. Every
//! page (graph with completion, table and live mode; targets; alerts and silences; rules;
//! status) must show its data, and the test fails as soon as a page shows an error or
//! says an API is not available.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::browser::Browser;
use common::remote_write::{TimeSeries, push, series};
use common::*;
use fantoccini::Locator;
use serde_json::json;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

const SERIES_COUNT: &str =
    "document.querySelector('.graph') && document.querySelector('.graph').dataset.seriesCount";

/// The scrape target and the rules both modes load with `-f`.
fn resources(dir: &Path, exporter: std::net::SocketAddr) -> Vec<String> {
    let targets = write_file(
        dir,
        "node.yaml",
        &format!(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\n\
             metadata: {{name: node}}\n\
             spec:\n  job: node\n  interval: 1s\n  scrapeTimeout: 900ms\n  \
             static: [{{targets: [\"{exporter}\"], labels: {{env: test}}}}]\n"
        ),
    );
    let rules = write_file(
        dir,
        "rules.yaml",
        "apiVersion: telltale.dev/v1alpha1\nkind: AlertRule\nmetadata: {name: node}\n\
         spec:\n  groups:\n  - name: node\n    interval: 1s\n    rules:\n\
         \x20   - alert: NodeScraped\n      expr: up{job=\"node\"} == 1\n\
         \x20     labels: {severity: info}\n\
         \x20     annotations: {summary: '{{ $labels.instance }} is scraped'}\n\
         \x20   - alert: NodeScrapedForAnHour\n      expr: up{job=\"node\"} == 1\n      for: 1h\n\
         \x20   - record: job:up:sum\n      expr: sum by (job) (up)\n",
    );
    [targets, rules]
        .iter()
        .flat_map(|f| ["-f".to_string(), f.display().to_string()])
        .collect()
}

/// `demo_requests_total{job="demo",instance=a|b|c}` every 15 s over the last hour (a:
/// 1/s, b: 2/s, c: 3/s), and `demo_live{job="live"}` = 1 every second over the last 10
/// minutes.
async fn push_demo(base: &str) {
    let now = now_ms();
    let mut batch: Vec<TimeSeries> = Vec::new();
    for (i, inst) in ["a", "b", "c"].iter().enumerate() {
        let mut ts = series(
            &[
                ("__name__", "demo_requests_total"),
                ("job", "demo"),
                ("instance", inst),
            ],
            0,
            0.0,
        );
        ts.samples = (0..=240)
            .map(|k| remote_write::Sample {
                timestamp: now - 3_600_000 + k * 15_000,
                value: (k * 15) as f64 * (i + 1) as f64,
            })
            .collect();
        batch.push(ts);
    }
    let mut live = series(&[("__name__", "demo_live"), ("job", "live")], 0, 0.0);
    live.samples = (0..600)
        .map(|k| remote_write::Sample {
            timestamp: now - 600_000 + k * 1_000,
            value: 1.0,
        })
        .collect();
    batch.push(live);
    let status = push(base, batch).await;
    assert!(status.is_success(), "remote_write: {status}");
}

/// A silence on `NodeScraped` made with amtool against `base` (the Alertmanager v2 API).
fn silence_with_amtool(base: &str) {
    let out = Command::new("amtool")
        .args([
            "silence",
            "add",
            "alertname=NodeScraped",
            "--comment=maintenance",
            "--author=e2e",
            "--duration=1h",
            &format!("--alertmanager.url={base}"),
        ])
        .output()
        .expect("amtool (Debian package prometheus-alertmanager) is installed");
    assert!(
        out.status.success(),
        "amtool silence add: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The graph: a shared link, completion, the table, live mode.
async fn graph_pages(b: &Browser, base: &str, mode: &str) {
    b.goto(&format!(
        "{base}/graph?g0.expr=demo_requests_total&g0.range_input=1h&g0.tab=0"
    ))
    .await;
    let n = b
        .wait(
            "3 series",
            &format!("{SERIES_COUNT} === '3' && {SERIES_COUNT}"),
        )
        .await;
    assert_eq!(n, "3");
    assert_eq!(
        b.js("document.querySelectorAll('.graph .u-legend .u-series').length")
            .await,
        4
    );
    b.screenshot(&format!("{mode}-graph")).await;

    // Typing with completion: metric name, label name, label value; then Execute.
    let input = b.client.find(Locator::Css(".expr-input")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("demo_req").await.unwrap();
    b.wait(
        "metric completion",
        "[...document.querySelectorAll('.completions:not([hidden]) li .c-label')].some(e => e.textContent === 'demo_requests_total')",
    )
    .await;
    input.send_keys(TAB).await.unwrap();
    assert_eq!(
        b.js("document.querySelector('.expr-input').value").await,
        "demo_requests_total"
    );
    input.send_keys("{").await.unwrap();
    b.wait(
        "label completion",
        "(l => l.includes('instance') && l.includes('job'))([...document.querySelectorAll('.completions:not([hidden]) li .c-label')].map(e => e.textContent))",
    )
    .await;
    input.send_keys("instance=\"").await.unwrap();
    let values = b
        .wait(
            "value completion",
            "(l => l.includes('b') && l)([...document.querySelectorAll('.completions:not([hidden]) li .c-label')].map(e => e.textContent))",
        )
        .await;
    assert_eq!(values, json!(["a", "b", "c"]));
    input.send_keys("b\"}").await.unwrap();
    b.client
        .find(Locator::Css(".execute"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait("1 series", &format!("{SERIES_COUNT} === '1'")).await;

    // Enter runs the query; the table shows one row per series at the end time.
    input.clear().await.unwrap();
    input
        .send_keys(&format!("demo_requests_total{ENTER}"))
        .await
        .unwrap();
    b.wait("3 series again", &format!("{SERIES_COUNT} === '3'"))
        .await;
    b.client
        .find(Locator::Css(".tab-table"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait(
        "3 table rows",
        "document.querySelectorAll('.result-table tbody tr').length === 3",
    )
    .await;
    let values = b
        .js("[...document.querySelectorAll('.result-table td.value')].map(e => e.textContent)")
        .await;
    assert_eq!(values, json!(["3600", "7200", "10800"]));
    b.assert_no_error("the graph page").await;

    // Live mode: a pushed sample shows up in the running graph.
    b.goto(&format!(
        "{base}/graph?g0.expr=demo_live&g0.range_input=5m&g0.step_input=1&g0.live=1"
    ))
    .await;
    b.wait("first live push", "document.querySelector('.live-status')")
        .await;
    let status = push(
        base,
        vec![series(
            &[("__name__", "demo_live"), ("job", "live")],
            now_ms(),
            4242.0,
        )],
    )
    .await;
    assert!(status.is_success(), "{status}");
    b.wait(
        "the pushed sample in the live graph",
        "document.querySelector('.graph').dataset.lastValues === '[4242]'",
    )
    .await;
    b.screenshot(&format!("{mode}-live")).await;
}

/// Targets, alerts and silences, rules: what the real components report.
async fn collection_and_alerting_pages(b: &Browser, base: &str, exporter: &str, mode: &str) {
    b.goto(&format!("{base}/targets")).await;
    let row = b
        .wait_for(
            "the node_exporter target up",
            &format!(
                "(r => r && r.textContent)([...document.querySelectorAll('tr.target[data-health=\"up\"]')].find(r => r.textContent.includes('{exporter}')))"
            ),
            Duration::from_secs(30),
        )
        .await;
    let row = row.as_str().unwrap();
    assert!(row.contains("UP") && row.contains("env=\"test\""), "{row}");
    b.assert_no_error("the targets page").await;
    b.screenshot(&format!("{mode}-targets")).await;

    // The rule fires at once; its `for: 1h` twin stays pending. amtool's silence shows.
    silence_with_amtool(base);
    b.goto(&format!("{base}/alerts")).await;
    let rows = b
        .wait_for(
            "one firing and one pending alert",
            "(l => l.length === 2 && l)([...document.querySelectorAll('tr.alert')].map(r => r.dataset.state + ':' + r.cells[0].textContent))",
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(
        rows,
        json!(["firing:NodeScraped", "pending:NodeScrapedForAnHour"])
    );
    let silence = b
        .wait(
            "the amtool silence",
            "(r => r && r.textContent)(document.querySelector('tr.silence'))",
        )
        .await;
    let silence = silence.as_str().unwrap();
    assert!(
        silence.contains("alertname=\"NodeScraped\"") && silence.contains("maintenance"),
        "{silence}"
    );
    b.assert_no_error("the alerts page").await;
    b.screenshot(&format!("{mode}-alerts")).await;

    b.goto(&format!("{base}/rules")).await;
    let rules = b
        .wait(
            "three healthy rules",
            "(rows => rows.length === 3 && rows.every(r => r.querySelector('.health-ok')) && rows.map(r => r.dataset.type + ':' + r.querySelector('.rule-def').textContent.split('\\n')[0]))([...document.querySelectorAll('tr.rule')])",
        )
        .await;
    assert_eq!(
        rules,
        json!([
            "alerting:alert: NodeScraped",
            "alerting:alert: NodeScrapedForAnHour",
            "recording:record: job:up:sum"
        ])
    );
    b.assert_no_error("the rules page").await;
    b.screenshot(&format!("{mode}-rules")).await;
}

/// The status page: `replicas` replicas of shard 0 with one leader, disk per tier,
/// build information.
async fn status_page(b: &Browser, base: &str, replicas: usize, mode: &str) {
    b.goto(&format!("{base}/status")).await;
    let leader = b
        .wait_for(
            "shard 0 with a leader and every replica",
            &format!(
                "(s => s && s.querySelectorAll('tbody tr').length === {replicas} && s.querySelectorAll('tr.leader').length === 1 && s.querySelector('h2').textContent)(document.querySelector('.shard'))"
            ),
            Duration::from_secs(30),
        )
        .await;
    assert!(
        leader
            .as_str()
            .unwrap()
            .starts_with("Shard 0 leader: 127.0.0.1:"),
        "{leader}"
    );
    let tiers = b
        .js("[...document.querySelectorAll('.cluster table.disk th')].map(e => e.textContent)")
        .await;
    assert_eq!(tiers, json!(["1h", "1m", "raw"]));
    b.wait(
        "build info",
        "document.querySelector('.buildinfo table.kv')",
    )
    .await;
    b.wait(
        "the storage section",
        "!document.querySelector('.storage .note-loading')",
    )
    .await;
    b.assert_no_error("the status page").await;
    b.screenshot(&format!("{mode}-status")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_against_standalone_and_dev_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_exporter, exporter) = start_node_exporter(dir).await;
    let files = resources(dir, exporter);
    let b = Browser::start(dir).await;

    // 1. telltale standalone.
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend(["--self-scrape-interval", "1s"]);
    let standalone = Telltale::start(&dir.join("standalone"), &args).await;
    let base = standalone.url("");
    push_demo(&base).await;
    graph_pages(&b, &base, "standalone").await;
    collection_and_alerting_pages(&b, &base, &exporter.to_string(), "standalone").await;
    status_page(&b, &base, 1, "standalone").await;
    drop(standalone);

    // 2. telltale dev-cluster: storage replicas as child processes, the other roles in
    // process, the same routes.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let data = dir.join("dev-cluster");
    let mut cmd = Command::new(TELLTALE);
    cmd.args(["dev-cluster", "--shards", "1", "--replicas", "3"])
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(&files)
        .env("TELLTALE_LOG", "info");
    let mut cluster = Proc::spawn("dev-cluster", &mut cmd, dir.join("dev-cluster.log"));
    wait_ready(&mut cluster, &format!("{base}/-/ready")).await;
    // Writes wait for the shard's leader.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !get_json(&format!("{base}/api/v1/status/cluster")).await["data"]["shards"][0]["leader"]
        .is_string()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no leader:\n{}",
            cluster.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    push_demo(&base).await;
    graph_pages(&b, &base, "dev-cluster").await;
    collection_and_alerting_pages(&b, &base, &exporter.to_string(), "dev-cluster").await;
    status_page(&b, &base, 3, "dev-cluster").await;
    // dev-cluster adds each replica's process to its row.
    let headers = b
        .js("[...document.querySelector('.shard').querySelectorAll('th')].map(e => e.textContent)")
        .await;
    for column in ["id", "address", "role", "lag", "disk_bytes", "pid"] {
        assert!(
            headers.as_array().unwrap().iter().any(|h| h == column),
            "{column} missing from {headers}"
        );
    }

    b.client.clone().close().await.unwrap();
    cluster.kill9();
}
