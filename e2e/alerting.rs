//! Alerting against the real Prometheus 2.42 and promtool from Debian:
//!
//! - the annotation and label templates of a corpus in the mixins' style expand to
//!   byte-identical text in `telltale standalone` and in a real `prometheus` fed the
//!   same samples by remote_write (`testdata/templates/corpus.rules.yml`);
//! - `telltale test rules` gives promtool's verdict (and exit code) on unit-test files
//!   in the mixins' style, passing and failing (`testdata/unittest/`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::remote_write::{TimeSeries, push, series};
use common::*;

const EXTERNAL_URL: &str = "http://alerts.example:9090";

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e2e/testdata")
        .join(path)
}

/// The samples both servers get: in the shape of the mixins' metrics.
fn corpus_series(t: i64) -> Vec<TimeSeries> {
    let volume = |cluster: Option<&str>, instance: &str, ns: &str, pvc: &str, v: f64| {
        let mut labels = vec![
            ("__name__", "e2e_volume_free_ratio"),
            ("instance", instance),
            ("job", "kubelet"),
            ("namespace", ns),
            ("persistentvolumeclaim", pvc),
        ];
        if let Some(c) = cluster {
            labels.push(("cluster", c));
        }
        series(&labels, t, v)
    };
    let shards = |name: &str, v: f64| {
        series(
            &[
                ("__name__", name),
                ("instance", "prom-0:9090"),
                ("job", "prometheus"),
                ("remote_name", "thanos"),
                ("url", "http://receive:19291/api/v1/receive"),
            ],
            t,
            v,
        )
    };
    let special = |kind: &str, v: f64| series(&[("__name__", "e2e_special"), ("kind", kind)], t, v);
    vec![
        volume(
            Some("eu1"),
            "node-1.example.com:9100",
            "monitoring",
            "data-0",
            0.0342,
        ),
        volume(None, "10.0.0.2:9100", "default", "cache", 0.5),
        shards("e2e_desired_shards", 15.0),
        shards("e2e_max_shards", 12.0),
        special("inf", f64::INFINITY),
        special("-inf", f64::NEG_INFINITY),
        special("nan", f64::NAN),
        special("large", 123_456_789.0),
        special("small", 0.000123),
        special("timestamp", 1_700_000_000.123),
        series(
            &[
                ("__name__", "e2e_text"),
                ("job", "text"),
                ("path", "/a b/<x>&'\"é"),
            ],
            t,
            3.0,
        ),
    ]
}

/// A real Prometheus 2.42 with the remote-write receiver, evaluating `rules` every second.
async fn start_prometheus(dir: &Path, rules: &Path) -> (Proc, String) {
    let port = free_port();
    let config = write_file(
        dir,
        "prometheus.yml",
        &format!(
            "global:\n  evaluation_interval: 1s\n  external_labels:\n    region: west\n    cluster: eu1\nrule_files:\n  - {}\n",
            rules.display()
        ),
    );
    let mut cmd = Command::new("/usr/bin/prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg(format!("--web.external-url={EXTERNAL_URL}"))
        .arg("--web.route-prefix=/");
    let mut proc = Proc::spawn("prometheus", &mut cmd, dir.join("prometheus.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&mut proc, &format!("{base}/-/ready")).await;
    (proc, base)
}

/// `/api/v1/alerts` as (labels) -> (annotations), once `want` alerts are there.
async fn alerts_by_labels(base: &str, want: usize) -> BTreeMap<String, serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = get_json(&format!("{base}/api/v1/alerts")).await;
        let alerts = body["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if alerts.len() >= want {
            return alerts
                .into_iter()
                .map(|a| (a["labels"].to_string(), a["annotations"].clone()))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{base}: {} of {want} alerts after 60 s: {body}",
            alerts.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every annotation and label template of the corpus expands to the same bytes as in
/// Prometheus 2.42, for the same alert and value.
#[tokio::test(flavor = "multi_thread")]
async fn templates_expand_byte_identical_to_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let rules = testdata("templates/corpus.rules.yml");
    let (_prom, prom) = start_prometheus(dir.path(), &rules).await;
    let t = Telltale::start(
        &dir.path().join("data"),
        &[
            "-f",
            rules.to_str().unwrap(),
            "--external-url",
            EXTERNAL_URL,
            "--external-label",
            "region=west",
            "--external-label",
            "cluster=eu1",
        ],
    )
    .await;
    let now = now_ms();
    for ts in [now - 2_000, now - 1_000] {
        let s = corpus_series(ts);
        assert!(push(&prom, s.clone()).await.is_success());
        assert!(push(&t.url(""), s).await.is_success());
    }
    const ALERTS: usize = 11;
    let theirs = alerts_by_labels(&prom, ALERTS).await;
    let ours = alerts_by_labels(&t.url(""), ALERTS).await;
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the same alerts with the same (templated) labels"
    );
    let mut compared = 0;
    for (labels, expected) in &theirs {
        let got = &ours[labels];
        for (name, text) in expected.as_object().unwrap() {
            assert_eq!(
                got[name].as_str(),
                text.as_str(),
                "annotation {name} of {labels}\n prometheus: {text}\n   telltale: {}",
                got[name]
            );
            compared += 1;
        }
        assert_eq!(
            got.as_object().unwrap().len(),
            expected.as_object().unwrap().len()
        );
    }
    assert!(compared >= 40, "{compared} annotations compared");

    // Prometheus's rule group metrics, Telltale-named, for the corpus group.
    let metrics = get_text(&t.url("/metrics")).await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains("corpus"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} of the corpus group:\n{metrics}"))
    };
    assert!(value("telltale_rule_group_iterations_total") >= 1.0);
    assert_eq!(value("telltale_rule_group_iterations_missed_total"), 0.0);
    assert!(value("telltale_rule_group_last_duration_seconds") > 0.0);
    assert_eq!(value("telltale_rule_group_rules"), 10.0);
    assert_eq!(value("telltale_rule_group_interval_seconds"), 1.0);
    assert!(value("telltale_rule_evaluations_total") >= 10.0);
    assert_eq!(value("telltale_rule_evaluation_failures_total"), 0.0);
    let last = value("telltale_rule_group_last_evaluation_timestamp_seconds");
    assert!((now_ms() as f64 / 1000.0 - last).abs() < 60.0, "{last}");
}

/// `telltale test rules` and Debian's `promtool test rules` give the same verdict on each
/// unit-test file (and the same exit code).
#[test]
fn test_rules_gives_promtools_verdicts() {
    let cases = [
        ("unittest/passing.test.yml", true),
        ("unittest/failing_alert.test.yml", false),
        ("unittest/failing_expr.test.yml", false),
        ("unittest/recording_chain.test.yml", true),
        ("unittest/kube.test.yml", true),
        ("unittest/kube_failing.test.yml", false),
    ];
    for (file, passes) in cases {
        let path = testdata(file);
        let promtool = Command::new("/usr/bin/promtool")
            .args(["test", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        let ours = Command::new(TELLTALE)
            .args(["test", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        let show = |o: &std::process::Output| {
            format!(
                "exit {:?}\n{}{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        assert_eq!(
            promtool.status.success(),
            passes,
            "promtool on {file}: {}",
            show(&promtool)
        );
        assert_eq!(
            ours.status.code(),
            promtool.status.code(),
            "{file}\n promtool: {}\n telltale: {}",
            show(&promtool),
            show(&ours)
        );
        if !passes {
            // The report names what failed with expected and got, as promtool's does.
            let text = show(&ours);
            assert!(
                text.contains("FAILED:") && text.contains("exp:") && text.contains("got:"),
                "{text}"
            );
            assert_eq!(
                String::from_utf8_lossy(&ours.stderr),
                String::from_utf8_lossy(&promtool.stderr),
                "{file}: the same failure report"
            );
        }
    }
}

/// `telltale check rules` flags the same rules as `promtool check rules` on a file of
/// (mostly) broken templates, each with promtool's message and line.
#[test]
fn check_rules_reports_template_errors_as_promtool() {
    let path = testdata("templates/broken.rules.yml");
    let run = |tool: &str| {
        let out = Command::new(tool)
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    // (rule's place in the group, from 0; the message from "template: " on).
    let flagged = |text: &str, rule_at: &dyn Fn(&str) -> Option<usize>| {
        let mut v: Vec<(usize, String)> = text
            .lines()
            .filter_map(|l| {
                let message = &l[l.find("template: ")?..];
                Some((rule_at(l)?, message.to_string()))
            })
            .collect();
        v.sort();
        v
    };
    let (promtool_code, promtool_text) = run("/usr/bin/promtool");
    let theirs = flagged(&promtool_text, &|l| {
        // `FILE: group "broken", rule 3, "Broken2": annotation "summary": template: ...`
        let n = l.split(", rule ").nth(1)?.split(',').next()?;
        n.parse::<usize>().ok().map(|n| n - 1)
    });
    let (code, text) = run(TELLTALE);
    let ours = flagged(&text, &|l| {
        // `FILE: groups[0].rules[2].annotations.summary: alert "Broken2": template: ...`
        let n = l.split(".rules[").nth(1)?.split(']').next()?;
        n.parse().ok()
    });
    assert_eq!(promtool_code, Some(1), "{promtool_text}");
    assert_eq!(code, promtool_code, "{text}");
    assert!(theirs.len() >= 40, "{promtool_text}");
    assert_eq!(
        ours, theirs,
        "\n telltale:\n{text}\n promtool:\n{promtool_text}"
    );
    // Each line names the rule by its alert name too.
    for (rule, _) in &ours {
        assert!(text.contains(&format!("alert \"Broken{rule}\"")), "{text}");
    }
}
