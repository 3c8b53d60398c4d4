//! The query engine as a rule querier: rules see the engine's samples with their labels.

use std::sync::Arc;

use telltale_alertmanager::RuleQuerier;
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions};

#[tokio::test]
async fn engine_answers_rule_queries() {
    let reader = Arc::new(MemoryReader::new());
    let t = 1_700_000_000_000;
    reader.add(
        &[("__name__", "up"), ("instance", "a:9100"), ("job", "node")],
        &[(t - 15_000, 1.0), (t, 0.0)],
    );
    reader.add(
        &[("__name__", "up"), ("instance", "b:9100"), ("job", "node")],
        &[(t, 1.0)],
    );
    let engine = Engine::new(
        reader,
        EngineOptions::default(),
        &prometheus::Registry::new(),
    );

    let down = RuleQuerier::query(&engine, "up == 0", t).await.unwrap();
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].labels["instance"], "a:9100");
    assert_eq!(down[0].labels["job"], "node");
    assert_eq!(down[0].value, 0.0);

    let scalar = RuleQuerier::query(&engine, "1 + 1", t).await.unwrap();
    assert_eq!(scalar.len(), 1);
    assert!(scalar[0].labels.is_empty());
    assert_eq!(scalar[0].value, 2.0);

    assert!(RuleQuerier::query(&engine, "sum(", t).await.is_err());
}
