//! Leader election through a `coordination.k8s.io/v1` Lease, so that two operator replicas
//! never reconcile at once: the holder renews the lease; another replica takes it over
//! only once it has not been renewed for its duration.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::{Error, Result};

/// Where the lease lives and who we are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
    /// How often the holder renews (and a candidate retries).
    pub renew_every: Duration,
}

impl LeaseConfig {
    /// The lease of an operator pod: identity from `POD_NAME` (else `HOSTNAME`), namespace
    /// from `POD_NAMESPACE`, else `namespace` (the watched one), else the pod's service
    /// account namespace, else `default`.
    pub fn from_env(namespace: Option<&str>) -> Self {
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("telltale-operator-{}", std::process::id()));
        LeaseConfig::new(crate::context::own_namespace(namespace), identity)
    }

    /// A lease named `telltale-operator` in `namespace`, held for 15 s, renewed every 5 s.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaseConfig {
            namespace: namespace.into(),
            name: "telltale-operator".into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// What a replica does about the lease it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or the holder let it expire: take it.
    Acquire,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds a live lease.
    Follow { holder: String },
}

/// Decides from the lease's spec (or its absence), our identity and the time.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    match spec.holder_identity.as_deref() {
        None | Some("") => Decision::Acquire,
        Some(h) if h == identity => Decision::Renew,
        Some(h) => {
            let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
            let expired = match &spec.renew_time {
                Some(MicroTime(t)) => *t + SignedDuration::from_secs(duration) < now,
                None => true,
            };
            if expired {
                Decision::Acquire
            } else {
                Decision::Follow { holder: h.into() }
            }
        }
    }
}

/// Takes and keeps the lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
}

impl LeaderElector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One round: reads the lease and acquires or renews it when it may. Returns whether
    /// this replica holds the lease afterwards. A write that loses a race (409 Conflict)
    /// means someone else got it.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.config.name).await?;
        let decision = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.config.identity,
            now,
        );
        let spec = |previous: Option<&LeaseSpec>, transition: bool| LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.duration.as_secs() as i32),
            acquire_time: if transition {
                Some(MicroTime(now))
            } else {
                previous.and_then(|s| s.acquire_time.clone())
            },
            renew_time: Some(MicroTime(now)),
            // Changes of holder; creating the lease is not one.
            lease_transitions: Some(
                previous
                    .map(|s| s.lease_transitions.unwrap_or(0) + i32::from(transition))
                    .unwrap_or(0),
            ),
            ..LeaseSpec::default()
        };
        let result = match (decision, current) {
            (Decision::Follow { holder }, _) => {
                tracing::debug!(%holder, "another replica leads");
                return Ok(false);
            }
            (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec(None, true)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (d, Some(mut lease)) => {
                lease.spec = Some(spec(lease.spec.as_ref(), d == Decision::Acquire));
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
            Err(e) => Err(Error::Kube(e)),
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(identity = %self.config.identity, lease = %self.config.name, "became the leader");
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lease round failed"),
            }
            tokio::time::sleep(self.config.renew_every).await;
        }
    }

    /// Renews the lease until a renewal fails for longer than the lease lasts (then
    /// another replica may have taken over, and this one must stop reconciling).
    pub async fn keep(&self) -> Error {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_every).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => return Error::LostLease(self.config.name.clone()),
                Err(e) => {
                    tracing::warn!(error = %e, "lease renewal failed");
                    if last_renewal.elapsed() >= self.config.duration {
                        return Error::LostLease(self.config.name.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn takes_free_or_expired_leases_only() {
        let now = Timestamp::from_second(100).unwrap();
        assert_eq!(decide(None, "a", now), Decision::Acquire);
        assert_eq!(decide(Some(&lease("", 0)), "a", now), Decision::Acquire);
        assert_eq!(decide(Some(&lease("a", 99)), "a", now), Decision::Renew);
        assert_eq!(
            decide(Some(&lease("b", 90)), "a", now),
            Decision::Follow { holder: "b".into() }
        );
        assert_eq!(decide(Some(&lease("b", 80)), "a", now), Decision::Acquire);
    }
}
