//! The push receivers over HTTP: InfluxDB line protocol (`/write`, `/api/v2/write`),
//! OTLP/HTTP (`/v1/metrics`), bearer-token auth and body limits on every push route.

mod common;

use std::io::Write;

use common::{MemoryWriter, series_named, serve_app};
use prost::Message;
use telltale_scraper::push::otlp::proto::{
    AggregationTemporality, ExportMetricsServiceRequest, ExportMetricsServiceResponse, Gauge,
    KeyValue, Metric, NumberDataPoint, Resource, ResourceMetrics, ScopeMetrics, Status, Sum,
    metric, number_data_point,
};
use telltale_scraper::{PushOptions, ScrapeManager, router};

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
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.post(format!("{}{path}", self.base)).body(body);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric().to_vec())
            .filter(|m| {
                labels.iter().all(|(n, v)| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == *n && l.value() == *v)
                })
            })
            .map(|m| m.get_counter().value())
            .sum()
    }
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[tokio::test]
async fn influx_v1_write_stores_fields_as_series() {
    let s = setup(PushOptions::default()).await;
    let body = "cpu,host=h1,region=eu usage_idle=90.5,usage_user=2i,busy=false,note=\"x\" 1700000000\n\
                mem,host=h1 free=1024u 1700000001\n";
    let (status, headers, resp) = s
        .post("/write?db=telegraf&precision=s", &[], body.into())
        .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&resp));
    assert_eq!(headers.get("x-telltale-skipped-values").unwrap(), "1");
    let batches = s.writer.batches();
    let idle = series_named(&batches, "cpu_usage_idle");
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0].label("host"), Some("h1"));
    assert_eq!(idle[0].label("region"), Some("eu"));
    assert_eq!(idle[0].samples[0].timestamp_ms, 1_700_000_000_000);
    assert_eq!(idle[0].samples[0].value, 90.5);
    assert_eq!(
        series_named(&batches, "cpu_usage_user")[0].samples[0].value,
        2.0
    );
    assert_eq!(series_named(&batches, "cpu_busy")[0].samples[0].value, 0.0);
    assert_eq!(
        series_named(&batches, "mem_free")[0].samples[0].timestamp_ms,
        1_700_000_001_000
    );
    assert!(
        series_named(&batches, "cpu_note").is_empty(),
        "strings are not stored"
    );
    assert_eq!(
        s.counter("telltale_push_samples_total", &[("protocol", "influx")]),
        4.0
    );
    assert_eq!(
        s.counter(
            "telltale_push_skipped_values_total",
            &[("reason", "string_field")]
        ),
        1.0
    );
}

#[tokio::test]
async fn influx_v2_write_with_gzip_and_precision() {
    let s = setup(PushOptions::default()).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"disk,path=/ used=5 1700000000123\n").unwrap();
    let (status, _, resp) = s
        .post(
            "/api/v2/write?org=o&bucket=b&precision=ms",
            &[("Content-Encoding", "gzip")],
            gz.finish().unwrap(),
        )
        .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&resp));
    let batches = s.writer.batches();
    let used = series_named(&batches, "disk_used");
    assert_eq!(used[0].label("path"), Some("/"));
    assert_eq!(used[0].samples[0].timestamp_ms, 1_700_000_000_123);
}

#[tokio::test]
async fn influx_bad_lines_name_the_line_and_good_ones_are_stored() {
    let s = setup(PushOptions::default()).await;
    // Nothing good: 400 naming the first bad line, nothing written.
    let (status, _, resp) = s.post("/write", &[], b"ok\nm v=\n".to_vec()).await;
    assert_eq!(status, 400);
    let body = json(&resp);
    assert_eq!(
        body["error"],
        "unable to parse line 1: column 3: expected a space before the fields"
    );
    assert!(s.writer.batches().is_empty());

    // Partly good: the good lines are stored, the answer counts the rejected ones.
    let (status, _, resp) = s
        .post(
            "/api/v2/write",
            &[],
            b"a v=1 1\nb v=oops 1\nc v=3 1\n".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    let body = json(&resp);
    assert_eq!(body["code"], "invalid");
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["rejected"], 1);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("partial write: 2 samples stored, 1 rejected (parse: 1); first error: line 2 column 5: invalid field value \"oops\""),
        "{message}"
    );
    let batches = s.writer.batches();
    assert_eq!(series_named(&batches, "a_v").len(), 1);
    assert_eq!(series_named(&batches, "c_v").len(), 1);
    assert_eq!(
        s.counter(
            "telltale_push_rejected_samples_total",
            &[("protocol", "influx"), ("reason", "parse")]
        ),
        3.0
    );

    let (status, _, resp) = s.post("/write?precision=d", &[], b"a v=1".to_vec()).await;
    assert_eq!(status, 400);
    assert!(json(&resp)["error"].as_str().unwrap().contains("precision"));
}

fn otlp_request() -> ExportMetricsServiceRequest {
    let point = |v: f64| NumberDataPoint {
        attributes: vec![KeyValue::string("http.route", "/api")],
        start_time_unix_nano: 0,
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        flags: 0,
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    KeyValue::string("service.name", "checkout"),
                    KeyValue::string("service.instance.id", "10.0.0.7:8080"),
                ],
                dropped_attributes_count: 0,
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics: vec![
                    Metric {
                        name: "http.server.requests".into(),
                        description: String::new(),
                        unit: "1".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point(42.0)],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                    },
                    Metric {
                        name: "delta.thing".into(),
                        description: String::new(),
                        unit: String::new(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point(1.0)],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                            is_monotonic: true,
                        })),
                    },
                    Metric {
                        name: "queue.size".into(),
                        description: String::new(),
                        unit: String::new(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![point(3.0)],
                        })),
                    },
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[tokio::test]
async fn otlp_metrics_are_stored_with_partial_success() {
    let s = setup(PushOptions::default()).await;
    let (status, headers, resp) = s
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/x-protobuf")],
            otlp_request().encode_to_vec(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/x-protobuf"
    );
    let answer = ExportMetricsServiceResponse::decode(resp.as_slice()).unwrap();
    let partial = answer.partial_success.expect("one point was rejected");
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.contains("DELTA"),
        "{}",
        partial.error_message
    );
    let batches = s.writer.batches();
    let requests = series_named(&batches, "http_server_requests_total");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].label("job"), Some("checkout"));
    assert_eq!(requests[0].label("instance"), Some("10.0.0.7:8080"));
    assert_eq!(requests[0].label("http_route"), Some("/api"));
    assert_eq!(requests[0].samples[0].timestamp_ms, 1_700_000_000_000);
    assert_eq!(
        series_named(&batches, "queue_size")[0].samples[0].value,
        3.0
    );
}

#[tokio::test]
async fn otlp_malformed_body_gets_400_status_message() {
    let s = setup(PushOptions::default()).await;
    let (status, _, resp) = s
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/x-protobuf")],
            vec![0x0a, 0x7f, 1],
        )
        .await;
    assert_eq!(status, 400);
    let st = Status::decode(resp.as_slice()).unwrap();
    assert_eq!(st.code, 3);
    assert!(st.message.contains("byte offset 0"), "{}", st.message);
    let (status, _, _) = s
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn every_push_route_needs_the_token_when_one_is_set() {
    let s = setup(PushOptions {
        bearer_token: Some("s3cret".into()),
        ..PushOptions::default()
    })
    .await;
    let snappy_empty = snap::raw::Encoder::new().compress_vec(b"").unwrap();
    for (path, body) in [
        ("/api/v1/write", snappy_empty.clone()),
        ("/write", b"m v=1".to_vec()),
        ("/api/v2/write", b"m v=1".to_vec()),
        ("/v1/metrics", Vec::new()),
    ] {
        let (status, headers, _) = s.post(path, &[], body.clone()).await;
        assert_eq!(status, 401, "{path} without a token");
        assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
        let (status, _, _) = s
            .post(path, &[("Authorization", "Bearer wrong")], body.clone())
            .await;
        assert_eq!(status, 401, "{path} with a wrong token");
        let (status, _, resp) = s
            .post(path, &[("Authorization", "Bearer s3cret")], body.clone())
            .await;
        assert!(
            status == 204 || status == 200,
            "{path} with the token: {status} {}",
            String::from_utf8_lossy(&resp)
        );
    }
    let (status, _, _) = s
        .post(
            "/api/v2/write",
            &[("Authorization", "Token s3cret")],
            b"m v=1".to_vec(),
        )
        .await;
    assert_eq!(status, 204, "InfluxDB clients send Token");
    // The targets API is not a push route.
    let resp = s
        .client
        .get(format!("{}/api/v1/targets", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn every_push_route_enforces_the_body_limit() {
    let s = setup(PushOptions {
        max_body_bytes: 64,
        ..PushOptions::default()
    })
    .await;
    let big = vec![b'x'; 1000];
    for path in ["/api/v1/write", "/write", "/api/v2/write", "/v1/metrics"] {
        let (status, _, _) = s.post(path, &[], big.clone()).await;
        assert_eq!(status, 413, "{path}");
    }
    assert!(s.writer.batches().is_empty());
}

/// Beyond `max_concurrent_requests` in flight, a push is refused at once with 429 and
/// `Retry-After`, before its body is read; once the others finish, pushes go through.
#[tokio::test]
async fn pushes_beyond_the_concurrency_cap_get_429_with_retry_after() {
    use tokio::io::AsyncWriteExt;
    let s = setup(PushOptions {
        max_concurrent_requests: 2,
        ..PushOptions::default()
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // Two requests whose bodies are still arriving hold both permits.
    let body = "cpu,host=a value=1 1700000000000000000\n";
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(
            format!(
                "POST /write HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\ncpu",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        slow.push(c);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, headers, text) = s.post("/write", &[], body.as_bytes().to_vec()).await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&text));
    assert_eq!(headers["retry-after"], "1");
    assert!(String::from_utf8_lossy(&text).contains("limit 2"));
    assert_eq!(
        s.counter(
            "telltale_push_requests_total",
            &[("protocol", "influx"), ("code", "429")]
        ),
        1.0
    );
    // The slow ones finish; the cap frees up.
    for mut c in slow {
        c.write_all(&body.as_bytes()[3..]).await.unwrap();
        c.flush().await.unwrap();
        let mut answer = [0u8; 12];
        tokio::io::AsyncReadExt::read_exact(&mut c, &mut answer)
            .await
            .unwrap();
        assert_eq!(&answer, b"HTTP/1.1 204");
    }
    let (status, _, _) = s.post("/write", &[], body.as_bytes().to_vec()).await;
    assert_eq!(status, 204);
}

/// Label limits on pushed series: a series over one is rejected with the scrape limits'
/// wording, the rest of the request stored (remote_write and Influx alike).
#[tokio::test]
async fn pushed_series_over_the_label_limits_are_rejected_alone() {
    use telltale_storage_api::prompb::{Label, Sample, TimeSeries, WriteRequest};
    let s = setup(PushOptions {
        label_limits: telltale_scraper::pull::limits::Limits {
            label_limit: 3,
            label_value_length_limit: 10,
            ..Default::default()
        },
        ..PushOptions::default()
    })
    .await;
    let series = |pairs: &[(&str, &str)]| TimeSeries {
        labels: pairs
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![Sample {
            value: 1.0,
            timestamp: 1_700_000_000_000,
        }],
        ..Default::default()
    };
    let request = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "ok"), ("job", "a")]),
            series(&[("__name__", "wide"), ("a", "1"), ("b", "2"), ("c", "3")]),
            series(&[("__name__", "long"), ("v", "0123456789abc")]),
        ],
        ..Default::default()
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&prost::Message::encode_to_vec(&request))
        .unwrap();
    let (status, _, text) = s
        .post(
            "/api/v1/write",
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "snappy"),
            ],
            body,
        )
        .await;
    let text = String::from_utf8_lossy(&text);
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("1 sample stored, 2 rejected (label_limit: 2)")
            && text.contains("label_limit exceeded (metric: wide, number of labels: 4, limit: 3)"),
        "{text}"
    );
    let batches = s.writer.batches();
    assert_eq!(series_named(&batches, "ok").len(), 1);
    assert!(series_named(&batches, "wide").is_empty() && series_named(&batches, "long").is_empty());

    let (status, _, _) = s
        .post(
            "/write",
            &[],
            b"cpu,host=0123456789abc v=1 1\nmem v=2 1\n".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(series_named(&s.writer.batches(), "mem_v").len(), 1);
    assert_eq!(
        s.counter(
            "telltale_push_rejected_samples_total",
            &[("protocol", "influx"), ("reason", "label_limit")]
        ),
        1.0
    );
}
