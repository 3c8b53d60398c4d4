//! The persisted documents keep their format: state written by this version, fixed here
//! byte for byte, is read back by the manager (rule alert state, notification log,
//! silences).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{FakeQuerier, alerting_rule, rules, sample, start_sink, wait_for};
use telltale_alertmanager::labels::fingerprint;
use telltale_alertmanager::rules::state::AlertState;
use telltale_alertmanager::{ManagerOptions, RuleManager};
use telltale_crds::{AlertingSpec, Receiver, Route, WebhookConfig};
use telltale_model::now_ms;

#[tokio::test(flavor = "multi_thread")]
async fn documents_of_this_format_are_restored() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, url) = start_sink(0).await;
    let now = now_ms();
    let labels = [
        ("alertname".to_string(), "Down".to_string()),
        ("instance".to_string(), "a".to_string()),
    ]
    .into();
    let fp = fingerprint(&labels);
    std::fs::write(
        dir.path().join("rules.json"),
        format!(
            r#"{{"up;g;alert;Down;{{}};0":[{{"labels":{{"alertname":"Down","instance":"a"}},"annotations":{{}},"state":"firing","value":0.0,"active_at_ms":{a},"fired_at_ms":{a},"resolved_at_ms":null,"keep_firing_since_ms":null}}]}}"#,
            a = now - 60_000
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nflog.json"),
        format!(
            r#"{{"entries":{{"ops/webhook/0:{{}}:{{alertname=\"Down\"}}":{{"firing":[{fp}],"resolved":[],"sent_at_ms":{}}}}}}}"#,
            now - 50_000
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("silences.json"),
        format!(
            r#"[{{"id":"6d0c4c52-1f1e-4c3a-9a55-2f0c1d6c9e01","matchers":[{{"name":"alertname","value":"Other","isRegex":false,"isEqual":true}}],"starts_at_ms":{},"ends_at_ms":{},"updated_at_ms":{},"created_by":"ops","comment":"kept"}}]"#,
            now - 1000,
            now + 3_600_000,
            now - 1000
        ),
    )
    .unwrap();

    let querier = Arc::new(FakeQuerier::default());
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    let m = RuleManager::new(
        querier.clone(),
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
        },
        ManagerOptions {
            state_dir: Some(dir.path().to_path_buf()),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    m.apply(&[rules(
        "up",
        vec![alerting_rule(
            "Down",
            "up == 0",
            Duration::from_secs(3600),
            &[],
        )],
    )]);
    let silence = m
        .dispatcher()
        .silence("6d0c4c52-1f1e-4c3a-9a55-2f0c1d6c9e01")
        .expect("silence restored");
    assert_eq!(silence.comment, "kept");
    wait_for("an evaluation", || {
        m.groups()[0].rules[0].last_evaluation_ms.is_some()
    })
    .await;
    let alert = m.groups()[0].rules[0].alerts.iter().next().unwrap().clone();
    assert_eq!(
        alert.state,
        AlertState::Firing,
        "restored firing, despite `for: 1h`"
    );
    assert_eq!(alert.active_at_ms, now - 60_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 0, "the log says this group was notified");
    m.shutdown();
}
