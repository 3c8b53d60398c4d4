//! The cluster's TLS Secrets: which certificates each holds, and their content given the
//! CA and the Secrets as they are. No API calls: the controller reads the existing
//! Secrets and writes the ones whose data changed (`controller::certificates`).
//!
//! ```text
//!  <mc>-ca                     ca.crt, ca.key       mode Operator; made once, never rewritten
//!  <mc>-storage-<shard>-tls    ca.crt, <pod>.crt, <pod>.key for every ordinal the
//!                              StatefulSet may run (role storage, the pod's DNS names)
//!  <mc>-<component>-tls        ca.crt, tls.crt, tls.key (scraper, query, alertmanager)
//! ```
//!
//! An entry still good ([`CertificateAuthority::check`]) is kept byte for byte; a
//! missing, foreign or expiring one is issued again. Pods mount their Secret whole, so the
//! kubelet swaps the files in place and nothing restarts.

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use telltale_crds::{InternalTls, MetricClusterSpec};
use telltale_storage_api::tls::Role;

use super::{Meta, ShardLayout};
use crate::Result;
use crate::naming::{CA_CERT, CA_KEY, Component, Names, TLS_CERT, TLS_KEY};
use crate::pki::{CertificateAuthority, Leaf, Reason, Verdict};

/// The type of every Secret here: several entries, so not `kubernetes.io/tls`.
pub const SECRET_TYPE: &str = "Opaque";

/// One certificate a Secret holds: the keys of the certificate and of its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub cert_key: String,
    pub key_key: String,
    pub leaf: Leaf,
}

/// A component's TLS Secret and the certificates it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretPlan {
    pub name: String,
    pub component: Component,
    pub shard: Option<u32>,
    pub entries: Vec<Entry>,
}

/// One Secret as it should be now.
#[derive(Clone, Debug)]
pub struct IssuedSecret {
    pub secret: Secret,
    /// The entries issued again, and why.
    pub reissued: Vec<(String, Reason)>,
    /// Whether its type or data differ from the existing Secret's (or there is none).
    pub changed: bool,
}

/// The role a component's certificate names.
pub fn role_of(c: Component) -> Role {
    match c {
        Component::Storage => Role::Storage,
        Component::Scraper => Role::Scraper,
        Component::Query => Role::Query,
        Component::Alertmanager => Role::Alertmanager,
    }
}

/// The TLS Secrets of a cluster: one per storage shard (a certificate per pod ordinal
/// the StatefulSet may run: its layout's replicas or `replicasPerShard`, whichever is
/// larger) and one per other component.
pub fn plans(
    names: &Names,
    spec: &MetricClusterSpec,
    layouts: &BTreeMap<u32, ShardLayout>,
) -> Vec<SecretPlan> {
    let mut out = Vec::new();
    for shard in 0..spec.shards {
        let replicas = layouts
            .get(&shard)
            .map_or(spec.replicas_per_shard, |l| l.replicas)
            .max(spec.replicas_per_shard);
        let entries = (0..replicas)
            .map(|ordinal| {
                let pod = names.storage_pod(shard, ordinal);
                Entry {
                    cert_key: format!("{pod}.crt"),
                    key_key: format!("{pod}.key"),
                    leaf: Leaf {
                        role: Role::Storage,
                        dns_names: names.storage_dns_names(shard, ordinal),
                        common_name: pod,
                        server: true,
                    },
                }
            })
            .collect();
        out.push(SecretPlan {
            name: names.tls_secret(Component::Storage, shard),
            component: Component::Storage,
            shard: Some(shard),
            entries,
        });
    }
    for c in [
        Component::Scraper,
        Component::Query,
        Component::Alertmanager,
    ] {
        out.push(SecretPlan {
            name: names.tls_secret(c, 0),
            component: c,
            shard: None,
            entries: vec![Entry {
                cert_key: TLS_CERT.into(),
                key_key: TLS_KEY.into(),
                leaf: Leaf {
                    role: role_of(c),
                    common_name: names.component(c),
                    dns_names: names.component_dns_names(c),
                    server: true,
                },
            }],
        });
    }
    out
}

fn text(data: Option<&BTreeMap<String, ByteString>>, key: &str) -> Option<String> {
    let bytes = &data?.get(key)?.0;
    String::from_utf8(bytes.clone()).ok()
}

fn bytes(s: &str) -> ByteString {
    ByteString(s.as_bytes().to_vec())
}

/// The Secret `plan` as it should be, from `existing` (its current state, if any):
/// `ca.crt` is `ca`'s certificate; each entry is kept when still good at `now` and issued
/// again otherwise.
pub fn issue(
    m: &Meta,
    plan: &SecretPlan,
    ca: &CertificateAuthority,
    existing: Option<&Secret>,
    tls: &InternalTls,
    now: SystemTime,
) -> Result<IssuedSecret> {
    let old = existing.and_then(|s| s.data.as_ref());
    let mut data = BTreeMap::from([(CA_CERT.to_string(), bytes(ca.cert_pem()))]);
    let mut reissued = Vec::new();
    for e in &plan.entries {
        let cert = text(old, &e.cert_key);
        let key = text(old, &e.key_key);
        match ca.check(
            &e.leaf,
            cert.as_deref(),
            key.as_deref(),
            tls.renew_before(),
            now,
        ) {
            Verdict::Keep => {
                // Byte for byte: both were read from `old`.
                for k in [&e.cert_key, &e.key_key] {
                    if let Some(v) = old.and_then(|d| d.get(k)) {
                        data.insert(k.clone(), v.clone());
                    }
                }
            }
            Verdict::Reissue(why) => {
                let issued = ca.issue(&e.leaf, tls.validity(), now)?;
                data.insert(e.cert_key.clone(), bytes(&issued.cert_pem));
                data.insert(e.key_key.clone(), bytes(&issued.key_pem));
                reissued.push((e.cert_key.clone(), why));
            }
        }
    }
    let changed = existing
        .is_none_or(|s| s.type_.as_deref() != Some(SECRET_TYPE) || s.data.as_ref() != Some(&data));
    Ok(IssuedSecret {
        secret: Secret {
            metadata: m.object(plan.name.clone(), plan.component, plan.shard),
            type_: Some(SECRET_TYPE.into()),
            data: Some(data),
            ..Secret::default()
        },
        reissued,
        changed,
    })
}

/// The Secret `<mc>-ca` holding the CA the operator made for the cluster.
pub fn ca_secret(m: &Meta, ca: &CertificateAuthority) -> Secret {
    Secret {
        metadata: m.with_labels(m.names.ca_secret(), m.names.cluster_labels()),
        type_: Some(SECRET_TYPE.into()),
        data: Some(BTreeMap::from([
            (CA_CERT.to_string(), bytes(ca.cert_pem())),
            (CA_KEY.to_string(), bytes(ca.key_pem())),
        ])),
        ..Secret::default()
    }
}

/// The CA in a Secret: `ca.crt`/`ca.key` (the operator's) or `tls.crt`/`tls.key` (a
/// user's, as cert-manager and `kubectl create secret tls` write them). `None` when it
/// holds neither pair.
pub fn ca_from_secret(secret: &Secret) -> Option<Result<CertificateAuthority>> {
    let data = secret.data.as_ref();
    [(CA_CERT, CA_KEY), (TLS_CERT, TLS_KEY)]
        .into_iter()
        .find_map(|(c, k)| Some((text(data, c)?, text(data, k)?)))
        .map(|(cert, key)| CertificateAuthority::from_pem(&cert, &key))
}

/// Every Secret of `mc` as it would be made for a cluster without any yet, with `ca`
/// (the objects the manifest tests validate).
pub fn render_secrets(
    m: &Meta,
    spec: &MetricClusterSpec,
    ca: &CertificateAuthority,
    now: SystemTime,
) -> Result<Vec<Secret>> {
    let mut out = vec![ca_secret(m, ca)];
    for plan in plans(&m.names, spec, &BTreeMap::new()) {
        out.push(issue(m, &plan, ca, None, &spec.tls.internal, now)?.secret);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(replicas: u32) -> ShardLayout {
        ShardLayout {
            replicas,
            min_available: 2,
            initial_voters: 3,
            restore: false,
        }
    }

    #[test]
    fn storage_secrets_cover_every_ordinal_the_set_may_run() {
        let names = Names::new("mc", "ns");
        let spec: MetricClusterSpec = serde_yaml::from_str("shards: 2").unwrap();
        // Shard 1 is shrinking from 5: its extra pods keep their certificates until they go.
        let plans = plans(&names, &spec, &BTreeMap::from([(1, layout(5))]));
        let keys = |p: &SecretPlan| {
            p.entries
                .iter()
                .map(|e| e.cert_key.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(plans[0].name, "mc-storage-0-tls");
        assert_eq!(
            keys(&plans[0]),
            [
                "mc-storage-0-0.crt",
                "mc-storage-0-1.crt",
                "mc-storage-0-2.crt"
            ]
        );
        assert_eq!(keys(&plans[1]).len(), 5);
        assert_eq!(plans[1].entries[4].key_key, "mc-storage-1-4.key");
        assert_eq!(
            plans[1].entries[4].leaf.dns_names[0],
            "mc-storage-1-4.mc-storage-1.ns.svc"
        );
        // Growing: the new ordinals get theirs before their pods exist.
        let growing: MetricClusterSpec =
            serde_yaml::from_str("shards: 2\nreplicasPerShard: 5").unwrap();
        let plans_growing = super::plans(&names, &growing, &BTreeMap::from([(0, layout(3))]));
        assert_eq!(keys(&plans_growing[0]).len(), 5);
        let others: Vec<(&str, Role)> = plans[2..]
            .iter()
            .map(|p| (p.name.as_str(), p.entries[0].leaf.role))
            .collect();
        assert_eq!(
            others,
            [
                ("mc-scraper-tls", Role::Scraper),
                ("mc-query-tls", Role::Query),
                ("mc-alertmanager-tls", Role::Alertmanager)
            ]
        );
    }
}
