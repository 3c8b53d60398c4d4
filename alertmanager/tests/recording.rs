//! Rules write back through a `SampleWriter`: recording rules' results, and the `ALERTS`
//! and `ALERTS_FOR_STATE` series of pending and firing alerts. A Prometheus rule file is
//! evaluated as it is.

mod common;

use std::sync::{Arc, Mutex};

use common::{FakeQuerier, sample, wait_for};
use telltale_alertmanager::{ManagerOptions, RuleManager, alert_rule_from_file};
use telltale_crds::AlertingSpec;
use telltale_storage_api::{SampleWriter, TimeSeries};

#[derive(Default)]
struct MemoryWriter {
    written: Mutex<Vec<TimeSeries>>,
    /// Series per write call.
    writes: Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl SampleWriter for MemoryWriter {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let n = series.iter().map(|s| s.samples.len() as u64).sum();
        self.writes.lock().unwrap().push(series.len());
        self.written.lock().unwrap().extend(series);
        Ok(n)
    }
}

impl MemoryWriter {
    /// `labels value` of every written sample whose metric is `name`, latest last.
    fn lines(&self, name: &str) -> Vec<String> {
        self.written
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.label("__name__") == Some(name))
            .map(|s| {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|l| l.name != "__name__")
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                format!("{} {}", labels.join(","), s.samples[0].value)
            })
            .collect()
    }
}

const RULE_FILE: &str = r#"groups:
  - name: node
    interval: 100ms
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          source: recorded
      - alert: TooFew
        expr: job:up:sum < 3
        for: 1h
        labels:
          severity: warning
"#;

#[tokio::test(flavor = "multi_thread")]
async fn recordings_and_alert_series_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.rules.yml");
    std::fs::write(&file, RULE_FILE).unwrap();
    let rule =
        alert_rule_from_file(&file, telltale_alertmanager::rules::validate::promql_only).unwrap();

    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        "sum by (job) (up)",
        Ok(vec![sample(&[("job", "node")], 2.0)]),
    );
    querier.set(
        "job:up:sum < 3",
        Ok(vec![sample(
            &[("__name__", "job:up:sum"), ("job", "node")],
            2.0,
        )]),
    );
    let writer = Arc::new(MemoryWriter::default());
    let registry = prometheus::Registry::new();
    let m = RuleManager::new(
        querier,
        AlertingSpec::default(),
        ManagerOptions {
            writer: Some(writer.clone()),
            ..ManagerOptions::default()
        },
        &registry,
    );
    m.apply(&[rule]);
    wait_for("ALERTS_FOR_STATE", || {
        !writer.lines("ALERTS_FOR_STATE").is_empty()
    })
    .await;

    assert_eq!(writer.lines("job:up:sum")[0], "job=node,source=recorded 2");
    assert_eq!(
        writer.lines("ALERTS")[0],
        "alertname=TooFew,alertstate=pending,job=node,severity=warning 1"
    );
    let groups = m.groups();
    let active_at = groups[0].rules[1]
        .alerts
        .iter()
        .next()
        .unwrap()
        .active_at_ms;
    assert_eq!(
        writer.lines("ALERTS_FOR_STATE")[0],
        format!(
            "alertname=TooFew,job=node,severity=warning {}",
            active_at as f64 / 1000.0
        )
    );
    assert_eq!(groups[0].rules[0].rule.record, "job:up:sum");
    assert!(common::metric(&registry, "telltale_rule_samples_written_total", &[]) >= 3.0);
    m.shutdown();
}

/// Whether `value` is Prometheus's staleness marker.
fn is_stale(line: &str) -> bool {
    // `f64::from_bits(0x7ff0000000000002)` prints as NaN; the bits are checked below.
    line.ends_with(" NaN")
}

#[tokio::test(flavor = "multi_thread")]
async fn vanished_series_get_staleness_markers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.rules.yml");
    std::fs::write(&file, RULE_FILE).unwrap();
    let rule =
        alert_rule_from_file(&file, telltale_alertmanager::rules::validate::promql_only).unwrap();
    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        "sum by (job) (up)",
        Ok(vec![
            sample(&[("job", "node")], 2.0),
            sample(&[("job", "api")], 5.0),
        ]),
    );
    querier.set(
        "job:up:sum < 3",
        Ok(vec![sample(
            &[("__name__", "job:up:sum"), ("job", "node")],
            2.0,
        )]),
    );
    let writer = Arc::new(MemoryWriter::default());
    let m = RuleManager::new(
        querier.clone(),
        AlertingSpec::default(),
        ManagerOptions {
            writer: Some(writer.clone()),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    m.apply(std::slice::from_ref(&rule));
    wait_for("the pending alert's series", || {
        !writer.lines("ALERTS_FOR_STATE").is_empty()
    })
    .await;
    assert!(writer.lines("ALERTS").iter().all(|l| !is_stale(l)));

    // The alert stops being pending and job=api drops out of the recording: both get a
    // marker at the next evaluation, the series still present do not.
    querier.set("job:up:sum < 3", Ok(vec![]));
    querier.set(
        "sum by (job) (up)",
        Ok(vec![sample(&[("job", "node")], 2.0)]),
    );
    wait_for("the markers of the alert", || {
        writer.lines("ALERTS").iter().any(|l| is_stale(l))
    })
    .await;
    wait_for("the marker of the recording", || {
        writer
            .lines("job:up:sum")
            .iter()
            .any(|l| l == "job=api,source=recorded NaN")
    })
    .await;
    let alerts = writer.lines("ALERTS");
    assert_eq!(
        alerts.last().unwrap(),
        "alertname=TooFew,alertstate=pending,job=node,severity=warning NaN"
    );
    assert_eq!(
        writer.lines("ALERTS_FOR_STATE").last().unwrap(),
        "alertname=TooFew,job=node,severity=warning NaN"
    );
    assert!(
        !writer
            .lines("job:up:sum")
            .iter()
            .any(|l| l == "job=node,source=recorded NaN"),
        "a series still returned is not marked"
    );
    for s in writer.written.lock().unwrap().iter() {
        let v = s.samples[0].value;
        if v.is_nan() {
            assert_eq!(
                v.to_bits(),
                telltale_model::STALE_NAN_BITS,
                "the staleness NaN"
            );
        }
    }

    // Removing the group marks every series it still wrote, once.
    let before = writer.written.lock().unwrap().len();
    m.apply(&[]);
    wait_for("the markers of the removed group", || {
        writer
            .lines("job:up:sum")
            .iter()
            .any(|l| l == "job=node,source=recorded NaN")
    })
    .await;
    let after: Vec<TimeSeries> = writer.written.lock().unwrap()[before..].to_vec();
    let stale: Vec<&TimeSeries> = after
        .iter()
        .filter(|s| s.samples[0].value.is_nan())
        .collect();
    assert_eq!(stale.len(), 1, "only job=node was still written: {after:?}");
    m.shutdown();
}

/// A group whose results are larger than one write's bound is written in several writes,
/// every series once.
#[tokio::test(flavor = "multi_thread")]
async fn large_results_are_written_in_bounded_writes() {
    use telltale_alertmanager::rules::evaluation::RULE_WRITE_BATCH;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wide.rules.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: wide\n    interval: 100ms\n    rules:\n      - record: pod:load:max\n        expr: max by (pod) (load)\n",
    )
    .unwrap();
    let rule =
        alert_rule_from_file(&file, telltale_alertmanager::rules::validate::promql_only).unwrap();
    let n = 2 * RULE_WRITE_BATCH + 123;
    let pods: Vec<String> = (0..n).map(|i| format!("pod-{i}")).collect();
    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        "max by (pod) (load)",
        Ok(pods.iter().map(|p| sample(&[("pod", p)], 1.0)).collect()),
    );
    let writer = Arc::new(MemoryWriter::default());
    let m = RuleManager::new(
        querier,
        AlertingSpec::default(),
        ManagerOptions {
            writer: Some(writer.clone()),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    m.apply(&[rule]);
    wait_for("every recorded series", || {
        writer.lines("pod:load:max").len() >= n
    })
    .await;
    let writes = writer.writes.lock().unwrap().clone();
    let distinct: std::collections::BTreeSet<String> =
        writer.lines("pod:load:max").into_iter().collect();
    assert_eq!(distinct.len(), n);
    assert!(writes.len() >= 3, "{writes:?}");
    assert!(writes.iter().all(|&w| w <= RULE_WRITE_BATCH), "{writes:?}");
}
