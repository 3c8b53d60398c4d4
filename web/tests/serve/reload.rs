//! A changed file applies to new connections without a restart; a broken one keeps the
//! last good configuration.

use crate::common::{Pki, hash, past_recheck, start, status};

const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n";

async fn as_user(pki: &Pki, url: &str, user: &str, password: &str) -> u16 {
    let r = pki
        .client(Some("ca.pem"), None)
        .get(url)
        .basic_auth(user, Some(password));
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn new_user_applies_and_a_broken_file_keeps_the_last_good_one() {
    let pki = Pki::new();
    let alice = format!("{TLS}basic_auth_users:\n  alice: {}\n", hash("a-pw"));
    let server = start(Some(&pki.web_config(&alice))).await;
    let url = server.https("/hello");
    assert_eq!(as_user(&pki, &url, "alice", "a-pw").await, 200);
    assert_eq!(as_user(&pki, &url, "bob", "b-pw").await, 401);

    let both = format!("{alice}  bob: {}\n", hash("b-pw"));
    pki.web_config(&both);
    past_recheck().await;
    assert_eq!(as_user(&pki, &url, "bob", "b-pw").await, 200);
    assert_eq!(as_user(&pki, &url, "alice", "a-pw").await, 200);

    // Broken YAML, then a valid YAML with a bad hash: both refused, bob stays.
    for broken in [
        format!("{both}  carol: [\n"),
        format!("{both}  carol: plaintext\n"),
    ] {
        pki.web_config(&broken);
        past_recheck().await;
        assert_eq!(as_user(&pki, &url, "bob", "b-pw").await, 200);
        assert_eq!(as_user(&pki, &url, "carol", "plaintext").await, 401);
    }
    // A user removed: refused at once (after the recheck), though cached before.
    pki.web_config(&alice);
    past_recheck().await;
    assert_eq!(as_user(&pki, &url, "bob", "b-pw").await, 401);
    assert_eq!(as_user(&pki, &url, "alice", "a-pw").await, 200);
    // Switching to plain HTTP needs a restart: refused, TLS and alice stay.
    pki.web_config(&format!("basic_auth_users:\n  alice: {}\n", hash("a-pw")));
    past_recheck().await;
    assert_eq!(as_user(&pki, &url, "alice", "a-pw").await, 200);
    server.stop().await;
}

#[tokio::test]
async fn rotated_certificate_applies_to_new_connections() {
    let pki = Pki::new();
    let server = start(Some(&pki.web_config(TLS))).await;
    let url = server.https("/hello");
    let first_ca = pki.client(Some("ca.pem"), None);
    let other_ca = pki.client(Some("other-ca.pem"), None);
    assert_eq!(status(&first_ca, &url).await, Ok(200));
    assert!(status(&other_ca, &url).await.is_err());

    // The same paths now hold a certificate of the other CA.
    let (first_cert, first_key) = (pki.read("server.pem"), pki.read("server-key.pem"));
    std::fs::write(pki.path("server.pem"), pki.read("other-server.pem")).unwrap();
    std::fs::write(pki.path("server-key.pem"), pki.read("other-server-key.pem")).unwrap();
    past_recheck().await;
    assert_eq!(status(&other_ca, &url).await, Ok(200));
    assert!(status(&first_ca, &url).await.is_err());

    // Half a rotation back (the first certificate, the other key): refused, the last good
    // pair stays in force.
    std::fs::write(pki.path("server.pem"), &first_cert).unwrap();
    past_recheck().await;
    assert_eq!(status(&other_ca, &url).await, Ok(200));
    assert!(status(&first_ca, &url).await.is_err());
    // Completed with the matching key: in force.
    std::fs::write(pki.path("server-key.pem"), &first_key).unwrap();
    past_recheck().await;
    assert_eq!(status(&first_ca, &url).await, Ok(200));
    assert!(status(&other_ca, &url).await.is_err());
    server.stop().await;
}
