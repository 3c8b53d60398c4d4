//! `oauth2` in prometheus.yml, as a Prometheus user writes it for a target, a
//! remote_write endpoint and an Alertmanager behind an OAuth 2.0 client-credentials
//! token server: Telltale and a real Prometheus 2.42 (Go's `x/oauth2`) given the same
//! scrape config both scrape the protected target; the token is fetched once and reused;
//! a wrong secret is the target's `lastError`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Telltale, eventually, value_of, write_file};
use telltale_web::testing::{TokenServer, TokenServerOptions};

/// The `oauth2` section of the token server's client, the secret from `secret`.
fn oauth2(server: &TokenServer, secret: &str) -> String {
    format!(
        "{{client_id: telltale, {secret}, token_url: '{}', scopes: [metrics, write],
             endpoint_params: {{audience: telltale}}}}",
        server.token_url()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth2_scrapes_remote_writes_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TokenServer::start(TokenServerOptions {
        scope: Some("metrics write".into()),
        params: BTreeMap::from([("audience".into(), "telltale".into())]),
        ..TokenServerOptions::default()
    })
    .await;
    let host = server.base.trim_start_matches("http://").to_string();
    let secret_file = write_file(dir.path(), "client-secret", "s3cret\n");
    let from_file = format!("client_secret_file: {}", secret_file.display());
    let scrape = |job: &str, secret: &str| {
        format!(
            "  - job_name: {job}
    scrape_interval: 1s
    scrape_timeout: 1s
    oauth2: {}
    static_configs: [{{targets: ['{host}']}}]
",
            oauth2(&server, secret)
        )
    };
    let config = write_file(
        dir.path(),
        "prometheus.yml",
        &format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
{protected}{wrong}alerting:
  alertmanagers:
    - static_configs: [{{targets: ['{host}']}}]
      oauth2: {am}
remote_write:
  - url: {base}/write
    queue_config: {{batch_send_deadline: 1s}}
    oauth2: {rw}
",
            rules = write_file(
                dir.path(),
                "rules.yml",
                "groups: [{name: g, rules: [{alert: Always, expr: vector(1)}]}]\n"
            )
            .display(),
            protected = scrape("protected", &from_file),
            wrong = scrape("wrong", "client_secret: nope"),
            am = oauth2(&server, "client_secret: s3cret"),
            rw = oauth2(&server, "client_secret: s3cret"),
            base = server.base,
        ),
    );
    let config_arg = config.display().to_string();
    let t = Telltale::start(&dir.path().join("data"), &["--config.file", &config_arg]).await;
    // The same scrape config in a real Prometheus.
    let (_prometheus, prometheus) =
        common::start_prometheus_with(dir.path(), &scrape("protected", "client_secret: s3cret"))
            .await;

    for base in [t.url(""), prometheus.clone()] {
        let up = eventually(
            &base,
            r#"up{job="protected"} == 1"#,
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(value_of(&up[0]), 1.0, "{base}");
        eventually(&base, "oauth_protected_up", Duration::from_secs(30)).await;
    }
    // The wrong secret: the token server's refusal is the target's last error.
    let targets = common::get_json(&t.url("/api/v1/targets")).await;
    let wrong = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["labels"]["job"] == "wrong")
        .unwrap_or_else(|| panic!("{targets}"))
        .clone();
    assert_eq!(wrong["health"], "down", "{wrong}");
    let error = wrong["lastError"].as_str().unwrap();
    assert!(
        error.contains("oauth2: cannot fetch token: 401 Unauthorized"),
        "{error}"
    );

    // remote_write and the Alertmanager section reach the protected endpoints.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let received = server.received();
        let write = received.iter().any(|(p, n)| p == "/write" && *n > 0);
        let alerts = received.iter().any(|(p, _)| p == "/api/v2/alerts");
        if write && alerts {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "received only {received:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Tokens last an hour: one per client (Telltale's scrape, remote_write and
    // Alertmanager clients, Prometheus's scrape), not one per request.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let issued = server.tokens_issued();
    assert!((3..=4).contains(&issued), "{issued} tokens issued");
}
