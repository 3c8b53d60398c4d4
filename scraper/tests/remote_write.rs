//! The remote_write receiver over HTTP: encode with prost + snap, POST, check the writer.

mod common;

use common::{MemoryWriter, serve_app};
use prost::Message;
use telltale_scraper::push::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
use telltale_scraper::push::remote_write::proto_v2 as v2;
use telltale_scraper::{PushOptions, ScrapeManager, router};

fn request() -> WriteRequest {
    let label = |n: &str, v: &str| Label {
        name: n.into(),
        value: v.into(),
    };
    WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![
                    label("__name__", "http_requests_total"),
                    label("job", "api"),
                ],
                samples: vec![
                    Sample {
                        value: 1.0,
                        timestamp: 1_000,
                    },
                    Sample {
                        value: 2.0,
                        timestamp: 2_000,
                    },
                ],
                ..Default::default()
            },
            TimeSeries {
                labels: vec![label("__name__", "temp"), label("room", "a")],
                samples: vec![Sample {
                    value: -3.5,
                    timestamp: 1_500,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![],
    }
}

fn snappy(bytes: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(bytes).unwrap()
}

struct Setup {
    base: String,
    writer: std::sync::Arc<MemoryWriter>,
    registry: prometheus::Registry,
    client: reqwest::Client,
}

async fn setup(opts: PushOptions) -> Setup {
    let writer = MemoryWriter::new();
    let registry = prometheus::Registry::new();
    let manager = ScrapeManager::new(writer.clone(), &registry);
    let base = serve_app(router(manager, writer.clone(), opts)).await;
    Setup {
        base,
        writer,
        registry,
        client: reqwest::Client::new(),
    }
}

impl Setup {
    async fn post(&self, body: Vec<u8>) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}/api/v1/write", self.base))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    fn counter(&self, name: &str, code: Option<&str>) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric().to_vec())
            .filter(|m| code.is_none_or(|c| m.get_label().iter().any(|l| l.value() == c)))
            .map(|m| m.get_counter().value())
            .sum()
    }
}

#[tokio::test]
async fn accepted_push_reaches_the_writer() {
    let s = setup(PushOptions::default()).await;
    let (status, body) = s.post(snappy(&request().encode_to_vec())).await;
    assert_eq!(status, 204, "{body}");
    let batches = s.writer.batches();
    assert_eq!(batches.len(), 1);
    let series = &batches[0];
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].label("__name__"), Some("http_requests_total"));
    assert_eq!(series[0].label("job"), Some("api"));
    assert_eq!(series[0].samples.len(), 2);
    assert_eq!(series[0].samples[1].timestamp_ms, 2_000);
    assert_eq!(series[1].samples[0].value, -3.5);
    assert_eq!(s.counter("telltale_remote_write_samples_total", None), 3.0);
    assert_eq!(
        s.counter("telltale_remote_write_requests_total", Some("204")),
        1.0
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_naming_the_offset() {
    let s = setup(PushOptions::default()).await;
    let (status, body) = s.post(b"definitely not snappy".to_vec()).await;
    assert_eq!(status, 400);
    assert!(body.contains("snappy"), "{body}");

    let (status, body) = s.post(snappy(b"\x0a\xff\xff\xff")).await;
    assert_eq!(status, 400);
    assert!(body.contains("protobuf"), "{body}");
    assert!(body.contains("byte offset 1: truncated varint"), "{body}");
    assert!(
        s.writer.batches().is_empty(),
        "nothing written from a bad body"
    );
    assert_eq!(
        s.counter("telltale_remote_write_requests_total", Some("400")),
        2.0
    );
}

#[tokio::test]
async fn a_partly_bad_request_stores_the_good_series_and_says_what_was_rejected() {
    let s = setup(PushOptions::default()).await;
    let mut bad = request();
    bad.timeseries[1].labels[1].name = "bad-name".into();
    let (status, body) = s.post(snappy(&bad.encode_to_vec())).await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("2 samples stored, 1 rejected (invalid_series: 1); first error: timeseries #1 at byte offset "),
        "{body}"
    );
    assert!(body.contains("invalid label name \"bad-name\""), "{body}");
    let batches = s.writer.batches();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].len(), 1);
    assert_eq!(batches[0][0].label("__name__"), Some("http_requests_total"));
    assert_eq!(s.counter("telltale_remote_write_samples_total", None), 2.0);
    assert_eq!(
        s.counter(
            "telltale_push_rejected_samples_total",
            Some("invalid_series")
        ),
        1.0
    );
}

#[tokio::test]
async fn over_limit_body_gets_413() {
    let s = setup(PushOptions {
        max_body_bytes: 1024,
        ..PushOptions::default()
    })
    .await;
    // Incompressible bytes: the compressed body stays above the limit.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let (status, _) = s.post(snappy(&noise)).await;
    assert_eq!(status, 413);
    assert!(s.writer.batches().is_empty());
    assert_eq!(
        s.counter("telltale_remote_write_requests_total", Some("413")),
        1.0
    );

    // A small body still passes.
    let (status, body) = s.post(snappy(&request().encode_to_vec())).await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn storage_failure_gets_503() {
    let s = setup(PushOptions::default()).await;
    s.writer.set_failing(true);
    let (status, body) = s.post(snappy(&request().encode_to_vec())).await;
    assert_eq!(status, 503);
    assert!(body.contains("storage is down"), "{body}");
    assert_eq!(s.counter("telltale_remote_write_samples_total", None), 0.0);
}

/// The v1 request of [`request`] as a 2.0 message: every string once in the symbols.
fn request_v2() -> v2::Request {
    let symbols = [
        "",
        "__name__",
        "http_requests_total",
        "job",
        "api",
        "temp",
        "room",
        "a",
    ];
    let sample = |value, timestamp| Sample { value, timestamp };
    v2::Request {
        symbols: symbols.map(String::from).to_vec(),
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![sample(1.0, 1_000), sample(2.0, 2_000)],
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 5, 6, 7],
                samples: vec![sample(-3.5, 1_500)],
                ..Default::default()
            },
            // A reference past the symbol table: rejected alone.
            v2::TimeSeries {
                labels_refs: vec![1, 42],
                samples: vec![sample(1.0, 1_000)],
                ..Default::default()
            },
        ],
    }
}

async fn post_v2(s: &Setup, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    s.client
        .post(format!("{}/api/v1/write", s.base))
        .header("Content-Type", content_type)
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(snappy(&body))
        .send()
        .await
        .unwrap()
}

const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

#[tokio::test]
async fn remote_write_v2_stores_the_good_series_and_says_what_was_written() {
    let s = setup(PushOptions::default()).await;
    let resp = post_v2(&s, V2, request_v2().encode_to_vec()).await;
    assert_eq!(resp.status().as_u16(), 400, "one series is bad");
    let written = |h: &str| resp.headers()[h].to_str().unwrap().to_string();
    assert_eq!(written("X-Prometheus-Remote-Write-Samples-Written"), "3");
    assert_eq!(written("X-Prometheus-Remote-Write-Histograms-Written"), "0");
    assert_eq!(written("X-Prometheus-Remote-Write-Exemplars-Written"), "0");
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with("3 samples stored, 1 rejected (invalid_series: 1)"),
        "{body}"
    );
    assert!(
        body.contains("label reference 42 outside the symbol table of 8"),
        "{body}"
    );
    let series = &s.writer.batches()[0];
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].label("__name__"), Some("http_requests_total"));
    assert_eq!(series[0].label("job"), Some("api"));
    assert_eq!(series[0].samples[1].timestamp_ms, 2_000);
    assert_eq!(series[1].label("room"), Some("a"));

    let mut good = request_v2();
    good.timeseries.pop();
    let resp = post_v2(&s, V2, good.encode_to_vec()).await;
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        resp.headers()["X-Prometheus-Remote-Write-Samples-Written"],
        "3"
    );
}

#[tokio::test]
async fn a_v1_body_sent_as_v2_stores_nothing_and_other_messages_are_refused() {
    let s = setup(PushOptions::default()).await;
    // v1's fields are reserved in v2: no series, nothing written, and the headers say so.
    let resp = post_v2(&s, V2, request().encode_to_vec()).await;
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        resp.headers()["X-Prometheus-Remote-Write-Samples-Written"],
        "0"
    );
    let resp = post_v2(
        &s,
        "application/x-protobuf;proto=io.prometheus.write.v3.Request",
        request_v2().encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 415);
}
