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
}

#[async_trait::async_trait]
impl SampleWriter for MemoryWriter {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let n = series.iter().map(|s| s.samples.len() as u64).sum();
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
    let rule = alert_rule_from_file(&file).unwrap();

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
