//! Native histograms through the real binary against the real peer: a target serving
//! the Prometheus protobuf exposition format (a native histogram with positive, negative
//! and zero buckets, and a classic one) is scraped by `telltale standalone` and by
//! Debian's Prometheus 2.42 with `--enable-feature=native-histograms`, which also
//! remote-writes what it scraped to the same Telltale. The samples carry their own
//! timestamps, so all three copies hold the same samples; Telltale's answers to the same
//! PromQL (raw histograms, rates, quantiles, fractions, counts, sums, sums over series,
//! range queries) must be Prometheus's, for the series it scraped itself and for the
//! series Prometheus sent. Then a crash: the Raft log replays the histograms, and the
//! answers stay the same.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Telltale, query_at_time, write_file};
use serde_json::Value;
use telltale_scraper::pull::protobuf::proto::{
    Bucket, BucketSpan, Histogram, LabelPair, Metric, MetricFamily, MetricType, encode_delimited,
};

/// A new sample every `STEP_MS`, stamped with the start of its step.
const STEP_MS: i64 = 2_000;

/// The exposition at `now_ms`: `rpc_seconds` (native, two series) and `db_seconds`
/// (classic), counts growing with the step number.
fn page(now_ms: i64) -> Vec<u8> {
    let step = now_ms / STEP_MS;
    let ts = step * STEP_MS;
    let n = (step % 1_000_000) as u64;
    let native = |service: &str, k: u64| Metric {
        label: vec![LabelPair {
            name: "service".into(),
            value: service.into(),
        }],
        timestamp_ms: ts,
        histogram: Some(native_histogram(n * k)),
        ..Metric::default()
    };
    let classic = Metric {
        timestamp_ms: ts,
        histogram: Some(Histogram {
            sample_count: 4 * n,
            sample_sum: n as f64 * 0.75,
            bucket: [(0.1, n), (0.5, 2 * n), (1.0, 3 * n)]
                .into_iter()
                .map(|(upper_bound, cumulative_count)| Bucket {
                    upper_bound,
                    cumulative_count,
                    ..Bucket::default()
                })
                .collect(),
            ..Histogram::default()
        }),
        ..Metric::default()
    };
    encode_delimited(&[
        MetricFamily {
            name: "rpc_seconds".into(),
            help: "RPC latency.".into(),
            r#type: MetricType::Histogram as i32,
            metric: vec![native("a", 1), native("b", 3)],
            ..MetricFamily::default()
        },
        MetricFamily {
            name: "db_seconds".into(),
            help: "Query latency.".into(),
            r#type: MetricType::Histogram as i32,
            metric: vec![classic],
            ..MetricFamily::default()
        },
    ])
}

/// Schema 2, zero threshold 0.001; buckets growing at different rates, so quantiles
/// move. (client_golang also exposes one classic bucket for a native histogram.)
fn native_histogram(n: u64) -> Histogram {
    let positive = [n, 2 * n, 3 * n, n / 2, n / 3];
    let negative = [n / 4];
    let deltas = |counts: &[u64]| -> Vec<i64> {
        let mut prev = 0i64;
        counts
            .iter()
            .map(|&c| {
                let d = c as i64 - prev;
                prev = c as i64;
                d
            })
            .collect()
    };
    let zero = n / 5;
    let count = positive.iter().sum::<u64>() + negative.iter().sum::<u64>() + zero;
    Histogram {
        sample_count: count,
        sample_sum: n as f64 * 1.25,
        schema: 2,
        zero_threshold: 0.001,
        zero_count: zero,
        positive_span: vec![
            BucketSpan {
                offset: -2,
                length: 3,
            },
            BucketSpan {
                offset: 3,
                length: 2,
            },
        ],
        positive_delta: deltas(&positive),
        negative_span: vec![BucketSpan {
            offset: 1,
            length: 1,
        }],
        negative_delta: deltas(&negative),
        bucket: vec![Bucket {
            upper_bound: f64::INFINITY,
            cumulative_count: count,
            ..Bucket::default()
        }],
        ..Histogram::default()
    }
}

/// Serves `page` at `/metrics` on a free port.
async fn protobuf_target() -> SocketAddr {
    use axum::http::header;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    header::CONTENT_TYPE,
                    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
                )],
                page(common::now_ms()),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn scrape_config(target: SocketAddr) -> String {
    format!(
        "  - job_name: h\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
}

/// The queries compared, each evaluated on the series selected by `sel`. Not
/// `histogram_quantile` of native histograms: Prometheus 2.42 interpolates linearly
/// within a bucket, 3.x (which Telltale follows, query/src/eval/histogram_fns/tests.rs)
/// exponentially; `histogram_fraction`'s bounds here are bucket bounds (0 and 2^-1 in
/// schema 2), where both agree. Nor arithmetic with scalars, which 2.42 leaves undone
/// (it answers the histogram unchanged).
fn queries(sel: &str) -> Vec<String> {
    let m = format!("rpc_seconds{sel}");
    vec![
        m.clone(),
        format!("histogram_count({m})"),
        format!("histogram_sum({m})"),
        format!("histogram_fraction(0, 0.5, {m})"),
        format!("rate({m}[10s])"),
        format!("increase({m}[10s])"),
        format!("histogram_count(rate({m}[10s]))"),
        format!("sum(rate({m}[10s]))"),
        format!("sum by (job) ({m})"),
        format!("histogram_quantile(0.9, rate(db_seconds_bucket{sel}[10s]))"),
    ]
}

/// A result with the label `via` removed and results sorted by labels.
fn normalised(mut result: Vec<Value>) -> Vec<Value> {
    for r in &mut result {
        if let Some(m) = r["metric"].as_object_mut() {
            m.remove("via");
        }
    }
    result.sort_by_key(|r| r["metric"].to_string());
    result
}

async fn range_query(base: &str, expr: &str, start: f64, end: f64) -> Vec<Value> {
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", expr.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", "2".to_string()),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success", "{expr}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Compares every query at `at` (seconds) between Prometheus and Telltale's two copies.
async fn compare(prometheus: &str, telltale: &str, at: f64) {
    for (p, (own, sent)) in queries("{job=\"h\"}").iter().zip(
        queries("{job=\"h\",via=\"\"}")
            .iter()
            .zip(queries("{via=\"prometheus\"}").iter()),
    ) {
        let want = normalised(query_at_time(prometheus, p, at).await);
        assert!(!want.is_empty(), "Prometheus answered nothing for {p}");
        let got = normalised(query_at_time(telltale, own, at).await);
        assert_eq!(got, want, "Telltale's own scrape, {own} at {at}");
        let got = normalised(query_at_time(telltale, sent, at).await);
        assert_eq!(got, want, "Prometheus's remote write, {sent} at {at}");
    }
    let start = at - 10.0;
    // Range steps between samples too (the query's step is a whole step).
    let p = "rpc_seconds{job=\"h\"}";
    let want = normalised(range_query(prometheus, p, start, at).await);
    assert!(
        want.iter()
            .all(|s| s["histograms"].as_array().is_some_and(|h| h.len() >= 5))
    );
    let got = normalised(range_query(telltale, "rpc_seconds{job=\"h\",via=\"\"}", start, at).await);
    assert_eq!(got, want, "range query of the raw histograms");
}

#[tokio::test(flavor = "multi_thread")]
async fn telltale_answers_native_histogram_queries_as_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let target = protobuf_target().await;
    let config = write_file(
        dir.path(),
        "prometheus.yml",
        &format!("scrape_configs:\n{}", scrape_config(target)),
    );
    let config = config.display().to_string();
    let data = dir.path().join("data");
    let args = ["--config.file", config.as_str()];
    let mut t = Telltale::start(&data, &args).await;
    let base = t.url("");
    let prometheus_config = format!(
        "scrape_configs:\n{}remote_write:\n  - url: {base}/api/v1/write\n    send_native_histograms: true\n    write_relabel_configs:\n      - {{target_label: via, replacement: prometheus}}\n",
        scrape_config(target)
    );
    let (_prometheus, prometheus) = common::start_prometheus_args(
        dir.path(),
        &prometheus_config,
        &["--enable-feature=native-histograms"],
    )
    .await;

    // Twelve steps of data in every copy.
    let began = common::now_ms();
    tokio::time::sleep(Duration::from_millis(12 * STEP_MS as u64 + 3_000)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    // Between two steps both scrapers and the remote write have had time to deliver: no
    // sample lies on a range's left end, which Prometheus 2.42 includes and 3.x (and
    // Telltale) leave out.
    let at_ms = (common::now_ms() / STEP_MS - 2) * STEP_MS + STEP_MS / 2;
    assert!(at_ms - 10_000 > began);
    let at = at_ms as f64 / 1000.0;
    loop {
        let sent = query_at_time(
            &base,
            "histogram_count(rpc_seconds{via=\"prometheus\"})",
            at,
        )
        .await;
        if sent.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus's remote write did not arrive: {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    compare(&prometheus, &base, at).await;

    // A crash: the histograms come back from the Raft log (and flushed chunks).
    t.proc.kill9();
    let t = Telltale::start(&data, &args).await;
    let base = t.url("");
    compare(&prometheus, &base, at).await;
}

/// An OTLP exponential histogram point of `service` (scale 1, positive buckets from
/// OTLP index -1).
fn otlp_point(
    start_ns: u64,
    t_ns: u64,
    counts: &[u64],
    zero: u64,
) -> telltale_scraper::push::otlp::proto::ExponentialHistogramDataPoint {
    use telltale_scraper::push::otlp::proto::{Buckets, ExponentialHistogramDataPoint};
    ExponentialHistogramDataPoint {
        start_time_unix_nano: start_ns,
        time_unix_nano: t_ns,
        count: counts.iter().sum::<u64>() + zero,
        sum: Some(counts.iter().sum::<u64>() as f64 * 0.5),
        scale: 1,
        zero_count: zero,
        positive: Some(Buckets {
            offset: -1,
            bucket_counts: counts.to_vec(),
        }),
        ..ExponentialHistogramDataPoint::default()
    }
}

async fn post_otlp(base: &str, metrics: Vec<telltale_scraper::push::otlp::proto::Metric>) {
    use prost::Message;
    use telltale_scraper::push::otlp::proto::{
        AnyValue, ExportMetricsServiceRequest, KeyValue, Resource, ResourceMetrics, ScopeMetrics,
        any_value,
    };
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("checkout".into())),
                    }),
                }],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    };
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/metrics"))
        .header("Content-Type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
}

/// The histogram JSON (`{count, sum, buckets}`) of the one series `expr` answers at `at`.
async fn histogram_at(base: &str, expr: &str, at: f64) -> Value {
    let got = query_at_time(base, expr, at).await;
    assert_eq!(got.len(), 1, "{expr}: {got:?}");
    got[0]["histogram"][1].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn otlp_and_remote_write_2_histograms_round_trip() {
    use telltale_scraper::push::otlp::proto::{
        AggregationTemporality, ExponentialHistogram, Metric as OtlpMetric, metric,
    };
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &[]).await;
    let base = t.url("");
    let now = common::now_ms() - 60_000;
    let ns = |ms: i64| ms as u64 * 1_000_000;
    let exponential = |name: &str, temporality: AggregationTemporality, points| OtlpMetric {
        name: name.into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: points,
            aggregation_temporality: temporality as i32,
        })),
        ..OtlpMetric::default()
    };
    // Cumulative: stored as sent. Delta: each point added to the series' running total.
    post_otlp(
        &base,
        vec![
            exponential(
                "rpc_latency",
                AggregationTemporality::Cumulative,
                vec![otlp_point(ns(now - 10_000), ns(now), &[1, 2, 3], 1)],
            ),
            exponential(
                "jobs_latency",
                AggregationTemporality::Delta,
                vec![otlp_point(ns(now - 10_000), ns(now), &[1, 1, 0], 0)],
            ),
        ],
    )
    .await;
    post_otlp(
        &base,
        vec![exponential(
            "jobs_latency",
            AggregationTemporality::Delta,
            vec![otlp_point(ns(now), ns(now + 5_000), &[2, 0, 4], 1)],
        )],
    )
    .await;
    let at = (now + 5_000) as f64 / 1000.0;
    // OTLP bucket k of scale 1 is Prometheus bucket k + 1: (2^(k/2), 2^((k+1)/2)]; a
    // zero threshold left unset is Prometheus's OTLP default, 1e-128, written out in full
    // as Prometheus's JSON writes every number; bounds from Prometheus's table.
    let rpc = histogram_at(&base, "rpc_latency{job=\"checkout\"}", at).await;
    let zero = 1e-128f64.to_string();
    assert_eq!(
        rpc,
        serde_json::json!({"count": "7", "sum": "3", "buckets": [
            [3, format!("-{zero}"), zero, "1"],
            [0, "0.7071067811865475", "1", "1"],
            [0, "1", "1.414213562373095", "2"],
            [0, "1.414213562373095", "2", "3"]]}),
    );
    let jobs = histogram_at(&base, "jobs_latency{job=\"checkout\"}", at).await;
    assert_eq!(jobs["count"], "9", "{jobs}");
    assert_eq!(
        jobs["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[3].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        ["1", "3", "1", "4"],
        "{jobs}"
    );

    // Remote write 2.0: the histogram is stored and counted in its own header, not as a
    // float sample.
    use common::remote_write::v2;
    let mut request = v2::Builder::default();
    request.histogram(
        &[("__name__", "rw2_latency_seconds"), ("job", "api")],
        v2::Histogram {
            count_int: 6,
            sum: 1.5,
            schema: 0,
            zero_threshold: 0.001,
            zero_count_int: 1,
            positive_spans: vec![v2::BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_deltas: vec![2, 1],
            timestamp: now,
        },
    );
    let (status, samples, histograms) = v2::push_histograms(&base, request.request).await;
    assert_eq!((status.as_u16(), samples, histograms), (204, 0, 1));
    let rw2 = histogram_at(&base, "rw2_latency_seconds", now as f64 / 1000.0).await;
    assert_eq!(
        rw2,
        serde_json::json!({"count": "6", "sum": "1.5", "buckets": [
            [3, "-0.001", "0.001", "1"],
            [0, "0.5", "1", "2"],
            [0, "1", "2", "3"]]}),
    );
}
