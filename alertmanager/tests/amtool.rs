//! The real `amtool` (Debian's prometheus-alertmanager) against the v2 API: it lists
//! alerts, adds, queries and expires silences; silenced alerts are suppressed and not
//! notified.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{FakeQuerier, serve, start_sink, wait_for};
use telltale_alertmanager::{ManagerOptions, RuleManager, router};
use telltale_crds::{AlertingSpec, PromDuration, Receiver, Route, WebhookConfig};

const AMTOOL: &str = "/usr/bin/amtool";

async fn amtool(url: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(AMTOOL)
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .await
        .expect("amtool runs (Debian package prometheus-alertmanager)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "amtool {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn alerting(hook: &str) -> AlertingSpec {
    AlertingSpec {
        global: None,
        route: Some(Route {
            receiver: Some("ops".into()),
            group_by: Some(vec!["alertname".into(), "instance".into()]),
            group_interval: Some(PromDuration(Duration::from_millis(200))),
            ..Route::default()
        }),
        receivers: vec![Receiver {
            name: "ops".into(),
            webhooks: vec![WebhookConfig {
                http_config: None,
                url: format!("{hook}/hook"),
                send_resolved: true,
                timeout: None,
            }],
            ..Default::default()
        }],
        inhibit_rules: vec![],
        templates: vec![],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn amtool_lists_alerts_and_manages_silences() {
    let (sink, hook) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    let manager = RuleManager::new(
        querier.clone(),
        alerting(&hook),
        ManagerOptions::default(),
        &prometheus::Registry::new(),
    );
    let url = serve(router(manager.clone())).await;
    let client = reqwest::Client::new();

    // A silence first, for an alert that does not exist yet.
    let id = amtool(
        &url,
        &[
            "silence",
            "add",
            "alertname=Down",
            "instance=db-2",
            "--comment=maintenance",
            "--author=ops",
            "--duration=1h",
        ],
    )
    .await
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "amtool prints the new silence's id: {id:?}");

    // Two alerts posted the way Prometheus posts them.
    let posted = client
        .post(format!("{url}/api/v2/alerts"))
        .json(&serde_json::json!([
            {"labels": {"alertname": "Down", "instance": "db-1"}, "annotations": {"summary": "db-1 is down"}},
            {"labels": {"alertname": "Down", "instance": "db-2"}, "annotations": {"summary": "db-2 is down"}},
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);

    wait_for("db-1's notification", || sink.count() >= 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let notified: Vec<String> = sink
        .bodies()
        .iter()
        .flat_map(|b| {
            b["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["labels"]["instance"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(notified, ["db-1"], "the silenced alert is not notified");

    // amtool shows the active alert, and the silenced one only when asked.
    let active = amtool(&url, &["alert", "query", "-o", "json"]).await;
    let active: serde_json::Value = serde_json::from_str(&active).unwrap();
    let active = active.as_array().unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0]["labels"]["instance"], "db-1");
    assert_eq!(active[0]["status"]["state"], "active");
    assert_eq!(active[0]["receivers"][0]["name"], "ops");
    let all = amtool(&url, &["alert", "query", "--silenced", "-o", "json"]).await;
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    let silenced: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"]["state"] == "suppressed")
        .collect();
    assert_eq!(silenced.len(), 1, "{all}");
    assert_eq!(silenced[0]["labels"]["instance"], "db-2");
    assert_eq!(silenced[0]["status"]["silencedBy"][0], id.as_str());
    let simple = amtool(&url, &["alert", "query"]).await;
    assert!(
        simple.contains("Down") && simple.contains("db-1 is down"),
        "{simple}"
    );

    // Silences: listed, then expired.
    let listed = amtool(&url, &["silence", "query", "-q"]).await;
    assert_eq!(listed.trim(), id);
    let detailed = amtool(&url, &["silence", "query"]).await;
    assert!(
        detailed.contains("maintenance") && detailed.contains("ops"),
        "{detailed}"
    );
    amtool(&url, &["silence", "expire", &id]).await;
    assert_eq!(amtool(&url, &["silence", "query", "-q"]).await.trim(), "");
    let expired = amtool(&url, &["silence", "query", "--expired", "-q"]).await;
    assert_eq!(expired.trim(), id);

    // Unsilenced, db-2 is notified at its group's next interval.
    wait_for("db-2's notification", || {
        sink.bodies()
            .iter()
            .any(|b| b["alerts"][0]["labels"]["instance"] == "db-2")
    })
    .await;
    let groups: serde_json::Value = client
        .get(format!("{url}/api/v2/alerts/groups"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups}");
    let status: serde_json::Value = client
        .get(format!("{url}/api/v2/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["cluster"]["status"], "disabled");
    assert!(
        status["config"]["original"]
            .as_str()
            .unwrap()
            .contains("receiver: ops")
    );
    let receivers: serde_json::Value = client
        .get(format!("{url}/api/v2/receivers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(receivers, serde_json::json!([{"name": "ops"}]));
    let missing = client
        .delete(format!("{url}/api/v2/silence/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = client
        .post(format!("{url}/api/v2/alerts"))
        .json(&serde_json::json!([{"labels": {}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // Malformed and non-ASCII times, out-of-range times and huge label sets: a 400 that
    // says which field, and the server goes on answering.
    let many: serde_json::Map<String, serde_json::Value> = (0..5000)
        .map(|i| (format!("l{i}"), serde_json::Value::from("v")))
        .collect();
    for (body, says) in [
        (
            serde_json::json!([{"labels": {"a": "1"}, "startsAt": "aé12345"}]),
            "alerts[0].startsAt: \"aé12345\" is not an RFC 3339 time",
        ),
        (
            serde_json::json!([{"labels": {"a": "1"}, "endsAt": "99999-01-01T00:00:00Z"}]),
            "alerts[0].endsAt",
        ),
        (
            serde_json::json!([{"labels": {"a": "1"}}, {"labels": {"a": "1"}, "startsAt": "2023-13-45T25:61:00Z"}]),
            "alerts[1].startsAt",
        ),
        (
            serde_json::json!([{"labels": many}]),
            "alerts[0].labels: 5000 entries",
        ),
    ] {
        let resp = client
            .post(format!("{url}/api/v2/alerts"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let message: String = resp.json().await.unwrap();
        assert!(message.starts_with(says), "{message}");
    }
    let alerts = client
        .get(format!("{url}/api/v2/alerts"))
        .send()
        .await
        .unwrap();
    assert!(alerts.status().is_success());
    manager.shutdown();
}

/// Alertmanager's `--silences.max-silences` and `--silences.max-silence-size-bytes`: amtool
/// is refused the silence one too many, and one too large, with Alertmanager's message;
/// expiring one makes room.
#[tokio::test(flavor = "multi_thread")]
async fn amtool_is_refused_silences_over_the_limits() {
    let (_sink, hook) = start_sink(0).await;
    let manager = RuleManager::new(
        Arc::new(FakeQuerier::default()),
        alerting(&hook),
        ManagerOptions {
            silence_limits: telltale_alertmanager::SilenceLimits {
                max_silences: 1,
                max_silence_size_bytes: 1000,
            },
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    let url = serve(router(manager.clone())).await;
    let add = |comment: String| {
        let url = url.clone();
        async move {
            tokio::process::Command::new(AMTOOL)
                .arg(format!("--alertmanager.url={url}"))
                .args([
                    "silence",
                    "add",
                    "alertname=Down",
                    "--author=ops",
                    "--duration=1h",
                ])
                .arg(format!("--comment={comment}"))
                .output()
                .await
                .expect("amtool runs")
        }
    };
    let first = add("maintenance".into()).await;
    assert!(first.status.success());
    let id = String::from_utf8_lossy(&first.stdout).trim().to_string();

    let second = add("another".into()).await;
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("exceeded maximum number of silences: 1 (limit: 1)"),
        "{said}"
    );

    amtool(&url, &["silence", "expire", &id]).await;
    let large = add("x".repeat(2000)).await;
    assert!(!large.status.success());
    let said = String::from_utf8_lossy(&large.stderr);
    assert!(said.contains("silence exceeded maximum size"), "{said}");
    assert!(add("room again".into()).await.status.success());
}
