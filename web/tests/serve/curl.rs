//! curl (OpenSSL), a client outside the Rust TLS stack: `--cacert`, `--cert/--key`, `-u`,
//! TLS versions and HTTP/2.

use std::process::Command;

use crate::common::{Pki, Server, hash, start};

/// curl's exit code and `%{http_code} %{http_version}` for GET `/hello` with `args`.
async fn curl(pki: &Pki, server: &Server, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new("curl");
    cmd.current_dir(pki.dir.path())
        .args([
            "-sS",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .args(args)
        .arg(server.https("/hello"));
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("curl is installed"))
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn curl_with_client_certificate_and_password() {
    let pki = Pki::new();
    let config = format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n\
         basic_auth_users:\n  alice: {}\n",
        hash("wonderland")
    );
    let server = start(Some(&pki.web_config(&config))).await;
    let cert = [
        "--cacert",
        "ca.pem",
        "--cert",
        "client.pem",
        "--key",
        "client-key.pem",
    ];
    let with = |extra: &[&'static str]| [&cert[..], extra].concat();

    assert_eq!(
        curl(&pki, &server, &with(&["-u", "alice:wonderland"])).await,
        (0, "200 2".into())
    );
    assert_eq!(curl(&pki, &server, &with(&[])).await, (0, "401 2".into()));
    assert_eq!(
        curl(&pki, &server, &with(&["-u", "alice:nope"])).await,
        (0, "401 2".into())
    );
    assert_eq!(
        curl(
            &pki,
            &server,
            &with(&["-u", "alice:wonderland", "--http1.1"])
        )
        .await,
        (0, "200 1.1".into())
    );
    // No client certificate, one of another CA, or the server's CA not trusted.
    let (code, _) = curl(
        &pki,
        &server,
        &["--cacert", "ca.pem", "-u", "alice:wonderland"],
    )
    .await;
    assert_ne!(code, 0);
    let other = [
        "--cacert",
        "ca.pem",
        "--cert",
        "other-client.pem",
        "--key",
        "other-client-key.pem",
        "-u",
        "alice:wonderland",
    ];
    assert_ne!(curl(&pki, &server, &other).await.0, 0);
    let untrusted = [
        "--cert",
        "client.pem",
        "--key",
        "client-key.pem",
        "-u",
        "alice:wonderland",
    ];
    assert_eq!(
        curl(&pki, &server, &untrusted).await.0,
        60,
        "certificate problem"
    );
    // Still serving.
    assert_eq!(
        curl(&pki, &server, &with(&["-u", "alice:wonderland"]))
            .await
            .0,
        0
    );
    server.stop().await;
}

#[tokio::test]
async fn curl_sees_the_configured_tls_versions() {
    let pki = Pki::new();
    let tls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n";
    let server = start(Some(
        &pki.web_config(&format!("{tls}  min_version: TLS13\n")),
    ))
    .await;
    let ca = ["--cacert", "ca.pem"];
    assert_eq!(
        curl(&pki, &server, &[&ca[..], &["--tlsv1.3"]].concat())
            .await
            .0,
        0
    );
    assert_ne!(
        curl(&pki, &server, &[&ca[..], &["--tls-max", "1.2"]].concat())
            .await
            .0,
        0
    );
    server.stop().await;

    let server = start(Some(&pki.web_config(&format!(
        "{tls}  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n"
    ))))
    .await;
    assert_eq!(
        curl(&pki, &server, &[&ca[..], &["--tls-max", "1.2"]].concat())
            .await
            .0,
        0
    );
    assert_ne!(
        curl(&pki, &server, &[&ca[..], &["--tlsv1.3"]].concat())
            .await
            .0,
        0
    );
    // A TLS 1.2 suite that is not listed.
    let other_suite = [
        "--tls-max",
        "1.2",
        "--ciphers",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ];
    assert_ne!(
        curl(&pki, &server, &[&ca[..], &other_suite].concat())
            .await
            .0,
        0
    );
    let listed = [
        "--tls-max",
        "1.2",
        "--ciphers",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ];
    assert_eq!(curl(&pki, &server, &[&ca[..], &listed].concat()).await.0, 0);
    server.stop().await;

    let server = start(Some(
        &pki.web_config(&format!("{tls}http_server_config: {{http2: false}}\n")),
    ))
    .await;
    assert_eq!(
        curl(&pki, &server, &[&ca[..], &["--http2"]].concat()).await,
        (0, "200 1.1".into())
    );
    server.stop().await;
}
