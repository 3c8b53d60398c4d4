//! Query results: [`Value`] and its parts [`Sample`] and [`Series`].

use crate::labels::Labels;

/// The staleness marker, from the data model (the evaluator takes it from here).
pub use telltale_model::{STALE_NAN_BITS, is_stale_nan};

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub metric: Labels,
    pub t_ms: i64,
    pub value: f64,
}

/// One series of a range vector (matrix), points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub metric: Labels,
    pub points: Vec<(i64, f64)>,
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
