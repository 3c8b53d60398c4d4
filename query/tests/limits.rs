//! Every limit of the engine and the API, each with its error.

use std::sync::Arc;
use std::time::Duration;

use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Error, router};
use telltale_storage_api::{
    InfoResponse, LabelNamesRequest, LabelValuesRequest, Result as StorageResult, SampleReader,
    SelectRequest, SeriesChunks, SeriesRequest, TimeSeries,
};

/// Two series `x{i="1"|"2"}`, a sample every 15s for 10 minutes.
fn reader() -> MemoryReader {
    let r = MemoryReader::new();
    for i in ["1", "2"] {
        let pts: Vec<(i64, f64)> = (0..=40).map(|k| (k * 15_000, k as f64)).collect();
        r.add(&[("__name__", "x"), ("i", i)], &pts);
    }
    r
}

/// A reader that takes `delay` to answer each select.
struct Slow {
    inner: MemoryReader,
    delay: Duration,
}

#[async_trait::async_trait]
impl SampleReader for Slow {
    async fn select(&self, req: SelectRequest) -> StorageResult<Vec<SeriesChunks>> {
        tokio::time::sleep(self.delay).await;
        self.inner.select(req).await
    }
    async fn info(&self) -> StorageResult<InfoResponse> {
        self.inner.info().await
    }
    async fn series(&self, req: SeriesRequest) -> StorageResult<Vec<TimeSeries>> {
        self.inner.series(req).await
    }
    async fn label_names(&self, req: LabelNamesRequest) -> StorageResult<Vec<String>> {
        self.inner.label_names(req).await
    }
    async fn label_values(&self, req: LabelValuesRequest) -> StorageResult<Vec<String>> {
        self.inner.label_values(req).await
    }

    async fn exemplars(
        &self,
        req: telltale_storage_api::ExemplarsRequest,
    ) -> StorageResult<Vec<telltale_storage_api::SeriesExemplars>> {
        self.inner.exemplars(req).await
    }
}

fn engine_with(reader: Arc<dyn SampleReader>, opts: EngineOptions) -> Engine {
    Engine::new(reader, opts, &prometheus::Registry::new())
}

#[tokio::test]
async fn query_timeout() {
    let slow = Arc::new(Slow {
        inner: reader(),
        delay: Duration::from_millis(300),
    });
    let e = engine_with(
        slow,
        EngineOptions {
            timeout: Duration::from_millis(50),
            ..EngineOptions::default()
        },
    );
    let err = e.instant_query("x", 60_000).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!((err.error_type(), err.http_status()), ("timeout", 503));
    assert_eq!(err.to_string(), "query timed out in query execution");
    // A per-query timeout shorter than the engine's applies too.
    let e = engine_with(Arc::new(reader()), EngineOptions::default());
    let err = e
        .range_query_with_timeout("x", 0, 600_000, 1_000, Some(Duration::from_nanos(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn max_samples_loaded() {
    let e = engine_with(
        Arc::new(reader()),
        EngineOptions {
            max_samples: 30,
            ..EngineOptions::default()
        },
    );
    // 2 series x 20 samples in (5m, 10m].
    let err = e
        .instant_query("max_over_time(x[5m])", 600_000)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    assert_eq!((err.error_type(), err.http_status()), ("execution", 422));
    // Under the limit: fine.
    assert!(
        e.instant_query("max_over_time(x[1m])", 600_000)
            .await
            .is_ok()
    );
    // Produced samples count too: 2 series x 61 steps.
    let err = e.range_query("x", 0, 600_000, 10_000).await.unwrap_err();
    assert!(matches!(err, Error::TooManySamples { .. }), "{err}");
}

#[tokio::test]
async fn max_series_per_select() {
    let e = engine_with(
        Arc::new(reader()),
        EngineOptions {
            max_series_per_select: 1,
            ..EngineOptions::default()
        },
    );
    let err = e.instant_query("x", 60_000).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the query exceeded the maximum number of series per select (limit: 1)"
    );
    assert_eq!(err.http_status(), 422);
    assert!(e.instant_query(r#"x{i="1"}"#, 60_000).await.is_ok());
}

#[tokio::test]
async fn max_points_per_series() {
    let e = engine_with(
        Arc::new(reader()),
        EngineOptions {
            max_points_per_series: 10,
            ..EngineOptions::default()
        },
    );
    assert!(e.range_query("x", 0, 100_000, 10_000).await.is_ok());
    let err = e.range_query("x", 0, 110_000, 10_000).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "exceeded maximum resolution of 10 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );
    assert_eq!(err.error_type(), "bad_data");
    let default = engine_with(Arc::new(reader()), EngineOptions::default());
    let err = default
        .range_query("x", 0, 11_001_000, 1_000)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("exceeded maximum resolution of 11,000 points")
    );
}

#[tokio::test]
async fn concurrent_queries_queue_then_refuse() {
    let slow = Arc::new(Slow {
        inner: reader(),
        delay: Duration::from_millis(400),
    });
    let e = engine_with(
        slow,
        EngineOptions {
            max_concurrent_queries: 1,
            max_queued_queries: 1,
            ..EngineOptions::default()
        },
    );
    let running = tokio::spawn({
        let e = e.clone();
        async move { e.instant_query("x", 60_000).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let queued = tokio::spawn({
        let e = e.clone();
        async move { e.instant_query("x", 60_000).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = e.instant_query("x", 60_000).await.unwrap_err();
    assert!(matches!(err, Error::TooManyQueries { .. }), "{err}");
    assert_eq!((err.error_type(), err.http_status()), ("unavailable", 503));
    assert_eq!(
        err.to_string(),
        "too many concurrent queries: 1 running and 1 queued; try again later"
    );
    // The running and the queued query both complete.
    assert!(running.await.unwrap().is_ok());
    assert!(queued.await.unwrap().is_ok());
    // With the slot free again, a new query runs.
    assert!(e.instant_query("x", 60_000).await.is_ok());
}

#[tokio::test]
async fn request_body_size() {
    let e = engine_with(
        Arc::new(reader()),
        EngineOptions {
            max_request_body_bytes: 256,
            ..EngineOptions::default()
        },
    );
    let app = router(Arc::new(e));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let small = client
        .post(format!("http://{addr}/api/v1/query"))
        .form(&[("query", "x"), ("time", "60")])
        .send()
        .await
        .unwrap();
    assert_eq!(small.status().as_u16(), 200);
    let long = format!("x{{i=~\"{}\"}}", "a|".repeat(200));
    let big = client
        .post(format!("http://{addr}/api/v1/query"))
        .form(&[("query", long.as_str()), ("time", "60")])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    let body: serde_json::Value = big.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "error", "errorType": "bad_data",
            "error": "request body too large: more than 256 bytes"})
    );
}
