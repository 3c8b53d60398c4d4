//! Scraping the protobuf exposition format end to end: a local exporter serving
//! delimited `MetricFamily` messages shaped as client_golang exposes them, the real
//! scrape loop (ScrapeManager), an in-memory writer.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use common::{MemoryWriter, scrape_targets, series_named, serve_app};
use telltale_model::is_stale_nan;
use telltale_scraper::ScrapeManager;
use telltale_scraper::pull::protobuf::proto::{
    Bucket, BucketSpan, Counter, Exemplar, Histogram, LabelPair, Metric, MetricFamily, MetricType,
    Quantile, Summary, Timestamp, encode_delimited,
};
use telltale_storage_api::histogram::ResetHint;
use telltale_storage_api::{FloatHistogram, TimeSeries};

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// What the exporter serves, and the Accept headers it was sent.
#[derive(Default)]
struct Served {
    body: Mutex<Vec<u8>>,
    accept: Mutex<Vec<String>>,
}

async fn metrics(
    State(s): State<Arc<Served>>,
    headers: HeaderMap,
) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    s.accept.lock().unwrap().push(accept);
    ([("content-type", PROTOBUF)], s.body.lock().unwrap().clone())
}

fn label(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: name.into(),
        value: value.into(),
    }
}

fn family(name: &str, kind: MetricType, metric: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: "help".into(),
        r#type: kind as i32,
        metric,
        unit: String::new(),
    }
}

/// A client_golang-shaped page: a summary, a counter with an exemplar, a classic
/// histogram, a native histogram (negative and positive spans, classic buckets too),
/// a gauge histogram.
fn page(with_native: bool) -> Vec<u8> {
    let mut families = vec![
        family(
            "go_gc_duration_seconds",
            MetricType::Summary,
            vec![Metric {
                summary: Some(Summary {
                    sample_count: 12,
                    sample_sum: 0.0125,
                    quantile: [0.0, 0.25, 0.5, 0.75, 1.0]
                        .iter()
                        .map(|&q| Quantile {
                            quantile: q,
                            value: q / 100.0,
                        })
                        .collect(),
                }),
                ..Default::default()
            }],
        ),
        family(
            "http_requests_total",
            MetricType::Counter,
            vec![Metric {
                label: vec![label("code", "200")],
                counter: Some(Counter {
                    value: 1027.0,
                    exemplar: Some(Exemplar {
                        label: vec![label("trace_id", "4bf92f35")],
                        value: 1.0,
                        timestamp: Some(Timestamp {
                            seconds: 1_700_000_000,
                            nanos: 0,
                        }),
                    }),
                }),
                ..Default::default()
            }],
        ),
        family(
            "http_response_size_bytes",
            MetricType::Histogram,
            vec![Metric {
                histogram: Some(Histogram {
                    sample_count: 10,
                    sample_sum: 5120.0,
                    bucket: [(100.0, 2), (1000.0, 7), (10000.0, 10)]
                        .iter()
                        .map(|&(upper_bound, cumulative_count)| Bucket {
                            cumulative_count,
                            upper_bound,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
        family(
            "queue_wait_seconds",
            MetricType::GaugeHistogram,
            vec![Metric {
                histogram: Some(Histogram {
                    sample_count_float: 3.5,
                    sample_sum: 2.0,
                    schema: 0,
                    zero_threshold: 1e-128,
                    positive_span: vec![BucketSpan {
                        offset: 1,
                        length: 1,
                    }],
                    positive_count: vec![3.5],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
    ];
    if with_native {
        families.push(family(
            "http_request_duration_seconds",
            MetricType::Histogram,
            vec![Metric {
                label: vec![label("method", "GET")],
                histogram: Some(Histogram {
                    sample_count: 9,
                    sample_sum: 3.25,
                    schema: 3,
                    zero_threshold: 2.938735877055719e-39,
                    zero_count: 1,
                    negative_span: vec![BucketSpan {
                        offset: -2,
                        length: 1,
                    }],
                    negative_delta: vec![1],
                    positive_span: vec![
                        BucketSpan {
                            offset: -4,
                            length: 2,
                        },
                        BucketSpan {
                            offset: 3,
                            length: 1,
                        },
                    ],
                    positive_delta: vec![2, 1, -1],
                    bucket: vec![Bucket {
                        cumulative_count: 6,
                        upper_bound: 0.5,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ));
    }
    encode_delimited(&families)
}

fn target_yaml(name: &str, addr: &str, extra: &str) -> String {
    format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: {name}, namespace: mon}}\n\
spec:\n  interval: 100ms\n  scrapeTimeout: 100ms\n  static: [{{targets: [\"{addr}\"]}}]\n{extra}"
    )
}

/// The native histogram samples of series `name`, in write order.
fn histograms(batches: &[Vec<TimeSeries>], name: &str) -> Vec<FloatHistogram> {
    series_named(batches, name)
        .iter()
        .flat_map(|s| &s.histograms)
        .map(|h| FloatHistogram::from_proto(h).unwrap())
        .collect()
}

async fn exporter(body: Vec<u8>) -> (Arc<Served>, String) {
    let served = Arc::new(Served::default());
    *served.body.lock().unwrap() = body;
    let base = serve_app(
        Router::new()
            .route("/metrics", get(metrics))
            .with_state(served.clone()),
    )
    .await;
    (served, base.trim_start_matches("http://").to_string())
}

#[tokio::test]
async fn protobuf_pages_become_samples_and_native_histograms() {
    let (served, addr) = exporter(page(true)).await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    // Metric relabeling applies to native histogram series too.
    let relabel = "  metricRelabelings:\n  - {sourceLabels: [__name__], regex: http_request_duration_seconds, targetLabel: team, replacement: core}\n";
    manager.apply(&scrape_targets(&target_yaml("pb", &addr, relabel)));
    writer
        .wait_for("a native histogram", |b| {
            !histograms(b, "http_request_duration_seconds").is_empty()
        })
        .await;
    let batches = writer.batches();

    let native = series_named(&batches, "http_request_duration_seconds")[0];
    assert!(native.samples.is_empty());
    assert_eq!(native.label("method"), Some("GET"));
    assert_eq!(native.label("team"), Some("core"));
    assert_eq!(native.label("job"), Some("pb"));
    assert_eq!(native.label("instance"), Some(addr.as_str()));
    let h = &histograms(&batches, "http_request_duration_seconds")[0];
    assert_eq!(
        (h.schema, h.count, h.sum, h.zero_count),
        (3, 9.0, 3.25, 1.0)
    );
    assert_eq!(
        h.positive().collect::<Vec<_>>(),
        [(-4, 2.0), (-3, 3.0), (1, 2.0)]
    );
    assert_eq!(h.negative().collect::<Vec<_>>(), [(-2, 1.0)]);
    assert_eq!(h.reset_hint, ResetHint::Unknown);
    // No classic series of a native histogram unless asked.
    assert!(series_named(&batches, "http_request_duration_seconds_bucket").is_empty());

    let g = &histograms(&batches, "queue_wait_seconds")[0];
    assert_eq!((g.reset_hint, g.count), (ResetHint::Gauge, 3.5));

    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        series_named(&batches, name)
            .into_iter()
            .find(|s| label.is_none_or(|(n, v)| s.label(n) == Some(v)))
            .unwrap_or_else(|| panic!("no {name} {label:?}"))
            .samples[0]
            .value
    };
    assert_eq!(value("go_gc_duration_seconds_count", None), 12.0);
    assert_eq!(
        value("go_gc_duration_seconds", Some(("quantile", "0.25"))),
        0.0025
    );
    assert_eq!(
        value("go_gc_duration_seconds", Some(("quantile", "1.0"))),
        0.01
    );
    assert_eq!(
        value("http_response_size_bytes_bucket", Some(("le", "1000.0"))),
        7.0
    );
    assert_eq!(
        value("http_response_size_bytes_bucket", Some(("le", "+Inf"))),
        10.0
    );
    assert_eq!(value("http_response_size_bytes_sum", None), 5120.0);
    assert_eq!(value("http_requests_total", Some(("code", "200"))), 1027.0);
    // The summary's 7 samples, the counter, the classic histogram's 6 (+Inf added); the
    // 2 native histograms count one sample each.
    assert_eq!(value("scrape_samples_scraped", None), 7.0 + 1.0 + 6.0 + 2.0);
    let exemplar = batches
        .iter()
        .flatten()
        .find(|s| !s.exemplars.is_empty())
        .expect("the counter's exemplar");
    assert_eq!(exemplar.label("__name__"), Some("http_requests_total"));
    assert_eq!(exemplar.exemplars[0].timestamp_ms, 1_700_000_000_000);

    assert!(
        served.accept.lock().unwrap()[0].starts_with(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,"
        )
    );

    // The native histogram goes away: its series gets a float staleness marker.
    *served.body.lock().unwrap() = page(false);
    writer
        .wait_for("the histogram series stale", |b| {
            series_named(b, "http_request_duration_seconds")
                .iter()
                .any(|s| s.samples.len() == 1 && is_stale_nan(s.samples[0].value))
        })
        .await;
    manager.shutdown();
    manager.stopped().await;
}

#[tokio::test]
async fn classic_series_when_asked_and_limits_count_histograms() {
    let (served, addr) = exporter(page(true)).await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let extra = "  scrapeClassicHistograms: true\n  scrapeProtocols: [PrometheusProto, PrometheusText0.0.4]\n";
    manager.apply(&scrape_targets(&target_yaml("classic", &addr, extra)));
    writer
        .wait_for("a native histogram", |b| {
            !histograms(b, "http_request_duration_seconds").is_empty()
        })
        .await;
    let batches = writer.batches();
    let buckets: Vec<(String, f64)> =
        series_named(&batches, "http_request_duration_seconds_bucket")
            .iter()
            .map(|s| (s.label("le").unwrap().to_string(), s.samples[0].value))
            .collect();
    assert_eq!(
        buckets[..2],
        [("0.5".to_string(), 6.0), ("+Inf".to_string(), 9.0)]
    );
    assert_eq!(
        served.accept.lock().unwrap()[0],
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
         text/plain;version=0.0.4;q=0.5,*/*;q=0.4"
    );
    manager.shutdown();
    manager.stopped().await;

    // 14 float samples + 4 classic series of the native histogram + 2 histograms = 20
    // samples: a limit of 19 fails the scrape.
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let extra = format!("{extra}  sampleLimit: 19\n");
    manager.apply(&scrape_targets(&target_yaml("limited", &addr, &extra)));
    writer
        .wait_for("a scrape", |b| !series_named(b, "up").is_empty())
        .await;
    let batches = writer.batches();
    assert_eq!(series_named(&batches, "up")[0].samples[0].value, 0.0);
    assert_eq!(
        series_named(&batches, "scrape_samples_post_metric_relabeling")[0].samples[0].value,
        20.0
    );
    assert!(histograms(&batches, "http_request_duration_seconds").is_empty());
    manager.shutdown();
    manager.stopped().await;
}
