//! Routing, grouping, repeat and inhibition end to end: rules evaluated every 100ms by a
//! fake querier, notifications received by a local webhook sink.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{FakeQuerier, alerting_rule, rules, sample, start_sink, wait_for};
use telltale_alertmanager::{ManagerOptions, RuleManager};
use telltale_crds::{AlertingSpec, InhibitRule, Receiver, Route, WebhookConfig};

fn receiver(name: &str, url: &str) -> Receiver {
    Receiver {
        name: name.into(),
        webhooks: vec![WebhookConfig {
            http_config: None,
            url: format!("{url}/{name}"),
            send_resolved: true,
            timeout: None,
        }],
        ..Default::default()
    }
}

fn spec(route: &str, receivers: &[&str], url: &str) -> AlertingSpec {
    AlertingSpec {
        global: None,
        route: Some(serde_yaml::from_str::<Route>(route).unwrap()),
        receivers: receivers.iter().map(|n| receiver(n, url)).collect(),
        inhibit_rules: vec![],
        templates: vec![],
    }
}

fn manager(querier: &Arc<FakeQuerier>, alerting: AlertingSpec) -> Arc<RuleManager> {
    RuleManager::new(
        querier.clone(),
        alerting,
        ManagerOptions::default(),
        &prometheus::Registry::new(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_alerts_with_the_same_group_labels_make_one_notification() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    let samples = (0..10)
        .map(|i| sample(&[("cluster", "eu"), ("instance", &format!("db-{i}"))], 1.0))
        .collect();
    querier.set("disk_full", Ok(samples));
    querier.set("other", Ok(vec![sample(&[("cluster", "us")], 1.0)]));
    let m = manager(
        &querier,
        spec(
            "{receiver: ops, groupBy: [alertname, cluster], groupWait: 300ms, groupInterval: 1h}",
            &["ops"],
            &url,
        ),
    );
    m.apply(&[rules(
        "disk",
        vec![
            alerting_rule("DiskFull", "disk_full", Duration::ZERO, &[]),
            alerting_rule("DiskFull", "other", Duration::ZERO, &[("x", "y")]),
        ],
    )]);
    wait_for("two groups notified", || sink.count() >= 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies = sink.bodies();
    assert_eq!(bodies.len(), 2, "one notification per group: {bodies:?}");
    let eu = bodies
        .iter()
        .find(|b| b["groupLabels"]["cluster"] == "eu")
        .unwrap();
    assert_eq!(eu["alerts"].as_array().unwrap().len(), 10);
    assert_eq!(
        eu["groupKey"],
        "{}:{alertname=\"DiskFull\", cluster=\"eu\"}"
    );
    assert_eq!(
        eu["groupLabels"],
        serde_json::json!({"alertname": "DiskFull", "cluster": "eu"})
    );
    let us = bodies
        .iter()
        .find(|b| b["groupLabels"]["cluster"] == "us")
        .unwrap();
    assert_eq!(us["alerts"].as_array().unwrap().len(), 1);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_groups_are_repeated_after_repeat_interval() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    let m = manager(
        &querier,
        spec(
            "{receiver: ops, groupBy: [alertname], groupInterval: 100ms, repeatInterval: 700ms}",
            &["ops"],
            &url,
        ),
    );
    let started = Instant::now();
    m.apply(&[rules(
        "up",
        vec![alerting_rule("Down", "up == 0", Duration::ZERO, &[])],
    )]);
    let mut arrivals = Vec::new();
    while arrivals.len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(10), "no repeats");
        if sink.count() > arrivals.len() {
            arrivals.push(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(600) && gap < Duration::from_millis(1500),
            "repeated after {gap:?}, repeat interval 700ms"
        );
    }
    let bodies = sink.bodies();
    assert_eq!(
        bodies[0]["alerts"], bodies[1]["alerts"],
        "the same notification"
    );
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_pick_receivers_and_continue() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        "x",
        Ok(vec![
            sample(&[("severity", "page"), ("team", "db")], 1.0),
            sample(&[("severity", "info"), ("team", "web")], 1.0),
        ]),
    );
    let m = manager(
        &querier,
        spec(
            r#"
receiver: default
groupBy: ['...']
routes:
  - matchers: [team=db]
    receiver: audit
    continue: true
  - matchers: ['severity=~"critical|page"']
    receiver: pager
"#,
            &["default", "pager", "audit"],
            &url,
        ),
    );
    m.apply(&[rules(
        "x",
        vec![alerting_rule("X", "x", Duration::ZERO, &[])],
    )]);
    wait_for("three notifications", || sink.count() >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got: Vec<(String, String)> = sink
        .all()
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.json()["alerts"][0]["labels"]["team"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("/audit".to_string(), "db".to_string()),
            ("/default".to_string(), "web".to_string()),
            ("/pager".to_string(), "db".to_string()),
        ]
    );
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn critical_alerts_inhibit_warnings_of_the_same_cluster() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set("critical", Ok(vec![sample(&[("cluster", "a")], 1.0)]));
    querier.set(
        "warning",
        Ok(vec![
            sample(&[("cluster", "a")], 1.0),
            sample(&[("cluster", "b")], 1.0),
        ]),
    );
    let mut alerting = spec(
        "{receiver: ops, groupBy: [alertname, cluster], groupInterval: 200ms}",
        &["ops"],
        &url,
    );
    alerting.inhibit_rules.push(InhibitRule {
        source_matchers: vec!["severity=critical".into()],
        target_matchers: vec!["severity=warning".into()],
        equal: vec!["cluster".into()],
    });
    let m = manager(&querier, alerting);
    m.apply(&[rules(
        "c",
        vec![
            alerting_rule(
                "Outage",
                "critical",
                Duration::ZERO,
                &[("severity", "critical")],
            ),
            alerting_rule(
                "Slow",
                "warning",
                Duration::ZERO,
                &[("severity", "warning")],
            ),
        ],
    )]);
    wait_for("the outage and cluster b's warning", || sink.count() >= 2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let names = |bodies: &[serde_json::Value]| -> Vec<String> {
        let mut v: Vec<String> = bodies
            .iter()
            .flat_map(|b| b["alerts"].as_array().unwrap().clone())
            .filter(|a| a["status"] == "firing")
            .map(|a| {
                format!(
                    "{}/{}",
                    a["labels"]["alertname"].as_str().unwrap(),
                    a["labels"]["cluster"].as_str().unwrap()
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&sink.bodies()), ["Outage/a", "Slow/b"]);

    // The outage ends: cluster a's warning is no longer inhibited.
    querier.set("critical", Ok(vec![]));
    wait_for("cluster a's warning", || {
        names(&sink.bodies()).contains(&"Slow/a".to_string())
    })
    .await;
    m.shutdown();
}
