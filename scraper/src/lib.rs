//! The scraper: pulls metrics from targets and receives pushed samples, writing both to
//! storage through [`telltale_storage_api::SampleWriter`].
//!
//! ```text
//!  ScrapeTarget resources (static, fileSd files,
//!    httpSd URLs)  --discovery::discover_from----------------------------+
//!  Kubernetes (watch: ScrapeTargets, Pods,                                |  relabelings
//!    EndpointSlices, Services) --k8s::kubernetes_discovery (watch chan)---+
//!    Targets (+ dropped) --membership::owner (rendezvous hashing over live replicas)-->
//!    ScrapeManager --one ScrapeLoop per owned target-->
//!      GET with the target's client (clients: tlsConfig, authorization, basicAuth, proxy;
//!      Secrets read through the API in a cluster, files in standalone)
//!      (Accept: OpenMetrics 1.0, text 0.0.4; gzip) --text / openmetrics parse-->
//!      BatchBuilder (honor_labels/timestamps, metricRelabelings, limits, report series
//!      up/scrape_*, staleness markers) --one batch per scrape--> writer
//!
//!  push (bearer token, body limit):
//!  POST /api/v1/write (remote_write 1/2) ----+
//!  POST /write, /api/v2/write (Influx line) -+--> partial-batch accounting --> writer
//!  POST /v1/metrics (OTLP/HTTP protobuf) ----+
//!
//!  writer = CardinalityWriter (new-series limits, churn, /api/v1/status/tsdb)
//!             --> DiskQueue (segment files when storage is unavailable, replay in order)
//!               --> GrpcStorage / routing client
//!  GET /api/v1/targets --> active (with owning scraper) and dropped targets
//!
//!  prometheus.yml remote_write: the binary tees every write into a
//!  RemoteWriteForwarder --relabel--> own disk queue --sender--> POST remote_write 1.0
//! ```
//!
//! Key types: [`ScrapeManager`] (owns and reconciles the loops), [`Membership`] (the live
//! scraper set), [`Target`] (one endpoint after relabeling), [`Relabeler`], [`ScrapeLoop`],
//! [`BatchBuilder`] (the pure part of a scrape), [`text::parse`] and
//! [`openmetrics::parse`] (the exposition parsers), [`FileSdCache`], [`HttpSdCache`],
//! [`kubernetes_discovery`] with [`KubernetesSdOptions`], [`router`] with [`PushOptions`],
//! the push parsers ([`influx::parse_lines`], [`otlp::convert::convert`],
//! [`remote_write::decode::convert`]), [`DiskQueue`] with [`QueueOptions`], and
//! [`CardinalityWriter`] with [`CardinalityLimits`], and [`RemoteWriteForwarder`] (the
//! `remote_write` sections).

/// Limits on new series, churn metrics and `/api/v1/status/tsdb`.
pub mod cardinality;
/// The HTTP clients of targets' TLS and auth settings, Secrets read through the API.
pub mod clients;
/// Targets from resources and files, through target relabeling (pure).
pub mod discovery;
/// The crate's error type.
pub mod error;
/// HTTP GET of a metrics page and format negotiation.
pub mod fetch;
/// Static targets from JSON/YAML files (`fileSd`).
pub mod file_sd;
/// Outcome of a target's last scrape.
pub mod health;
/// Target groups fetched over HTTP (`httpSd`).
pub mod http_sd;
/// The InfluxDB line-protocol receiver (`/write`, `/api/v2/write`).
pub mod influx;
/// Kubernetes discovery: watches of ScrapeTargets, Pods, EndpointSlices, Services.
pub mod k8s;
/// Label-set rules: target labels over scraped ones, `exported_` renames, honor_labels.
pub mod labels;
/// Per-target limits that fail a scrape (pure).
pub mod limits;
/// The scrape loops' owner and reconciler.
pub mod manager;
/// Which replica scrapes which target: rendezvous hashing (pure) and the member set.
pub mod membership;
/// `/api/v1/metadata` from the targets' `# TYPE`, `# HELP` and `# UNIT` lines.
pub mod metadata_api;
/// Self-metrics.
pub mod metrics;
/// The OpenMetrics 1.0 text parser.
pub mod openmetrics;
/// The OTLP/HTTP metrics receiver (`/v1/metrics`).
pub mod otlp;
/// What the push receivers share: auth, body limits, partial-batch accounting.
pub mod push;
/// The bounded persistent on-disk queue in front of the storage writer.
pub mod queue;
/// Which loops to start, update and stop (pure).
pub mod reconcile;
/// Prometheus relabeling (pure).
pub mod relabel;
/// The remote_write receiver (v1 and 2.0), its message types, and the forwarder.
pub mod remote_write;
/// The HTTP routes of the scraper.
pub mod router;
/// One scrape's batch: target labels, report series, staleness (pure).
pub mod scrape_batch;
/// The loop scraping one target.
pub mod scrape_loop;
/// What each exposed series of a target became last scrape (Prometheus's scrape cache).
pub mod series_cache;
/// One endpoint to scrape: identity, hashes, URL, phase.
pub mod target;
/// `/api/v1/targets`.
pub mod targets_api;
/// The Prometheus text exposition format (0.0.4) parser.
pub mod text;

pub use cardinality::{CardinalityLimits, CardinalityWriter};
pub use clients::{ScrapeClients, SecretsMode};
pub use discovery::{Discovery, DroppedTarget};
pub use error::{Error, Result};
pub use file_sd::FileSdCache;
pub use http_sd::HttpSdCache;
pub use k8s::{KubernetesDiscovery, KubernetesSdOptions, OperatorMonitors, kubernetes_discovery};
pub use manager::{ScrapeManager, TargetState};
pub use membership::{Membership, stateful_set_members};
pub use queue::{DiskQueue, QueueOptions};
pub use relabel::Relabeler;
pub use remote_write::forward::{ForwarderOptions, RemoteWriteForwarder, remote_name};
pub use router::{PushOptions, push_router, router};
pub use scrape_batch::{BatchBuilder, SampleRules};
pub use scrape_loop::{LoopCommand, ScrapeLoop};
pub use target::{Target, TargetKey};
