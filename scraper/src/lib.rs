//! The scraper: pulls metrics from targets and receives pushed samples, writing both to
//! storage through [`telltale_storage_api::SampleWriter`].
//!
//! ```text
//!  ScrapeTarget resources --apply--> ScrapeManager --one ScrapeLoop per target-->
//!     GET text 0.0.4 --text::parse--> BatchBuilder (target labels, up/duration/samples,
//!     staleness markers) --one batch per scrape--> SampleWriter
//!
//!  POST /api/v1/write (remote_write v1) --snappy, protobuf, checks--> SampleWriter --> 204
//!  GET  /api/v1/targets --> ScrapeManager::targets in Prometheus's JSON shape
//! ```
//!
//! Key types: [`ScrapeManager`] (owns and reconciles the loops), [`Target`] (one endpoint
//! derived from a `ScrapeTarget`), [`ScrapeLoop`], [`BatchBuilder`] (the pure part of a
//! scrape), [`text::parse`] (the exposition parser), [`router`] with [`PushOptions`], and
//! [`remote_write::proto`] (the `prometheus.WriteRequest` messages).

/// The crate's error type.
pub mod error;
/// HTTP GET of a metrics page.
pub mod fetch;
/// Outcome of a target's last scrape.
pub mod health;
/// Label-set rules: target labels over scraped ones, `exported_` renames.
pub mod labels;
/// The scrape loops' owner and reconciler.
pub mod manager;
/// Self-metrics.
pub mod metrics;
/// Which loops to start, update and stop (pure).
pub mod reconcile;
/// The remote_write v1 receiver and its message types.
pub mod remote_write;
/// The HTTP routes of the scraper.
pub mod router;
/// One scrape's batch: target labels, report series, staleness (pure).
pub mod scrape_batch;
/// The loop scraping one target.
pub mod scrape_loop;
/// Targets derived from `ScrapeTarget` resources.
pub mod target;
/// `/api/v1/targets`.
pub mod targets_api;
/// The Prometheus text exposition format parser.
pub mod text;

pub use error::{Error, Result};
pub use manager::{ScrapeManager, TargetState};
pub use router::{PushOptions, router};
pub use scrape_batch::{BatchBuilder, STALE_NAN, is_stale_nan};
pub use scrape_loop::ScrapeLoop;
pub use target::{Target, TargetKey};
