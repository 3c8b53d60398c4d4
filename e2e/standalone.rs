//! Whole-system tests of `telltale standalone`: the real binary as a process, real
//! node_exporter and promtool from Debian, a real webhook sink.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::remote_write::{push, series};
use common::*;

/// Health, readiness and self-metrics, and the self-scrape that is on out of the box.
#[tokio::test(flavor = "multi_thread")]
async fn serves_health_and_scrapes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &["--self-scrape-interval", "1s"]).await;
    for path in ["/-/healthy", "/-/ready"] {
        get_text(&t.url(path)).await;
    }
    let metrics = get_text(&t.url("/metrics")).await;
    assert!(metrics.contains("telltale_build_info"), "{metrics}");
    // The storage engine's self-metrics: series, head, appends, disk per tier,
    // flush / rollup / retention progress.
    for name in [
        "telltale_storage_series",
        "telltale_storage_head_series",
        "telltale_storage_head_samples",
        "telltale_storage_samples_appended_total",
        "telltale_storage_flushed_seq",
        "telltale_storage_flush_duration_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    // Storage is a one-replica Raft group, the cluster's path with N = 1: it leads, and
    // its log is on disk beside the engine.
    assert!(
        metrics.contains("telltale_raft_is_leader 1"),
        "standalone storage does not lead its Raft group"
    );
    for sub in ["raft-log", "sm"] {
        assert!(dir.path().join("data").join(sub).is_dir(), "no {sub}/");
    }
    eventually(
        &t.url(""),
        r#"telltale_storage_disk_bytes{job="telltale",tier="raw"}"#,
        Duration::from_secs(20),
    )
    .await;

    let up = eventually(&t.url(""), r#"up{job="telltale"}"#, Duration::from_secs(20)).await;
    assert_eq!(value_of(&up[0]), 1.0, "{up:?}");
    assert_eq!(up[0]["metric"]["instance"], t.addr.to_string());
    // The scrape's own series, and a metric Telltale exposes about itself.
    eventually(
        &t.url(""),
        r#"scrape_samples_scraped{job="telltale"} > 0"#,
        Duration::from_secs(10),
    )
    .await;
    eventually(
        &t.url(""),
        r#"telltale_build_info{job="telltale"}"#,
        Duration::from_secs(10),
    )
    .await;

    // The README's example: CPU seconds have the kernel tick's resolution, so even a
    // mostly idle server shows a rate (whole seconds read 0 here).
    eventually(
        &t.url(""),
        r#"rate(process_cpu_seconds_total{job="telltale"}[5s]) > 0"#,
        Duration::from_secs(20),
    )
    .await;

    let info = get_json(&t.url("/api/v1/status/buildinfo")).await;
    assert_eq!(info["status"], "success");
    assert_eq!(info["data"]["version"], env!("CARGO_PKG_VERSION"));
}

/// (a) A real node_exporter is scraped, and promtool reads node_cpu_seconds_total back.
#[tokio::test(flavor = "multi_thread")]
async fn node_exporter_is_scraped_and_promtool_queries_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_exporter, exporter_addr) = start_node_exporter(dir.path()).await;
    let targets = write_file(
        dir.path(),
        "node.yaml",
        &format!(
            "apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata:
  name: node
spec:
  interval: 1s
  scrapeTimeout: 1s
  static:
    - targets: ['{exporter_addr}']
      labels:
        env: e2e
"
        ),
    );
    let t = Telltale::start(&dir.path().join("data"), &["-f", targets.to_str().unwrap()]).await;

    let up = eventually(&t.url(""), r#"up{job="node"}"#, Duration::from_secs(20)).await;
    assert_eq!(value_of(&up[0]), 1.0);
    assert_eq!(up[0]["metric"]["instance"], exporter_addr.to_string());
    assert_eq!(up[0]["metric"]["env"], "e2e");
    let cpu = eventually(
        &t.url(""),
        "node_cpu_seconds_total",
        Duration::from_secs(10),
    )
    .await;
    assert!(cpu.iter().all(|s| s["metric"]["job"] == "node"));

    let out = Command::new("promtool")
        .args(["query", "instant", &t.url(""), "node_cpu_seconds_total"])
        .output()
        .expect("promtool (Debian package prometheus) is installed by .ci/run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("node_cpu_seconds_total{"), "{stdout}");
    assert!(
        stdout.contains(&format!("instance=\"{exporter_addr}\"")),
        "{stdout}"
    );

    // A rate over the scraped counter is computed too.
    let rate = eventually(
        &t.url(""),
        r#"sum by (mode) (rate(node_cpu_seconds_total{job="node"}[5s]))"#,
        Duration::from_secs(15),
    )
    .await;
    assert!(
        rate.iter().any(|s| s["metric"]["mode"] == "idle"),
        "{rate:?}"
    );

    // Metric metadata (Grafana's metric browser): what the exporter's # HELP and # TYPE
    // lines say, the same as Prometheus scraping the same exporter answers.
    let (_prometheus, prometheus) =
        common::start_prometheus_scraping(dir.path(), exporter_addr).await;
    let theirs = loop {
        let body = get_json(&format!("{prometheus}/api/v1/metadata")).await;
        if body["data"].get("node_cpu_seconds_total").is_some() {
            break body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ours = get_json(&t.url("/api/v1/metadata")).await;
    assert_eq!(ours["status"], "success", "{ours}");
    let node: Vec<&String> = theirs
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("node_"))
        .collect();
    assert!(node.len() > 20, "{theirs}");
    for metric in node {
        assert_eq!(ours["data"][metric], theirs[metric], "metadata of {metric}");
    }
    assert_eq!(ours["data"]["node_cpu_seconds_total"][0]["type"], "counter");
    let one = get_json(&t.url("/api/v1/metadata?metric=node_load1")).await;
    assert_eq!(one["data"].as_object().unwrap().len(), 1, "{one}");
    assert_eq!(one["data"]["node_load1"], theirs["node_load1"]);
    let two = get_json(&t.url("/api/v1/metadata?limit=2")).await;
    assert_eq!(two["data"].as_object().unwrap().len(), 2, "{two}");
    let bad = reqwest::get(t.url("/api/v1/metadata?limit=x"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // Per target: the same entries as Prometheus's for the exporter's target (whose
    // labels differ only by `env`, which Prometheus's target does not have).
    let path = "/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D&metric=node_load1";
    let ours = get_json(&t.url(path)).await;
    let theirs = get_json(&format!("{prometheus}{path}")).await;
    assert_eq!(ours["data"].as_array().unwrap().len(), 1, "{ours}");
    let strip = |v: &serde_json::Value| {
        let mut v = v["data"][0].clone();
        v["target"].as_object_mut().unwrap().remove("env");
        v
    };
    assert_eq!(strip(&ours), strip(&theirs), "{ours} {theirs}");
    let all =
        get_json(&t.url("/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D")).await;
    assert!(all["data"].as_array().unwrap().len() > 20, "{all}");
    assert!(all["data"][0]["metric"].is_string(), "{all}");
    let none = reqwest::get(t.url("/api/v1/targets/metadata?metric=no_such_metric"))
        .await
        .unwrap();
    assert_eq!(none.status(), 404);

    // The status pages' data: runtime information with Prometheus's fields, and the
    // flags the process runs with.
    let ours = get_json(&t.url("/api/v1/status/runtimeinfo")).await;
    let theirs = get_json(&format!("{prometheus}/api/v1/status/runtimeinfo")).await;
    for key in theirs["data"].as_object().unwrap().keys() {
        assert!(
            ours["data"].get(key).is_some(),
            "runtimeinfo lacks {key}: {ours}"
        );
    }
    assert_eq!(ours["data"]["storageRetention"], "7d", "{ours}");
    let ams = get_json(&t.url("/api/v1/alertmanagers")).await;
    assert_eq!(
        ams["data"]["activeAlertmanagers"][0]["url"],
        format!("http://{}/api/v2/alerts", t.addr),
        "{ams}"
    );
    let config = get_json(&t.url("/api/v1/status/config")).await;
    let yaml = config["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("kind: ScrapeTarget") && yaml.contains("name: node"),
        "{yaml}"
    );
    assert!(yaml.contains("scrapeTimeout: 1s"), "{yaml}");
    let flags = get_json(&t.url("/api/v1/status/flags")).await;
    assert_eq!(flags["data"]["listen"], t.addr.to_string(), "{flags}");
    assert!(
        flags["data"]["file"]
            .as_str()
            .unwrap()
            .ends_with("node.yaml"),
        "{flags}"
    );
}

/// A Prometheus federating from Telltale (`/federate`, `honor_labels`) gets the latest
/// sample of each matching series with its own timestamp and labels.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_federates_from_telltale() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &[]).await;
    let now = now_ms() / 1000 * 1000;
    let mut pushed = Vec::new();
    for i in 0..3 {
        let instance = format!("host-{i}");
        for (k, ts) in [(0, now - 20_000), (1, now - 10_000)] {
            pushed.push(series(
                &[
                    ("__name__", "fed_metric"),
                    ("job", "fed"),
                    ("instance", &instance),
                ],
                ts,
                (i * 10 + k) as f64 + 0.5,
            ));
        }
    }
    pushed.push(series(
        &[("__name__", "other"), ("job", "not_fed")],
        now,
        1.0,
    ));
    assert!(push(&t.url(""), pushed).await.is_success());

    let direct = get_text(&t.url("/federate?match[]=%7Bjob%3D%22fed%22%7D")).await;
    assert!(
        direct.starts_with("# TYPE fed_metric untyped\n"),
        "{direct}"
    );
    assert!(
        direct.contains(&format!(
            "fed_metric{{instance=\"host-1\",job=\"fed\"}} 11.5 {}\n",
            now - 10_000
        )),
        "{direct}"
    );
    assert!(!direct.contains("other"), "{direct}");
    let bad = reqwest::get(t.url("/federate")).await.unwrap();
    assert_eq!(bad.status(), 400);

    let (_prometheus, prometheus) = common::start_prometheus_with(
        dir.path(),
        &format!(
            "  - job_name: federate\n    scrape_interval: 1s\n    honor_labels: true\n    \
             metrics_path: /federate\n    params: {{'match[]': ['{{job=\"fed\"}}']}}\n    \
             static_configs: [{{targets: ['{}']}}]\n",
            t.addr
        ),
    )
    .await;
    let got = eventually(
        &prometheus,
        "timestamp(fed_metric)",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(got.len(), 3, "{got:?}");
    for s in &got {
        assert_eq!(s["metric"]["job"], "fed", "{s}");
        assert_eq!(value_of(s), (now - 10_000) as f64 / 1000.0, "{s}");
    }
    let values = eventually(&prometheus, "fed_metric", Duration::from_secs(5)).await;
    let mut by_instance: Vec<(String, f64)> = values
        .iter()
        .map(|s| {
            (
                s["metric"]["instance"].as_str().unwrap().to_string(),
                value_of(s),
            )
        })
        .collect();
    by_instance.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_instance,
        [
            ("host-0".to_string(), 1.5),
            ("host-1".to_string(), 11.5),
            ("host-2".to_string(), 21.5)
        ]
    );
}

/// A Prometheus with `remote_read` from Telltale answers queries over samples it never
/// scraped: the raw samples of each matching series come through `/api/v1/read`.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_reads_remotely_from_telltale() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &[]).await;
    let now = now_ms() / 1000 * 1000;
    let mut pushed = Vec::new();
    for (instance, base) in [("a", 1.0), ("b", 100.0)] {
        for k in 0..4 {
            pushed.push(series(
                &[
                    ("__name__", "rr_metric"),
                    ("job", "rr"),
                    ("instance", instance),
                ],
                now - 60_000 + k * 15_000,
                base + k as f64,
            ));
        }
    }
    assert!(push(&t.url(""), pushed).await.is_success());
    eventually(&t.url(""), "rr_metric", Duration::from_secs(10)).await;

    let (_prometheus, prometheus) = common::start_prometheus_config(
        dir.path(),
        &format!(
            "remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
            t.addr
        ),
    )
    .await;
    let counts = eventually(
        &prometheus,
        "count_over_time(rr_metric[5m])",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.iter().all(|s| value_of(s) == 4.0), "{counts:?}");
    let b = eventually(
        &prometheus,
        r#"{__name__=~"rr_.+", instance!="a"}"#,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["metric"]["instance"], "b");
    assert_eq!(value_of(&b[0]), 103.0);
    let sum = eventually(&prometheus, "sum(rr_metric)", Duration::from_secs(5)).await;
    assert_eq!(value_of(&sum[0]), 4.0 + 103.0);
}

/// Remote read answers `STREAMED_XOR_CHUNKS` when the client prefers it: checksummed
/// frames of `ChunkedReadResponse`, one series per frame, each query's frames under its
/// index, and chunks of at most 120 samples that are Prometheus's XOR encoding of the
/// same samples the `SAMPLES` answer carries (the encoding itself is checked byte for
/// byte against promtool's blocks in telltale-storage-api's `prometheus_xor` test).
#[tokio::test(flavor = "multi_thread")]
async fn remote_read_streams_xor_chunks() {
    use prost::Message;
    use telltale_storage_api::chunk::bits::read_uvarint;
    use telltale_storage_api::prompb::read::{
        ChunkedReadResponse, LabelMatcher, Query, ReadRequest, ReadResponse, ResponseType,
    };
    use telltale_storage_api::prompb::xor;

    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &[]).await;
    let start = now_ms() / 1000 * 1000 - 3_600_000;
    let mut pushed = Vec::new();
    for (instance, base) in [("a", 0.5), ("b", -7.25)] {
        for k in 0..300i64 {
            let jitter = [0, 3, -2, 1][k as usize % 4];
            let value = base * (k % 17) as f64 + (k / 50) as f64;
            pushed.push(series(
                &[("__name__", "xor_metric"), ("instance", instance)],
                start + k * 10_000 + jitter,
                value,
            ));
        }
    }
    pushed.push(series(&[("__name__", "xor_other")], start, 1.0));
    assert!(push(&t.url(""), pushed).await.is_success());
    let within = Duration::from_secs(10);
    eventually(&t.url(""), "count_over_time(xor_other[2h])", within).await;

    let query = |name: &str| Query {
        start_timestamp_ms: start - 1,
        end_timestamp_ms: start + 3_600_000,
        matchers: vec![LabelMatcher {
            r#type: 0,
            name: "__name__".into(),
            value: name.into(),
        }],
        hints: None,
    };
    let read = |types: Vec<i32>| {
        let req = ReadRequest {
            queries: vec![query("xor_metric"), query("xor_other")],
            accepted_response_types: types,
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        reqwest::Client::new()
            .post(t.url("/api/v1/read"))
            .header("Content-Encoding", "snappy")
            .body(body)
            .send()
    };
    let samples = read(vec![ResponseType::Samples as i32]).await.unwrap();
    assert_eq!(samples.status(), 200);
    let samples = snap::raw::Decoder::new()
        .decompress_vec(&samples.bytes().await.unwrap())
        .unwrap();
    let samples = ReadResponse::decode(samples.as_slice()).unwrap();

    let streamed = read(vec![
        ResponseType::StreamedXorChunks as i32,
        ResponseType::Samples as i32,
    ])
    .await
    .unwrap();
    assert_eq!(streamed.status(), 200);
    assert_eq!(
        streamed.headers()["content-type"],
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    let body = streamed.bytes().await.unwrap();
    let mut rest = &body[..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (len, used) = read_uvarint(rest).unwrap();
        let end = used + 4 + len as usize;
        let message = &rest[used + 4..end];
        let crc = u32::from_be_bytes(rest[used..used + 4].try_into().unwrap());
        assert_eq!(crc, crc32c::crc32c(message), "frame checksum");
        frames.push(ChunkedReadResponse::decode(message).unwrap());
        rest = &rest[end..];
    }
    // Small series fit one frame each: three frames, in query then label order.
    assert_eq!(frames.len(), 3, "{frames:?}");
    for (frame, (query_index, series)) in frames.iter().zip([(0, 0), (0, 1), (1, 0)]) {
        assert_eq!(frame.query_index, query_index);
        let [got] = &frame.chunked_series[..] else {
            panic!("one series per frame: {frame:?}")
        };
        let expected = &samples.results[query_index as usize].timeseries[series];
        assert_eq!(got.labels, expected.labels);
        let points: Vec<(i64, f64)> = expected
            .samples
            .iter()
            .map(|s| (s.timestamp, s.value))
            .collect();
        let chunks = xor::chunks(&points);
        assert_eq!(got.chunks.len(), chunks.len());
        assert_eq!(got.chunks.len(), points.len().div_ceil(120));
        for (g, c) in got.chunks.iter().zip(&chunks) {
            assert_eq!(
                (g.min_time_ms, g.max_time_ms, g.r#type),
                (c.min_time_ms, c.max_time_ms, 1)
            );
            assert_eq!(g.data, c.data);
        }
    }
    assert_eq!(samples.results[0].timeseries[0].samples.len(), 300);
}

/// (b) A remote_write push is queryable, through the API and through promtool.
#[tokio::test(flavor = "multi_thread")]
async fn remote_write_push_is_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &[]).await;
    let ts = now_ms();
    let status = push(
        &t.url(""),
        vec![
            series(&[("__name__", "e2e_pushed"), ("source", "a")], ts, 42.5),
            series(&[("__name__", "e2e_pushed"), ("source", "b")], ts, 7.0),
        ],
    )
    .await;
    assert!(status.is_success(), "push answered {status}");

    let result = query_at(&t.url(""), r#"e2e_pushed{source="a"}"#).await;
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(value_of(&result[0]), 42.5);
    let sum = query_at(&t.url(""), "sum(e2e_pushed)").await;
    assert_eq!(value_of(&sum[0]), 49.5);

    let out = Command::new("promtool")
        .args(["query", "instant", &t.url(""), "e2e_pushed * 2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("{source=\"a\"} => 85 @["), "{stdout}");

    // A malformed body is refused and stores nothing.
    let bad = reqwest::Client::new()
        .post(t.url("/api/v1/write"))
        .body("not snappy")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(query_at(&t.url(""), "count(e2e_pushed)").await.len(), 1);
}

/// Standalone's components call their replica in process: pushes, queries and the self
/// scrape send nothing over the storage gRPC port, which still serves callers outside.
#[tokio::test(flavor = "multi_thread")]
async fn standalone_components_reach_storage_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let grpc = format!("127.0.0.1:{}", free_port());
    let t = Telltale::start(
        &dir.path().join("data"),
        &["--grpc-listen", &grpc, "--self-scrape-interval", "1s"],
    )
    .await;
    let ts = now_ms();
    let status = push(
        &t.url(""),
        vec![series(&[("__name__", "e2e_local"), ("k", "v")], ts, 1.0)],
    )
    .await;
    assert!(status.is_success());
    eventually(&t.url(""), r#"up{job="telltale"}"#, Duration::from_secs(20)).await;
    assert_eq!(query_at(&t.url(""), "e2e_local").await.len(), 1);
    let grpc_calls = |metrics: &str| -> Vec<String> {
        metrics
            .lines()
            .filter(|l| l.starts_with("telltale_storage_grpc_requests_total{"))
            .map(str::to_string)
            .collect()
    };
    let metrics = get_text(&t.url("/metrics")).await;
    assert!(
        metrics.contains("telltale_storage_samples_appended_total"),
        "{metrics}"
    );
    assert_eq!(
        grpc_calls(&metrics),
        Vec::<String>::new(),
        "a component used gRPC"
    );

    // The same API from outside, over gRPC, is counted.
    let outside = telltale_storage_api::GrpcStorage::connect_lazy(&grpc).unwrap();
    let names = telltale_storage_api::SampleReader::label_names(
        &outside,
        telltale_storage_api::LabelNamesRequest {
            match_sets: vec![],
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            limit: 0,
        },
    )
    .await
    .unwrap();
    assert!(names.contains(&"k".to_string()), "{names:?}");
    let metrics = get_text(&t.url("/metrics")).await;
    assert_eq!(
        grpc_calls(&metrics),
        vec![r#"telltale_storage_grpc_requests_total{method="label_names"} 1"#.to_string()]
    );
}

/// (c) An alert rule goes pending, fires after `for`, reaches a webhook; then resolves.
#[tokio::test(flavor = "multi_thread")]
async fn alert_fires_and_resolves_through_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (sink_url, mut hooks) = webhook_sink().await;
    let rules = write_file(
        dir.path(),
        "alerts.yaml",
        &format!(
            "apiVersion: telltale.dev/v1alpha1
kind: MetricCluster
metadata:
  name: local
spec:
  alerting:
    route:
      receiver: sink
    receivers:
      - name: sink
        webhooks:
          - url: {sink_url}
---
apiVersion: telltale.dev/v1alpha1
kind: AlertRule
metadata:
  name: e2e
spec:
  groups:
    - name: e2e
      interval: 1s
      rules:
        - alert: E2EValueHigh
          expr: e2e_alert_value > 5
          for: 2s
          labels:
            severity: page
          annotations:
            summary: 'value is {{{{ $value }}}} on {{{{ $labels.instance }}}}'
"
        ),
    );
    let t = Telltale::start(&dir.path().join("data"), &["-f", rules.to_str().unwrap()]).await;

    let labels = [("__name__", "e2e_alert_value"), ("instance", "box-1")];
    assert!(
        push(&t.url(""), vec![series(&labels, now_ms(), 10.0)])
            .await
            .is_success()
    );
    let crossed = Instant::now();

    let firing = tokio::time::timeout(Duration::from_secs(20), hooks.recv())
        .await
        .expect("no firing webhook within 20s")
        .unwrap();
    let waited = crossed.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "fired after {waited:?}, before `for: 2s`"
    );
    assert_eq!(firing["version"], "4", "{firing}");
    assert_eq!(firing["status"], "firing", "{firing}");
    assert_eq!(firing["receiver"], "sink", "{firing}");
    let alert = &firing["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["alertname"], "E2EValueHigh");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["labels"]["instance"], "box-1");
    assert_eq!(alert["annotations"]["summary"], "value is 10 on box-1");

    // The Prometheus-style alerts API shows it firing.
    let alerts = get_json(&t.url("/api/v1/alerts")).await;
    assert_eq!(alerts["data"]["alerts"][0]["state"], "firing", "{alerts}");

    assert!(
        push(&t.url(""), vec![series(&labels, now_ms(), 1.0)])
            .await
            .is_success()
    );
    let resolved = loop {
        let hook = tokio::time::timeout(Duration::from_secs(20), hooks.recv())
            .await
            .expect("no resolved webhook within 20s")
            .unwrap();
        if hook["status"] == "resolved" {
            break hook;
        }
    };
    assert_eq!(resolved["alerts"][0]["labels"]["alertname"], "E2EValueHigh");
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
}

/// (d) kill -9 right after a write was acknowledged; the restarted process has it.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acknowledged = Vec::new();
    for round in 0..3 {
        let mut t = Telltale::start(&data, &[]).await;
        let ts = now_ms();
        let value = 1000.0 + round as f64;
        let status = push(
            &t.url(""),
            vec![series(
                &[("__name__", "e2e_durable"), ("round", &round.to_string())],
                ts,
                value,
            )],
        )
        .await;
        assert!(status.is_success());
        // Acknowledged: crash at once, no chance to flush anything.
        t.proc.kill9();
        acknowledged.push((round, ts, value));
    }
    let t = Telltale::start(&data, &[]).await;
    for (round, ts, value) in acknowledged {
        let result = query_at_time(
            &t.url(""),
            &format!("e2e_durable{{round=\"{round}\"}}"),
            ts as f64 / 1000.0,
        )
        .await;
        assert_eq!(result.len(), 1, "round {round} lost: {result:?}");
        assert_eq!(value_of(&result[0]), value);
    }
}

/// A data directory written before Raft log entries named series by id (labels in every
/// entry, the packed-file snapshot layout, two entries after the engine's last flush) opens,
/// replays and answers exactly what the release that wrote it answered
/// (`e2e/fixtures/labels-in-log/README.md`).
#[tokio::test(flavor = "multi_thread")]
async fn data_dir_with_labels_in_the_log_opens_and_replays() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/fixtures/labels-in-log");
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xJf")
        .arg(fixture.join("data.tar.xz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "cannot unpack the fixture");
    let data = dir.path().join("replica-1");
    let base_ms: i64 = std::fs::read_to_string(fixture.join("base_ms.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (start, end) = (base_ms / 1000, base_ms / 1000 + 600);
    // Twice: the first start replays the old log (and may rewrite the directory in the
    // new layout), the second opens what the first left.
    for round in 0..2 {
        let t = Telltale::start(&data, &[]).await;
        for metric in ["fixture_counter_total", "fixture_gauge", "fixture_late"] {
            let want: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(fixture.join(format!("{metric}.json"))).unwrap(),
            )
            .unwrap();
            let got = get_json(&t.url(&format!(
                "/api/v1/query_range?query={metric}&start={start}&end={end}&step=10"
            )))
            .await;
            assert_eq!(
                got["data"]["result"], want["data"]["result"],
                "round {round}: {metric} differs from what the old release answered"
            );
        }
        drop(t);
    }
}

/// A data directory in the single-node engine layout (RocksDB at the top, no Raft log) is
/// refused with one clear error, and nothing in it is touched.
#[test]
fn data_dir_in_the_single_node_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("CURRENT"), "MANIFEST-000005\n").unwrap();
    let out = Command::new(TELLTALE)
        .args(["standalone", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("single-node layout"), "{stderr}");
    assert!(stderr.contains(&data.display().to_string()), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "the directory was changed: {left:?}");
}

/// A port another program listens on (Debian's `prometheus` service takes 9090, the
/// default): one line saying so and naming the flag, before any data directory is made.
#[test]
fn a_taken_port_is_one_line_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let out = Command::new(TELLTALE)
        .args(["standalone", "--listen", &addr, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("telltale: cannot listen on")
            && last.contains(&addr)
            && last.contains("another program is listening")
            && last.contains("--listen"),
        "{stderr}"
    );
    assert!(!data.exists(), "the data directory was created");
}

/// A bad file: non-zero exit and one line naming the file, the document and the field.
#[test]
fn bad_file_is_one_line_naming_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(
        dir.path(),
        "bad.yaml",
        "apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: fine}
spec:
  static: [{targets: ['127.0.0.1:9100']}]
---
apiVersion: telltale.dev/v1alpha1
kind: AlertRule
metadata: {name: broken}
spec:
  groups:
    - name: g
      rules:
        - alert: A
          expr: up == 0
          for: soon
",
    );
    let out = Command::new(TELLTALE)
        .args(["standalone", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("-f")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(line.contains(&bad.display().to_string()), "{line}");
    assert!(line.contains("document 2 (AlertRule broken)"), "{line}");
    assert!(line.contains("spec.groups[0].rules[0].for"), "{line}");
    // Nothing was started: no data directory was created.
    assert!(!dir.path().join("data").exists());
}

/// A local HTTP server standing in for a webhook receiver: every JSON body POSTed to it
/// arrives on the returned channel.
async fn webhook_sink() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    use axum::routing::post;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<serde_json::Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

/// `telltale check rules` agrees with `promtool check rules` on a good and a bad file.
#[test]
fn check_rules_agrees_with_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_file(
        dir.path(),
        "good.yml",
        "groups:
  - name: node
    rules:
      - record: instance:node_cpu:rate5m
        expr: sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))
      - alert: HighCpu
        expr: instance:node_cpu:rate5m > 0.9
        for: 10m
        labels:
          severity: page
        annotations:
          summary: 'CPU high on {{ $labels.instance }}'
",
    );
    let bad = write_file(
        dir.path(),
        "bad.yml",
        "groups:
  - name: node
    rules:
      - alert: Broken
        expr: sum(rate(x[5m])
",
    );
    let run = |tool: &str, file: &std::path::Path| {
        // Both tools take the same arguments.
        let out = Command::new(tool)
            .args(["check", "rules"])
            .arg(file)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, text) = run(TELLTALE, &good);
    assert!(ok, "{text}");
    assert!(text.contains("SUCCESS: 2 rules found"), "{text}");
    let (promtool_ok, promtool_text) = run("promtool", &good);
    assert!(
        promtool_ok && promtool_text.contains("SUCCESS: 2 rules found"),
        "{promtool_text}"
    );

    let (ok, text) = run(TELLTALE, &bad);
    assert!(!ok, "a bad expression passed: {text}");
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        !run("promtool", &bad).0,
        "promtool accepts the bad file too?"
    );
}

/// A Prometheus rule file is taken as it is: its recording rule writes a series and its
/// alerting rule writes `ALERTS`.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_rule_file_records_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_file(
        dir.path(),
        "rules.yml",
        "groups:
  - name: e2e
    interval: 1s
    rules:
      - record: job:e2e_value:sum
        expr: sum by (job) (e2e_value)
      - alert: E2EPositive
        expr: job:e2e_value:sum > 0
",
    );
    let t = Telltale::start(&dir.path().join("data"), &["-f", rules.to_str().unwrap()]).await;
    for (instance, v) in [("a", 2.0), ("b", 3.0)] {
        let labels = [
            ("__name__", "e2e_value"),
            ("job", "e2e"),
            ("instance", instance),
        ];
        assert!(
            push(&t.url(""), vec![series(&labels, now_ms(), v)])
                .await
                .is_success()
        );
    }
    let recorded = eventually(&t.url(""), "job:e2e_value:sum", Duration::from_secs(20)).await;
    assert_eq!(value_of(&recorded[0]), 5.0);
    assert_eq!(recorded[0]["metric"]["job"], "e2e");
    let alerts = eventually(
        &t.url(""),
        "ALERTS{alertname=\"E2EPositive\",alertstate=\"firing\"}",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(value_of(&alerts[0]), 1.0);
}

/// Every query of the Grafana dashboards in `charts/dashboards` runs against Telltale's
/// API without an error (Grafana's `$__rate_interval` replaced as Grafana would).
#[tokio::test(flavor = "multi_thread")]
async fn dashboard_queries_run_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &["--self-scrape-interval", "1s"]).await;
    // Telltale's own metrics are in storage before the dashboards are read.
    eventually(
        &t.url(""),
        "telltale_storage_samples_appended_total",
        Duration::from_secs(20),
    )
    .await;
    let dashboards = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/dashboards");
    let client = reqwest::Client::new();
    let mut checked = 0;
    let mut with_data = 0;
    for entry in std::fs::read_dir(&dashboards).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "1m");
                let now = now_ms() as f64 / 1000.0;
                let range = [
                    ("query", expr.clone()),
                    ("start", format!("{}", now - 600.0)),
                    ("end", format!("{now}")),
                    ("step", "15".to_string()),
                ];
                for (api, params) in [
                    ("/api/v1/query", &[("query", expr.clone())][..]),
                    ("/api/v1/query_range", &range[..]),
                ] {
                    let body: serde_json::Value = client
                        .get(t.url(api))
                        .query(params)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert_eq!(
                        body["status"],
                        "success",
                        "{} panel {:?}: {expr}: {body}",
                        path.display(),
                        panel["title"]
                    );
                    if api == "/api/v1/query"
                        && !body["data"]["result"].as_array().unwrap().is_empty()
                    {
                        with_data += 1;
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} dashboard queries found");
    assert!(
        with_data >= 5,
        "only {with_data} of {checked} queries returned data"
    );
}
