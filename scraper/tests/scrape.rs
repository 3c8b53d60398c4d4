//! Scrape loops end to end: a local exporter, the ScrapeManager, an in-memory writer.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Exporter, MemoryWriter, scrape_targets, series_named, serve_app};
use telltale_model::{STALE_NAN, is_stale_nan};
use telltale_scraper::{PushOptions, ScrapeManager, router};

const BODY: &str = "# HELP requests_total Requests.\n\
# TYPE requests_total counter\n\
requests_total{code=\"200\",job=\"inner\"} 10\n\
temperature 21.5 1234\n";

fn target_yaml(name: &str, addrs: &[String], interval: &str, timeout: &str) -> String {
    let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: {name}, namespace: mon}}\n\
spec:\n  interval: {interval}\n  scrapeTimeout: {timeout}\n  params: {{module: [x]}}\n  \
static: [{{targets: [{}], labels: {{env: test}}}}]\n",
        list.join(", ")
    )
}

#[tokio::test]
async fn scrape_adds_target_labels_and_report_series() {
    let exporter = Exporter::start(BODY).await;
    let writer = MemoryWriter::new();
    let registry = prometheus::Registry::new();
    let manager = ScrapeManager::new(writer.clone(), &registry);
    let addr = exporter.addr.to_string();
    manager.apply(&scrape_targets(&target_yaml(
        "app",
        std::slice::from_ref(&addr),
        "200ms",
        "150ms",
    )));

    writer.wait_for("one scrape", |b| !b.is_empty()).await;
    let batch = writer.batches()[0].clone();
    assert_eq!(batch.len(), 7, "2 scraped + 5 report series: {batch:?}");
    let ts = batch[0].samples[0].timestamp_ms;
    assert!(
        batch
            .iter()
            .filter(|s| s.label("__name__") != Some("temperature"))
            .all(|s| s.samples.len() == 1 && s.samples[0].timestamp_ms == ts)
    );

    let req = series_named(std::slice::from_ref(&batch), "requests_total")[0];
    assert_eq!(req.label("job"), Some("app"));
    assert_eq!(req.label("exported_job"), Some("inner"));
    assert_eq!(req.label("instance"), Some(addr.as_str()));
    assert_eq!(req.label("env"), Some("test"));
    assert_eq!(req.label("code"), Some("200"));
    assert_eq!(req.samples[0].value, 10.0);
    // The exposition timestamp is honored by default (honorTimestamps: true).
    let temp = series_named(std::slice::from_ref(&batch), "temperature")[0];
    assert_eq!(temp.samples[0].timestamp_ms, 1234);

    let value = |name: &str| series_named(std::slice::from_ref(&batch), name)[0].samples[0].value;
    assert_eq!(value("up"), 1.0);
    assert_eq!(value("scrape_samples_scraped"), 2.0);
    assert_eq!(value("scrape_samples_post_metric_relabeling"), 2.0);
    assert_eq!(value("scrape_series_added"), 2.0);
    let d = value("scrape_duration_seconds");
    assert!((0.0..0.15).contains(&d), "duration {d}");
    let up = series_named(std::slice::from_ref(&batch), "up")[0];
    assert_eq!(up.label("job"), Some("app"));
    assert_eq!(up.label("instance"), Some(addr.as_str()));

    let seen = exporter.seen();
    let first = &seen[0];
    assert_eq!(first.uri.path(), "/metrics");
    assert_eq!(first.uri.query(), Some("module=x"));
    assert_eq!(
        first.headers["accept"].to_str().unwrap(),
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
         application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
         application/openmetrics-text;version=0.0.1;q=0.4,\
         text/plain;version=1.0.0;escaping=underscores;q=0.3,\
         text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
    assert!(
        first.headers["accept-encoding"]
            .to_str()
            .unwrap()
            .contains("gzip")
    );
    assert_eq!(
        first.headers["x-prometheus-scrape-timeout-seconds"]
            .to_str()
            .unwrap(),
        "0.15"
    );

    let scrapes: f64 = registry
        .gather()
        .iter()
        .filter(|f| f.name() == "telltale_scrapes_total")
        .flat_map(|f| f.get_metric().to_vec())
        .map(|m| m.get_counter().value())
        .sum();
    assert!(scrapes >= 1.0);

    // /api/v1/targets shows the target as up.
    let base = serve_app(router(
        manager.clone(),
        writer.clone(),
        PushOptions::default(),
    ))
    .await;
    let v: serde_json::Value = reqwest::get(format!("{base}/api/v1/targets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["health"], "up", "{v}");
    assert_eq!(t["scrapePool"], "mon/app");
    assert_eq!(t["labels"]["instance"], addr.as_str());
    assert_eq!(t["scrapeUrl"], format!("http://{addr}/metrics?module=x"));
    assert_eq!(t["lastError"], "");
    manager.shutdown();
    manager.stopped().await;
}

#[tokio::test]
async fn failing_and_unreachable_targets_are_down() {
    let exporter = Exporter::start(BODY).await;
    exporter.set_status(StatusCode::INTERNAL_SERVER_ERROR);
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let addrs = [exporter.addr.to_string(), closed.clone()];
    manager.apply(&scrape_targets(&target_yaml(
        "bad", &addrs, "200ms", "100ms",
    )));

    writer
        .wait_for("both targets reported", |b| {
            series_named(b, "up")
                .iter()
                .map(|s| s.label("instance"))
                .collect::<std::collections::HashSet<_>>()
                .len()
                == 2
        })
        .await;
    let batches = writer.batches();
    for up in series_named(&batches, "up") {
        assert_eq!(up.samples[0].value, 0.0, "{up:?}");
    }
    for n in series_named(&batches, "scrape_samples_scraped") {
        assert_eq!(n.samples[0].value, 0.0);
    }
    assert!(series_named(&batches, "requests_total").is_empty());

    let states = manager.targets();
    assert_eq!(states.len(), 2);
    for s in &states {
        assert_eq!(s.health.health.as_str(), "down");
    }
    let by_addr = |a: &str| {
        states
            .iter()
            .find(|s| s.target.address == a)
            .unwrap()
            .health
            .last_error
            .clone()
            .unwrap()
    };
    let http_err = by_addr(&exporter.addr.to_string());
    assert!(http_err.contains("500"), "{http_err}");
    let conn_err = by_addr(&closed);
    assert!(conn_err.contains(&closed), "{conn_err}");
    manager.shutdown();
}

#[tokio::test]
async fn interval_is_respected() {
    let exporter = Exporter::start(BODY).await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    manager.apply(&scrape_targets(&target_yaml(
        "tick",
        &[exporter.addr.to_string()],
        "200ms",
        "100ms",
    )));
    writer.wait_for("first scrape", |b| !b.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    manager.shutdown();
    manager.stopped().await;

    let seen = exporter.seen();
    assert!(
        (4..=7).contains(&seen.len()),
        "{} scrapes in ~1.0-1.2 s at a 200 ms interval",
        seen.len()
    );
    for w in seen.windows(2) {
        let gap = w[1].at - w[0].at;
        // A tick delayed by load is followed by the next on schedule: allow some slack.
        assert!(gap >= Duration::from_millis(100), "scrapes {gap:?} apart");
    }
    let ups = series_named(&writer.batches(), "up")
        .iter()
        .filter(|s| !is_stale_nan(s.samples[0].value))
        .map(|s| s.samples[0].timestamp_ms)
        .collect::<Vec<_>>();
    for w in ups.windows(2) {
        assert!(w[1] - w[0] >= 100, "timestamps {ups:?}");
    }
}

#[tokio::test]
async fn vanished_series_and_removed_targets_get_staleness_markers() {
    let exporter = Exporter::start("a 1\nb 2\n").await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let resources = scrape_targets(&target_yaml(
        "st",
        &[exporter.addr.to_string()],
        "100ms",
        "100ms",
    ));
    manager.apply(&resources);
    writer
        .wait_for("b scraped", |b| !series_named(b, "b").is_empty())
        .await;
    exporter.set_body("a 1\n");
    writer
        .wait_for("b stale", |b| {
            series_named(b, "b")
                .iter()
                .any(|s| is_stale_nan(s.samples[0].value))
        })
        .await;
    // The marker is written once, and `a` keeps its real value meanwhile.
    let batches = writer.batches();
    let stale_b = series_named(&batches, "b")
        .iter()
        .filter(|s| is_stale_nan(s.samples[0].value))
        .count();
    assert_eq!(stale_b, 1);
    assert!(
        series_named(&batches, "a")
            .iter()
            .all(|s| s.samples[0].value == 1.0)
    );

    // Re-applying the same resources changes nothing; an empty set stops the loop, which
    // marks everything it wrote stale.
    manager.apply(&resources);
    assert_eq!(manager.targets().len(), 1);
    manager.apply(&[]);
    manager.stopped().await;
    assert!(manager.targets().is_empty());
    let last = writer.batches().last().unwrap().clone();
    let mut names: Vec<&str> = last.iter().filter_map(|s| s.label("__name__")).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a",
            "scrape_duration_seconds",
            "scrape_samples_post_metric_relabeling",
            "scrape_samples_scraped",
            "scrape_series_added",
            "up"
        ]
    );
    assert!(
        last.iter()
            .all(|s| s.samples[0].value.to_bits() == STALE_NAN.to_bits())
    );
}

#[tokio::test]
async fn apply_starts_updates_and_stops_loops() {
    let one = Exporter::start("x 1\n").await;
    let two = Exporter::start("y 1\n").await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let both = [one.addr.to_string(), two.addr.to_string()];
    manager.apply(&scrape_targets(&target_yaml("r", &both, "10s", "1s")));
    assert_eq!(manager.targets().len(), 2);
    assert!(
        manager
            .targets()
            .iter()
            .all(|t| t.target.interval == Duration::from_secs(10))
    );

    // Drop `two`, speed `one` up: its loop is updated in place and scrapes quickly.
    manager.apply(&scrape_targets(&target_yaml(
        "r",
        &[one.addr.to_string()],
        "100ms",
        "100ms",
    )));
    manager.stopped().await;
    let states = manager.targets();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].target.interval, Duration::from_millis(100));
    writer
        .wait_for("three scrapes of one", |b| series_named(b, "x").len() >= 3)
        .await;
    manager.shutdown();
    manager.stopped().await;
    // After shutdown, apply is refused.
    manager.apply(&scrape_targets(&target_yaml("r", &both, "1s", "1s")));
    assert!(manager.targets().is_empty());
}

#[tokio::test]
async fn a_changed_metric_relabeling_applies_to_a_running_loop() {
    let exporter = Exporter::start("x 1\ny 2\n").await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let yaml = target_yaml("r", &[exporter.addr.to_string()], "100ms", "100ms");
    manager.apply(&scrape_targets(&yaml));
    writer
        .wait_for("x scraped", |b| series_named(b, "x").len() >= 2)
        .await;
    // Same target, now dropping `x`: the loop is updated in place, and the series cache
    // of the loop must not keep answering with what `x` became before.
    let dropping = format!(
        "{yaml}  metricRelabelings: [{{action: drop, sourceLabels: [__name__], regex: x}}]\n"
    );
    manager.apply(&scrape_targets(&dropping));
    let before = writer.batches().len();
    writer
        .wait_for("three scrapes under the new rules", |b| {
            b.len() >= before + 3
        })
        .await;
    let batches = writer.batches();
    let last = &batches[batches.len() - 1..];
    assert!(series_named(last, "x").is_empty(), "x is dropped");
    assert_eq!(series_named(last, "y").len(), 1);
    manager.shutdown();
    manager.stopped().await;
}

#[tokio::test]
async fn scrapes_node_exporter_output() {
    let fixture = include_str!("fixtures/node_exporter.txt");
    let exporter = Exporter::start(fixture).await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    manager.apply(&scrape_targets(&target_yaml(
        "node",
        &[exporter.addr.to_string()],
        "1s",
        "1s",
    )));
    writer.wait_for("a scrape", |b| !b.is_empty()).await;
    let batch = &writer.batches()[0];
    let scraped = series_named(std::slice::from_ref(batch), "scrape_samples_scraped")[0];
    assert_eq!(scraped.samples[0].value, 507.0);
    assert_eq!(batch.len(), 507 + 5);
    let info = series_named(std::slice::from_ref(batch), "node_exporter_build_info")[0];
    assert_eq!(info.label("version"), Some("1.5.0"));
    manager.shutdown();
}

#[tokio::test]
async fn write_failures_are_reported_on_the_target() {
    let exporter = Exporter::start("x 1\n").await;
    let writer = MemoryWriter::new();
    writer.set_failing(true);
    let registry = prometheus::Registry::new();
    let manager = ScrapeManager::new(writer.clone(), &registry);
    manager.apply(&scrape_targets(&target_yaml(
        "w",
        &[exporter.addr.to_string()],
        "100ms",
        "100ms",
    )));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let states = manager.targets();
        if let Some(err) = states[0].health.last_error.clone() {
            assert!(err.contains("storage is down"), "{err}");
            assert_eq!(states[0].health.health.as_str(), "up");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no write error reported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let write_errors = registry
        .gather()
        .iter()
        .filter(|f| f.name() == "telltale_scrapes_total")
        .flat_map(|f| f.get_metric().to_vec())
        .filter(|m| m.get_label().iter().any(|l| l.value() == "write_error"))
        .map(|m| m.get_counter().value())
        .sum::<f64>();
    assert!(write_errors >= 1.0);
    manager.shutdown();
}
