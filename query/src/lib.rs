//! Telltale's query engine: PromQL over the storage contract, and the Prometheus HTTP API.
//!
//! ```text
//!  HTTP (/api/v1/query, query_range, series, labels, ...)   rule evaluation
//!        |  api::router                                          |
//!        v                                                       v
//!      Engine --parse (promql-parser)--> admission (concurrency slots, queue, timeout)
//!        |
//!        |-- plan (tier per selector use: raw | 1m | 1h, from Info's retention,
//!        |         the step and the function) --> one select per selector and tier
//!        |                                   |
//!        |                      Arc<dyn SampleReader>  (storage, any implementation)
//!        v
//!      Evaluator (eval/): selectors, rollup windows, functions, aggregations, binary
//!        |                operators
//!        v
//!      Value: Scalar | String | Vector(Vec<Sample>) | Matrix(Vec<Series>)
//! ```
//!
//! Key types: [`Engine`] (with [`EngineOptions`], [`QueryRequest`], [`QueryOutput`],
//! [`QueryStats`]), [`Value`], [`Sample`], [`Series`], [`Labels`], [`Tier`], [`Error`];
//! [`router`] serves the Prometheus-compatible HTTP API and [`check_expr`] validates an
//! expression without evaluating it.

/// The Prometheus HTTP API over an [`Engine`].
pub mod api;
/// The range-query result cache: settled intervals reused, invalidated by late writes.
pub mod cache;
/// Query entry points, selection prefetch and step evaluation.
pub mod engine;
/// The crate's error type and its Prometheus error classification.
pub mod error;
/// The PromQL evaluator (selectors, functions, aggregations, binary operators).
pub(crate) mod eval;
/// PromQL features behind Prometheus's `--enable-feature` flags.
pub mod features;
/// Reading a query's selections from storage (raw samples and rollup points).
pub(crate) mod fetch;
/// The CPU-bound evaluation of one query over its fetched series.
pub(crate) mod job;
/// Sorted label sets.
pub mod labels;
/// Self-metrics of the query service.
pub mod metrics;
/// PromQL read as Prometheus reads it: its errors and positions, duration expressions.
pub mod parse;
/// Rollup-aware planning: which storage tier answers each selector.
pub mod plan;
/// Positions in the expression text (`line:column`), for annotations and errors.
pub mod position;
/// An in-memory `SampleReader` for tests (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod testing;
/// Query results.
pub mod value;

pub use api::admin::router as admin_router;
pub use api::router;
pub use cache::CacheOptions;
pub use engine::{
    Engine, EngineOptions, QueryOutput, QueryRequest, QueryStats, check_expr, check_expr_with,
};
pub use error::{Error, Result};
pub use features::{FEATURE_FLAGS, Features};
pub use labels::Labels;
pub use plan::{Tier, TierLayout};
pub use value::{Sample, Series, Value};
