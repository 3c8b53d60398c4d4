//! The live scraper set from Kubernetes: the ready endpoints of the scrapers' headless
//! Service, read from its EndpointSlices with kube's watcher (no polling). A member is
//! named by its pod (`targetRef.name`, else the endpoint's `hostname`), as
//! [`Membership::self_name`] is (`--member-name $(POD_NAME)`). When pods come and go the
//! set changes and the [`crate::ScrapeManager`] following it re-balances its targets.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::discovery::membership::Membership;

/// The label EndpointSlices carry naming their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Where the member set is read from.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberSetOptions {
    /// Namespace of the Service.
    pub namespace: String,
    /// The scrapers' headless Service.
    pub service: String,
    /// How long to let endpoint changes settle before publishing a new set (the
    /// membership delay is this plus the watch's latency).
    pub debounce: Duration,
}

/// The running watch of the member set. Dropping it stops the watch (the set then stays
/// as it was last seen).
pub struct MemberSetWatch {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for MemberSetWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The member names in EndpointSlices of `service`: endpoints that are ready (or of
/// unknown readiness) and not terminating, named by their pod or hostname; sorted,
/// without duplicates. Slices of other Services are ignored (pure).
pub fn ready_members<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    service: &str,
) -> Vec<String> {
    let mut names = BTreeSet::new();
    for slice in slices {
        let of_service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .is_some_and(|s| s == service);
        if !of_service {
            continue;
        }
        for ep in slice.endpoints.iter().flatten() {
            let conditions = ep.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            if !ready || terminating {
                continue;
            }
            let name = ep
                .target_ref
                .as_ref()
                .and_then(|r| r.name.clone())
                .or_else(|| ep.hostname.clone());
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}

/// Watches the EndpointSlices of `options.service` and keeps the member set of the
/// returned [`Membership`] (named `self_name`) equal to its ready endpoints. Until the
/// first list arrives the set is `initial` (say, the StatefulSet's ordinals, or empty:
/// scrape nothing rather than everything). Must be called within a Tokio runtime.
pub fn watch_member_set(
    client: Client,
    self_name: impl Into<String>,
    initial: Vec<String>,
    options: MemberSetOptions,
) -> (Membership, MemberSetWatch) {
    let (membership, tx) = Membership::new(self_name, initial);
    let api: Api<EndpointSlice> = Api::namespaced(client, &options.namespace);
    let config =
        watcher::Config::default().labels(&format!("{SERVICE_NAME_LABEL}={}", options.service));
    let (store, writer) = reflector::store::<EndpointSlice>();
    let notify = std::sync::Arc::new(Notify::new());
    let watch_notify = notify.clone();
    let service = options.service.clone();
    let watch_task = tokio::spawn(async move {
        let stream = watcher(api, config).default_backoff().reflect(writer);
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => watch_notify.notify_one(),
                Err(e) => warn!(service, error = %e, "scraper endpoints watch failed; retrying"),
            }
        }
    });
    let publish_task = tokio::spawn(publish(store, options, notify, tx));
    (
        membership,
        MemberSetWatch {
            tasks: vec![watch_task, publish_task],
        },
    )
}

async fn publish(
    store: Store<EndpointSlice>,
    options: MemberSetOptions,
    notify: std::sync::Arc<Notify>,
    tx: watch::Sender<Vec<String>>,
) {
    if store.wait_until_ready().await.is_err() {
        warn!("scraper endpoints watch stopped before listing");
        return;
    }
    loop {
        let slices = store.state();
        let members = ready_members(slices.iter().map(|s| &**s), &options.service);
        let changed = tx.send_if_modified(|current| {
            if *current == members {
                false
            } else {
                *current = members.clone();
                true
            }
        });
        if changed {
            info!(service = %options.service, ?members, "scraper member set changed");
        }
        notify.notified().await;
        tokio::time::sleep(options.debounce).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(service: &str, endpoints: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{service}-x"), "namespace": "mon",
                "labels": {SERVICE_NAME_LABEL: service}},
            "addressType": "IPv4",
            "endpoints": endpoints,
        }))
        .unwrap()
    }

    #[test]
    fn ready_endpoints_named_by_pod_or_hostname() {
        let slices = vec![
            slice(
                "scrapers",
                serde_json::json!([
                    {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
                     "targetRef": {"kind": "Pod", "name": "s-1"}},
                    {"addresses": ["10.0.0.2"], "conditions": {"ready": false},
                     "targetRef": {"kind": "Pod", "name": "s-2"}},
                    {"addresses": ["10.0.0.3"], "hostname": "s-0"},
                    {"addresses": ["10.0.0.4"], "conditions": {"ready": true, "terminating": true},
                     "targetRef": {"kind": "Pod", "name": "s-3"}},
                    {"addresses": ["10.0.0.5"]},
                ]),
            ),
            slice(
                "scrapers",
                serde_json::json!([{"addresses": ["10.0.0.1"], "targetRef": {"name": "s-1"}}]),
            ),
            slice(
                "other",
                serde_json::json!([{"addresses": ["10.0.0.9"], "targetRef": {"name": "x"}}]),
            ),
        ];
        assert_eq!(ready_members(&slices, "scrapers"), ["s-0", "s-1"]);
        assert_eq!(ready_members(&slices, "other"), ["x"]);
        assert!(ready_members(&slices, "none").is_empty());
    }
}
