//! Receivers' `httpConfig` (Alertmanager's `http_config`) over real TLS: a webhook
//! posting to an HTTPS server (`telltale_web::serve`) that trusts a CA of its own and
//! asks for basic auth (exporter-toolkit's `basic_auth_users`), with the integration's
//! own settings and with `global.httpConfig`; a wrong CA or password fails the
//! notification.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use common::{FakeQuerier, wait_for};
use telltale_alertmanager::{
    AlertmanagerEndpoint, ExternalAlertmanagers, ManagerOptions, QueriedSample, RuleManager,
};
use telltale_crds::{AlertRule, AlertingSpec};
use telltale_web::testing::Pki;

const EXPR: &str = "up == 0";

/// An HTTPS server with basic auth (user `am`, password `pw`) recording the paths of
/// the POSTs it accepted; returns its base URL.
async fn https_sink(pki: &Pki, seen: Arc<Mutex<Vec<String>>>) -> String {
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = pki.web_config(&format!(
        "tls_server_config: {{cert_file: server.pem, key_file: server-key.pem}}\nbasic_auth_users: {{am: '{hash}'}}\n"
    ));
    let record = move |path: &'static str| {
        let seen = seen.clone();
        post(move || async move {
            seen.lock().unwrap().push(path.to_string());
            "ok"
        })
    };
    let app = Router::new()
        .route("/own", record("/own"))
        .route("/global", record("/global"))
        .route("/api/v2/alerts", record("/api/v2/alerts"));
    let web = telltale_web::WebConfigFile::load(web).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(telltale_web::serve(
        listener,
        app,
        Some(web),
        std::future::pending(),
    ));
    format!("https://127.0.0.1:{port}")
}

fn rule() -> AlertRule {
    serde_yaml::from_str(&format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: AlertRule\nmetadata: {{name: node}}\n\
spec: {{groups: [{{name: g, interval: 100ms, rules: [{{alert: InstanceDown, expr: '{EXPR}'}}]}}]}}\n"
    ))
    .unwrap()
}

/// A manager with the alerting section `alerting` (YAML) whose one rule fires at once.
async fn run(alerting: &str) -> (Arc<RuleManager>, prometheus::Registry) {
    run_with(alerting, None).await
}

async fn run_with(
    alerting: &str,
    external: Option<Arc<ExternalAlertmanagers>>,
) -> (Arc<RuleManager>, prometheus::Registry) {
    let spec: AlertingSpec = serde_yaml::from_str(alerting).unwrap();
    spec.validate().unwrap();
    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        EXPR,
        Ok(vec![QueriedSample {
            labels: BTreeMap::from([("instance".to_string(), "db:9100".to_string())]),
            value: 0.0,
            histogram: None,
        }]),
    );
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(
        querier,
        spec,
        ManagerOptions {
            external_url: "http://tt:9093".into(),
            external,
            ..ManagerOptions::default()
        },
        &registry,
    );
    manager.apply(&[rule()]);
    (manager, registry)
}

#[tokio::test]
async fn webhooks_post_over_tls_with_basic_auth_from_their_own_and_the_global_config() {
    let pki = Pki::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = https_sink(&pki, seen.clone()).await;
    let password = pki.write("password", "pw\n");
    let ca = pki.path("ca.pem");
    let (manager, _registry) = run(&format!(
        r#"
global:
  http_config:
    basic_auth: {{username: am, password_file: {password}}}
    tls_config: {{ca_file: {ca}, server_name: localhost}}
route: {{receiver: ops, groupBy: [alertname], groupWait: 0s}}
receivers:
  - name: ops
    webhooks:
      - url: {base}/own
        http_config:
          basic_auth: {{username: am, password: pw}}
          tls_config: {{ca_file: {ca}}}
      - url: {base}/global
"#,
        password = password.display(),
        ca = ca.display(),
    ))
    .await;
    wait_for("both webhooks' POSTs", || {
        let s = seen.lock().unwrap();
        s.contains(&"/own".to_string()) && s.contains(&"/global".to_string())
    })
    .await;
    manager.shutdown();
}

/// `telltale_notification_requests_failed_total` of the webhooks (0 before the first).
fn failed_attempts(registry: &prometheus::Registry) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "telltale_notification_requests_failed_total")
        .flat_map(|f| f.get_metric().to_vec())
        .map(|m| m.get_counter().value())
        .sum()
}

#[tokio::test]
async fn a_wrong_ca_or_password_fails_the_notification() {
    let pki = Pki::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = https_sink(&pki, seen.clone()).await;
    let (manager, registry) = run(&format!(
        r#"
route: {{receiver: ops, groupBy: [alertname], groupWait: 0s}}
receivers:
  - name: ops
    webhooks:
      - url: {base}/own
        http_config:
          basic_auth: {{username: am, password: pw}}
          tls_config: {{ca_file: {other_ca}}}
      - url: {base}/global
        http_config:
          basic_auth: {{username: am, password: wrong}}
          tls_config: {{ca_file: {ca}}}
"#,
        other_ca = pki.path("other-ca.pem").display(),
        ca = pki.path("ca.pem").display(),
    ))
    .await;
    wait_for("two failed attempts", || failed_attempts(&registry) >= 2.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    manager.shutdown();
}

/// prometheus.yml's `alerting.alertmanagers` sections send with their client settings
/// too: alerts reach an Alertmanager over TLS with basic auth.
#[tokio::test]
async fn external_alertmanagers_are_reached_with_their_section_client() {
    let pki = Pki::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = https_sink(&pki, seen.clone()).await;
    let section: telltale_crds::prometheus::HttpClientConfig = serde_yaml::from_str(&format!(
        "{{basic_auth: {{username: am, password: pw}}, tls_config: {{ca_file: {}}}}}",
        pki.path("ca.pem").display()
    ))
    .unwrap();
    let settings =
        telltale_web::client::from_prometheus(&section, "alerting.alertmanagers[0]").unwrap();
    let external = Arc::new(ExternalAlertmanagers::new(&prometheus::Registry::new()).unwrap());
    external.configure(
        vec![AlertmanagerEndpoint {
            url: format!("{base}/api/v2/alerts"),
            timeout: Duration::from_secs(5),
            client: settings,
        }],
        Default::default(),
        None,
    );
    let (manager, _registry) = run_with(
        "route: {receiver: ops}\nreceivers: [{name: ops}]\n",
        Some(external),
    )
    .await;
    wait_for("the alerts' POST", || {
        seen.lock().unwrap().contains(&"/api/v2/alerts".to_string())
    })
    .await;
    manager.shutdown();
}
