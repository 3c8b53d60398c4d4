//! The query engine as the alertmanager's [`RuleQuerier`]: the alertmanager crate does
//! not link the query crate; this binary wires them together. Also the engine's check of
//! a rule's expression, and the in-memory store `telltale test rules` runs on.

use std::collections::BTreeMap;
use std::sync::Arc;

use telltale_alertmanager::rules::unittest::Store;
use telltale_alertmanager::{QueriedSample, RuleQuerier};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Value};
use telltale_storage_api::{SampleWriter, TimeSeries};

/// Rules evaluated through the query engine, as a library.
pub struct EngineQuerier(pub Arc<Engine>);

#[async_trait::async_trait]
impl RuleQuerier for EngineQuerier {
    async fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QueriedSample>, String> {
        let value = self
            .0
            .instant_query(expr, time_ms)
            .await
            .map_err(|e| e.to_string())?;
        samples_of(value)
    }
}

/// The engine's result as samples: a vector's samples, a scalar as one sample without
/// labels. Strings and matrices are not valid results for a rule.
pub fn samples_of(value: Value) -> Result<Vec<QueriedSample>, String> {
    match value {
        Value::Vector(samples) => Ok(samples
            .into_iter()
            .map(|s| QueriedSample {
                labels: s
                    .metric
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: if s.histogram.is_some() { 0.0 } else { s.value },
                histogram: s.histogram,
            })
            .collect()),
        Value::Scalar { value, .. } => Ok(vec![QueriedSample {
            labels: BTreeMap::new(),
            value,
            histogram: None,
        }]),
        other => Err(format!(
            "rule result must be a vector or a scalar, got a {}",
            other.result_type()
        )),
    }
}

/// The engine's check of a rule's expression (syntax and what the evaluator supports).
pub fn check_expr(expr: &str) -> Result<(), String> {
    telltale_query::check_expr(expr).map_err(|e| e.to_string())
}

/// Writes into an in-memory reader (the store of `telltale test rules`).
struct MemoryWriter(Arc<MemoryReader>);

#[async_trait::async_trait]
impl SampleWriter for MemoryWriter {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let mut n = 0;
        for s in series {
            let labels: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            let samples: Vec<(i64, f64)> = s
                .samples
                .iter()
                .map(|x| (x.timestamp_ms, x.value))
                .collect();
            n += samples.len() as u64;
            self.0.add(&labels, &samples);
            if !s.histograms.is_empty() {
                let histograms = s
                    .histograms
                    .iter()
                    .map(|h| {
                        telltale_storage_api::FloatHistogram::from_proto(h)
                            .map(|fh| (h.timestamp_ms, fh))
                            .map_err(|e| telltale_storage_api::Error::Corrupt(e.to_string()))
                    })
                    .collect::<telltale_storage_api::Result<Vec<_>>>()?;
                n += histograms.len() as u64;
                self.0.add_histograms(&labels, &histograms);
            }
        }
        Ok(n)
    }
}

/// A fresh in-memory store with the real engine over it.
pub fn memory_store() -> Store {
    let reader = Arc::new(MemoryReader::new());
    // Test data starts at the epoch; nothing is ever a late write.
    reader.set_out_of_order_window(i64::MAX / 4);
    let engine = Arc::new(Engine::new(
        reader.clone(),
        EngineOptions::default(),
        &prometheus::Registry::new(),
    ));
    Store {
        querier: Arc::new(EngineQuerier(engine)),
        writer: Arc::new(MemoryWriter(reader)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_query::{Labels, Sample};

    #[test]
    fn vector_samples_keep_their_labels() {
        let metric = Labels::from(vec![
            ("__name__".to_string(), "up".to_string()),
            ("job".to_string(), "node".to_string()),
        ]);
        let value = Value::Vector(vec![Sample::float(metric, 5, 0.0)]);
        let samples = samples_of(value).unwrap();
        assert_eq!(samples[0].labels["job"], "node");
        assert_eq!(samples[0].labels["__name__"], "up");
        let scalar = samples_of(Value::Scalar {
            t_ms: 5,
            value: 2.5,
        })
        .unwrap();
        assert!(scalar[0].labels.is_empty());
        assert!(samples_of(Value::Matrix(vec![])).is_err());
    }

    #[tokio::test]
    async fn engine_answers_rule_queries() {
        let store = memory_store();
        let t = 1_700_000_000_000;
        let series = |instance: &str, samples: &[(i64, f64)]| TimeSeries {
            labels: vec![
                telltale_storage_api::Label::new("__name__", "up"),
                telltale_storage_api::Label::new("instance", instance),
                telltale_storage_api::Label::new("job", "node"),
            ],
            samples: samples
                .iter()
                .map(|&(timestamp_ms, value)| telltale_storage_api::Sample {
                    timestamp_ms,
                    value,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        };
        store
            .writer
            .write(vec![
                series("a:9100", &[(t - 15_000, 1.0), (t, 0.0)]),
                series("b:9100", &[(t, 1.0)]),
            ])
            .await
            .unwrap();
        let down = store.querier.query("up == 0", t).await.unwrap();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].labels["instance"], "a:9100");
        assert_eq!(store.querier.query("1 + 1", t).await.unwrap()[0].value, 2.0);
        assert!(store.querier.query("sum(", t).await.is_err());
    }
}
