//! TLS: trust, client certificates per `client_auth_type`, `client_allowed_sans`,
//! ALPN, and a server that outlives failed handshakes.

use crate::common::{Pki, start, status};

const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n";

#[tokio::test]
async fn trusted_ca_gets_200_untrusted_handshake_fails_and_server_goes_on() {
    let pki = Pki::new();
    let server = start(Some(&pki.web_config(TLS))).await;
    let trusting = pki.client(Some("ca.pem"), None);
    assert_eq!(status(&trusting, &server.https("/hello")).await, Ok(200));
    let body = trusting.get(server.https("/hello")).send().await.unwrap();
    assert_eq!(body.text().await.unwrap(), "hello");

    let untrusting = pki.client(None, None);
    let e = untrusting
        .get(server.https("/hello"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e:?}");
    let wrong_ca = pki.client(Some("other-ca.pem"), None);
    assert!(status(&wrong_ca, &server.https("/hello")).await.is_err());
    // Plain HTTP to the TLS port: no answer, and the server is unharmed.
    assert!(status(&trusting, &server.http("/hello")).await.is_err());

    assert_eq!(status(&trusting, &server.https("/hello")).await, Ok(200));
    server.stop().await;
}

/// Outcome of a request with no client certificate, one of the CA, one of another CA.
async fn outcomes(auth: &str) -> [bool; 3] {
    let pki = Pki::new();
    let config = format!("{TLS}  client_auth_type: {auth}\n  client_ca_file: ca.pem\n");
    let config = if auth == "NoClientCert" {
        format!("{TLS}  client_auth_type: {auth}\n")
    } else {
        config
    };
    let server = start(Some(&pki.web_config(&config))).await;
    let mut out = [false; 3];
    for (i, identity) in [None, Some("client"), Some("other-client")]
        .into_iter()
        .enumerate()
    {
        let client = pki.client(Some("ca.pem"), identity);
        out[i] = status(&client, &server.https("/hello")).await == Ok(200);
    }
    // Whatever was refused, the server still serves.
    let client = pki.client(Some("ca.pem"), Some("client"));
    assert_eq!(status(&client, &server.https("/hello")).await, Ok(200));
    server.stop().await;
    out
}

#[tokio::test]
async fn client_auth_types_as_go() {
    // [no cert, cert of the CA, cert of another CA] → served?
    assert_eq!(outcomes("NoClientCert").await, [true, true, true]);
    assert_eq!(outcomes("RequestClientCert").await, [true, true, true]);
    assert_eq!(outcomes("RequireAnyClientCert").await, [false, true, true]);
    assert_eq!(outcomes("RequireClientCert").await, [false, true, true]);
    assert_eq!(
        outcomes("VerifyClientCertIfGiven").await,
        [true, true, false]
    );
    assert_eq!(
        outcomes("RequireAndVerifyClientCert").await,
        [false, true, false]
    );
}

#[tokio::test]
async fn client_allowed_sans() {
    let pki = Pki::new();
    let config = format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  \
         client_allowed_sans: [client.example, 10.1.2.3]\n"
    );
    let server = start(Some(&pki.web_config(&config))).await;
    let ok = pki.client(Some("ca.pem"), Some("client"));
    assert_eq!(status(&ok, &server.https("/hello")).await, Ok(200));
    // Same CA, a name not listed.
    let intruder = pki.client(Some("ca.pem"), Some("intruder"));
    assert!(status(&intruder, &server.https("/hello")).await.is_err());
    // A listed name from another CA is still refused by the CA check.
    let other = pki.client(Some("ca.pem"), Some("other-client"));
    assert!(status(&other, &server.https("/hello")).await.is_err());
    server.stop().await;

    // With RequireAnyClientCert only the names count.
    let config = format!(
        "{TLS}  client_auth_type: RequireAnyClientCert\n  client_allowed_sans: [client.example]\n"
    );
    let server = start(Some(&pki.web_config(&config))).await;
    let other = pki.client(Some("ca.pem"), Some("other-client"));
    assert_eq!(status(&other, &server.https("/hello")).await, Ok(200));
    let none = pki.client(Some("ca.pem"), None);
    assert!(status(&none, &server.https("/hello")).await.is_err());
    let intruder = pki.client(Some("ca.pem"), Some("intruder"));
    assert!(status(&intruder, &server.https("/hello")).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn http2_through_alpn_unless_turned_off() {
    let pki = Pki::new();
    let server = start(Some(&pki.web_config(TLS))).await;
    let r = pki
        .client(Some("ca.pem"), None)
        .get(server.https("/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    server.stop().await;

    let server = start(Some(
        &pki.web_config(&format!("{TLS}http_server_config: {{http2: false}}\n")),
    ))
    .await;
    let r = pki
        .client(Some("ca.pem"), None)
        .get(server.https("/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.text().await.unwrap(), "hello");
    // A client that insists on HTTP/2 without ALPN gets nowhere.
    let h2 = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pki.read("ca.pem")).unwrap())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    assert!(status(&h2, &server.https("/hello")).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn without_config_or_tls_section_plain_http() {
    let pki = Pki::new();
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let server = start(None).await;
    assert_eq!(status(&plain, &server.http("/hello")).await, Ok(200));
    server.stop().await;
    let server = start(Some(
        &pki.web_config("tls_server_config: {min_version: TLS13}\n"),
    ))
    .await;
    assert_eq!(status(&plain, &server.http("/hello")).await, Ok(200));
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_lets_the_request_in_flight_finish() {
    let pki = Pki::new();
    let server = start(Some(&pki.web_config(TLS))).await;
    let client = pki.client(Some("ca.pem"), None);
    let slow = tokio::spawn({
        let client = client.clone();
        let url = server.https("/slow");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let url = server.https("/hello");
    server.stop().await;
    assert_eq!(slow.await.unwrap(), "slow");
    assert!(status(&client, &url).await.is_err());
}
