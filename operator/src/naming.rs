//! Names, labels and ports of everything a MetricCluster deploys, in one place so that the
//! renderer, the rollout and the status code agree on them.

use std::collections::BTreeMap;

/// HTTP port of the query component.
pub const QUERY_PORT: i32 = 9090;
/// HTTP port (health, readiness, metrics) of a storage replica.
pub const STORAGE_HTTP_PORT: i32 = 9091;
/// HTTP port of a scraper.
pub const SCRAPER_PORT: i32 = 9092;
/// HTTP port of the alertmanager.
pub const ALERTMANAGER_PORT: i32 = 9093;
/// gRPC port of a storage replica (samples and Raft).
pub const STORAGE_GRPC_PORT: i32 = 9095;
/// The loopback port of every component's probe listener (`--probe.listen-address`)
/// when `spec.web` protects its HTTP port: the exec probes call it.
pub const PROBE_PORT: i32 = 9190;
/// Where `spec.web`'s Secret is mounted.
pub const WEB_DIR: &str = "/etc/telltale/web";
/// The volume of `spec.web`'s Secret.
pub const WEB_VOLUME: &str = "web-config";

/// Where the shard map ConfigMap is mounted.
pub const SHARD_MAP_DIR: &str = "/etc/telltale";
/// The shard map file inside [`SHARD_MAP_DIR`].
pub const SHARD_MAP_FILE: &str = "shard-map.yaml";

/// Where each component's TLS Secret is mounted (whole, never with `subPath`, so that
/// the kubelet updates the files in place when a certificate is renewed). Nested in the
/// shard map's mount: the kubelet makes the mount point (Kubernetes 1.10+).
pub const GRPC_TLS_DIR: &str = "/etc/telltale/grpc-tls";
/// The name of that volume.
pub const GRPC_TLS_VOLUME: &str = "grpc-tls";
/// The CA certificate, in every TLS Secret.
pub const CA_CERT: &str = "ca.crt";
/// The CA key, in the operator's CA Secret only.
pub const CA_KEY: &str = "ca.key";
/// A component's certificate, in the scraper's, query's and alertmanager's Secrets
/// (a storage Secret holds `<pod>.crt` per pod instead).
pub const TLS_CERT: &str = "tls.crt";
/// A component's key (storage: `<pod>.key`).
pub const TLS_KEY: &str = "tls.key";
/// Labels of the operator's own pods, as the Helm chart sets them
/// (`telltale.selectorLabels` without the release's instance).
pub const OPERATOR_POD_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/name", APP),
    ("app.kubernetes.io/component", "operator"),
];

/// `app.kubernetes.io/name`, the same on every object.
pub const APP: &str = "telltale";
/// `app.kubernetes.io/managed-by` on every object the operator creates.
pub const MANAGED_BY: &str = "telltale-operator";
/// Label naming the MetricCluster an object belongs to.
pub const CLUSTER_LABEL: &str = "app.kubernetes.io/instance";
/// Label naming the component (`storage`, `scraper`, `query`, `alertmanager`).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// Label naming a storage pod's shard.
pub const SHARD_LABEL: &str = "telltale.dev/shard";
/// The label a StatefulSet puts on each pod with the revision it was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The components a MetricCluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Storage,
    Scraper,
    Query,
    Alertmanager,
}

impl Component {
    /// The subcommand of `telltale` and the value of the component label.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Storage => "storage",
            Component::Scraper => "scraper",
            Component::Query => "query",
            Component::Alertmanager => "alertmanager",
        }
    }
}

/// The names of one MetricCluster's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub cluster: String,
    pub namespace: String,
}

impl Names {
    pub fn new(cluster: impl Into<String>, namespace: impl Into<String>) -> Self {
        Names {
            cluster: cluster.into(),
            namespace: namespace.into(),
        }
    }

    /// StatefulSet, headless Service and PodDisruptionBudget of shard `shard`.
    pub fn storage(&self, shard: u32) -> String {
        format!("{}-storage-{shard}", self.cluster)
    }

    /// Name of replica `ordinal` (0-based) of shard `shard`.
    pub fn storage_pod(&self, shard: u32, ordinal: u32) -> String {
        format!("{}-{ordinal}", self.storage(shard))
    }

    /// Stable DNS name and gRPC port of a storage replica, through its headless Service.
    pub fn storage_address(&self, shard: u32, ordinal: u32) -> String {
        format!(
            "{}.{}.{}.svc:{STORAGE_GRPC_PORT}",
            self.storage_pod(shard, ordinal),
            self.storage(shard),
            self.namespace
        )
    }

    /// Base URL of scraper replica `ordinal` (0-based), through the scrapers' headless
    /// Service; `scheme` `http` or `https`.
    pub fn scraper_url(&self, ordinal: u32, scheme: &str) -> String {
        let set = self.component(Component::Scraper);
        format!(
            "{scheme}://{set}-{ordinal}.{set}.{}.svc:{SCRAPER_PORT}",
            self.namespace
        )
    }

    /// Base URL of the alertmanager, through its Service; `scheme` `http` or `https`.
    pub fn alertmanager_url(&self, scheme: &str) -> String {
        format!(
            "{scheme}://{}.{}.svc:{ALERTMANAGER_PORT}",
            self.component(Component::Alertmanager),
            self.namespace
        )
    }

    /// Objects of a single-workload component: `<mc>-scraper`, `<mc>-query`, ...
    pub fn component(&self, c: Component) -> String {
        format!("{}-{}", self.cluster, c.as_str())
    }

    /// The shard map ConfigMap.
    pub fn shard_map(&self) -> String {
        format!("{}-shard-map", self.cluster)
    }

    /// The Secret of the CA the operator made for this cluster (`ca.crt`, `ca.key`).
    pub fn ca_secret(&self) -> String {
        format!("{}-ca", self.cluster)
    }

    /// The TLS Secret of a component: `<mc>-storage-<shard>-tls` (a storage shard's
    /// pods), `<mc>-<component>-tls` (the others).
    pub fn tls_secret(&self, c: Component, shard: u32) -> String {
        match c {
            Component::Storage => format!("{}-tls", self.storage(shard)),
            _ => format!("{}-tls", self.component(c)),
        }
    }

    /// The DNS names a storage replica is dialled by (the shard map's
    /// [`Names::storage_address`]) and their other forms.
    pub fn storage_dns_names(&self, shard: u32, ordinal: u32) -> Vec<String> {
        let host = format!(
            "{}.{}",
            self.storage_pod(shard, ordinal),
            self.storage(shard)
        );
        service_dns_names(&host, &self.namespace)
    }

    /// The DNS names of a component's Service.
    pub fn component_dns_names(&self, c: Component) -> Vec<String> {
        service_dns_names(&self.component(c), &self.namespace)
    }

    /// Labels on every object of this cluster.
    pub fn cluster_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), APP.to_string()),
            (CLUSTER_LABEL.to_string(), self.cluster.clone()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                MANAGED_BY.to_string(),
            ),
        ])
    }

    /// Labels selecting the pods of a component (and, for storage, of one shard).
    pub fn selector(&self, c: Component, shard: Option<u32>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), APP.to_string()),
            (CLUSTER_LABEL.to_string(), self.cluster.clone()),
            (COMPONENT_LABEL.to_string(), c.as_str().to_string()),
        ]);
        if let Some(s) = shard {
            labels.insert(SHARD_LABEL.to_string(), s.to_string());
        }
        labels
    }

    /// The labels of an object of a component: the selector plus `managed-by`.
    pub fn labels(&self, c: Component, shard: Option<u32>) -> BTreeMap<String, String> {
        let mut labels = self.selector(c, shard);
        labels.extend(self.cluster_labels());
        labels
    }

    /// A label selector string matching every object of this cluster.
    pub fn cluster_selector(&self) -> String {
        format!(
            "app.kubernetes.io/name={APP},{CLUSTER_LABEL}={},app.kubernetes.io/managed-by={MANAGED_BY}",
            self.cluster
        )
    }
}

/// `<host>.<ns>.svc`, `<host>.<ns>.svc.cluster.local`, `<host>` and `<host>.<ns>`.
fn service_dns_names(host: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{host}.{namespace}.svc"),
        format!("{host}.{namespace}.svc.cluster.local"),
        host.to_string(),
        format!("{host}.{namespace}"),
    ]
}

/// `k=v,k=v` for a label map.
pub fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The ordinal of a StatefulSet pod from its name (`web-2` -> 2).
pub fn pod_ordinal(pod_name: &str) -> Option<u32> {
    pod_name.rsplit_once('-')?.1.parse().ok()
}

/// Raft quorum of a group of `replicas`.
pub fn quorum(replicas: u32) -> u32 {
    replicas / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_names_and_addresses() {
        let n = Names::new("mc", "ns");
        assert_eq!(n.storage(1), "mc-storage-1");
        assert_eq!(n.storage_pod(1, 2), "mc-storage-1-2");
        assert_eq!(
            n.storage_address(0, 0),
            "mc-storage-0-0.mc-storage-0.ns.svc:9095"
        );
        assert_eq!(pod_ordinal("mc-storage-1-2"), Some(2));
        assert_eq!(
            n.storage_dns_names(1, 2),
            [
                "mc-storage-1-2.mc-storage-1.ns.svc",
                "mc-storage-1-2.mc-storage-1.ns.svc.cluster.local",
                "mc-storage-1-2.mc-storage-1",
                "mc-storage-1-2.mc-storage-1.ns",
            ]
        );
        let address = n.storage_address(1, 2);
        assert!(
            n.storage_dns_names(1, 2)
                .contains(&address.rsplit_once(':').unwrap().0.to_string())
        );
        assert_eq!(n.tls_secret(Component::Storage, 1), "mc-storage-1-tls");
        assert_eq!(n.tls_secret(Component::Query, 0), "mc-query-tls");
        assert_eq!(n.ca_secret(), "mc-ca");
        assert_eq!(pod_ordinal("nodash"), None);
        assert_eq!((quorum(1), quorum(3), quorum(5)), (1, 2, 3));
    }

    #[test]
    fn selectors_are_subsets_of_labels() {
        let n = Names::new("mc", "ns");
        let sel = n.selector(Component::Storage, Some(0));
        let labels = n.labels(Component::Storage, Some(0));
        assert!(sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
        assert_eq!(
            selector_string(&n.selector(Component::Query, None)),
            "app.kubernetes.io/component=query,app.kubernetes.io/instance=mc,app.kubernetes.io/name=telltale"
        );
    }
}
