//! The HTTP API served on a real socket, against an in-memory reader.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, router};

/// Serves the API over `up{job="api"|"db"}` and `requests_total`, returning its base URL.
async fn serve() -> String {
    serve_from(0).await
}

/// Like [`serve`], with samples every 15s from `origin_ms` to `origin_ms + 300s`.
async fn serve_from(origin_ms: i64) -> String {
    let reader = MemoryReader::new();
    for (job, v) in [("api", 1.0), ("db", 0.0)] {
        let pts: Vec<(i64, f64)> = (0..=20).map(|i| (origin_ms + i * 15_000, v)).collect();
        reader.add(
            &[("__name__", "up"), ("job", job), ("instance", "h:9100")],
            &pts,
        );
    }
    let pts: Vec<(i64, f64)> = (0..=20)
        .map(|i| (origin_ms + i * 15_000, i as f64 * 3.0))
        .collect();
    reader.add(&[("__name__", "requests_total"), ("job", "api")], &pts);
    for (i, trace) in ["abc", "def"].iter().enumerate() {
        reader.add_exemplar(
            &[("__name__", "requests_total"), ("job", "api")],
            &[("trace_id", trace)],
            1.5 + i as f64,
            origin_ms + 15_123 + i as i64 * 100_000,
        );
    }
    let registry = prometheus::Registry::new();
    let engine = Engine::new(Arc::new(reader), EngineOptions::default(), &registry);
    let app = router(Arc::new(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn get(base: &str, path_and_query: &str) -> (u16, Json) {
    let resp = reqwest::get(format!("{base}{path_and_query}"))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    (status, resp.json().await.unwrap())
}

async fn post(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, Json) {
    let resp = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn instant_query_shapes() {
    let base = serve().await;
    let (status, body) = get(
        &base,
        "/api/v1/query?query=up%7Bjob%3D%22api%22%7D&time=300",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "instance": "h:9100", "job": "api"}, "value": [300, "1"]}
        ]}})
    );
    let (_, body) = get(&base, "/api/v1/query?query=1%2B1&time=1.5").await;
    assert_eq!(
        body["data"],
        json!({"resultType": "scalar", "result": [1.5, "2"]})
    );
    let (_, body) = get(&base, "/api/v1/query?query=%22s%22&time=2").await;
    assert_eq!(
        body["data"],
        json!({"resultType": "string", "result": [2, "s"]})
    );
    let (_, body) = get(
        &base,
        "/api/v1/query?query=up%7Bjob%3D%22db%22%7D%5B30s%5D&time=300",
    )
    .await;
    assert_eq!(body["data"]["resultType"], "matrix");
    assert_eq!(
        body["data"]["result"][0]["values"],
        json!([[285, "0"], [300, "0"]])
    );
    let (_, body) = get(&base, "/api/v1/query?query=0%2F0&time=1").await;
    assert_eq!(body["data"]["result"], json!([1, "NaN"]));
    // POST with a form body, RFC3339 time.
    let (status, body) = post(
        &base,
        "/api/v1/query",
        &[("query", "sum(up)"), ("time", "1970-01-01T00:05:00Z")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["result"],
        json!([{"metric": {}, "value": [300, "1"]}])
    );
}

/// rate(requests_total[1m]) at 60s by Prometheus' algorithm: samples 3, 6, 9, 12 at
/// 15..60s; increase 9 over 45s, extrapolated 15s to the start: 9 * (60 / 45) / 60,
/// which in binary floating point is not exactly 0.2.
const RATE: &str = "0.19999999999999998";

#[tokio::test]
async fn range_query_shapes_and_limits() {
    let base = serve().await;
    let (status, body) = get(
        &base,
        "/api/v1/query_range?query=rate(requests_total%5B1m%5D)&start=60&end=120&step=30s",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"job": "api"}, "values": [[60, RATE], [90, RATE], [120, RATE]]}
        ]}})
    );
    let (status, body) = post(
        &base,
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", "0"),
            ("end", "100000"),
            ("step", "1"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"status": "error", "errorType": "bad_data",
               "error": "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})
    );
    let (status, body) = get(&base, "/api/v1/query_range?query=up&start=10&end=0&step=1").await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], "bad_data");
    // Prometheus's whole time range ("all time", as clients send it) and times beyond it
    // are answered, never overflowed.
    let (status, body) = get(
        &base,
        "/api/v1/query_range?query=up&start=-292273086-05-16T16:47:06Z&end=292277025-08-18T07:12:54.999999999Z&step=1",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("exceeded maximum resolution"),
        "{body}"
    );
    for time in ["1e300", "-1e300", "9223372036854775807"] {
        let (status, body) = get(&base, &format!("/api/v1/query?query=up&time={time}")).await;
        assert_eq!(status, 400, "{time}: {body}");
        assert_eq!(body["errorType"], "bad_data", "{time}: {body}");
    }
}

#[tokio::test]
async fn error_bodies() {
    let base = serve().await;
    let (status, body) = get(&base, "/api/v1/query?query=sum(").await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid parameter \"query\": ")
    );
    // The query is parsed once, by the engine, after the other parameters (as
    // Prometheus's NewRangeQuery is): its errors still name the parameter, the type
    // check's too, and a bad timeout is reported before a bad query.
    let (status, body) = get(
        &base,
        "/api/v1/query_range?query=up%5B5m%5D&start=0&end=60&step=15",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
    let (status, body) = get(&base, "/api/v1/query?query=sum(&timeout=soon").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid parameter \"timeout\""),
        "{body}"
    );
    let (status, body) = get(&base, "/api/v1/query?query=up&time=yesterday").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp"
    );
    // Two series become identical once the name is dropped: an execution error.
    let (status, body) = get(
        &base,
        "/api/v1/query?query=label_replace(up%2C%22job%22%2C%22x%22%2C%22%22%2C%22%22)%20*%201&time=300",
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"status": "error", "errorType": "execution",
               "error": "vector cannot contain metrics with the same labelset"})
    );
    let (status, body) = get(&base, "/api/v1/series").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "no match[] parameter provided");
    let (status, body) = get(&base, "/api/v1/label/1bad/values").await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], "bad_data");
}

#[tokio::test]
async fn metadata_endpoints() {
    let base = serve().await;
    let (status, body) = get(&base, "/api/v1/series?match%5B%5D=up&start=0&end=300").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "success", "data": [
            {"__name__": "up", "instance": "h:9100", "job": "api"},
            {"__name__": "up", "instance": "h:9100", "job": "db"}
        ]})
    );
    let (_, body) = post(
        &base,
        "/api/v1/series",
        &[("match[]", "up"), ("limit", "1")],
    )
    .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["warnings"], json!(["results truncated due to limit"]));
    let (_, body) = get(&base, "/api/v1/labels").await;
    assert_eq!(
        body,
        json!({"status": "success", "data": ["__name__", "instance", "job"]})
    );
    let (_, body) = get(&base, "/api/v1/labels?match%5B%5D=requests_total").await;
    assert_eq!(body["data"], json!(["__name__", "job"]));
    let (_, body) = get(&base, "/api/v1/label/job/values").await;
    assert_eq!(body, json!({"status": "success", "data": ["api", "db"]}));
    let (_, body) = get(
        &base,
        "/api/v1/label/__name__/values?match%5B%5D=%7Bjob%3D%22db%22%7D",
    )
    .await;
    assert_eq!(body["data"], json!(["up"]));
    let (status, body) = get(&base, "/api/v1/status/buildinfo").await;
    assert_eq!(status, 200);
    for field in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(body["data"][field].is_string(), "{field} missing: {body}");
    }
    assert_eq!(body["data"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn promtool_can_query() {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    assert!(
        promtool.exists(),
        "/usr/bin/promtool missing: install Debian's prometheus package (make test does)"
    );
    // promtool's series and labels commands look at recent data only.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let origin = now_s - 600;
    let base = serve_from(origin * 1000).await;
    let run = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("/usr/bin/promtool")
            .args(&args)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "{}{}",
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap()
        )
    };
    let out = run(vec![
        "query".into(),
        "instant".into(),
        format!("{base}"),
        r#"up{job="api"}"#.into(),
        format!("--time={}", origin + 300),
    ])
    .await;
    let expected = format!(
        r#"up{{instance="h:9100", job="api"}} => 1 @[{}]"#,
        origin + 300
    );
    assert!(out.contains(&expected), "{out}");
    let out = run(vec![
        "query".into(),
        "range".into(),
        format!("{base}"),
        "sum(up)".into(),
        format!("--start={origin}"),
        format!("--end={}", origin + 60),
        "--step=30s".into(),
    ])
    .await;
    assert!(out.contains(&format!("1 @[{}]", origin + 30)), "{out}");
    let out = run(vec![
        "query".into(),
        "series".into(),
        format!("{base}"),
        "--match=up".into(),
    ])
    .await;
    assert!(out.contains(r#"job="db""#), "{out}");
    let out = run(vec![
        "query".into(),
        "labels".into(),
        format!("{base}"),
        "job".into(),
    ])
    .await;
    assert_eq!(out.trim(), "api\ndb");
}

#[tokio::test]
async fn query_exemplars_in_prometheus_shape() {
    let base = serve().await;
    let text = |q: &'static str| {
        let base = base.clone();
        async move {
            let r = reqwest::get(format!("{base}/api/v1/query_exemplars?{q}"))
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Byte for byte as Prometheus writes it: value as a string, time in seconds.
    let (status, body) =
        text("query=sum(rate(requests_total%5B5m%5D))%20or%20up&start=0&end=300").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":[{"seriesLabels":{"__name__":"requests_total","job":"api"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"1.5","timestamp":15.123},{"labels":{"trace_id":"def"},"value":"2.5","timestamp":115.123}]}]}"#
    );
    // Within [start, end] only.
    let (_, body) = text("query=requests_total&start=100&end=200").await;
    assert!(body.contains("def") && !body.contains("abc"), "{body}");
    let (_, body) = text("query=requests_total%7Bjob%3D%22db%22%7D").await;
    assert_eq!(body, r#"{"status":"success","data":[]}"#);
    // No selector: no content, as Prometheus.
    let (status, body) = text("query=1%2B1").await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, body) = text("query=sum(").await;
    assert_eq!(status, 400);
    assert!(body.contains("bad_data"), "{body}");
    let (status, _) = text("query=up&start=10&end=5").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn more_endpoints_take_get_and_post() {
    let base = serve().await;
    let (status, body) = post(
        &base,
        "/api/v1/label/job/values",
        &[("match[]", "up"), ("limit", "1")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "success", "data": ["api"], "warnings": ["results truncated due to limit"]})
    );
    let (_, body) = post(&base, "/api/v1/labels", &[("match[]", "requests_total")]).await;
    assert_eq!(body["data"], json!(["__name__", "job"]));
    let (status, body) = post(
        &base,
        "/api/v1/query_exemplars",
        &[("query", "up"), ("start", "0"), ("end", "300")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "success", "data": []}));
    let (status, _) = get(&base, "/api/v1/query_exemplars?query=sum(").await;
    assert_eq!(status, 400);
    let (status, body) = get(
        &base,
        "/api/v1/format_query?query=sum%20by(job)(rate(up%5B5m%5D))%2B1",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "success", "data": "sum by (job) (rate(up[5m])) + 1"})
    );
    let (_, body) = post(&base, "/api/v1/format_query", &[("query", "up  >  bool 1")]).await;
    assert_eq!(body["data"], "up > bool 1");
    let (status, body) = get(&base, "/api/v1/format_query?query=up%7B").await;
    assert_eq!(
        (status, body["errorType"].as_str()),
        (400, Some("bad_data"))
    );
}

#[tokio::test]
async fn tier_header_and_stats() {
    let base = serve().await;
    let resp = reqwest::get(format!(
        "{base}/api/v1/query_range?query=sum(up)&start=0&end=300&step=60&stats=all"
    ))
    .await
    .unwrap();
    assert_eq!(resp.headers()["x-telltale-tier"], "raw");
    let body: Json = resp.json().await.unwrap();
    assert_eq!(body["data"]["resultType"], "matrix");
    assert_eq!(body["data"]["stats"]["tier"], "raw");
    assert_eq!(body["data"]["stats"]["tiers"], json!(["raw"]));
    // 2 series x 21 samples in [0, 300].
    assert_eq!(
        body["data"]["stats"]["samples"]["totalQueryableSamples"],
        42
    );
    assert!(body["data"]["stats"]["timings"]["execTotalTime"].is_number());
    // Without `stats` there is no stats block.
    let (_, body) = get(&base, "/api/v1/query?query=up&time=300").await;
    assert!(body["data"].get("stats").is_none());
    // A query reading nothing still names a tier.
    let resp = reqwest::get(format!("{base}/api/v1/query?query=1%2B1&time=1"))
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-telltale-tier"], "raw");
}

#[tokio::test]
async fn lookback_delta_parameter() {
    let base = serve().await;
    // The last samples are at 300s: seen 4m later with the default 5m lookback...
    let (_, body) = get(&base, "/api/v1/query?query=up&time=540").await;
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 2);
    // ...but not with a 1m lookback.
    let (status, body) = get(&base, "/api/v1/query?query=up&time=540&lookback_delta=1m").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["result"], json!([]));
    let (status, body) = get(&base, "/api/v1/query?query=up&lookback_delta=x").await;
    assert_eq!(
        (status, body["errorType"].as_str()),
        (400, Some("bad_data"))
    );
}
