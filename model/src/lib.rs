//! The rules of Prometheus's data model, written once for every Telltale crate.
//!
//! This crate sits at the bottom of the house: `crds`, `storage-api`, the scraper, the
//! query engine and the alertmanager all take their definitions from here, and it
//! depends on nothing of theirs.
//!
//! ```text
//!   crds   storage-api   scraper   query   alertmanager   ui, bench, binary
//!     \         |           |        |          |              /
//!      +--------+-----------+--------+----------+-------------+
//!                               |
//!                         telltale-model
//!    names · duration · time · labels (quoting) · stale · bytes
//! ```
//!
//! - [`names`]: what a metric name and a label name may be
//!   ([`is_valid_metric_name`], [`is_valid_label_name`]).
//! - [`duration`]: Prometheus's duration notation (`1h30m`, `5m`, `7d`, `250ms`):
//!   [`parse_duration`] and [`format_duration`], and the query API's "float seconds or a
//!   duration" ([`parse_duration_or_seconds`]).
//! - [`time`]: milliseconds since the epoch ([`now_ms`], [`system_time_ms`]), RFC 3339
//!   parsing and printing ([`parse_rfc3339`], [`format_rfc3339`]) and the proleptic
//!   Gregorian calendar ([`civil_from_days`], [`days_from_civil`]).
//! - [`labels`]: label sets as Prometheus prints them (`{a="b", c="d"}`,
//!   [`render_labels`]), with Go's `%q` quoting ([`go_quote`]).
//! - [`stale`]: the staleness marker, a NaN with a fixed bit pattern ([`STALE_NAN`]).
//! - [`bytes`]: sizes as the configuration writes them (`10MB`, Go's base-2 units,
//!   [`parse_base2_bytes`]).
//!
//! Errors: [`DurationError`] and [`BytesError`].

pub mod bytes;
pub mod duration;
pub mod error;
pub mod labels;
pub mod names;
pub mod stale;
pub mod time;

pub use bytes::parse_base2_bytes;
pub use duration::{format_duration, parse_duration, parse_duration_or_seconds};
pub use error::{BytesError, DurationError};
pub use labels::{
    go_quote, go_quote_ascii, go_quote_rune, go_quote_rune_ascii, render_labels, write_labels,
};
pub use names::{is_valid_label_name, is_valid_metric_name};
pub use stale::{STALE_NAN, STALE_NAN_BITS, is_stale_nan};
pub use time::{
    civil_from_days, days_from_civil, format_rfc3339, format_rfc3339_millis, format_rfc3339_nanos,
    now_ms, parse_rfc3339, system_time_ms,
};
