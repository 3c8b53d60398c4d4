//! Rule groups evaluate concurrently: a group whose query is slow does not hold up
//! another group's evaluations.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{alerting_rule, rules};
use telltale_alertmanager::{ManagerOptions, QueriedSample, RuleManager, RuleQuerier};
use telltale_crds::AlertingSpec;

/// `slow` takes 3 s to answer; anything else answers at once.
struct SlowQuerier;

#[async_trait::async_trait]
impl RuleQuerier for SlowQuerier {
    async fn query(&self, expr: &str, _time_ms: i64) -> Result<Vec<QueriedSample>, String> {
        if expr == "slow" {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        Ok(Vec::new())
    }
}

/// `telltale_rule_group_iterations_total` of the group whose label contains `name`.
fn iterations(registry: &prometheus::Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "telltale_rule_group_iterations_total")
        .flat_map(|f| f.get_metric())
        .filter(|m| m.get_label().iter().any(|l| l.value().contains(name)))
        .map(|m| m.get_counter().value())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_group_does_not_hold_up_another() {
    let registry = prometheus::Registry::new();
    let manager = RuleManager::new(
        Arc::new(SlowQuerier),
        AlertingSpec::default(),
        ManagerOptions::default(),
        &registry,
    );
    // Both groups are evaluated every 100 ms.
    manager.apply(&[
        rules(
            "slow",
            vec![alerting_rule("Slow", "slow", Duration::ZERO, &[])],
        ),
        rules(
            "quick",
            vec![alerting_rule("Quick", "quick", Duration::ZERO, &[])],
        ),
    ]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (slow, quick) = (
        iterations(&registry, "slow"),
        iterations(&registry, "quick"),
    );
    assert!(
        slow <= 1.0,
        "the slow group is still in its first evaluation: {slow}"
    );
    assert!(
        quick >= 8.0,
        "the quick group kept its 100 ms interval while the slow one waited: {quick}"
    );
    manager.shutdown();
}
