//! Query results: [`Value`] and its parts [`Sample`] and [`Series`].
//!
//! As Prometheus's `promql.Sample{F, H}` and `Series{Floats, Histograms}`: a sample is a
//! float or a native histogram; a series holds its float points and its histogram
//! points apart, each in time order.

use std::sync::Arc;

use crate::labels::Labels;

/// The staleness marker, from the data model (the evaluator takes it from here).
pub use telltale_model::{STALE_NAN_BITS, is_stale_nan};
/// A native histogram sample (absolute counts).
pub use telltale_storage_api::FloatHistogram;

/// A native histogram point: its time and the histogram (shared, never changed in place).
pub type HistogramPoint = (i64, Arc<FloatHistogram>);

/// One sample of an instant vector: a float `value`, or a native histogram (then
/// `value` is 0 and means nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub metric: Labels,
    pub t_ms: i64,
    pub value: f64,
    pub histogram: Option<Arc<FloatHistogram>>,
}

impl Sample {
    /// A float sample.
    pub fn float(metric: Labels, t_ms: i64, value: f64) -> Self {
        Sample {
            metric,
            t_ms,
            value,
            histogram: None,
        }
    }

    /// A native histogram sample.
    pub fn histogram(metric: Labels, t_ms: i64, h: Arc<FloatHistogram>) -> Self {
        Sample {
            metric,
            t_ms,
            value: 0.0,
            histogram: Some(h),
        }
    }

    /// Whether the sample is a float (not a histogram).
    pub fn is_float(&self) -> bool {
        self.histogram.is_none()
    }
}

/// One series of a range vector (matrix): float points and histogram points, each in
/// time order (a series may hold both, at different times).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub metric: Labels,
    pub points: Vec<(i64, f64)>,
    pub histograms: Vec<HistogramPoint>,
}

impl Series {
    /// A series of float points.
    pub fn floats(metric: Labels, points: Vec<(i64, f64)>) -> Self {
        Series {
            metric,
            points,
            histograms: Vec::new(),
        }
    }

    /// How many points (floats and histograms) the series holds.
    pub fn len(&self) -> usize {
        self.points.len() + self.histograms.len()
    }

    /// Whether the series holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.histograms.is_empty()
    }
}

/// The result of a query, typed the way the Prometheus API reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t_ms: i64, value: f64 },
    String { t_ms: i64, value: String },
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    /// The Prometheus `resultType`: `scalar`, `string`, `vector` or `matrix`.
    pub fn result_type(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}
