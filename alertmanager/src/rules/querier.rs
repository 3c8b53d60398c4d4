//! [`RuleQuerier`]: how rules run their PromQL. The binary implements it over the query
//! engine; templates' `query` reaches it through [`BlockingQuerier`] from the blocking
//! threads that expand them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::template::prometheus::{QuerySample, TemplateQuerier};

/// One sample of a rule's result: a float, or a native histogram (then `value` is 0,
/// as Prometheus's alert value of a histogram sample).
#[derive(Clone, Debug, PartialEq)]
pub struct QueriedSample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub histogram: Option<Arc<telltale_storage_api::FloatHistogram>>,
}

/// Evaluates a rule's expression at one instant.
#[async_trait::async_trait]
pub trait RuleQuerier: Send + Sync {
    async fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QueriedSample>, String>;
}

/// A [`RuleQuerier`] for templates expanding on a blocking thread: each `query` waits for
/// the async query on the runtime it was created on.
pub struct BlockingQuerier {
    pub querier: Arc<dyn RuleQuerier>,
    pub runtime: tokio::runtime::Handle,
}

impl TemplateQuerier for BlockingQuerier {
    fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QuerySample>, String> {
        let samples = self.runtime.block_on(self.querier.query(expr, time_ms))?;
        Ok(samples
            .into_iter()
            .map(|s| QuerySample {
                labels: s.labels,
                value: s.value,
            })
            .collect())
    }
}
