//! Cardinality control: limits on new series per interval (per target and global), a
//! churn metric, and Prometheus-style `/api/v1/status/tsdb` statistics over the series
//! written recently.
//!
//! ```text
//!  scrape loops / push receivers --> CardinalityWriter --SeriesTracker::admit--> downstream
//!                                          |                (DiskQueue, GrpcStorage...)
//!                                          +--> GET /api/v1/status/tsdb (tsdb_status)
//! ```

/// `/api/v1/status/tsdb` statistics (pure) and their handler.
pub mod status;
/// [`SeriesTracker`]: recent series and the limit decisions (pure).
pub mod tracker;
/// [`CardinalityWriter`]: the tracker in front of a writer.
pub mod writer;

pub use status::{TsdbStatus, tsdb_status};
pub use tracker::{CardinalityLimits, SeriesTracker};
pub use writer::CardinalityWriter;
