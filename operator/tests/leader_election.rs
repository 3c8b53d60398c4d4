//! Leader election through a coordination.k8s.io Lease on the emulated API: one replica
//! leads, a stale lease is taken over, and a replica that lost the lease stops.

mod common;
mod emulator;

use std::time::Duration;

use emulator::{Emulator, NS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_a_stale_lease_is_taken_over() {
    use k8s_openapi::api::coordination::v1::Lease;
    use telltale_operator::leader::{LeaderElector, LeaseConfig};
    let emu = Emulator::start();
    let config = |id: &str| LeaseConfig {
        duration: Duration::from_secs(1),
        renew_every: Duration::from_millis(100),
        ..LeaseConfig::new(NS, id)
    };
    let a = LeaderElector::new(emu.client.clone(), config("operator-a"));
    let b = LeaderElector::new(emu.client.clone(), config("operator-b"));
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a free lease is taken"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "a live lease is not"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "the holder renews");
    assert!(!b.try_acquire_or_renew().await.unwrap());
    // a stops renewing (say, it hangs); once the lease expired, b takes it over.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        b.try_acquire_or_renew().await.unwrap(),
        "an expired lease is taken over"
    );
    assert!(
        !a.try_acquire_or_renew().await.unwrap(),
        "the old holder now follows"
    );
    let lease = emu.api::<Lease>().get("telltale-operator").await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("operator-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    // A replica that cannot renew gives up leadership.
    let lost = tokio::time::timeout(Duration::from_secs(5), a.keep())
        .await
        .unwrap();
    assert!(
        matches!(lost, telltale_operator::Error::LostLease(_)),
        "{lost}"
    );
}
