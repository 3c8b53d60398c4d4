//! The outgoing client (`telltale_web::client`) against `telltale_web::serve` over real
//! TLS: the configured CA on top of the system roots, client certificates, `server_name`,
//! `insecure_skip_verify`, the `Authorization` header, and a CA file that changes.

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use telltale_web::client::{
    Auth, ClientOptions, ClientSettings, HttpClient, Material, TlsSettings,
};
use telltale_web::testing::Pki;
use tokio::net::TcpListener;

/// Serves `/auth` (answers the `Authorization` header it got) with the web config
/// `web_yml` (paths relative to the PKI's directory); returns the HTTPS base URL.
async fn serve(pki: &Pki, web_yml: &str) -> String {
    let app = Router::new().route(
        "/auth",
        get(|h: HeaderMap| async move {
            h.get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string()
        }),
    );
    let web = telltale_web::WebConfigFile::load(pki.web_config(web_yml)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(telltale_web::serve(
        listener,
        app,
        Some(web),
        std::future::pending(),
    ));
    format!("https://127.0.0.1:{port}")
}

const TLS: &str = "tls_server_config: {cert_file: server.pem, key_file: server-key.pem}\n";
const MTLS: &str = "tls_server_config: {cert_file: server.pem, key_file: server-key.pem, client_auth_type: RequireAndVerifyClientCert, client_ca_file: ca.pem}\n";

fn tls(pki: &Pki, ca: Option<&str>, identity: Option<&str>) -> TlsSettings {
    TlsSettings {
        ca: ca.map(|f| Material::file("tls_config.ca_file", pki.path(f))),
        cert: identity
            .map(|i| Material::file("tls_config.cert_file", pki.path(&format!("{i}.pem")))),
        key: identity
            .map(|i| Material::file("tls_config.key_file", pki.path(&format!("{i}-key.pem")))),
        ..TlsSettings::default()
    }
}

fn client(tls: TlsSettings, auth: Option<Auth>) -> HttpClient {
    let mut options = ClientOptions::new("telltale-test");
    options.recheck = Duration::from_millis(50);
    HttpClient::new(
        ClientSettings {
            tls,
            auth,
            ..ClientSettings::default()
        },
        options,
    )
}

/// The body of GET `{base}/auth`, or the error chain.
async fn fetch(c: &HttpClient, base: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(&format!("{base}/auth")).unwrap();
    let req = c
        .request(reqwest::Method::GET, url)
        .await
        .map_err(|e| e.to_string())?;
    let resp = req.send().await.map_err(|e| {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(x) = src {
            s.push_str(&format!(": {x}"));
            src = x.source();
        }
        s
    })?;
    assert_eq!(resp.status(), 200);
    Ok(resp.text().await.unwrap())
}

#[tokio::test]
async fn the_configured_ca_is_trusted_and_only_it() {
    let pki = Pki::new();
    let base = serve(&pki, TLS).await;
    assert_eq!(
        fetch(&client(tls(&pki, Some("ca.pem"), None), None), &base).await,
        Ok("none".into())
    );
    // The system roots alone do not know the test CA; another CA is no better.
    let e = fetch(&client(tls(&pki, None, None), None), &base)
        .await
        .unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
    let e = fetch(&client(tls(&pki, Some("other-ca.pem"), None), None), &base)
        .await
        .unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
    // insecure_skip_verify accepts it anyway.
    let insecure = TlsSettings {
        insecure_skip_verify: true,
        ..TlsSettings::default()
    };
    assert!(fetch(&client(insecure, None), &base).await.is_ok());
}

#[tokio::test]
async fn server_name_is_the_name_verified() {
    let pki = Pki::new();
    let base = serve(&pki, TLS).await;
    let named = |name: &str| TlsSettings {
        server_name: Some(name.into()),
        ..tls(&pki, Some("ca.pem"), None)
    };
    // The certificate holds localhost: fine although the URL says 127.0.0.1.
    assert!(
        fetch(&client(named("localhost"), None), &base)
            .await
            .is_ok()
    );
    let e = fetch(&client(named("metrics.example"), None), &base)
        .await
        .unwrap_err();
    assert!(e.contains("not valid for name \"metrics.example\""), "{e}");
}

#[tokio::test]
async fn client_certificates_are_presented() {
    let pki = Pki::new();
    let base = serve(&pki, MTLS).await;
    assert!(
        fetch(
            &client(tls(&pki, Some("ca.pem"), Some("client")), None),
            &base
        )
        .await
        .is_ok()
    );
    assert!(
        fetch(&client(tls(&pki, Some("ca.pem"), None), None), &base)
            .await
            .is_err()
    );
    assert!(
        fetch(
            &client(tls(&pki, Some("ca.pem"), Some("other-client")), None),
            &base
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn authorization_is_sent_and_a_rotated_token_applies() {
    let pki = Pki::new();
    let base = serve(&pki, TLS).await;
    let token = pki.write("token", "first\n");
    let c = client(
        tls(&pki, Some("ca.pem"), None),
        Some(Auth::Header {
            scheme: "Bearer".into(),
            credentials: Some(Material::file("credentials_file", &token)),
        }),
    );
    assert_eq!(fetch(&c, &base).await, Ok("Bearer first".into()));
    pki.write("token", "second");
    assert_eq!(fetch(&c, &base).await, Ok("Bearer second".into()));
    let basic = client(
        tls(&pki, Some("ca.pem"), None),
        Some(Auth::Basic {
            username: Material::value("basic_auth.username", "u"),
            password: Some(Material::value("basic_auth.password", "p")),
        }),
    );
    assert_eq!(fetch(&basic, &base).await, Ok("Basic dTpw".into()));
}

/// A CA file that appears (or changes) is picked up without a new client.
#[tokio::test]
async fn a_changed_ca_file_rebuilds_the_client() {
    let pki = Pki::new();
    let base = serve(&pki, TLS).await;
    let ca = pki.path("rotating-ca.pem");
    std::fs::write(&ca, pki.read("other-ca.pem")).unwrap();
    let c = client(
        TlsSettings {
            ca: Some(Material::file("tls_config.ca_file", &ca)),
            ..TlsSettings::default()
        },
        None,
    );
    assert!(fetch(&c, &base).await.is_err());
    std::fs::write(&ca, pki.read("ca.pem")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fetch(&c, &base).await, Ok("none".into()));
}

mod oauth2 {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use telltale_web::client::{
        Auth, ClientOptions, ClientSettings, HttpClient, Material, OAuth2Settings,
    };
    use telltale_web::testing::{TokenServer, TokenServerOptions};

    fn client(server: &TokenServer, secret: Material) -> HttpClient {
        HttpClient::new(
            ClientSettings {
                auth: Some(Auth::OAuth2(Box::new(OAuth2Settings {
                    client_id: Material::value("oauth2.client_id", "telltale"),
                    client_secret: Some(secret),
                    token_url: server.token_url(),
                    scopes: vec!["metrics".into(), "read".into()],
                    endpoint_params: BTreeMap::from([("audience".into(), "tt".into())]),
                    tls: Default::default(),
                    proxy_url: None,
                }))),
                ..ClientSettings::default()
            },
            ClientOptions::new("telltale-test"),
        )
    }

    fn options() -> TokenServerOptions {
        TokenServerOptions {
            scope: Some("read metrics".into()),
            params: BTreeMap::from([("audience".into(), "tt".into())]),
            ..TokenServerOptions::default()
        }
    }

    async fn scrape(c: &HttpClient, server: &TokenServer) -> Result<u16, String> {
        let url = reqwest::Url::parse(&format!("{}/metrics", server.base)).unwrap();
        let req = c
            .request(reqwest::Method::GET, url)
            .await
            .map_err(|e| e.to_string())?;
        Ok(req.send().await.unwrap().status().as_u16())
    }

    #[tokio::test]
    async fn a_token_is_fetched_once_and_reused_until_it_expires() {
        let server = TokenServer::start(TokenServerOptions {
            // Within the 10 s early expiry: every request fetches a new token.
            expires_in: Duration::from_secs(5),
            ..options()
        })
        .await;
        let c = client(&server, Material::value("oauth2.client_secret", "s3cret"));
        assert_eq!(scrape(&c, &server).await, Ok(200));
        assert_eq!(scrape(&c, &server).await, Ok(200));
        assert_eq!(
            server.tokens_issued(),
            2,
            "a token about to expire is renewed"
        );

        let server = TokenServer::start(options()).await;
        let c = client(&server, Material::value("oauth2.client_secret", "s3cret"));
        for _ in 0..3 {
            assert_eq!(scrape(&c, &server).await, Ok(200));
        }
        assert_eq!(server.tokens_issued(), 1, "an hour-long token is reused");
    }

    #[tokio::test]
    async fn credentials_go_in_the_form_when_basic_auth_is_refused() {
        let server = TokenServer::start(TokenServerOptions {
            basic_auth: false,
            ..options()
        })
        .await;
        let c = client(&server, Material::value("oauth2.client_secret", "s3cret"));
        assert_eq!(scrape(&c, &server).await, Ok(200));
        assert_eq!(scrape(&c, &server).await, Ok(200));
        assert_eq!(server.tokens_issued(), 1);
    }

    #[tokio::test]
    async fn a_changed_secret_file_fetches_a_new_token_and_a_wrong_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").unwrap();
        let server = TokenServer::start(options()).await;
        let c = client(&server, Material::file("oauth2.client_secret_file", &file));
        assert_eq!(scrape(&c, &server).await, Ok(200));
        server.set_client_secret("rotated");
        std::fs::write(&file, "rotated").unwrap();
        assert_eq!(scrape(&c, &server).await, Ok(200));
        assert_eq!(server.tokens_issued(), 2);

        std::fs::write(&file, "wrong").unwrap();
        let e = scrape(&c, &server).await.unwrap_err();
        assert!(
            e.starts_with("oauth2: cannot fetch token: 401 Unauthorized")
                && e.contains("invalid_client"),
            "{e}"
        );
    }
}
