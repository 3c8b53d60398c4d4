//! [`RuleQuerier`]: how rules run their PromQL, and its implementation over the
//! `telltale_query` engine.

use std::collections::BTreeMap;

/// One sample of a rule's result.
#[derive(Clone, Debug, PartialEq)]
pub struct QueriedSample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Evaluates a rule's expression at one instant.
#[async_trait::async_trait]
pub trait RuleQuerier: Send + Sync {
    async fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QueriedSample>, String>;
}

/// The query engine's result as samples: a vector's samples, a scalar as one sample
/// without labels. Strings and matrices are not valid results for a rule.
pub fn samples_of(value: telltale_query::Value) -> Result<Vec<QueriedSample>, String> {
    match value {
        telltale_query::Value::Vector(samples) => Ok(samples
            .into_iter()
            .map(|s| QueriedSample {
                labels: s
                    .metric
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: s.value,
            })
            .collect()),
        telltale_query::Value::Scalar { value, .. } => Ok(vec![QueriedSample {
            labels: BTreeMap::new(),
            value,
        }]),
        other => Err(format!(
            "rule result must be a vector or a scalar, got a {}",
            other.result_type()
        )),
    }
}

#[async_trait::async_trait]
impl RuleQuerier for telltale_query::Engine {
    async fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QueriedSample>, String> {
        let value = self
            .instant_query(expr, time_ms)
            .await
            .map_err(|e| e.to_string())?;
        samples_of(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_query::{Labels, Sample, Value};

    #[test]
    fn vector_samples_keep_their_labels() {
        let metric = Labels::from(vec![
            ("__name__".to_string(), "up".to_string()),
            ("job".to_string(), "node".to_string()),
        ]);
        let value = Value::Vector(vec![Sample {
            metric,
            t_ms: 5,
            value: 0.0,
        }]);
        let samples = samples_of(value).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].labels["job"], "node");
        assert_eq!(samples[0].labels["__name__"], "up");
    }

    #[test]
    fn a_scalar_is_one_sample_without_labels() {
        let samples = samples_of(Value::Scalar {
            t_ms: 5,
            value: 2.5,
        })
        .unwrap();
        assert_eq!(
            samples,
            [QueriedSample {
                labels: BTreeMap::new(),
                value: 2.5
            }]
        );
        assert!(samples_of(Value::Matrix(vec![])).is_err());
    }
}
