//! Pulling: scraping targets on their intervals.
//!
//! ```text
//!  ScrapeManager (reconcile: which loops to start, update, stop)
//!    --one ScrapeLoop per owned target-->
//!      Fetcher: GET with the target's client (clients: tlsConfig, authorization,
//!      basicAuth, proxy) (Accept: the target's scrape protocols, protobuf first by
//!      default; gzip)
//!        --text / openmetrics parse, protobuf decode (native histograms)-->
//!      BatchBuilder (labels: honor_labels; honor_timestamps, metricRelabelings, limits,
//!      series_cache, report series up/scrape_*, staleness markers)
//!        --one batch per scrape--> writer
//!  health, targets_api (/api/v1/targets), metadata_api (/api/v1/metadata)
//! ```

/// The HTTP clients of targets' TLS and auth settings, Secrets read through the API.
pub mod clients;
/// HTTP GET of a metrics page and format negotiation.
pub mod fetch;
/// Outcome of a target's last scrape.
pub mod health;
/// Label-set rules: target labels over scraped ones, `exported_` renames, honor_labels.
pub mod labels;
/// Per-target limits that fail a scrape (pure).
pub mod limits;
/// The scrape loops' owner and reconciler.
pub mod manager;
/// `/api/v1/metadata` from the targets' `# TYPE`, `# HELP` and `# UNIT` lines.
pub mod metadata_api;
/// The OpenMetrics 1.0 text parser.
pub mod openmetrics;
/// The Prometheus protobuf exposition format (native histograms).
pub mod protobuf;
/// Which loops to start, update and stop (pure).
pub mod reconcile;
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
