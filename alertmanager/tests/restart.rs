//! Durable state: a restart in the middle of a `for` period keeps the progress, a
//! notification already sent is not sent again, and silences survive.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{FakeQuerier, alerting_rule, rules, sample, start_sink, wait_for};
use telltale_alertmanager::rules::state::AlertState;
use telltale_alertmanager::{ManagerOptions, RuleManager};
use telltale_crds::{AlertRule, AlertingSpec, Receiver, Route, WebhookConfig};

fn alerting(url: &str) -> AlertingSpec {
    AlertingSpec {
        global: None,
        route: Some(
            serde_yaml::from_str::<Route>(
                "{receiver: ops, groupBy: [alertname], groupInterval: 100ms}",
            )
            .unwrap(),
        ),
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

fn start(querier: &Arc<FakeQuerier>, url: &str, dir: &Path, rule: &AlertRule) -> Arc<RuleManager> {
    let m = RuleManager::new(
        querier.clone(),
        alerting(url),
        ManagerOptions {
            state_dir: Some(dir.to_path_buf()),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    m.apply(std::slice::from_ref(rule));
    m
}

fn alert_state(m: &RuleManager) -> Option<(AlertState, i64)> {
    let groups = m.groups();
    let alert = groups.first()?.rules[0].alerts.iter().next()?.clone();
    Some((alert.state, alert.active_at_ms))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_in_the_middle_of_for_keeps_the_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    let rule = rules(
        "up",
        vec![alerting_rule(
            "Down",
            "up == 0",
            Duration::from_millis(2000),
            &[],
        )],
    );

    let first = start(&querier, &url, dir.path(), &rule);
    wait_for("the alert to be pending", || alert_state(&first).is_some()).await;
    let (state, active_at) = alert_state(&first).unwrap();
    assert_eq!(state, AlertState::Pending);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    first.stop(Duration::from_secs(5)).await;
    drop(first);

    let restarted = Instant::now();
    let second = start(&querier, &url, dir.path(), &rule);
    wait_for("the firing notification", || sink.count() >= 1).await;
    let waited = restarted.elapsed();
    assert!(
        waited < Duration::from_millis(1600),
        "fired {waited:?} after the restart: the 2s `for` started over"
    );
    let (state, restored_active_at) = alert_state(&second).unwrap();
    assert_eq!(state, AlertState::Firing);
    assert_eq!(restored_active_at, active_at, "activation time restored");
    assert_eq!(sink.bodies()[0]["status"], "firing");
    second.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_already_sent_is_not_sent_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    let rule = rules(
        "up",
        vec![alerting_rule("Down", "up == 0", Duration::ZERO, &[])],
    );

    let first = start(&querier, &url, dir.path(), &rule);
    wait_for("the firing notification", || sink.count() >= 1).await;
    first.stop(Duration::from_secs(5)).await;
    drop(first);

    let second = start(&querier, &url, dir.path(), &rule);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        sink.count(),
        1,
        "notified again after the restart: {:?}",
        sink.bodies()
    );

    // The restarted manager still notifies what changes.
    querier.set("up == 0", Ok(vec![]));
    wait_for("the resolved notification", || sink.count() >= 2).await;
    assert_eq!(sink.bodies()[1]["status"], "resolved");
    second.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn silences_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, url) = start_sink(0).await;
    let querier = Arc::new(FakeQuerier::default());
    let rule = rules(
        "up",
        vec![alerting_rule("Down", "up == 0", Duration::ZERO, &[])],
    );
    let first = start(&querier, &url, dir.path(), &rule);
    let now = telltale_model::now_ms();
    let id = first
        .dispatcher()
        .set_silence(telltale_alertmanager::alerting::silence::Silence {
            id: String::new(),
            matchers: vec![telltale_alertmanager::alerting::silence::SilenceMatcher {
                name: "alertname".into(),
                value: "Down".into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at_ms: now,
            ends_at_ms: now + 3_600_000,
            updated_at_ms: 0,
            created_by: "test".into(),
            comment: "quiet".into(),
        })
        .unwrap();
    first.stop(Duration::from_secs(5)).await;
    drop(first);

    let second = start(&querier, &url, dir.path(), &rule);
    assert_eq!(second.dispatcher().silence(&id).unwrap().comment, "quiet");
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    wait_for("the alert to fire", || {
        alert_state(&second).is_some_and(|(s, _)| s == AlertState::Firing)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 0, "silenced");
    let views = second.dispatcher().alerts(telltale_model::now_ms());
    assert_eq!(views[0].silenced_by, std::slice::from_ref(&id));
    second.dispatcher().expire_silence(&id).unwrap();
    wait_for("the notification once the silence expired", || {
        sink.count() >= 1
    })
    .await;
    second.shutdown();
}
