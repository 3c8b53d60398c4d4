//! The operator's CA and TLS Secrets against the emulated Kubernetes API (kmock, see
//! `kube_emulator.py`): issued before the workloads, kept byte for byte, renewed under
//! the same CA when due, and issued from a user's CA without writing it.

mod common;
mod emulator;

use std::collections::BTreeMap;
use std::time::SystemTime;

use emulator::{Emulator, NS, eventually};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use telltale_crds::MetricCluster;
use telltale_operator::pki::CertificateAuthority;
use telltale_storage_api::tls::{PeerIdentity, Role};
use x509_parser::extensions::GeneralName;

/// The TLS Secrets of a cluster named `mc` with one shard.
const COMPONENT_SECRETS: [&str; 4] = [
    "mc-storage-0-tls",
    "mc-scraper-tls",
    "mc-query-tls",
    "mc-alertmanager-tls",
];

async fn create_cluster(emu: &Emulator, spec: serde_json::Value) {
    let mc: MetricCluster = serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1",
        "kind": "MetricCluster",
        "metadata": {"name": "mc", "namespace": NS},
        "spec": spec,
    }))
    .unwrap();
    emu.api::<MetricCluster>()
        .create(&PostParams::default(), &mc)
        .await
        .unwrap();
}

/// Every Secret of the namespace, by name.
async fn secrets(emu: &Emulator) -> BTreeMap<String, Secret> {
    emu.api::<Secret>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| (s.name_any(), s))
        .collect()
}

/// Waits for the component Secrets (issued before the workloads are applied).
async fn issued(emu: &Emulator) -> BTreeMap<String, Secret> {
    eventually("the TLS Secrets and the workloads", || async {
        let all = secrets(emu).await;
        emu.api::<StatefulSet>()
            .get_opt("mc-storage-0")
            .await
            .ok()??;
        COMPONENT_SECRETS
            .iter()
            .all(|n| all.contains_key(*n))
            .then_some(all)
    })
    .await
}

fn data(s: &Secret) -> &BTreeMap<String, ByteString> {
    s.data.as_ref().unwrap()
}

fn text<'a>(s: &'a Secret, key: &str) -> &'a str {
    std::str::from_utf8(&data(s)[key].0).unwrap()
}

fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .unwrap()
        .1
        .contents
}

/// Whether `cert_pem` is signed by the CA `ca_pem` (issuer name and signature).
fn chains_to(cert_pem: &str, ca_pem: &str) -> bool {
    let (cert_der, ca_der) = (der(cert_pem), der(ca_pem));
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok()
}

fn dns_names(cert_pem: &str) -> Vec<String> {
    let cert_der = der(cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}

fn role(cert_pem: &str) -> Option<Role> {
    PeerIdentity::from_der(&der(cert_pem)).unwrap().role
}

/// Changes `spec.query.replicas` and waits until the reconcile that saw it applied the
/// query Deployment: that reconcile has been through the certificates first.
async fn reconcile_once_more(emu: &Emulator, replicas: i32) {
    emu.api::<MetricCluster>()
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"query": {"replicas": replicas}}})),
        )
        .await
        .unwrap();
    eventually("the reconcile of the change", || async {
        let d = emu.api::<Deployment>().get("mc-query").await.ok()?;
        (d.spec.replicas == Some(replicas)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_and_every_components_certificates_are_issued_then_kept() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    create_cluster(&emu, json!({"shards": 1, "replicasPerShard": 3})).await;
    let first = issued(&emu).await;

    let ca = &first["mc-ca"];
    assert_eq!(ca.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        data(ca).keys().collect::<Vec<_>>(),
        ["ca.crt", "ca.key"],
        "the CA Secret holds the CA only"
    );
    assert_eq!(ca.owner_references()[0].kind, "MetricCluster");
    let ca_pem = text(ca, "ca.crt");
    let storage = &first["mc-storage-0-tls"];
    assert_eq!(
        data(storage).keys().collect::<Vec<_>>(),
        [
            "ca.crt",
            "mc-storage-0-0.crt",
            "mc-storage-0-0.key",
            "mc-storage-0-1.crt",
            "mc-storage-0-1.key",
            "mc-storage-0-2.crt",
            "mc-storage-0-2.key",
        ]
    );
    for ordinal in 0..3 {
        let cert = text(storage, &format!("mc-storage-0-{ordinal}.crt"));
        assert!(chains_to(cert, ca_pem));
        assert_eq!(role(cert), Some(Role::Storage));
        let address = format!("mc-storage-0-{ordinal}.mc-storage-0.{NS}.svc");
        assert!(dns_names(cert).contains(&address), "{address}");
    }
    for (name, want) in [
        ("mc-scraper-tls", Role::Scraper),
        ("mc-query-tls", Role::Query),
        ("mc-alertmanager-tls", Role::Alertmanager),
    ] {
        let s = &first[name];
        assert_eq!(s.type_.as_deref(), Some("Opaque"), "{name}");
        assert_eq!(text(s, "ca.crt"), ca_pem, "{name}");
        assert!(chains_to(text(s, "tls.crt"), ca_pem), "{name}");
        assert_eq!(role(text(s, "tls.crt")), Some(want), "{name}");
        assert!(text(s, "tls.key").contains("PRIVATE KEY"), "{name}");
    }

    // Another reconcile writes none of them: same bytes, same resourceVersion.
    reconcile_once_more(&emu, 2).await;
    let second = secrets(&emu).await;
    for name in COMPONENT_SECRETS.iter().chain(&["mc-ca"]) {
        assert_eq!(data(&second[*name]), data(&first[*name]), "{name}");
        assert_eq!(
            second[*name].resource_version(),
            first[*name].resource_version(),
            "{name} was written again"
        );
    }
    assert!(
        !emu.events_about("mc")
            .await
            .iter()
            .any(|(_, r, _)| r == "CertificatesRotated")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_due_for_renewal_are_reissued_under_the_same_ca() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    // Due one second after they are issued.
    create_cluster(
        &emu,
        json!({"shards": 1, "replicasPerShard": 1, "scraper": {"replicas": 1},
               "tls": {"internal": {"certificateValidity": "1h", "renewBefore": "59m59s"}}}),
    )
    .await;
    let first = issued(&emu).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    reconcile_once_more(&emu, 2).await;
    let second = secrets(&emu).await;

    assert_eq!(
        data(&second["mc-ca"]),
        data(&first["mc-ca"]),
        "the CA stays"
    );
    let ca_pem = text(&first["mc-ca"], "ca.crt");
    for (name, cert, key) in [
        (
            "mc-storage-0-tls",
            "mc-storage-0-0.crt",
            "mc-storage-0-0.key",
        ),
        ("mc-query-tls", "tls.crt", "tls.key"),
        ("mc-scraper-tls", "tls.crt", "tls.key"),
        ("mc-alertmanager-tls", "tls.crt", "tls.key"),
    ] {
        let (old, new) = (&first[name], &second[name]);
        assert_eq!(text(new, "ca.crt"), text(old, "ca.crt"), "{name}: ca.crt");
        assert_ne!(text(new, cert), text(old, cert), "{name}: {cert} renewed");
        assert_ne!(text(new, key), text(old, key), "{name}: a new key");
        assert!(chains_to(text(new, cert), ca_pem), "{name}");
    }
    let events = emu.events_about("mc").await;
    let rotated = events
        .iter()
        .find(|(t, r, _)| t == "Normal" && r == "CertificatesRotated")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(
        rotated
            .2
            .contains("mc-storage-0-tls: mc-storage-0-0.crt (expires"),
        "{}",
        rotated.2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_ca_issues_the_certificates_and_is_never_written() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();

    // Without its Secret, nothing is deployed and the reason is told.
    create_cluster(
        &emu,
        json!({"shards": 1, "replicasPerShard": 1,
               "tls": {"internal": {"mode": "Secret", "caSecretName": "user-ca"}}}),
    )
    .await;
    eventually("a Warning about the missing CA", || async {
        emu.events_about("mc").await.into_iter().find(|(t, r, n)| {
            t == "Warning"
                && r == "CertificateAuthorityUnavailable"
                && n.contains("user-ca")
                && n.contains("not found")
        })
    })
    .await;
    assert!(
        emu.api::<StatefulSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "no pod without its certificates"
    );

    // The user's CA, as `kubectl create secret tls` writes one.
    let user = CertificateAuthority::generate("user", SystemTime::now()).unwrap();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("user-ca".into()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".into(), ByteString(user.cert_pem().into())),
            ("tls.key".into(), ByteString(user.key_pem().into())),
        ])),
        ..Secret::default()
    };
    let created = emu
        .api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    // Without waiting for the backoff's next retry.
    reconcile_once_more(&emu, 2).await;
    let all = issued(&emu).await;

    assert!(!all.contains_key("mc-ca"), "no CA of the operator's");
    for name in COMPONENT_SECRETS {
        let s = &all[name];
        assert_eq!(text(s, "ca.crt"), user.cert_pem(), "{name}");
    }
    let storage = &all["mc-storage-0-tls"];
    assert!(chains_to(
        text(storage, "mc-storage-0-0.crt"),
        user.cert_pem()
    ));
    assert!(chains_to(
        text(&all["mc-query-tls"], "tls.crt"),
        user.cert_pem()
    ));
    let user_after = &all["user-ca"];
    assert_eq!(user_after.resource_version(), created.resource_version());
    assert_eq!(data(user_after), data(&created));
    assert!(user_after.owner_references().is_empty());
}
