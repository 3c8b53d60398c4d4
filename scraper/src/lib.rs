//! The scraper: pulls metrics from targets and receives pushed samples, writing both to
//! storage through [`telltale_storage_api::SampleWriter`].
//!
//! ```text
//!  ScrapeTarget resources (static + fileSd files) --discovery::discover: relabelings-->
//!    Targets (+ dropped) --membership::owner (rendezvous hashing over live replicas)-->
//!    ScrapeManager --one ScrapeLoop per owned target-->
//!      GET (Accept: OpenMetrics 1.0, text 0.0.4; gzip) --text / openmetrics parse-->
//!      BatchBuilder (honor_labels/timestamps, metricRelabelings, limits, report series
//!      up/scrape_*, staleness markers) --one batch per scrape--> SampleWriter
//!
//!  POST /api/v1/write (remote_write v1) --snappy, protobuf, checks--> SampleWriter --> 204
//!  GET  /api/v1/targets --> active (with owning scraper) and dropped targets
//! ```
//!
//! Key types: [`ScrapeManager`] (owns and reconciles the loops), [`Membership`] (the live
//! scraper set), [`Target`] (one endpoint after relabeling), [`Relabeler`], [`ScrapeLoop`],
//! [`BatchBuilder`] (the pure part of a scrape), [`text::parse`] and
//! [`openmetrics::parse`] (the exposition parsers), [`FileSdCache`], [`router`] with
//! [`PushOptions`], and [`remote_write::proto`] (the `prometheus.WriteRequest` messages).

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
/// Label-set rules: target labels over scraped ones, `exported_` renames, honor_labels.
pub mod labels;
/// Per-target limits that fail a scrape (pure).
pub mod limits;
/// The scrape loops' owner and reconciler.
pub mod manager;
/// Which replica scrapes which target: rendezvous hashing (pure) and the member set.
pub mod membership;
/// Self-metrics.
pub mod metrics;
/// The OpenMetrics 1.0 text parser.
pub mod openmetrics;
/// Which loops to start, update and stop (pure).
pub mod reconcile;
/// Prometheus relabeling (pure).
pub mod relabel;
/// The remote_write v1 receiver and its message types.
pub mod remote_write;
/// The HTTP routes of the scraper.
pub mod router;
/// One scrape's batch: target labels, report series, staleness (pure).
pub mod scrape_batch;
/// The loop scraping one target.
pub mod scrape_loop;
/// One endpoint to scrape: identity, hashes, URL, phase.
pub mod target;
/// `/api/v1/targets`.
pub mod targets_api;
/// The Prometheus text exposition format (0.0.4) parser.
pub mod text;

pub use discovery::{Discovery, DroppedTarget};
pub use error::{Error, Result};
pub use file_sd::FileSdCache;
pub use manager::{ScrapeManager, TargetState};
pub use membership::{Membership, stateful_set_members};
pub use relabel::Relabeler;
pub use router::{PushOptions, router};
pub use scrape_batch::{BatchBuilder, STALE_NAN, SampleRules, is_stale_nan};
pub use scrape_loop::{LoopCommand, ScrapeLoop};
pub use target::{Target, TargetKey};
