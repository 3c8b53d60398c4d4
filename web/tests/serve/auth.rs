//! Basic auth and headers on every route, over TLS and plain HTTP.

use crate::common::{Pki, hash, start};

#[tokio::test]
async fn basic_auth_as_exporter_toolkit() {
    let pki = Pki::new();
    let config = format!(
        "tls_server_config: {{cert_file: server.pem, key_file: server-key.pem}}\n\
         basic_auth_users:\n  alice: {}\n  bob: {}\n",
        hash("wonderland"),
        hash("builder")
    );
    let server = start(Some(&pki.web_config(&config))).await;
    let client = pki.client(Some("ca.pem"), None);
    let get = |path: &str| client.get(server.https(path));

    let none = get("/hello").send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Basic");
    assert_eq!(none.text().await.unwrap(), "Unauthorized\n");

    let wrong = get("/hello")
        .basic_auth("alice", Some("builder"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "Basic");
    let unknown = get("/hello")
        .basic_auth("carol", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let other_scheme = get("/hello")
        .bearer_auth("wonderland")
        .send()
        .await
        .unwrap();
    assert_eq!(other_scheme.status(), 401);

    for _ in 0..2 {
        // The second time from the cache.
        let right = get("/hello")
            .basic_auth("alice", Some("wonderland"))
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 200);
        assert_eq!(right.text().await.unwrap(), "hello");
    }
    let bob = get("/hello")
        .basic_auth("bob", Some("builder"))
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), 200);
    // Every route, the fallback too: a 404 only for the authenticated.
    assert_eq!(get("/nope").send().await.unwrap().status(), 401);
    let missing = get("/nope")
        .basic_auth("bob", Some("builder"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn basic_auth_over_plain_http() {
    let pki = Pki::new();
    let config = format!("basic_auth_users:\n  alice: {}\n", hash("wonderland"));
    let server = start(Some(&pki.web_config(&config))).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(
        client
            .get(server.http("/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ok = client
        .get(server.http("/hello"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn configured_headers_on_every_response() {
    let pki = Pki::new();
    let config = format!(
        "tls_server_config: {{cert_file: server.pem, key_file: server-key.pem}}\n\
         http_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
         X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n    \
         Content-Security-Policy: default-src 'self'\n    X-XSS-Protection: '0'\n\
         basic_auth_users:\n  alice: {}\n",
        hash("wonderland")
    );
    let server = start(Some(&pki.web_config(&config))).await;
    let client = pki.client(Some("ca.pem"), None);
    let check = |h: &reqwest::header::HeaderMap| {
        assert_eq!(h["x-frame-options"], "deny");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["strict-transport-security"], "max-age=31536000");
        assert_eq!(h["content-security-policy"], "default-src 'self'");
        assert_eq!(h["x-xss-protection"], "0");
    };
    let ok = client
        .get(server.https("/hello"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    check(ok.headers());
    let refused = client.get(server.https("/hello")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    check(refused.headers());
    // A handler's own value wins, as when Go's handler sets the header itself.
    let own = client
        .get(server.https("/own-header"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.headers()["x-frame-options"], "sameorigin");
    assert_eq!(own.headers()["x-content-type-options"], "nosniff");
    server.stop().await;
}
