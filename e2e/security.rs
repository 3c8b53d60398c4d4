//! The HTTP endpoints of the real binary behind Prometheus's web configuration file
//! (`--web.config.file`): TLS with client certificates checked against a CA, basic auth
//! with bcrypt hashes, reloading the file while running, and the clients users point at
//! it — curl, promtool (2.42: the CA from `SSL_CERT_FILE`, the password in the URL, as it
//! has no `--http.config.file` for queries yet) and amtool with its `--http.config.file`;
//! and standalone scraping a target over TLS with a token file.

mod common;
#[allow(dead_code)]
#[path = "../web/tests/serve/common.rs"]
mod pki;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Proc, TELLTALE, free_port};

/// Waits until `f` holds, or panics with `what` and the process log after 30 s.
async fn until<F, Fut>(proc: &mut Proc, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("telltale exited with {status}:\n{}", proc.log_text());
        }
        if f().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not within 30 s:\n{}",
            proc.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the program is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_behind_tls_and_basic_auth() {
    let pki = pki::Pki::new();
    let web_yml = |password: &str| {
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  \
             client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n\
             basic_auth_users:\n  admin: {}\n",
            pki::hash(password)
        )
    };
    let web = pki.web_config(&web_yml("s3cret"));
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let mut proc = Proc::spawn(
        "telltale",
        Command::new(TELLTALE)
            .arg("standalone")
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--web.config.file")
            .arg(&web)
            .arg("--self-scrape-interval")
            .arg("1s"),
        data.path().join("telltale.log"),
    );

    let trusted = pki.client(Some("ca.pem"), None);
    let ready = format!("{base}/-/ready");
    until(&mut proc, "ready over TLS with the password", || async {
        trusted
            .get(&ready)
            .basic_auth("admin", Some("s3cret"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;

    // Without the password: 401 and the challenge; a wrong one: 401.
    let r = trusted.get(&ready).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let r = trusted
        .get(&ready)
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Plain HTTP gets no answer from the TLS port; a client certificate of another CA is
    // refused in the handshake; one of the configured CA is accepted.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/-/ready"))
        .basic_auth("admin", Some("s3cret"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    let foreign = pki.client(Some("ca.pem"), Some("other-client"));
    assert!(
        foreign
            .get(&ready)
            .basic_auth("admin", Some("s3cret"))
            .send()
            .await
            .is_err()
    );
    let with_cert = pki.client(Some("ca.pem"), Some("client"));
    let r = with_cert
        .get(&ready)
        .basic_auth("admin", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The self-scrape still works (it reads /metrics on loopback), under the public
    // address as its instance.
    let query = format!("{base}/api/v1/query");
    let instance = format!("127.0.0.1:{port}");
    until(&mut proc, "up{job=\"telltale\"} = 1", || async {
        let Ok(r) = trusted
            .get(&query)
            .basic_auth("admin", Some("s3cret"))
            .query(&[(
                "query",
                format!("up{{job=\"telltale\",instance=\"{instance}\"}}"),
            )])
            .send()
            .await
        else {
            return false;
        };
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        body["data"]["result"][0]["value"][1] == "1"
    })
    .await;

    // curl, as a user would.
    let ca = pki.path("ca.pem");
    let (ok, out) = run(Command::new("curl").args([
        "-sS",
        "--fail",
        "--cacert",
        ca.to_str().unwrap(),
        "-u",
        "admin:s3cret",
        &format!("{base}/api/v1/query?query=1%2B1"),
    ]));
    assert!(ok && out.contains("\"2\""), "curl: {out}");
    let (ok, out) = run(Command::new("curl").args([
        "-sS",
        "--fail",
        "--cacert",
        ca.to_str().unwrap(),
        &format!("{base}/api/v1/query?query=1"),
    ]));
    assert!(!ok && out.contains("401"), "curl without a password: {out}");

    // promtool 2.42: the CA from SSL_CERT_FILE, the password in the URL.
    let (ok, out) = run(Command::new("promtool").env("SSL_CERT_FILE", &ca).args([
        "query",
        "instant",
        &format!("https://admin:s3cret@127.0.0.1:{port}"),
        "up{job=\"telltale\"}",
    ]));
    assert!(ok && out.contains("=> 1 @"), "promtool: {out}");
    let (ok, out) = run(Command::new("promtool")
        .env("SSL_CERT_FILE", &ca)
        .args(["query", "instant", &base, "up"]));
    assert!(!ok, "promtool without a password: {out}");

    // amtool with Alertmanager's HTTP client configuration: CA, client certificate and
    // password.
    let am_yml = pki.write(
        "amtool.yml",
        &format!(
            "tls_config:\n  ca_file: {}\n  cert_file: {}\n  key_file: {}\n\
             basic_auth:\n  username: admin\n  password: s3cret\n",
            ca.display(),
            pki.path("client.pem").display(),
            pki.path("client-key.pem").display()
        ),
    );
    let amtool = |args: &[&str], config: Option<&std::path::Path>| {
        let mut cmd = Command::new("amtool");
        cmd.current_dir(pki.dir.path())
            .args(args)
            .arg(format!("--alertmanager.url={base}"));
        if let Some(c) = config {
            cmd.arg(format!("--http.config.file={}", c.display()));
        }
        run(&mut cmd)
    };
    let (ok, out) = amtool(
        &[
            "silence",
            "add",
            "alertname=Behind",
            "--comment=over TLS",
            "--author=e2e",
            "--duration=1h",
        ],
        Some(&am_yml),
    );
    assert!(ok, "amtool silence add: {out}");
    let (ok, out) = amtool(&["silence", "query"], Some(&am_yml));
    assert!(
        ok && out.contains("over TLS"),
        "amtool silence query: {out}"
    );
    let (ok, out) = amtool(&["silence", "query"], None);
    assert!(!ok, "amtool without its HTTP configuration: {out}");

    // A new password in the file applies without a restart; the old one stops working.
    pki.web_config(&web_yml("n3w"));
    until(&mut proc, "the new password", || async {
        trusted
            .get(&ready)
            .basic_auth("admin", Some("n3w"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let r = trusted
        .get(&ready)
        .basic_auth("admin", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A broken web configuration file stops the binary before it serves, naming the file
/// and the field; `telltale check web-config` gives the same verdict.
#[test]
fn bad_web_config_is_refused_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("web.yml");
    std::fs::write(
        &bad,
        "tls_server_config:\n  cert_file: a.pem\n  key_file: a-key.pem\n  client_auth_type: Sometimes\n",
    )
    .unwrap();
    let (ok, out) = run(Command::new(TELLTALE)
        .arg("standalone")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--web.config.file")
        .arg(&bad));
    assert!(!ok);
    assert!(
        out.contains("web.yml") && out.contains("client_auth_type"),
        "{out}"
    );
    let (ok, out) = run(Command::new(TELLTALE)
        .args(["check", "web-config"])
        .arg(&bad));
    assert!(
        !ok && out.contains("FAILED") && out.contains("client_auth_type"),
        "{out}"
    );
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        format!("basic_auth_users:\n  admin: {}\n", pki::hash("x")),
    )
    .unwrap();
    let (ok, out) = run(Command::new(TELLTALE)
        .args(["check", "web-config"])
        .arg(&good));
    let (p_ok, p_out) = run(Command::new("promtool")
        .args(["check", "web-config"])
        .arg(&good));
    assert_eq!(ok, p_ok, "telltale: {out}\npromtool: {p_out}");
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

/// An exporter over TLS (the PKI's server certificate) answering `/metrics` only to
/// `Authorization: Bearer e2e-token`.
async fn secured_exporter(pki: &pki::Pki) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|h: HeaderMap| async move {
            match h.get("authorization").and_then(|v| v.to_str().ok()) {
                Some("Bearer e2e-token") => (StatusCode::OK, "secured_e2e 1\n"),
                _ => (StatusCode::UNAUTHORIZED, "unauthorized\n"),
            }
        }),
    );
    let web = telltale_web::WebConfigFile::load(pki.write(
        "exporter-web.yml",
        "tls_server_config: {cert_file: server.pem, key_file: server-key.pem}\n",
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(telltale_web::serve(
        listener,
        app,
        Some(web),
        std::future::pending(),
    ));
    addr.to_string()
}

/// The health and last error of the target of `pool` in a `/api/v1/targets` answer.
fn target_health(targets: &serde_json::Value, pool: &str) -> Option<(String, String)> {
    targets["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["scrapePool"] == pool)
        .map(|t| {
            (
                t["health"].as_str().unwrap_or("").to_string(),
                t["lastError"].as_str().unwrap_or("").to_string(),
            )
        })
}

/// `telltale standalone -f`: a ScrapeTarget over HTTPS with a CA file and a token file is
/// scraped; one trusting another CA is down with the reason in `/api/v1/targets`; a
/// Secret reference is refused at start with the file and the field.
#[tokio::test(flavor = "multi_thread")]
async fn standalone_scrapes_a_secured_target() {
    let pki = pki::Pki::new();
    let exporter = secured_exporter(&pki).await;
    let token = pki.write("token", "e2e-token\n");
    let target = |name: &str, ca: &str| {
        format!(
            "---\napiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: {name}}}\n\
             spec:\n  interval: 1s\n  scheme: https\n  static: [{{targets: ['{exporter}']}}]\n  \
             tlsConfig: {{caFile: {}}}\n  authorization: {{credentialsFile: {}}}\n",
            pki.path(ca).display(),
            token.display()
        )
    };
    let targets = pki.write(
        "targets.yaml",
        &(target("secured", "ca.pem") + &target("wrong-ca", "other-ca.pem")),
    );
    let data = tempfile::tempdir().unwrap();
    let mut t = common::Telltale::start(
        &data.path().join("data"),
        &["-f", targets.to_str().unwrap()],
    )
    .await;
    let url = t.url("/api/v1/targets");
    until(&mut t.proc, "the secured target up, the other down", || async {
        let Ok(v) = reqwest::get(&url).await else {
            return false;
        };
        let v: serde_json::Value = v.json().await.unwrap_or_default();
        let health = |pool: &str| target_health(&v, pool);
        matches!(health("secured"), Some((h, e)) if h == "up" && e.is_empty())
            && matches!(health("wrong-ca"), Some((h, e)) if h == "down" && e.contains("UnknownIssuer"))
    })
    .await;
    let up = t.query("secured_e2e").await;
    assert_eq!(up.len(), 1, "{up:?}");
    drop(t);

    let refused = pki.write(
        "refused.yaml",
        &format!(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: s}}\n\
             spec:\n  static: [{{targets: ['{exporter}']}}]\n  \
             authorization: {{credentials: {{name: token, key: t}}}}\n"
        ),
    );
    let (ok, out) = run(Command::new(TELLTALE)
        .arg("standalone")
        .arg("--data-dir")
        .arg(data.path().join("data2"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("-f")
        .arg(&refused));
    assert!(!ok);
    assert!(
        out.contains("refused.yaml: document 1 (ScrapeTarget s): spec.authorization.credentials: Secret and ConfigMap references need the Kubernetes API"),
        "{out}"
    );
}

/// `telltale standalone --config.file`: credentials written inline in prometheus.yml
/// (`authorization.credentials`, `bearer_token`) are used for the scrape — the right
/// token is up, a wrong one down with the target's 401 — and `/api/v1/status/config`
/// shows them as `<secret>`, as Prometheus does.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_yml_inline_credentials_scrape_a_secured_target() {
    let pki = pki::Pki::new();
    let exporter = secured_exporter(&pki).await;
    let ca = pki.path("ca.pem");
    let config = pki.write(
        "prometheus.yml",
        &format!(
            "scrape_configs:\n\
             - job_name: inline\n  scrape_interval: 1s\n  scheme: https\n  \
               tls_config: {{ca_file: {ca}}}\n  authorization: {{credentials: e2e-token}}\n  \
               static_configs: [{{targets: ['{exporter}']}}]\n\
             - job_name: wrong\n  scrape_interval: 1s\n  scheme: https\n  \
               tls_config: {{ca_file: {ca}}}\n  bearer_token: not-the-token\n  \
               static_configs: [{{targets: ['{exporter}']}}]\n",
            ca = ca.display()
        ),
    );
    let data = tempfile::tempdir().unwrap();
    let mut t = common::Telltale::start(
        &data.path().join("data"),
        &["--config.file", config.to_str().unwrap()],
    )
    .await;
    let url = t.url("/api/v1/targets");
    until(
        &mut t.proc,
        "the inline token up, the wrong one down",
        || async {
            let Ok(v) = reqwest::get(&url).await else {
                return false;
            };
            let v: serde_json::Value = v.json().await.unwrap_or_default();
            let health = |pool: &str| target_health(&v, pool);
            matches!(health("inline"), Some((h, e)) if h == "up" && e.is_empty())
                && matches!(health("wrong"), Some((h, e)) if h == "down" && e.contains("401"))
        },
    )
    .await;
    assert_eq!(t.query("secured_e2e").await.len(), 1);
    let shown = common::get_json(&t.url("/api/v1/status/config")).await;
    let yaml = shown["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("credentials: <secret>"), "{yaml}");
    assert!(yaml.contains("bearer_token: <secret>"), "{yaml}");
    assert!(
        !yaml.contains("e2e-token") && !yaml.contains("not-the-token"),
        "{yaml}"
    );
}

/// The components as a cluster runs them, all behind one web configuration (TLS that
/// requires client certificates of the CA, and a password): each answers its probe on
/// the loopback `--probe.listen-address` (`telltale probe`, what the operator's exec
/// probes run) while its public port refuses a caller without the password; the query
/// reaches the scrapers' and the alertmanager's APIs at `https://` with `--peer.tls-*`
/// (the CA, a client certificate) and the user's own password passed on; without the
/// client certificate it cannot.
#[tokio::test(flavor = "multi_thread")]
async fn cluster_components_behind_one_web_config() {
    let pki = pki::Pki::new();
    // One certificate for servers and clients, as a cert-manager Certificate gives.
    pki.issue("peer", &["127.0.0.1", "localhost"], &[], false);
    let web = pki.web_config(&format!(
        "tls_server_config:\n  cert_file: peer.pem\n  key_file: peer-key.pem\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n\
         basic_auth_users:\n  admin: {}\n",
        pki::hash("s3cret")
    ));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let addr = || format!("127.0.0.1:{}", free_port());
    let (grpc, storage_http) = (addr(), addr());
    let (scraper, alerts, query, query_bare) = (addr(), addr(), addr(), addr());
    let probes: Vec<String> = (0..5).map(|_| addr()).collect();
    let web_flags = |probe: &str| {
        vec![
            "--web.config.file".to_string(),
            web.display().to_string(),
            "--probe.listen-address".into(),
            probe.to_string(),
        ]
    };
    let spawn = |name: &str, args: Vec<String>| {
        Proc::spawn(
            name,
            Command::new(TELLTALE)
                .args(&args)
                .env("TELLTALE_LOG", "info"),
            d.join(format!("{name}.log")),
        )
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut storage = spawn(
        "storage",
        [
            s(&["storage", "--grpc-listen", &grpc, "--listen", &storage_http]),
            s(&["--data-dir", &d.join("storage").display().to_string()]),
            web_flags(&probes[0]),
        ]
        .concat(),
    );
    let mut scraper_proc = spawn(
        "scraper",
        [
            s(&["scraper", "--storage", &grpc, "--listen", &scraper]),
            s(&["--queue-dir", &d.join("queue").display().to_string()]),
            web_flags(&probes[1]),
        ]
        .concat(),
    );
    let mut alerts_proc = spawn(
        "alertmanager",
        [
            s(&["alertmanager", "--storage", &grpc, "--listen", &alerts]),
            s(&["--data-dir", &d.join("am").display().to_string()]),
            web_flags(&probes[2]),
        ]
        .concat(),
    );
    let peers = |with_cert: bool| {
        let mut v = s(&[
            "--scraper-url",
            &format!("https://{scraper}"),
            "--alertmanager-url",
            &format!("https://{alerts}"),
            "--peer.tls-ca-file",
            &pki.path("ca.pem").display().to_string(),
        ]);
        if with_cert {
            v.extend(s(&[
                "--peer.tls-cert-file",
                &pki.path("peer.pem").display().to_string(),
                "--peer.tls-key-file",
                &pki.path("peer-key.pem").display().to_string(),
            ]));
        }
        v
    };
    let mut query_proc = spawn(
        "query",
        [
            s(&["query", "--storage", &grpc, "--listen", &query]),
            peers(true),
            web_flags(&probes[3]),
        ]
        .concat(),
    );
    let mut bare_proc = spawn(
        "query-bare",
        [
            s(&["query", "--storage", &grpc, "--listen", &query_bare]),
            peers(false),
            web_flags(&probes[4]),
        ]
        .concat(),
    );

    // Probes: on loopback, no password, no certificate.
    let procs = [
        &mut storage,
        &mut scraper_proc,
        &mut alerts_proc,
        &mut query_proc,
        &mut bare_proc,
    ];
    for (proc, probe) in procs.into_iter().zip(&probes) {
        until(proc, "the probe answers", || async {
            Command::new(TELLTALE)
                .args(["probe", &format!("http://{probe}/ready")])
                .status()
                .is_ok_and(|s| s.success())
        })
        .await;
    }
    let (ok, text) =
        run(Command::new(TELLTALE).args(["probe", &format!("http://{}/ready", probes[0])]));
    assert!(ok, "{text}");
    let (ok, text) =
        run(Command::new(TELLTALE).args(["probe", &format!("http://{}", free_port_addr())]));
    assert!(!ok, "a probe of nothing fails: {text}");

    // The public ports: the client certificate alone is not enough.
    let client = pki.client(Some("ca.pem"), Some("client"));
    for a in [&storage_http, &scraper, &alerts, &query] {
        let r = client
            .get(format!("https://{a}/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{a}");
    }
    let get = |base: &str, path: &str| {
        client
            .get(format!("https://{base}{path}"))
            .basic_auth("admin", Some("s3cret"))
            .send()
    };
    // Through the query: the alertmanager's API and the scraper's targets.
    let status = get(&query, "/api/v2/status").await.unwrap();
    assert_eq!(status.status(), 200);
    let body: serde_json::Value = status.json().await.unwrap();
    assert!(body["versionInfo"].is_object(), "{body}");
    let targets = get(&query, "/api/v1/targets").await.unwrap();
    assert_eq!(targets.status(), 200);
    let body: serde_json::Value = targets.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");
    assert!(
        body.get("warnings").is_none(),
        "every scraper answered: {body}"
    );
    // The user's password is what opens the others: a wrong one is refused there too.
    let wrong = client
        .get(format!("https://{query}/api/v2/status"))
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // A query without the client certificate cannot reach them.
    let bare = get(&query_bare, "/api/v2/status").await.unwrap();
    assert_eq!(bare.status(), 503, "{}", bare.text().await.unwrap());
    let bare: serde_json::Value = get(&query_bare, "/api/v1/targets")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bare["status"], "error", "{bare}");
}

/// A loopback address nobody listens on.
fn free_port_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}
