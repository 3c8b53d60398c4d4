//! Scraping secured targets over real TLS (certificates made by rcgen for each test, the
//! exporter served by `telltale_web::serve`): `scheme: https` with a CA, a bearer token
//! from a file, a client certificate; and what `/api/v1/targets` says when the CA, the
//! token or the server name is wrong, or a Secret is named where there is no API.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{MemoryWriter, scrape_targets, secured_exporter, series_named, serve_app};
use telltale_scraper::{PushOptions, ScrapeManager, router};
use telltale_web::testing::Pki;

/// A ScrapeTarget `name` of `addr` every 100ms with the client fields `fields` (YAML
/// lines indented for `spec:`).
fn target(name: &str, addr: &str, fields: &str) -> String {
    format!(
        "---\napiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: {name}}}\n\
spec:\n  interval: 100ms\n  scrapeTimeout: 100ms\n  static: [{{targets: ['{addr}']}}]\n{fields}"
    )
}

/// `/api/v1/targets`' active targets by scrape pool: (health, lastError).
async fn targets(base: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = reqwest::get(format!("{base}/api/v1/targets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["scrapePool"].as_str().unwrap().to_string(),
                t["health"].as_str().unwrap().to_string(),
                t["lastError"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Waits until every pool of `want` has the health and an error containing the text.
async fn wait_for_targets(
    base: &str,
    want: &[(&str, &str, &str)],
) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = targets(base).await;
        let ok = want.iter().all(|(pool, health, error)| {
            now.iter()
                .any(|(p, h, e)| p == pool && h == health && e.contains(error))
        });
        if ok {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {want:?}, have {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn manager() -> (Arc<ScrapeManager>, Arc<MemoryWriter>, String) {
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    let base = serve_app(router(
        manager.clone(),
        writer.clone(),
        PushOptions::default(),
    ))
    .await;
    (manager, writer, base)
}

#[tokio::test]
async fn https_with_a_ca_and_a_bearer_token_is_scraped_and_failures_say_why() {
    let pki = Pki::new();
    let addr = secured_exporter(&pki, "s3cret", false).await.to_string();
    let token = pki.write("token", "s3cret\n");
    let (ca, other_ca) = (pki.path("ca.pem"), pki.path("other-ca.pem"));
    let auth = format!(
        "  authorization: {{credentialsFile: {}}}\n",
        token.display()
    );
    let yaml = [
        target(
            "good",
            &addr,
            &format!(
                "  scheme: https\n  tlsConfig: {{caFile: {}}}\n{auth}",
                ca.display()
            ),
        ),
        target(
            "wrong-ca",
            &addr,
            &format!(
                "  scheme: https\n  tlsConfig: {{caFile: {}}}\n{auth}",
                other_ca.display()
            ),
        ),
        target(
            "no-token",
            &addr,
            &format!(
                "  scheme: https\n  tlsConfig: {{caFile: {}}}\n",
                ca.display()
            ),
        ),
        target(
            "wrong-name",
            &addr,
            &format!(
                "  scheme: https\n  tlsConfig: {{caFile: {}, serverName: metrics.example}}\n{auth}",
                ca.display()
            ),
        ),
        target(
            "right-name",
            &addr,
            &format!(
                "  scheme: https\n  tlsConfig: {{caFile: {}, serverName: localhost}}\n{auth}",
                ca.display()
            ),
        ),
        target("plain-http", &addr, &auth),
    ]
    .concat();
    let (manager, writer, base) = manager().await;
    manager.apply(&scrape_targets(&yaml));
    wait_for_targets(
        &base,
        &[
            ("good", "up", ""),
            ("right-name", "up", ""),
            (
                "wrong-ca",
                "down",
                "invalid peer certificate: UnknownIssuer",
            ),
            (
                "no-token",
                "down",
                "server returned HTTP status 401 Unauthorized",
            ),
            (
                "wrong-name",
                "down",
                "certificate not valid for name \"metrics.example\"",
            ),
            // TLS is not spoken by a plain-HTTP scrape of a TLS port.
            ("plain-http", "down", "Get \"http://"),
        ],
    )
    .await;
    writer
        .wait_for("the secured series", |b| {
            series_named(b, "secured_up")
                .iter()
                .any(|s| s.label("job") == Some("good"))
        })
        .await;
    let up: Vec<_> = series_named(&writer.batches(), "up")
        .into_iter()
        .filter(|s| s.label("job") == Some("wrong-ca"))
        .map(|s| s.samples[0].value)
        .collect();
    assert!(!up.is_empty() && up.iter().all(|v| *v == 0.0), "{up:?}");

    // A rotated token file applies to the next scrape.
    pki.write("token", "rotated-away\n");
    wait_for_targets(&base, &[("good", "down", "401 Unauthorized")]).await;
    pki.write("token", "s3cret");
    wait_for_targets(&base, &[("good", "up", "")]).await;
    manager.shutdown();
    manager.stopped().await;
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_configured() {
    let pki = Pki::new();
    let addr = secured_exporter(&pki, "t", true).await.to_string();
    let token = pki.write("token", "t");
    let common = format!(
        "  scheme: https\n  authorization: {{credentialsFile: {}}}\n",
        token.display()
    );
    let yaml = [
        target(
            "with-cert",
            &addr,
            &format!(
                "{common}  tlsConfig: {{caFile: {}, certFile: {}, keyFile: {}}}\n",
                pki.path("ca.pem").display(),
                pki.path("client.pem").display(),
                pki.path("client-key.pem").display()
            ),
        ),
        target(
            "without-cert",
            &addr,
            &format!("{common}  tlsConfig: {{caFile: {}}}\n", pki.path("ca.pem").display()),
        ),
        target(
            "missing-key",
            &addr,
            &format!(
                "{common}  tlsConfig: {{caFile: {}, certFile: {}, keyFile: /nonexistent/key.pem}}\n",
                pki.path("ca.pem").display(),
                pki.path("client.pem").display()
            ),
        ),
    ]
    .concat();
    let (manager, _writer, base) = manager().await;
    manager.apply(&scrape_targets(&yaml));
    wait_for_targets(
        &base,
        &[
            ("with-cert", "up", ""),
            ("without-cert", "down", "Get \"https://"),
            (
                "missing-key",
                "down",
                "spec.tlsConfig.keyFile: cannot read /nonexistent/key.pem",
            ),
        ],
    )
    .await;
    manager.shutdown();
    manager.stopped().await;
}

/// Without the Kubernetes API (standalone) a Secret reference cannot be read: the target
/// is down and says which field to use instead.
#[tokio::test]
async fn secret_references_without_the_api_name_the_field() {
    let pki = Pki::new();
    let addr = secured_exporter(&pki, "t", false).await.to_string();
    let yaml = target(
        "from-secret",
        &addr,
        &format!(
            "  scheme: https\n  tlsConfig: {{caFile: {}}}\n  authorization: {{credentials: {{name: token, key: t}}}}\n",
            pki.path("ca.pem").display()
        ),
    );
    let (manager, _writer, base) = manager().await;
    manager.apply(&scrape_targets(&yaml));
    wait_for_targets(
        &base,
        &[(
            "from-secret",
            "down",
            "spec.authorization.credentials: Secret and ConfigMap references need the Kubernetes API",
        )],
    )
    .await;
    manager.shutdown();
    manager.stopped().await;
}

/// `oauth2` on a ScrapeTarget in standalone: client id and secret from files, the token
/// endpoint's slowness counted against the scrape timeout, a wrong secret named.
#[tokio::test]
async fn oauth2_tokens_from_files_and_their_failures() {
    use telltale_web::testing::{TokenServer, TokenServerOptions};
    let good = TokenServer::start(TokenServerOptions::default()).await;
    let slow = TokenServer::start(TokenServerOptions {
        delay: Duration::from_secs(5),
        ..TokenServerOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let id = write("id", "telltale\n");
    let secret = write("secret", "s3cret\n");
    let wrong = write("wrong", "nope");
    let fields = |server: &TokenServer, secret: &str| {
        format!(
            "  oauth2: {{clientIdFile: {id}, clientSecretFile: {secret}, tokenUrl: '{}'}}\n",
            server.token_url()
        )
    };
    let host = |s: &TokenServer| s.base.trim_start_matches("http://").to_string();
    let yaml = [
        target("ok", &host(&good), &fields(&good, &secret)),
        target("refused", &host(&good), &fields(&good, &wrong)),
        target("slow", &host(&slow), &fields(&slow, &secret)),
    ]
    .concat();
    let (manager, _writer, base) = manager().await;
    manager.apply(&scrape_targets(&yaml));
    wait_for_targets(
        &base,
        &[
            ("ok", "up", ""),
            (
                "refused",
                "down",
                "oauth2: cannot fetch token: 401 Unauthorized",
            ),
            ("slow", "down", "oauth2: fetching the token timed out"),
        ],
    )
    .await;
    assert_eq!(
        good.tokens_issued(),
        1,
        "one token for every scrape of `ok`"
    );
    manager.shutdown();
}
