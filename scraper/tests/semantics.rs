//! Prometheus scrape semantics end to end: format negotiation, gzip, honor_labels and
//! honor_timestamps, relabeling, limits, and what the targets API says about them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    Exporter, MemoryWriter, OPENMETRICS_CONTENT_TYPE, scrape_targets, series_named, serve_app,
};
use telltale_model::is_stale_nan;
use telltale_scraper::{PushOptions, ScrapeManager, router};
use telltale_storage_api::TimeSeries;

/// A ScrapeTarget `st` in namespace `mon` for `addr`, scraped every 100ms, with `extra`
/// spec lines (indented by two spaces).
fn resource(addr: &str, extra: &str) -> String {
    format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: st, namespace: mon}}\n\
spec:\n  interval: 100ms\n  scrapeTimeout: 100ms\n  static: [{{targets: [\"{addr}\"]}}]\n{extra}"
    )
}

async fn targets_api(
    manager: &Arc<ScrapeManager>,
    writer: &Arc<MemoryWriter>,
) -> serde_json::Value {
    let base = serve_app(router(
        manager.clone(),
        writer.clone(),
        PushOptions::default(),
    ))
    .await;
    reqwest::get(format!("{base}/api/v1/targets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn value(batch: &[TimeSeries], name: &str) -> f64 {
    series_named(&[batch.to_vec()], name)[0].samples[0].value
}

#[tokio::test]
async fn openmetrics_is_parsed_when_the_target_answers_it() {
    let exporter = Exporter::start(
        "# TYPE requests counter\n\
         requests_total{code=\"200\"} 7 1700000000.250 # {trace_id=\"abc\"} 1 1700000000\n\
         requests_created{code=\"200\"} 1600000000\n\
         # TYPE temp gauge\n\
         temp 3.5\n\
         # EOF\n",
    )
    .await;
    exporter.set_content_type(OPENMETRICS_CONTENT_TYPE);
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    manager.apply(&scrape_targets(&resource(&exporter.addr.to_string(), "")));
    writer.wait_for("a scrape", |b| !b.is_empty()).await;
    let batch = writer.batches()[0].clone();
    assert_eq!(value(&batch, "up"), 1.0);
    let req = series_named(std::slice::from_ref(&batch), "requests_total")[0];
    assert_eq!(req.samples[0].value, 7.0);
    // OpenMetrics timestamps are seconds.
    assert_eq!(req.samples[0].timestamp_ms, 1_700_000_000_250);
    assert_eq!(value(&batch, "requests_created"), 1_600_000_000.0);
    assert_eq!(value(&batch, "scrape_samples_scraped"), 3.0);

    // The same body without `# EOF` fails the scrape, with the reason on the target.
    exporter.set_body("temp 1\n");
    writer
        .wait_for("a failed scrape", |b| {
            b.iter().any(|batch| {
                batch
                    .iter()
                    .any(|s| s.label("__name__") == Some("up") && s.samples[0].value == 0.0)
            })
        })
        .await;
    let v = targets_api(&manager, &writer).await;
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["health"], "down");
    assert!(
        t["lastError"]
            .as_str()
            .unwrap()
            .contains("missing \"# EOF\""),
        "{t}"
    );
    manager.shutdown();
}

#[tokio::test]
async fn gzip_bodies_are_decoded() {
    let exporter = Exporter::start("zipped 42\n").await;
    exporter.set_gzip(true);
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    manager.apply(&scrape_targets(&resource(&exporter.addr.to_string(), "")));
    writer.wait_for("a scrape", |b| !b.is_empty()).await;
    let batch = writer.batches()[0].clone();
    assert_eq!(value(&batch, "zipped"), 42.0);
    assert_eq!(value(&batch, "up"), 1.0);
    manager.shutdown();
}

#[tokio::test]
async fn honor_labels_and_timestamps_follow_the_spec() {
    let body = "m{job=\"inner\",instance=\"pod\"} 1 1234\n";
    let honored = Exporter::start(body).await;
    let plain = Exporter::start(body).await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let mut resources = scrape_targets(&resource(
        &honored.addr.to_string(),
        "  honorLabels: true\n",
    ));
    let mut other = scrape_targets(&resource(
        &plain.addr.to_string(),
        "  honorTimestamps: false\n",
    ));
    other[0].metadata.name = Some("other".into());
    resources.append(&mut other);
    manager.apply(&resources);
    writer
        .wait_for("both scraped", |b| series_named(b, "m").len() >= 2)
        .await;
    let batches = writer.batches();
    let ms = series_named(&batches, "m");
    let kept = ms.iter().find(|s| s.label("job") == Some("inner")).unwrap();
    assert_eq!(kept.label("instance"), Some("pod"));
    assert_eq!(kept.label("exported_job"), None);
    assert_eq!(kept.samples[0].timestamp_ms, 1234);
    let renamed = ms.iter().find(|s| s.label("job") == Some("other")).unwrap();
    assert_eq!(renamed.label("exported_job"), Some("inner"));
    assert_eq!(renamed.label("exported_instance"), Some("pod"));
    assert_ne!(renamed.samples[0].timestamp_ms, 1234);
    manager.shutdown();
}

#[tokio::test]
async fn relabeling_drops_targets_and_rewrites_samples() {
    let exporter = Exporter::start("go_gc 1\nkeep_me{path=\"/a\"} 2\n").await;
    let addr = exporter.addr.to_string();
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let yaml = format!(
        r#"apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {{name: st}}
spec:
  interval: 100ms
  scrapeTimeout: 100ms
  static: [{{targets: ["{addr}", "skip.example:1"], labels: {{__meta_team: core}}}}]
  relabelings:
  - {{action: drop, sourceLabels: [__address__], regex: 'skip\..*'}}
  - {{sourceLabels: [__meta_team], targetLabel: team}}
  metricRelabelings:
  - {{action: drop, sourceLabels: [__name__], regex: 'go_.*'}}
  - {{sourceLabels: [path], targetLabel: route, replacement: 'r$1'}}
  - {{action: labeldrop, regex: path}}
"#
    );
    manager.apply(&scrape_targets(&yaml));
    writer.wait_for("a scrape", |b| !b.is_empty()).await;
    let batch = writer.batches()[0].clone();
    assert!(series_named(std::slice::from_ref(&batch), "go_gc").is_empty());
    let kept = series_named(std::slice::from_ref(&batch), "keep_me")[0];
    assert_eq!(kept.label("route"), Some("r/a"));
    assert_eq!(kept.label("path"), None);
    assert_eq!(kept.label("team"), Some("core"));
    assert_eq!(value(&batch, "scrape_samples_scraped"), 2.0);
    assert_eq!(value(&batch, "scrape_samples_post_metric_relabeling"), 1.0);

    let v = targets_api(&manager, &writer).await;
    assert_eq!(v["data"]["activeTargets"].as_array().unwrap().len(), 1);
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["labels"]["team"], "core");
    assert_eq!(t["discoveredLabels"]["__meta_team"], "core");
    assert_eq!(t["scraper"], serde_json::Value::Null);
    let dropped = &v["data"]["droppedTargets"];
    assert_eq!(dropped.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        dropped[0]["discoveredLabels"]["__address__"],
        "skip.example:1"
    );
    manager.shutdown();
}

/// `bodySizeLimit` (prometheus.yml's `body_size_limit`) counts the body as the parser
/// reads it: a small gzip body that inflates past the limit fails too.
#[tokio::test]
async fn a_body_over_its_size_limit_fails_the_scrape() {
    let small = "a 1\n";
    let exporter = Exporter::start(small).await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let addr = exporter.addr.to_string();
    manager.apply(&scrape_targets(&resource(&addr, "  bodySizeLimit: 1KiB\n")));
    writer
        .wait_for("a scrape of a", |b| !series_named(b, "a").is_empty())
        .await;
    // 2 KiB of one repeated line: a few dozen bytes gzipped.
    exporter.set_gzip(true);
    exporter.set_body(&"# a comment line that compresses well\n".repeat(60));
    writer
        .wait_for("down", |b| {
            series_named(b, "up")
                .iter()
                .any(|s| s.samples[0].value == 0.0)
        })
        .await;
    let v = targets_api(&manager, &writer).await;
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["health"], "down", "{v}");
    assert_eq!(t["lastError"], "body size limit exceeded");
    // Within the limit again: up.
    exporter.set_body(small);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let v = targets_api(&manager, &writer).await;
    assert_eq!(v["data"]["activeTargets"][0]["health"], "up", "{v}");
    manager.shutdown();
}

#[tokio::test]
async fn limits_fail_the_scrape_with_a_readable_reason() {
    let exporter = Exporter::start("a 1\nb 2\n").await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let addr = exporter.addr.to_string();
    manager.apply(&scrape_targets(&resource(&addr, "  sampleLimit: 2\n")));
    writer
        .wait_for("a scrape of a", |b| !series_named(b, "a").is_empty())
        .await;
    exporter.set_body("a 1\nb 2\nc 3\n");
    writer
        .wait_for("down", |b| {
            series_named(b, "up")
                .iter()
                .any(|s| s.samples[0].value == 0.0)
        })
        .await;
    let batches = writer.batches();
    let failed = batches
        .iter()
        .find(|b| {
            series_named(std::slice::from_ref(*b), "up")
                .iter()
                .any(|s| s.samples[0].value == 0.0)
        })
        .unwrap();
    assert!(series_named(std::slice::from_ref(failed), "c").is_empty());
    assert!(
        is_stale_nan(value(failed, "a")),
        "the failed scrape stales what was there"
    );
    assert_eq!(value(failed, "scrape_samples_scraped"), 3.0);
    let v = targets_api(&manager, &writer).await;
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["health"], "down");
    assert_eq!(
        t["lastError"],
        "sample limit exceeded (number of samples: 3, limit: 2)"
    );

    // Label limits name the metric and the label.
    manager.apply(&scrape_targets(&resource(
        &addr,
        "  labelValueLengthLimit: 25\n",
    )));
    exporter.set_body(&format!("m{{v=\"{}\"}} 1\n", "x".repeat(30)));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let v = targets_api(&manager, &writer).await;
    let err = v["data"]["activeTargets"][0]["lastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("label_value_length_limit exceeded (metric: m, label name: v"),
        "{err}"
    );
    manager.shutdown();
}

#[tokio::test]
async fn file_sd_targets_are_reloaded_on_change() {
    let one = Exporter::start("from_file 1\n").await;
    let two = Exporter::start("from_file 2\n").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.yml");
    std::fs::write(
        &file,
        format!("- targets: ['{}']\n  labels: {{rack: r1}}\n", one.addr),
    )
    .unwrap();
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let yaml = format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: files}}\n\
spec:\n  interval: 100ms\n  scrapeTimeout: 100ms\n  fileSd: [{{files: ['{}'], refreshInterval: 100ms}}]\n",
        dir.path().join("*.yml").display()
    );
    manager.apply(&scrape_targets(&yaml));
    writer
        .wait_for("the first file target", |b| {
            !series_named(b, "from_file").is_empty()
        })
        .await;
    let first = series_named(&writer.batches(), "from_file")[0].clone();
    assert_eq!(first.label("rack"), Some("r1"));
    assert_eq!(first.label("instance"), Some(one.addr.to_string().as_str()));

    // Swap the file's target: the old one is stopped (stale), the new one scraped.
    std::fs::write(&file, format!("- targets: ['{}']\n", two.addr)).unwrap();
    writer
        .wait_for("the second file target", |b| {
            series_named(b, "from_file")
                .iter()
                .any(|s| s.samples[0].value == 2.0)
        })
        .await;
    writer
        .wait_for("the first target's staleness marker", |b| {
            series_named(b, "from_file")
                .iter()
                .any(|s| s.label("rack") == Some("r1") && is_stale_nan(s.samples[0].value))
        })
        .await;
    assert_eq!(manager.targets().len(), 1);
    manager.shutdown();
}

/// Prometheus's `target_limit`: a pool with more targets than its limit scrapes none of
/// them; each reports `up` 0 and the reason, and is scraped again once it fits.
#[tokio::test]
async fn target_limit_fails_the_pool_without_scraping() {
    let one = Exporter::start("limited 1\n").await;
    let two = Exporter::start("limited 2\n").await;
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let yaml = format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: st}}\n\
spec:\n  interval: 100ms\n  scrapeTimeout: 100ms\n  targetLimit: 1\n  \
static: [{{targets: [\"{}\", \"{}\"]}}]\n",
        one.addr, two.addr
    );
    manager.apply(&scrape_targets(&yaml));
    writer
        .wait_for("two failed scrapes of each target", |b| {
            series_named(b, "up")
                .iter()
                .filter(|s| s.samples[0].value == 0.0)
                .count()
                >= 4
        })
        .await;
    assert!(
        one.seen().is_empty() && two.seen().is_empty(),
        "no request sent"
    );
    assert!(series_named(&writer.batches(), "limited").is_empty());
    let v = targets_api(&manager, &writer).await;
    let active = v["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 2);
    for t in active {
        assert_eq!(t["health"], "down");
        assert_eq!(
            t["lastError"],
            "target_limit exceeded (number of targets: 2, limit: 1)"
        );
    }
    // Within the limit again: scraped.
    manager.apply(&scrape_targets(
        &yaml.replace("targetLimit: 1", "targetLimit: 2"),
    ));
    writer
        .wait_for("scrapes of both targets", |b| {
            series_named(b, "limited").len() >= 2
        })
        .await;
    manager.shutdown();
}
