//! The scraper: pulls metrics from targets and receives pushed samples, writing both to
//! storage through [`telltale_storage_api::SampleWriter`]. Four parts, one folder each:
//!
//! ```text
//!  discovery/   ScrapeTarget resources (static, fileSd files, httpSd URLs) and
//!               Kubernetes watches --relabelings--> Targets (+ dropped)
//!               --membership (rendezvous hashing over live replicas)--> owned targets
//!                    |
//!  pull/        ScrapeManager --one ScrapeLoop per owned target--> GET (clients, fetch)
//!               --text / openmetrics parse--> BatchBuilder (labels, limits, report
//!               series, staleness markers) --one batch per scrape--+
//!                                                                  |
//!  push/        POST /api/v1/write (remote_write 1/2), /write and  +--> pipeline/
//!               /api/v2/write (Influx), /v1/metrics (OTLP) --------+
//!
//!  pipeline/    relabel, CardinalityWriter --> DiskQueue --> storage;
//!               RemoteWriteForwarder (prometheus.yml remote_write) --> remote endpoints
//! ```
//!
//! Beside them: [`router`] (the HTTP routes: push receivers, `/api/v1/targets`,
//! `/api/v1/metadata`), [`metrics`] (self-metrics) and [`error`].
//!
//! Key types: [`ScrapeManager`] (owns and reconciles the loops), [`Membership`] (the live
//! scraper set), [`Target`] (one endpoint after relabeling), [`Relabeler`], [`ScrapeLoop`],
//! [`BatchBuilder`] (the pure part of a scrape), [`pull::text::parse`] and
//! [`pull::openmetrics::parse`] (the exposition parsers), [`FileSdCache`],
//! [`HttpSdCache`], [`kubernetes_discovery`] with [`KubernetesSdOptions`], [`router()`]
//! with [`PushOptions`], the push parsers ([`push::influx::parse_lines`],
//! [`push::otlp::convert::convert`], [`push::remote_write::decode::convert`]),
//! [`DiskQueue`] with [`QueueOptions`], [`CardinalityWriter`] with
//! [`CardinalityLimits`], and [`RemoteWriteForwarder`] (the `remote_write` sections).
//!
//! The data model's rules (names, durations, times, the staleness marker) come from
//! `telltale_model`.

/// Where targets come from: resources, files, HTTP, Kubernetes; who scrapes which.
pub mod discovery;
/// The crate's error type.
pub mod error;
/// Self-metrics.
pub mod metrics;
/// Between parse and storage: relabeling, cardinality limits, the disk queue, and
/// forwarding to remote_write endpoints.
pub mod pipeline;
/// Scraping: the loops, the fetch, the exposition parsers, one scrape's batch.
pub mod pull;
/// Receiving pushed samples: remote_write, Influx line protocol, OTLP.
pub mod push;
/// The HTTP routes of the scraper.
pub mod router;

// The pipeline's relabeling and queue, which every part uses, by their short paths.
use pipeline::{queue, relabel};

// The discovery sources by their old paths, which the binary's Alertmanager discovery
// uses.
pub use discovery::{file_sd, http_sd};

pub use discovery::file_sd::FileSdCache;
pub use discovery::http_sd::HttpSdCache;
pub use discovery::k8s::{
    KubernetesDiscovery, KubernetesSdOptions, OperatorMonitors, kubernetes_discovery,
};
pub use discovery::membership::{Membership, stateful_set_members};
pub use discovery::{Discovery, DroppedTarget};
pub use error::{Error, Result};
pub use pipeline::cardinality::{CardinalityLimits, CardinalityWriter};
pub use pipeline::forward::{ForwarderOptions, RemoteWriteForwarder, remote_name};
pub use pipeline::queue::{DiskQueue, QueueOptions};
pub use pipeline::relabel::Relabeler;
pub use pull::clients::{ScrapeClients, SecretsMode};
pub use pull::manager::{ScrapeManager, TargetState};
pub use pull::scrape_batch::{BatchBuilder, SampleRules};
pub use pull::scrape_loop::{LoopCommand, ScrapeLoop};
pub use pull::target::{Target, TargetKey};
pub use router::{PushOptions, push_router, router};
