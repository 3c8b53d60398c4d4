//! Long history with the real binary. Rollup tiers as configuration: a standalone with
//! `--rollup-tiers 5m:…,1d:…` keeps exactly those tiers and its queries are answered
//! from them. The cold tier, with a real S3 API server (moto): a standalone given
//! `--cold-storage.url s3://…` moves days past `--cold-after` to the bucket (uploaded,
//! read back and checked, then moved through its Raft log), and a 10-day dashboard query
//! mixing cold and local days answers as it did before the move — and after a restart,
//! when the read cache is empty and the objects are fetched again.

mod common;
#[path = "../backup/tests/common/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use common::remote_write::{acknowledged, series};
use common::{Telltale, now_ms};

const METRIC: &str = "cold_e2e";
const DAY: i64 = 86_400_000;
const STEP: i64 = 300_000;

/// `/api/v1/query_range`: the data section and the `X-Telltale-Tier` header.
async fn query_range_tier(
    t: &Telltale,
    expr: &str,
    start: i64,
    end: i64,
    step: &str,
) -> (serde_json::Value, String) {
    let resp = reqwest::Client::new()
        .get(t.url("/api/v1/query_range"))
        .query(&[
            ("query", expr),
            ("start", &(start / 1000).to_string()),
            ("end", &(end / 1000).to_string()),
            ("step", step),
        ])
        .send()
        .await
        .unwrap();
    let tier = resp
        .headers()
        .get("X-Telltale-Tier")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success", "{expr}: {body}");
    (body["data"].clone(), tier)
}

/// `/api/v1/query_range` result as JSON text (the whole data section).
async fn query_range(t: &Telltale, expr: &str, start: i64, end: i64, step: &str) -> String {
    query_range_tier(t, expr, start, end, step)
        .await
        .0
        .to_string()
}

/// The answers compared: raw samples of a cold day, minute and hour rollups over the
/// whole span, and an instant read of a cold day.
async fn answers(t: &Telltale, start: i64, end: i64) -> Vec<String> {
    vec![
        query_range(t, METRIC, start + DAY, start + DAY + 3_600_000, "60").await,
        query_range(
            t,
            &format!("sum by (instance) (rate({METRIC}[1h]))"),
            start,
            end,
            "3600",
        )
        .await,
        query_range(
            t,
            &format!("max_over_time({METRIC}[1d])"),
            start + DAY,
            end,
            "86400",
        )
        .await,
        query_range(
            t,
            &format!("avg_over_time({METRIC}[5m])"),
            start + 2 * DAY,
            start + 3 * DAY,
            "300",
        )
        .await,
    ]
}

/// The value of the standalone's own metric `name{labels}` (0 when absent).
async fn own_metric(t: &Telltale, name_and_labels: &str) -> f64 {
    let text = common::get_text(&t.url("/metrics")).await;
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn wait_for(t: &Telltale, what: &str, name_and_labels: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = own_metric(t, name_and_labels).await;
        if got >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {name_and_labels} is {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Keys under `prefix` in `bucket` (S3 ListObjectsV2, unsigned: moto takes it).
async fn objects(endpoint: &str, bucket: &str, prefix: &str) -> usize {
    let xml = reqwest::get(format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    xml.matches("<Key>").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_over_cold_and_local_days_answers_as_before_the_move() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let moto = moto::Moto::start().await;
    moto.create_bucket("cold").await;
    let env: Vec<(String, String)> = moto.env();

    // Ten days of three series at 5-minute steps, ending now, written as backfill.
    let end = now_ms() / STEP * STEP;
    let start = (end - 10 * DAY) / DAY * DAY;
    let local = Telltale::start(&data, &["--retention-raw", "30d"]).await;
    let mut batch = Vec::new();
    for inst in ["a", "b", "c"] {
        let mut t = start;
        let mut i = 0.0;
        while t <= end {
            i += 1.0;
            batch.push(series(
                &[("__name__", METRIC), ("instance", inst)],
                t,
                i * 2.0 + (t % 7) as f64,
            ));
            if batch.len() == 2_000 {
                assert!(acknowledged(&local.url(""), std::mem::take(&mut batch)).await);
            }
            t += STEP;
        }
    }
    assert!(acknowledged(&local.url(""), batch).await);
    // Hour rollups complete for the days before today (the maintenance computes 48
    // windows a second).
    let today = end / DAY * DAY;
    wait_for(
        &local,
        "hour rollups",
        "telltale_storage_rollup_complete_until_timestamp_seconds{tier=\"1h\"}",
        (today / 1000) as f64,
    )
    .await;
    let before = answers(&local, start, end).await;
    for a in &before {
        assert_eq!(a.matches("\"instance\"").count(), 3, "three series: {a}");
    }
    drop(local);

    let flags = [
        "--retention-raw",
        "30d",
        "--cold-storage.url",
        "s3://cold/telltale",
        "--cold-after",
        "raw:3d,1m:4d",
        "--cold-storage.move-interval",
        "1s",
        "--cold-storage.cache-size",
        "1MB",
    ];
    let env_ref: Vec<(&str, &std::path::Path)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), std::path::Path::new(v.as_str())))
        .collect();
    let cold = Telltale::start_env(&data, &flags, &env_ref).await;
    // Raw days before today - 3 and minute days before today - 4 move: at least 7 and 6.
    wait_for(
        &cold,
        "raw days moved",
        "telltale_storage_cold_days{tier=\"raw\"}",
        7.0,
    )
    .await;
    wait_for(
        &cold,
        "minute days moved",
        "telltale_storage_cold_days{tier=\"1m\"}",
        6.0,
    )
    .await;
    assert!(objects(&moto.endpoint, "cold", "telltale/shard-0/raw/").await >= 7);
    assert!(objects(&moto.endpoint, "cold", "telltale/shard-0/1m/").await >= 6);
    assert_eq!(
        answers(&cold, start, end).await,
        before,
        "answers after the move"
    );
    drop(cold);

    // A restart empties the cache: the same answers from objects fetched again.
    let again = Telltale::start_env(&data, &flags, &env_ref).await;
    assert_eq!(
        answers(&again, start, end).await,
        before,
        "answers after a restart"
    );
    assert!(
        own_metric(&again, "telltale_storage_cold_cache_bytes").await > 0.0 || {
            // The gauge refreshes every 10 s; the cache directory says the same.
            std::fs::read_dir(data.join("cold-cache")).unwrap().count() > 0
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_rollup_tiers_are_kept_and_answer_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Telltale::start(
        &tmp.path().join("data"),
        &["--retention-raw", "2d", "--rollup-tiers", "5m:90d,1d:3y"],
    )
    .await;
    // Ten days of one counter rising by 1 every 5 minutes, ending now.
    let end = now_ms() / STEP * STEP;
    let start = (end - 10 * DAY) / DAY * DAY;
    let samples: Vec<_> = (0..=(end - start) / STEP)
        .map(|i| series(&[("__name__", METRIC)], start + i * STEP, i as f64))
        .collect();
    for chunk in samples.chunks(2_000) {
        assert!(acknowledged(&t.url(""), chunk.to_vec()).await);
    }
    let today = end / DAY * DAY;
    wait_for(
        &t,
        "day rollups",
        "telltale_storage_rollup_complete_until_timestamp_seconds{tier=\"1d\"}",
        (today / 1000) as f64,
    )
    .await;
    // Only the tiers configured are kept.
    let metrics = common::get_text(&t.url("/metrics")).await;
    assert!(
        !metrics.contains("telltale_storage_disk_bytes{tier=\"1m\"}"),
        "no 1m tier"
    );
    assert!(metrics.contains("telltale_storage_disk_bytes{tier=\"5m\"}"));

    // A day step over days past raw retention: day points; each day's increase is the
    // 288 steps of the day.
    let (data, tier) = query_range_tier(
        &t,
        &format!("increase({METRIC}[1d])"),
        start + 2 * DAY,
        start + 6 * DAY,
        "86400",
    )
    .await;
    assert_eq!(tier, "1d", "{data}");
    let values = data["result"][0]["values"].as_array().unwrap().clone();
    assert_eq!(values.len(), 5, "{data}");
    for v in values {
        assert_eq!(v[1].as_str().unwrap(), "288", "{data}");
    }
    // An hour step: five-minute points; a rate of one per 300 s.
    let (data, tier) = query_range_tier(
        &t,
        &format!("rate({METRIC}[1h])"),
        start + 3 * DAY,
        start + 3 * DAY + 6 * 3_600_000,
        "3600",
    )
    .await;
    assert_eq!(tier, "5m", "{data}");
    for v in data["result"][0]["values"].as_array().unwrap() {
        let rate: f64 = v[1].as_str().unwrap().parse().unwrap();
        assert!((rate - 1.0 / 300.0).abs() < 1e-9, "{data}");
    }
}
