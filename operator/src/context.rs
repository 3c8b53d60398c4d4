//! [`Context`]: what every reconcile shares — the client, the event reporter, the
//! backoff state, the operator's own metrics and its own certificate per cluster.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use telltale_storage_api::tls::{ClientTls, Identity, Source};

use crate::backoff::Backoff;
use crate::naming::Names;
use crate::pki::{self, CertificateAuthority, OperatorIdentity, Verdict};
use crate::{FIELD_MANAGER, Result};

/// The operator's self-metrics, registered in the process registry.
#[derive(Clone)]
pub struct Metrics {
    /// Reconciliations by kind and result (`ok` or an error's metric label).
    pub reconciles: IntCounterVec,
    /// Reconcile duration by kind.
    pub duration: HistogramVec,
    /// Storage pods deleted by the rollout.
    pub pods_rolled: IntCounter,
    /// Membership changes (a replica added or removed) the operator made.
    pub membership_steps: IntCounter,
    /// 1 while this replica holds the leader lease (or runs without election).
    pub leader: IntGauge,
}

impl Metrics {
    pub fn register(registry: &Registry) -> Result<Self> {
        let m = Metrics {
            reconciles: IntCounterVec::new(
                Opts::new(
                    "telltale_operator_reconciliations_total",
                    "Reconciliations by resource kind and result.",
                ),
                &["kind", "result"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "telltale_operator_reconcile_duration_seconds",
                    "Time one reconciliation took, by resource kind.",
                ),
                &["kind"],
            )?,
            pods_rolled: IntCounter::new(
                "telltale_operator_storage_pods_rolled_total",
                "Storage pods deleted to move them to a new template, one at a time.",
            )?,
            membership_steps: IntCounter::new(
                "telltale_operator_membership_steps_total",
                "Replicas added to or removed from a shard's Raft group, one per step.",
            )?,
            leader: IntGauge::new(
                "telltale_operator_leader",
                "1 while this replica holds the leader lease.",
            )?,
        };
        registry.register(Box::new(m.reconciles.clone()))?;
        registry.register(Box::new(m.duration.clone()))?;
        registry.register(Box::new(m.pods_rolled.clone()))?;
        registry.register(Box::new(m.membership_steps.clone()))?;
        registry.register(Box::new(m.leader.clone()))?;
        Ok(m)
    }
}

/// Shared by every reconcile of every controller.
pub struct Context {
    pub client: Client,
    pub metrics: Metrics,
    pub backoff: Backoff,
    /// The namespace of the operator's own pods (the NetworkPolicies admit them to the
    /// storage replicas' gRPC).
    pub operator_namespace: String,
    /// The operator's certificate for each cluster with mutual TLS.
    pub identities: OperatorIdentities,
    recorder: Recorder,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics, identity: &str, operator_namespace: &str) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(identity.into()),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            backoff: Backoff::default(),
            operator_namespace: operator_namespace.into(),
            identities: OperatorIdentities::default(),
        }
    }

    /// The client certificate the operator presents to the storage replicas of the
    /// cluster `names` (role operator: Raft status and membership changes), with the CA
    /// their server certificates chain to; `None` while the cluster runs without TLS or
    /// before its first reconcile.
    pub fn operator_identity(&self, names: &Names) -> Option<OperatorIdentity> {
        self.identities.get(names)
    }

    /// The gRPC client TLS of the cluster `names`: its [`operator_identity`]
    /// (Self::operator_identity), or `None` (plain gRPC) while it runs without TLS.
    pub fn grpc_tls(&self, names: &Names) -> Option<Arc<ClientTls>> {
        let id = self.operator_identity(names)?;
        let tls = ClientTls::default();
        let source = Source::Fixed(Identity {
            ca_pem: id.ca_pem.into_bytes(),
            cert_pem: id.cert_pem.into_bytes(),
            key_pem: id.key_pem.into_bytes(),
        });
        match tls.set(&names.cluster, source) {
            Ok(()) => Some(Arc::new(tls)),
            Err(e) => {
                tracing::error!(cluster = %names.cluster, error = %e, "the operator's certificate cannot be used");
                None
            }
        }
    }

    /// Publishes an Event about `obj`. A failure to publish is logged, never fatal: an
    /// Event is a courtesy, the status is the record.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "cannot publish event");
        }
    }
}

/// The operator's own certificate per cluster, in memory only (never in a Secret): made
/// from the cluster's CA by its first reconcile with TLS, renewed by a later one within
/// `renewBefore` of its expiry or when the CA changes.
#[derive(Default)]
pub struct OperatorIdentities(Mutex<ByCluster>);

/// Identities by (namespace, cluster).
type ByCluster = BTreeMap<(String, String), OperatorIdentity>;

fn key(names: &Names) -> (String, String) {
    (names.namespace.clone(), names.cluster.clone())
}

impl OperatorIdentities {
    /// The current identity for the cluster `names`.
    pub fn get(&self, names: &Names) -> Option<OperatorIdentity> {
        self.lock().get(&key(names)).cloned()
    }

    /// Issues the identity for `names` from `ca` unless the current one is still good;
    /// whether it issued one.
    pub fn renew(
        &self,
        names: &Names,
        ca: &CertificateAuthority,
        tls: &telltale_crds::InternalTls,
        now: SystemTime,
    ) -> Result<bool> {
        let current = self.get(names);
        let verdict = current
            .as_ref()
            .map_or(Verdict::Reissue(pki::Reason::Missing), |id| {
                id.verdict(ca, tls.renew_before(), now)
            });
        if verdict == Verdict::Keep {
            return Ok(false);
        }
        let fresh = pki::operator_identity(ca, tls.validity(), now)?;
        self.lock().insert(key(names), fresh);
        Ok(true)
    }

    /// Drops the identity of a cluster that runs without TLS or is gone.
    pub fn forget(&self, names: &Names) {
        self.lock().remove(&key(names));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ByCluster> {
        // A panic elsewhere while holding it leaves a map that is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The namespace of the operator's own pod: `POD_NAMESPACE`, else `watched` (the one
/// namespace it watches), else the pod's service-account namespace, else `default`.
pub fn own_namespace(watched: Option<&str>) -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| watched.map(str::to_string))
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "default".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_identity_is_renewed_only_when_due_or_the_ca_changes() {
        let names = Names::new("mc", "ns");
        let tls: telltale_crds::InternalTls =
            serde_yaml::from_str("{certificateValidity: 1h, renewBefore: 20m}").unwrap();
        let now = SystemTime::now();
        let ca = CertificateAuthority::generate("mc", now).unwrap();
        let ids = OperatorIdentities::default();
        assert!(ids.get(&names).is_none());
        assert!(ids.renew(&names, &ca, &tls, now).unwrap());
        let first = ids.get(&names).unwrap();
        assert_eq!(first.ca_pem, ca.cert_pem());
        assert!(!ids.renew(&names, &ca, &tls, now).unwrap());
        assert_eq!(ids.get(&names), Some(first.clone()));
        let later = now + std::time::Duration::from_secs(41 * 60);
        assert!(ids.renew(&names, &ca, &tls, later).unwrap(), "due");
        assert_ne!(ids.get(&names), Some(first));
        let other = CertificateAuthority::generate("mc", now).unwrap();
        assert!(ids.renew(&names, &other, &tls, later).unwrap(), "a new CA");
        assert_eq!(ids.get(&names).unwrap().ca_pem, other.cert_pem());
        ids.forget(&names);
        assert!(ids.get(&names).is_none());
    }
}
