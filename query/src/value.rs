//! Query results: [`Value`] and its parts [`Sample`] and [`Series`].

use crate::labels::Labels;

/// The bit pattern Prometheus uses to mark a series as stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True when `v` is the staleness marker (not any other NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_one_specific_nan() {
        assert!(is_stale_nan(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale_nan(f64::NAN));
        assert!(!is_stale_nan(1.0));
    }
}
