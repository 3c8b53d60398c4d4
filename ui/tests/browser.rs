//! The UI in headless Chromium (Debian's `chromium` + `chromium-driver`), driven over
//! WebDriver: expression browser with completion, graph, table, live mode, and the
//! targets page listing a real node_exporter scraped by the scraper. Screenshots are kept
//! under the target dir (`CARGO_TARGET_TMPDIR/ui-screenshots/`).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Process, Stack, free_port, now_ms, wait_http_ok};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

struct Browser {
    client: Client,
    shots: PathBuf,
    _driver: Process,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        let driver = Process::spawn("/usr/bin/chromedriver", &[format!("--port={port}")]);
        wait_http_ok(
            &format!("http://127.0.0.1:{port}/status"),
            Duration::from_secs(20),
        )
        .await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"],
            }),
        );
        // chromedriver speaks plain HTTP on localhost: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            shots,
            _driver: driver,
        }
    }

    /// Polls `script` (a JS expression) until it is truthy; returns its value.
    async fn wait(&self, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let code = format!("try {{ return ({script}); }} catch (e) {{ return null; }}");
        loop {
            let v = self.client.execute(&code, vec![]).await.unwrap();
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                let shot = self
                    .screenshot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out waiting for {what} ({script}); screenshot {shot:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(&format!("return ({script});"), vec![])
            .await
            .unwrap()
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.shots.join(format!("{name}.png"));
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }
}

const SERIES_COUNT: &str =
    "document.querySelector('.graph') && document.querySelector('.graph').dataset.seriesCount";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_a_real_browser() {
    let node_port = free_port();
    let _node = Process::spawn(
        "/usr/bin/prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{node_port}")],
    );
    wait_http_ok(
        &format!("http://127.0.0.1:{node_port}/metrics"),
        Duration::from_secs(20),
    )
    .await;
    let stack = Stack::start(Some(&format!("127.0.0.1:{node_port}"))).await;
    let b = Browser::start().await;

    // 1. A shared link opens that graph: three series drawn.
    b.client
        .goto(&stack.url("/graph?g0.expr=demo_requests_total&g0.range_input=1h&g0.tab=0"))
        .await
        .unwrap();
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
    assert_eq!(
        b.js("document.querySelector('.range-input').value").await,
        "1h"
    );
    b.screenshot("graph").await;

    // 2. Typing with completion: metric name, label name, label value; then Execute.
    let input = b.client.find(Locator::Css(".expr-input")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("demo_req").await.unwrap();
    b.wait(
        "metric completion",
        "[...document.querySelectorAll('.completions:not([hidden]) li .c-label')].some(e => e.textContent === 'demo_requests_total')",
    )
    .await;
    b.screenshot("completion").await;
    input.send_keys(TAB).await.unwrap();
    assert_eq!(
        b.js("document.querySelector('.expr-input').value").await,
        "demo_requests_total"
    );
    input.send_keys("{").await.unwrap();
    let labels = b
        .wait(
            "label completion",
            "(l => l.includes('instance') && l)([...document.querySelectorAll('.completions:not([hidden]) li .c-label')].map(e => e.textContent))",
        )
        .await;
    assert_eq!(labels, json!(["instance", "job"]));
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
    let url = b.js("decodeURIComponent(window.location.search)").await;
    assert!(
        url.as_str()
            .unwrap()
            .contains("g0.expr=demo_requests_total{instance=\"b\"}"),
        "{url}"
    );

    // Enter runs the query; stacked keeps every series.
    input.clear().await.unwrap();
    input
        .send_keys(&format!("demo_requests_total{ENTER}"))
        .await
        .unwrap();
    b.wait("3 series again", &format!("{SERIES_COUNT} === '3'"))
        .await;
    b.client
        .find(Locator::Css(".stacked-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait(
        "stacked in the URL",
        "window.location.search.includes('g0.stacked=1')",
    )
    .await;
    assert_eq!(b.js(SERIES_COUNT).await, "3");
    b.screenshot("stacked").await;

    // 3. The table view: one row per series, values at the end time.
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
    let cells = b
        .js("[...document.querySelectorAll('.result-table td.series')].map(e => e.textContent)")
        .await;
    assert_eq!(
        cells,
        json!([
            "demo_requests_total{instance=\"a\", job=\"demo\"}",
            "demo_requests_total{instance=\"b\", job=\"demo\"}",
            "demo_requests_total{instance=\"c\", job=\"demo\"}"
        ])
    );
    let values = b
        .js("[...document.querySelectorAll('.result-table td.value')].map(e => e.textContent)")
        .await;
    assert_eq!(values, json!(["3600", "7200", "10800"]));
    // Range, end, step, stacked and live belong to the graph tab only.
    assert_eq!(
        b.js("document.querySelector('.graph-controls').offsetParent === null")
            .await,
        true
    );
    b.screenshot("table").await;

    // 4. Live mode: pushed points extend the graph; a new sample shows up.
    b.client
        .goto(&stack.url("/graph?g0.expr=demo_live&g0.range_input=5m&g0.step_input=1&g0.live=1"))
        .await
        .unwrap();
    b.wait("first live push", "document.querySelector('.live-status')")
        .await;
    let t0: f64 = b
        .js("document.querySelector('.graph').dataset.lastTime")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    stack.reader.add(
        &[("__name__", "demo_live"), ("job", "live")],
        &[(now_ms(), 4242.0)],
    );
    b.wait(
        "the new sample in the graph",
        "document.querySelector('.graph').dataset.lastValues === '[4242]'",
    )
    .await;
    let t1: f64 = b
        .js("document.querySelector('.graph').dataset.lastTime")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(t1 > t0, "live mode added no point: {t0} -> {t1}");
    // The window follows the clock: the new point is on screen and scales the y axis.
    b.wait(
        "the live point on screen",
        &format!("(u => u.scales.x.max >= {t1} && u.scales.y.max >= 4242)(document.querySelector('.graph').uplot)"),
    )
    .await;
    assert_eq!(b.js(SERIES_COUNT).await, "1");
    b.screenshot("live").await;

    // 5. Targets: the real node_exporter, up, owned by this (single) scraper.
    let targets = stack.url("/api/v1/targets");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value = reqwest::get(&targets).await.unwrap().json().await.unwrap();
        if v["data"]["activeTargets"][0]["health"] == "up" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node_exporter never up: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.client.goto(&stack.url("/targets")).await.unwrap();
    let row = b
        .wait(
            "the node_exporter target",
            "(r => r && r.textContent)(document.querySelector('tr.target[data-health=\"up\"]'))",
        )
        .await;
    let row = row.as_str().unwrap();
    assert!(
        row.contains(&format!("http://127.0.0.1:{node_port}/metrics")),
        "{row}"
    );
    assert!(row.contains("UP"), "{row}");
    assert!(row.contains("env=\"test\""), "{row}");
    b.screenshot("targets").await;

    // 6. Endpoints this server does not have: "not available", not a broken page.
    b.client.goto(&stack.url("/alerts")).await.unwrap();
    let na = b
        .wait(
            "alerts n/a",
            "(e => e && e.textContent)(document.querySelector('.alerts .note-na'))",
        )
        .await;
    assert_eq!(na, "Alerts: not available on this server");
    b.wait(
        "silences n/a",
        "document.querySelector('.silences .note-na')",
    )
    .await;
    b.client.goto(&stack.url("/rules")).await.unwrap();
    b.wait("rules n/a", "document.querySelector('.rules .note-na')")
        .await;
    b.client.goto(&stack.url("/status")).await.unwrap();
    let na = b
        .wait(
            "cluster n/a",
            "(e => e && e.textContent)(document.querySelector('.cluster .note-na'))",
        )
        .await;
    assert_eq!(na, "Cluster status: not available on this server");
    b.wait(
        "build info",
        "document.querySelector('.buildinfo table.kv')",
    )
    .await;
    b.wait("storage n/a", "document.querySelector('.storage .note-na')")
        .await;
    b.screenshot("status-not-available").await;

    // 7. A cluster that reports itself: shards, leaders, replicas with their lag, and disk
    // per tier and ingestion rate from its own metrics.
    stack.fake("/api/v1/status/cluster", cluster_json());
    let now = now_ms();
    for (tier, bytes) in [("raw", 3.0 * 1024.0 * 1024.0), ("1m", 2048.0)] {
        stack.reader.add(
            &[
                ("__name__", "telltale_storage_disk_bytes"),
                ("tier", tier),
                ("instance", "s0"),
            ],
            &[(now - 1_000, bytes)],
        );
    }
    let appended: Vec<(i64, f64)> = (0..=60)
        .map(|k| (now - 60_000 + k * 1_000, k as f64 * 500.0))
        .collect();
    stack.reader.add(
        &[
            ("__name__", "telltale_storage_samples_appended_total"),
            ("instance", "s0"),
        ],
        &appended,
    );
    b.client.goto(&stack.url("/status")).await.unwrap();
    let shards = b
        .wait(
            "two shards",
            "(l => l.length === 2 && l)([...document.querySelectorAll('.shard h2')].map(e => e.textContent))",
        )
        .await;
    assert_eq!(
        shards,
        json!(["Shard 0 leader: 127.0.0.1:7001", "Shard 1 leader: none"])
    );
    let leader_rows = b
        .js("[...document.querySelectorAll('.shard tr.leader')].map(r => r.cells[0].textContent)")
        .await;
    assert_eq!(leader_rows, json!(["1"]));
    let headers = b
        .js("[...document.querySelectorAll('.shard')[0].querySelectorAll('th')].map(e => e.textContent).slice(0, 5)")
        .await;
    assert_eq!(headers, json!(["id", "address", "role", "alive", "lag"]));
    let storage = b
        .wait(
            "storage figures",
            "(e => e && e.textContent)(document.querySelector('.storage table.kv'))",
        )
        .await;
    let storage = storage.as_str().unwrap();
    assert!(storage.contains("disk (raw)3.0 MiB"), "{storage}");
    assert!(storage.contains("disk (1m)2.0 KiB"), "{storage}");
    assert!(
        storage.contains("ingestion rate500.0 samples/s"),
        "{storage}"
    );
    b.screenshot("status").await;

    // 8. Alerts (firing first, then pending), silences, and rules, in the shapes the
    // alertmanager component serves.
    let (alerts, silences, rules) = alerting_json();
    stack.fake("/api/v1/alerts", alerts);
    stack.fake("/api/v2/silences", silences);
    stack.fake("/api/v1/rules", rules);
    b.client.goto(&stack.url("/alerts")).await.unwrap();
    let rows = b
        .wait(
            "two alerts",
            "(l => l.length === 2 && l)([...document.querySelectorAll('tr.alert')].map(r => r.dataset.state + ':' + r.cells[0].textContent))",
        )
        .await;
    assert_eq!(rows, json!(["firing:DiskFull", "pending:HighLatency"]));
    assert_eq!(
        b.js("document.querySelector('.alerts .summary').textContent")
            .await,
        "1 firing, 1 pending"
    );
    let silence = b
        .wait(
            "one active silence",
            "(r => r && r.textContent)(document.querySelector('tr.silence'))",
        )
        .await;
    assert!(
        silence.as_str().unwrap().contains("alertname=\"DiskFull\""),
        "{silence}"
    );
    assert_eq!(
        b.js("document.querySelectorAll('tr.silence').length").await,
        1
    );
    b.screenshot("alerts").await;
    b.client.goto(&stack.url("/rules")).await.unwrap();
    let rules = b
        .wait(
            "two rules",
            "(l => l.length === 2 && l)([...document.querySelectorAll('tr.rule')].map(r => r.dataset.type + ':' + r.querySelector('.rule-def').textContent.split('\\n')[0]))",
        )
        .await;
    assert_eq!(
        rules,
        json!(["alerting:alert: DiskFull", "recording:record: job:up:sum"])
    );
    assert_eq!(
        b.js("document.querySelector('tr.rule[data-type=recording] td.error').textContent")
            .await,
        "query timed out"
    );
    b.screenshot("rules").await;

    // Client-side navigation between pages keeps one document.
    b.js("(window.__marker = 1)").await;
    b.client
        .find(Locator::Css("a.nav-link[data-path='/targets']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait("targets via the nav", "document.querySelector('tr.target')")
        .await;
    assert_eq!(b.js("window.__marker").await, 1);

    b.client.close().await.unwrap();
}

/// `/api/v1/status/cluster` as `telltale dev-cluster` answers it.
fn cluster_json() -> Value {
    let replica = |id: u64, port: u16, role: &str, lag: u64| {
        json!({"id": id, "address": format!("127.0.0.1:{port}"), "pid": 1000 + id,
               "alive": true, "restarts": 0, "exit": null, "role": role, "term": 3,
               "leader_id": 1, "applied_index": 100 - lag, "last_log_index": 100,
               "snapshot_index": 0, "durable_index": 100, "lag": lag,
               "data_dir": format!("/data/r{id}"), "log": format!("/data/r{id}.log")})
    };
    json!({"status": "success", "data": {"shards": [
        {"id": 0, "leader": "127.0.0.1:7001", "leader_id": 1, "replicas": [
            replica(1, 7001, "leader", 0), replica(2, 7002, "follower", 3)]},
        {"id": 1, "leader": null, "leader_id": null, "replicas": [
            {"id": 3, "address": "127.0.0.1:7003", "pid": null, "alive": false,
             "restarts": 1, "exit": "signal: 9", "role": "unreachable",
             "data_dir": "/data/r3", "log": "/data/r3.log"}]},
    ]}})
}

/// `/api/v1/alerts`, `/api/v2/silences` and `/api/v1/rules` bodies.
fn alerting_json() -> (Value, Value, Value) {
    let alerts = json!({"status": "success", "data": {"alerts": [
        {"labels": {"alertname": "HighLatency", "severity": "warning"}, "annotations": {},
         "state": "pending", "activeAt": "2026-01-01T00:00:00Z", "value": "0.7"},
        {"labels": {"alertname": "DiskFull", "severity": "critical"},
         "annotations": {"summary": "disk is full"},
         "state": "firing", "activeAt": "2026-01-01T00:00:00Z", "value": "1"},
    ]}});
    let silences = json!([
        {"id": "s1", "status": {"state": "active"}, "createdBy": "ops", "comment": "maintenance",
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
         "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true}]},
        {"id": "s2", "status": {"state": "expired"}, "createdBy": "ops", "comment": "old",
         "startsAt": "2025-01-01T00:00:00Z", "endsAt": "2025-01-02T00:00:00Z",
         "matchers": [{"name": "job", "value": "x", "isRegex": false, "isEqual": true}]},
    ]);
    let rules = json!({"status": "success", "data": {"groups": [
        {"name": "node", "file": "rules.yaml", "interval": 15, "rules": [
            {"type": "alerting", "name": "DiskFull", "query": "disk_free < 1", "duration": 60,
             "labels": {"severity": "critical"}, "annotations": {"summary": "disk is full"},
             "health": "ok", "lastError": "", "evaluationTime": 0.001,
             "lastEvaluation": "2026-01-01T00:00:00Z", "state": "firing", "alerts": [{}]},
            {"type": "recording", "name": "job:up:sum", "query": "sum by (job) (up)",
             "health": "err", "lastError": "query timed out", "evaluationTime": 0.002,
             "lastEvaluation": "2026-01-01T00:00:00Z"},
        ]},
    ]}});
    (alerts, silences, rules)
}
