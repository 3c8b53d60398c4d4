//! Kubernetes discovery: watches (kube's watcher + reflector, no polling) of
//! ScrapeTargets, Pods, EndpointSlices and Services (and, when asked, prometheus-operator's
//! ServiceMonitors and PodMonitors picked by a MetricCluster's selectors), turned into
//! targets with Prometheus's `__meta_kubernetes_*` labels.
//!
//! ```text
//!  watcher+reflector x4 --any change (debounced)--> Snapshot --kubernetes_targets-->
//!    Discovery (active + dropped) --watch channel--> ScrapeManager::follow
//! ```

/// The live scraper set from the EndpointSlices of the scrapers' headless Service.
pub mod members;
/// `__meta_kubernetes_*` labels of the pod, endpointslice, endpoints, service and node
/// roles (pure).
pub mod meta;
/// prometheus-operator's ServiceMonitors and PodMonitors selected by the MetricCluster,
/// as ScrapeTargets (pure).
pub mod monitors;
/// What a ScrapeTarget selects, and label selector matching (pure).
pub mod selection;
/// Cluster snapshot to targets (pure).
pub mod targets;
/// The watches and the discovery task.
pub mod watch;

pub use members::{MemberSetOptions, MemberSetWatch, ready_members, watch_member_set};
pub use monitors::{MonitorReport, MonitorSnapshot, monitor_targets};
pub use selection::{KubernetesSelection, split_by_discovery, split_scrape_target};
pub use targets::{ANNOTATED_PODS_POOL, AnnotatedPods, Snapshot, kubernetes_targets};
pub use telltale_crds::NamespaceSelector;
pub use watch::{KubernetesDiscovery, KubernetesSdOptions, OperatorMonitors, kubernetes_discovery};
