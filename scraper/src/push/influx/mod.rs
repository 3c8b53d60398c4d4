//! The InfluxDB line-protocol receiver: `POST /write` (1.x) and `POST /api/v2/write`
//! (2.x), with the `precision` parameter; `db`, `rp`, `org` and `bucket` are accepted and
//! ignored (every series goes to the one storage).
//!
//! ```text
//! body (gzip?) --parse::parse_lines--> points --convert--> <measurement>_<field>{tags}
//!   --SampleWriter--> 204 | 400 naming the first bad line (good lines stored) | 413 | 503
//! ```

/// Points to series (pure).
pub mod convert;
/// The axum handlers.
pub mod handler;
/// The line-protocol parser (pure).
pub mod parse;

pub use convert::Precision;
pub use parse::{FieldValue, LineError, Point, parse_lines};
