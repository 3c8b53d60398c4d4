//! [`LiveSource`]: what live mode evaluates queries with, and its implementation for the
//! query engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use telltale_query::{Engine, Value};
use telltale_storage_api::FloatHistogram;

use crate::error::{Error, Result};

/// One series of a live push: its labels and its new points `(t_ms, value)` and native
/// histogram points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveSeries {
    pub metric: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
    pub histograms: Vec<(i64, Arc<FloatHistogram>)>,
}

/// Evaluates live queries. The WebSocket session calls [`LiveSource::check`] once before
/// accepting the connection, then [`LiveSource::evaluate`] for every window of new points.
#[async_trait::async_trait]
pub trait LiveSource: Send + Sync + 'static {
    /// Validates `expr` without evaluating it.
    fn check(&self, expr: &str) -> Result<()>;

    /// Evaluates `expr` at `start_ms, start_ms + step_ms, ..., end_ms` (one instant when
    /// `start_ms == end_ms`).
    async fn evaluate(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<LiveSeries>>;
}

#[async_trait::async_trait]
impl LiveSource for Arc<Engine> {
    fn check(&self, expr: &str) -> Result<()> {
        Ok(telltale_query::check_expr(expr)?)
    }

    /// One instant: `instant_query`; several: `range_query`.
    async fn evaluate(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<LiveSeries>> {
        let value = if start_ms >= end_ms {
            self.instant_query(expr, end_ms).await?
        } else {
            self.range_query(expr, start_ms, end_ms, step_ms).await?
        };
        value_series(value)
    }
}

/// The series of a query result: a matrix as is, a vector's samples as one point each,
/// a scalar as one series without labels. Strings cannot be graphed.
pub fn value_series(value: Value) -> Result<Vec<LiveSeries>> {
    let metric = |l: &telltale_query::Labels| -> BTreeMap<String, String> {
        l.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    match value {
        Value::Matrix(series) => Ok(series
            .into_iter()
            .map(|s| LiveSeries {
                metric: metric(&s.metric),
                points: s.points,
                histograms: s.histograms,
            })
            .collect()),
        Value::Vector(samples) => Ok(samples
            .into_iter()
            .map(|s| match s.histogram {
                Some(h) => LiveSeries {
                    metric: metric(&s.metric),
                    points: Vec::new(),
                    histograms: vec![(s.t_ms, h)],
                },
                None => LiveSeries {
                    metric: metric(&s.metric),
                    points: vec![(s.t_ms, s.value)],
                    histograms: Vec::new(),
                },
            })
            .collect()),
        Value::Scalar { t_ms, value } => Ok(vec![LiveSeries {
            metric: BTreeMap::new(),
            points: vec![(t_ms, value)],
            histograms: Vec::new(),
        }]),
        Value::String { .. } => Err(Error::Unsupported {
            result_type: "string",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_query::{Labels, Sample, Series};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        let mut l = Labels::empty();
        for (n, v) in pairs {
            l.set(n, v);
        }
        l
    }

    #[test]
    fn matrices_vectors_and_scalars_become_series() {
        let m = value_series(Value::Matrix(vec![Series::floats(
            labels(&[("__name__", "up"), ("job", "a")]),
            vec![(1_000, 1.0), (2_000, 0.0)],
        )]))
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].metric["job"], "a");
        assert_eq!(m[0].metric["__name__"], "up");
        assert_eq!(m[0].points, vec![(1_000, 1.0), (2_000, 0.0)]);

        let v = value_series(Value::Vector(vec![
            Sample::float(labels(&[("i", "1")]), 5_000, 3.5),
            Sample::float(labels(&[("i", "2")]), 5_000, 4.5),
        ]))
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].points, vec![(5_000, 4.5)]);

        let s = value_series(Value::Scalar {
            t_ms: 7_000,
            value: 2.0,
        })
        .unwrap();
        assert!(s[0].metric.is_empty());
        assert_eq!(s[0].points, vec![(7_000, 2.0)]);
    }

    #[test]
    fn strings_are_refused() {
        let e = value_series(Value::String {
            t_ms: 0,
            value: "x".into(),
        })
        .unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    }
}
