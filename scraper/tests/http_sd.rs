//! `httpSd` (Prometheus's `http_sd_configs`) against a real HTTP server on 127.0.0.1
//! serving a changing target list: targets follow the list, carry `__meta_url` into
//! relabeling, survive a failing endpoint, and go (stale) when the list empties.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{Exporter, MemoryWriter, scrape_targets, series_named};
use telltale_model::is_stale_nan;
use telltale_scraper::ScrapeManager;

fn groups(targets: &[String], rack: &str) -> String {
    let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        r#"[{{"targets": [{}], "labels": {{"rack": "{rack}"}}}}]"#,
        list.join(", ")
    )
}

async fn wait_until(what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn http_sd_targets_follow_the_endpoint() {
    let one = Exporter::start("from_http 1\n").await;
    let two = Exporter::start("from_http 2\n").await;
    let sd = Exporter::start(&groups(&[one.addr.to_string()], "r1")).await;
    sd.set_content_type("application/json");
    let url = format!("http://{}/targets", sd.addr);

    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let yaml = format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: http}}\n\
spec:\n  interval: 100ms\n  scrapeTimeout: 100ms\n  httpSd: [{{url: '{url}', refreshInterval: 100ms}}]\n  \
relabelings: [{{sourceLabels: [__meta_url], targetLabel: sd_url}}]\n"
    );
    manager.apply(&scrape_targets(&yaml));
    writer
        .wait_for("the first HTTP target", |b| {
            !series_named(b, "from_http").is_empty()
        })
        .await;
    let first = series_named(&writer.batches(), "from_http")[0].clone();
    assert_eq!(first.label("rack"), Some("r1"));
    assert_eq!(first.label("sd_url"), Some(url.as_str()));
    assert_eq!(first.label("job"), Some("http"));
    let asked = &sd.seen()[0];
    assert_eq!(asked.uri.path(), "/targets");
    assert_eq!(
        asked.headers["x-prometheus-refresh-interval-seconds"],
        "0.1"
    );

    // The list changes: the new target is scraped, the old one goes stale.
    sd.set_body(&groups(&[two.addr.to_string()], "r2"));
    writer
        .wait_for("the second HTTP target", |b| {
            series_named(b, "from_http")
                .iter()
                .any(|s| s.samples[0].value == 2.0 && s.label("rack") == Some("r2"))
        })
        .await;
    writer
        .wait_for("the first target's staleness marker", |b| {
            series_named(b, "from_http")
                .iter()
                .any(|s| s.label("rack") == Some("r1") && is_stale_nan(s.samples[0].value))
        })
        .await;
    assert_eq!(manager.targets().len(), 1);

    // A failing endpoint keeps the last good targets.
    sd.set_status(StatusCode::INTERNAL_SERVER_ERROR);
    let asked = sd.seen().len();
    wait_until("three failed refreshes", || sd.seen().len() >= asked + 3).await;
    assert_eq!(manager.targets().len(), 1);
    assert_eq!(manager.targets()[0].target.address, two.addr.to_string());
    // So does an answer that is not JSON.
    sd.set_status(StatusCode::OK);
    sd.set_content_type("text/plain");
    let asked = sd.seen().len();
    wait_until("two more refreshes", || sd.seen().len() >= asked + 2).await;
    assert_eq!(manager.targets().len(), 1);

    // An empty list removes every target.
    sd.set_content_type("application/json; charset=utf-8");
    sd.set_body("[]");
    wait_until("no targets", || manager.targets().is_empty()).await;
    writer
        .wait_for("the second target's staleness marker", |b| {
            series_named(b, "from_http")
                .iter()
                .any(|s| s.label("rack") == Some("r2") && is_stale_nan(s.samples[0].value))
        })
        .await;
    manager.shutdown();
}
