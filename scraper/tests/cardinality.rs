//! Cardinality control through the public API: limits on new series, the churn metrics
//! and `/api/v1/status/tsdb`, with samples pushed over remote_write.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MemoryWriter, serve_app};
use prost::Message;
use telltale_scraper::push::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
use telltale_scraper::{CardinalityLimits, CardinalityWriter, PushOptions, ScrapeManager, router};
use telltale_storage_api::SampleWriter;

fn request(instance: &str, ids: std::ops::Range<u32>) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let label = |n: &str, v: &str| Label {
        name: n.into(),
        value: v.into(),
    };
    let req = WriteRequest {
        timeseries: ids
            .map(|i| TimeSeries {
                labels: vec![
                    label("__name__", if i % 2 == 0 { "even" } else { "odd" }),
                    label("id", &i.to_string()),
                    label("instance", instance),
                    label("job", "push"),
                ],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: now,
                }],
                ..Default::default()
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

struct Setup {
    base: String,
    storage: Arc<MemoryWriter>,
    registry: prometheus::Registry,
    client: reqwest::Client,
}

async fn setup(limits: CardinalityLimits) -> Setup {
    let storage = MemoryWriter::new();
    let registry = prometheus::Registry::new();
    let writer = CardinalityWriter::new(storage.clone(), limits, &registry);
    let manager = ScrapeManager::new(writer.clone(), &registry);
    let app = router(
        manager,
        writer.clone() as Arc<dyn SampleWriter>,
        PushOptions::default(),
    )
    .merge(writer.router());
    Setup {
        base: serve_app(app).await,
        storage,
        registry,
        client: reqwest::Client::new(),
    }
}

impl Setup {
    async fn push(&self, body: Vec<u8>) -> (u16, String) {
        let r = self
            .client
            .post(format!("{}/api/v1/write", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    fn metric(&self, name: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric().to_vec())
            .map(|m| m.get_counter().value() + m.get_gauge().value())
            .sum()
    }

    fn stored(&self) -> usize {
        self.storage.batches().iter().map(Vec::len).sum()
    }
}

#[tokio::test]
async fn per_target_limit_refuses_new_series_and_says_so() {
    let s = setup(CardinalityLimits {
        per_target_new_series: 5,
        interval: Duration::from_secs(3600),
        ..CardinalityLimits::default()
    })
    .await;
    let (status, body) = s.push(request("a", 0..8)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("3 new series (3 samples) refused, 5 samples written"),
        "{body}"
    );
    assert!(body.contains("per-target limit of 5"), "{body}");
    assert_eq!(s.stored(), 5);
    // Known series still pass; another target has its own budget.
    let (status, body) = s.push(request("a", 0..5)).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = s.push(request("b", 0..5)).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(s.metric("telltale_scraper_series_created_total"), 10.0);
    assert_eq!(s.metric("telltale_scraper_series_rejected_total"), 3.0);
    assert_eq!(s.metric("telltale_scraper_active_series"), 10.0);
}

#[tokio::test]
async fn global_limit_and_tsdb_status() {
    let s = setup(CardinalityLimits {
        global_new_series: 12,
        interval: Duration::from_secs(3600),
        ..CardinalityLimits::default()
    })
    .await;
    let (status, _) = s.push(request("a", 0..8)).await;
    assert_eq!(status, 204);
    let (status, body) = s.push(request("b", 0..8)).await;
    assert_eq!(status, 400);
    assert!(body.contains("global limit of 12"), "{body}");

    let json: serde_json::Value = s
        .client
        .get(format!("{}/api/v1/status/tsdb?limit=3", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["status"], "success");
    let data = &json["data"];
    assert_eq!(data["headStats"]["numSeries"], 12);
    let by_metric = data["seriesCountByMetricName"].as_array().unwrap();
    assert_eq!(
        by_metric[0],
        serde_json::json!({"name": "even", "value": 6})
    );
    assert_eq!(by_metric[1], serde_json::json!({"name": "odd", "value": 6}));
    let pairs = data["seriesCountByLabelValuePair"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    assert_eq!(
        pairs[0],
        serde_json::json!({"name": "job=push", "value": 12})
    );
    assert_eq!(
        pairs[1],
        serde_json::json!({"name": "instance=a", "value": 8})
    );
    let names = data["labelValueCountByLabelName"].as_array().unwrap();
    assert_eq!(names[0], serde_json::json!({"name": "id", "value": 8}));
}

/// A scrape's batch (label sets shared with the scrape cache) goes to storage as it is
/// when nothing in it is refused, and without the refused series, in order, when some
/// are; the write then fails saying so.
#[tokio::test]
async fn a_shared_batch_loses_only_its_refused_series() {
    use telltale_storage_api::{Label as StorageLabel, SeriesLabels, SharedSample};
    let storage = MemoryWriter::new();
    let registry = prometheus::Registry::new();
    let limits = CardinalityLimits {
        per_target_new_series: 3,
        ..CardinalityLimits::default()
    };
    let writer = CardinalityWriter::new(storage.clone(), limits, &registry);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let sample = |id: u32| SharedSample {
        series: Arc::new(SeriesLabels::new(vec![
            StorageLabel::new("__name__", "m"),
            StorageLabel::new("id", id.to_string()),
            StorageLabel::new("instance", "a"),
            StorageLabel::new("job", "scrape"),
        ])),
        timestamp_ms: now,
        value: f64::from(id),
    };
    let first: Vec<_> = (0..3).map(sample).collect();
    assert_eq!(writer.write_shared(&first).await.unwrap(), 3);
    // The known series again, with two new ones past the limit between them.
    let second = vec![
        first[0].clone(),
        sample(10),
        first[1].clone(),
        sample(11),
        first[2].clone(),
    ];
    let err = writer.write_shared(&second).await.unwrap_err().to_string();
    assert!(
        err.contains("2 new series (2 samples) refused, 3 samples written"),
        "{err}"
    );
    let values = |b: &[telltale_storage_api::TimeSeries]| {
        b.iter().map(|ts| ts.samples[0].value).collect::<Vec<_>>()
    };
    let batches = storage.batches();
    assert_eq!(batches.len(), 2);
    assert_eq!(values(&batches[0]), [0.0, 1.0, 2.0]);
    assert_eq!(values(&batches[1]), [0.0, 1.0, 2.0]);
    assert_eq!(
        registry
            .gather()
            .iter()
            .find(|f| f.name() == "telltale_scraper_series_created_total")
            .map(|f| f.get_metric()[0].get_counter().value()),
        Some(3.0)
    );
}
