//! Prometheus's warnings and infos (`PromQL warning: ...`, `PromQL info: ...`) in the
//! `warnings` and `infos` arrays of `/api/v1/query` and `/api/v1/query_range`, worded
//! and placed (`(line:col)`) as Prometheus 3.5's `util/annotations` words them, and the
//! experimental functions refused or served by the `--enable-feature` option.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Features, router};

/// Serves a gauge `temperature`, a counter `requests_total`, a classic histogram
/// `latency_bucket` (one bucket with a malformed `le`) every 15s over 10 minutes.
async fn serve(features: Features, cache: bool) -> String {
    let reader = MemoryReader::new();
    let pts =
        |f: fn(i64) -> f64| -> Vec<(i64, f64)> { (0..=40).map(|i| (i * 15_000, f(i))).collect() };
    reader.add(
        &[("__name__", "temperature"), ("room", "a")],
        &pts(|i| 20.0 + (i % 3) as f64),
    );
    reader.add(
        &[("__name__", "requests_total"), ("job", "api")],
        &pts(|i| i as f64 * 3.0),
    );
    for (le, per) in [("0.1", 1.0), ("1", 2.0), ("+Inf", 3.0), ("fast", 1.0)] {
        reader.add(
            &[("__name__", "latency_bucket"), ("le", le)],
            &pts(match per as i64 {
                1 => |i| i as f64,
                2 => |i| 2.0 * i as f64,
                _ => |i| 3.0 * i as f64,
            }),
        );
    }
    let mut opts = EngineOptions {
        features,
        ..Default::default()
    };
    if cache {
        opts.cache.max_bytes = 1 << 20;
        opts.cache.max_freshness_ms = 0;
    }
    let engine = Engine::new(Arc::new(reader), opts, &prometheus::Registry::new());
    let app = router(Arc::new(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn query(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, Json) {
    let resp = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn instant(base: &str, q: &str) -> Json {
    let (status, body) = query(base, "/api/v1/query", &[("query", q), ("time", "600")]).await;
    assert_eq!(status, 200, "{q}: {body}");
    body
}

async fn range(base: &str, q: &str) -> Json {
    let form = [
        ("query", q),
        ("start", "60"),
        ("end", "600"),
        ("step", "30"),
    ];
    let (status, body) = query(base, "/api/v1/query_range", &form).await;
    assert_eq!(status, 200, "{q}: {body}");
    body
}

const NOT_COUNTER: &str =
    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket:";

#[tokio::test]
async fn rate_of_a_gauge_is_an_info_with_its_position() {
    let base = serve(Features::default(), false).await;
    for (q, at) in [
        ("rate(temperature[5m])", "1:6"),
        ("sum(increase(temperature[5m]))", "1:14"),
        // Prometheus points at the selector inside the parentheses.
        ("rate((temperature[5m]))", "1:7"),
        ("sum by (room) (\n  rate(temperature[1m])\n)", "2:8"),
    ] {
        let want = json!([format!("{NOT_COUNTER} \"temperature\" ({at})")]);
        let body = instant(&base, q).await;
        assert_eq!(body["infos"], want, "{q}: {body}");
        assert!(body.get("warnings").is_none(), "{q}: {body}");
        // Series-major evaluation of a range query raises the same.
        assert_eq!(range(&base, q).await["infos"], want, "{q}");
    }
    // Counters, other functions and series without a rate value raise nothing.
    for q in [
        "rate(requests_total[5m])",
        "irate(temperature[5m])",
        "delta(temperature[5m])",
        "rate(temperature[10s])",
        "rate(nothing[5m])",
    ] {
        let body = instant(&base, q).await;
        assert!(
            body.get("infos").is_none() && body.get("warnings").is_none(),
            "{q}: {body}"
        );
    }
}

#[tokio::test]
async fn quantile_out_of_range_and_bad_buckets_are_warnings() {
    let base = serve(Features::default(), false).await;
    let q = "histogram_quantile(1.5, rate(latency_bucket[5m]))";
    let body = instant(&base, q).await;
    assert_eq!(
        body["warnings"],
        json!([
            "PromQL warning: quantile value should be between 0 and 1, got 1.5 (1:20)",
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"fast\" (1:25)"
        ]),
        "{body}"
    );
    assert!(body.get("infos").is_none(), "{body}");
    // The bucket keeps its name without rate(): Prometheus names the metric.
    let body = instant(&base, "histogram_quantile(0.5, latency_bucket)").await;
    assert_eq!(
        body["warnings"],
        json!([
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"fast\" for metric name \"latency_bucket\" (1:25)"
        ])
    );
    for (q, got) in [
        ("quantile(-0.5, temperature)", "-0.5 (1:10)"),
        ("quantile by (room) (2, temperature)", "2 (1:21)"),
        ("quantile_over_time(NaN, temperature[5m])", "NaN (1:20)"),
    ] {
        let want = json!([format!(
            "PromQL warning: quantile value should be between 0 and 1, got {got}"
        )]);
        assert_eq!(instant(&base, q).await["warnings"], want, "{q}");
        assert_eq!(range(&base, q).await["warnings"], want, "{q}");
    }
    let body = instant(&base, "quantile(0.5, temperature)").await;
    assert!(body.get("warnings").is_none(), "{body}");
}

#[tokio::test]
async fn cached_range_queries_keep_the_annotations_of_what_they_evaluate() {
    let base = serve(Features::default(), true).await;
    let q = "rate(temperature[5m])";
    let want = json!([format!("{NOT_COUNTER} \"temperature\" (1:6)")]);
    assert_eq!(range(&base, q).await["infos"], want);
    assert_eq!(range(&base, q).await["infos"], want);
}

#[tokio::test]
async fn experimental_functions_follow_the_feature_option() {
    let off = serve(Features::default(), false).await;
    let (status, body) = query(
        &off,
        "/api/v1/query",
        &[("query", "mad_over_time(temperature[5m])"), ("time", "600")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], "bad_data");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .ends_with("function \"mad_over_time\" is not enabled"),
        "{body}"
    );
    let on = serve(Features::all(), false).await;
    let body = instant(&on, "mad_over_time(temperature[5m])").await;
    assert_eq!(
        body["data"]["result"],
        json!([{"metric": {"room": "a"}, "value": [600, "1"]}])
    );
    let body = instant(&on, "count(limit_ratio(1.5, temperature))").await;
    assert_eq!(body["data"]["result"][0]["value"][1], "1");
    assert_eq!(
        body["warnings"],
        json!([
            "PromQL warning: ratio value should be between -1 and 1, got 1.5, capping to 1 (1:19)"
        ])
    );
}
