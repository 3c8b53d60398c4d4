//! End to end through the public API: a fake querier whose result changes over time, a
//! rule manager evaluating every 100ms, and a local webhook sink that records requests.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{FakeQuerier, serve, start_sink, wait_for};
use serde_json::Value;
use telltale_alertmanager::{ManagerOptions, QueriedSample, RuleManager, router, validate_rules};
use telltale_crds::{
    AlertRule, AlertRuleSpec, AlertingSpec, PromDuration, Receiver, Route, Rule, RuleGroup,
    WebhookConfig,
};

const EXPR: &str = "up == 0";

fn down(instance: &str) -> QueriedSample {
    QueriedSample {
        labels: BTreeMap::from([
            ("__name__".to_string(), "up".to_string()),
            ("instance".to_string(), instance.to_string()),
            ("job".to_string(), "node".to_string()),
        ]),
        value: 0.0,
        histogram: None,
    }
}

fn alerting(url: &str) -> AlertingSpec {
    AlertingSpec {
        global: None,
        route: Some(Route {
            receiver: Some("ops".into()),
            group_by: Some(vec!["alertname".into()]),
            group_interval: Some(PromDuration(Duration::from_millis(200))),
            ..Route::default()
        }),
        receivers: vec![Receiver {
            name: "ops".into(),
            webhooks: vec![WebhookConfig {
                http_config: None,
                url: format!("{url}/hook"),
                send_resolved: true,
                timeout: None,
            }],
            ..Default::default()
        }],
        inhibit_rules: vec![],
        templates: vec![],
    }
}

fn alert_rule(for_: Duration) -> AlertRule {
    AlertRule::new(
        "node",
        AlertRuleSpec {
            groups: vec![RuleGroup {
                name: "availability".into(),
                interval: PromDuration(Duration::from_millis(100)),
                rules: vec![Rule {
                    alert: "InstanceDown".into(),
                    expr: EXPR.into(),
                    for_: PromDuration(for_),
                    labels: BTreeMap::from([("severity".to_string(), "page".to_string())]),
                    annotations: BTreeMap::from([(
                        "summary".to_string(),
                        "{{ $labels.instance }} of {{ $labels.job }} is down".to_string(),
                    )]),
                    ..Rule::default()
                }],
            }],
        },
    )
}

fn options() -> ManagerOptions {
    ManagerOptions {
        external_url: "http://telltale.example:9093".into(),
        ..ManagerOptions::default()
    }
}

fn bodies(sink: &common::Sink) -> Vec<Value> {
    sink.bodies()
}

fn metric(registry: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    common::metric(registry, name, labels)
}

#[tokio::test]
async fn firing_then_resolved_arrive_with_alertmanager_fields() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set(EXPR, Ok(vec![down("db-1:9100")]));
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(querier.clone(), alerting(&url), options(), &registry);
    manager.apply(&[alert_rule(Duration::ZERO)]);

    wait_for("the firing notification", || !bodies(&sink).is_empty()).await;
    let firing = bodies(&sink)[0].clone();
    let expected_labels = serde_json::json!({
        "alertname": "InstanceDown",
        "instance": "db-1:9100",
        "job": "node",
        "severity": "page",
    });
    let keys: Vec<&str> = firing
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected_keys = vec![
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ];
    expected_keys.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected_keys);
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["groupKey"], "{}:{alertname=\"InstanceDown\"}");
    assert_eq!(firing["truncatedAlerts"], 0);
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["receiver"], "ops");
    assert_eq!(
        firing["groupLabels"],
        serde_json::json!({"alertname": "InstanceDown"})
    );
    assert_eq!(firing["commonLabels"], expected_labels);
    assert_eq!(
        firing["commonAnnotations"],
        serde_json::json!({"summary": "db-1:9100 of node is down"})
    );
    assert_eq!(firing["externalURL"], "http://telltale.example:9093");
    let alerts = firing["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"], expected_labels);
    assert_eq!(
        alert["annotations"],
        serde_json::json!({"summary": "db-1:9100 of node is down"})
    );
    let starts_at = alert["startsAt"].as_str().unwrap().to_string();
    assert!(
        starts_at.ends_with('Z') && starts_at.starts_with("20"),
        "{starts_at}"
    );
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        alert["generatorURL"],
        "http://telltale.example:9093/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );
    let fingerprint = alert["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fingerprint.len(), 16);
    assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()));

    // Still firing: evaluations go on, but the receiver is not told again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        bodies(&sink).len(),
        1,
        "no repeat before the repeat interval"
    );
    assert_eq!(
        metric(&registry, "telltale_alerts", &[("state", "firing")]),
        1.0
    );

    querier.set(EXPR, Ok(vec![]));
    wait_for("the resolved notification", || bodies(&sink).len() >= 2).await;
    let resolved = bodies(&sink)[1].clone();
    assert_eq!(resolved["status"], "resolved");
    let alert = &resolved["alerts"][0];
    assert_eq!(alert["status"], "resolved");
    assert_eq!(alert["startsAt"], starts_at.as_str());
    assert_eq!(alert["fingerprint"], fingerprint.as_str());
    let ends_at = alert["endsAt"].as_str().unwrap();
    assert_ne!(ends_at, "0001-01-01T00:00:00Z");
    assert!(ends_at > starts_at.as_str(), "{ends_at} after {starts_at}");

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bodies(&sink).len(), 2, "the resolution is sent once");
    assert_eq!(
        metric(
            &registry,
            "telltale_notifications_total",
            &[("integration", "webhook"), ("result", "success")]
        ),
        2.0
    );
    assert_eq!(
        metric(&registry, "telltale_alerts", &[("state", "firing")]),
        0.0
    );
    assert!(metric(&registry, "telltale_rule_evaluations_total", &[]) >= 4.0);
    manager.shutdown();
}

#[tokio::test]
async fn failed_delivery_is_retried() {
    let (sink, url) = start_sink(1).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set(EXPR, Ok(vec![down("db-1:9100"), down("db-2:9100")]));
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(querier.clone(), alerting(&url), options(), &registry);
    manager.apply(&[alert_rule(Duration::ZERO)]);

    wait_for("a delivered notification", || !bodies(&sink).is_empty()).await;
    assert_eq!(
        sink.failures.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the 500 was answered, then the retry succeeded"
    );
    let body = &bodies(&sink)[0];
    assert_eq!(
        body["alerts"].as_array().unwrap().len(),
        2,
        "both alerts in one group"
    );
    assert_eq!(
        body["commonLabels"],
        serde_json::json!({"alertname": "InstanceDown", "job": "node", "severity": "page"})
    );
    // The sink answers before the sender counts the delivery.
    wait_for("the delivery to be counted", || {
        registry.gather().iter().any(|f| {
            f.name() == "telltale_notifications_total"
                && f.get_metric()
                    .iter()
                    .any(|m| m.get_label().iter().any(|l| l.value() == "success"))
        })
    })
    .await;
    assert_eq!(
        metric(
            &registry,
            "telltale_notifications_total",
            &[("integration", "webhook"), ("result", "success")]
        ),
        1.0
    );
    manager.shutdown();
}

#[tokio::test]
async fn pending_alerts_show_in_the_api_but_are_not_notified() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set(EXPR, Ok(vec![down("db-1:9100")]));
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(querier.clone(), alerting(&url), options(), &registry);
    manager.apply(&[alert_rule(Duration::from_secs(600))]);
    let api = serve(router(manager.clone())).await;
    let client = reqwest::Client::new();

    let mut alerts = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let body: Value = client
            .get(format!("{api}/api/v1/alerts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "success");
        alerts = body["data"]["alerts"].clone();
        if !alerts.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alert = &alerts[0];
    assert_eq!(alert["state"], "pending");
    assert_eq!(alert["value"], "0e+00");
    assert_eq!(alert["labels"]["severity"], "page");
    assert!(alert["activeAt"].as_str().unwrap().ends_with('Z'));

    querier.set(EXPR, Err("storage unavailable".into()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let rule = loop {
        let body: Value = client
            .get(format!("{api}/api/v1/rules"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rule = body["data"]["groups"][0]["rules"][0].clone();
        if rule["health"] == "err" || Instant::now() > deadline {
            assert_eq!(body["data"]["groups"][0]["name"], "availability");
            assert_eq!(body["data"]["groups"][0]["interval"], 0.1);
            break rule;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rule["health"], "err");
    assert!(
        rule["lastError"]
            .as_str()
            .unwrap()
            .contains("storage unavailable")
    );
    assert_eq!(rule["type"], "alerting");
    assert_eq!(rule["name"], "InstanceDown");
    assert_eq!(rule["query"], "up == 0");
    assert_eq!(rule["duration"], 600.0);
    assert_eq!(
        rule["state"], "pending",
        "a failed evaluation keeps the alerts"
    );
    assert_eq!(rule["alerts"].as_array().unwrap().len(), 1);
    assert!(metric(&registry, "telltale_rule_evaluation_failures_total", &[]) >= 1.0);
    assert!(bodies(&sink).is_empty(), "pending alerts are not notified");
    manager.shutdown();
}

#[tokio::test]
async fn removing_a_rule_resolves_its_alerts() {
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set(EXPR, Ok(vec![down("db-1:9100")]));
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(querier.clone(), alerting(&url), options(), &registry);
    let rule = alert_rule(Duration::ZERO);
    manager.apply(std::slice::from_ref(&rule));
    wait_for("the firing notification", || !bodies(&sink).is_empty()).await;

    // Applying the same rules again changes nothing.
    manager.apply(std::slice::from_ref(&rule));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bodies(&sink).len(), 1);

    manager.apply(&[]);
    wait_for("the resolved notification", || bodies(&sink).len() >= 2).await;
    assert_eq!(bodies(&sink)[1]["status"], "resolved");
    assert!(manager.groups().is_empty());
    manager.shutdown();
}

#[test]
fn validation_names_the_bad_expression() {
    let mut rule = alert_rule(Duration::ZERO);
    let mut bad = rule.spec.groups[0].rules[0].clone();
    bad.expr = "sum(rate(x[5m]".into();
    rule.spec.groups[0].rules.push(bad);
    let err = validate_rules(
        &rule.spec,
        telltale_alertmanager::rules::validate::promql_only,
    )
    .unwrap_err();
    assert_eq!(err.field, "spec.groups[0].rules[1].expr");
    assert!(
        validate_rules(
            &alert_rule(Duration::ZERO).spec,
            telltale_alertmanager::rules::validate::promql_only
        )
        .is_ok()
    );
}
