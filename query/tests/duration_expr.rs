//! Prometheus 3.5's `promql-duration-expr`: arithmetic, `step()`, `min`/`max` in range,
//! subquery and offset durations evaluate as the plain durations they compute (for
//! `step()`, the query's step), and are refused without the feature in Prometheus's
//! words.

use std::sync::Arc;

use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Features, Value};

fn engine(features: Features) -> Engine {
    let reader = MemoryReader::new();
    let points: Vec<(i64, f64)> = (0..=240).map(|i| (i * 15_000, (i * i) as f64)).collect();
    reader.add(&[("__name__", "x"), ("job", "a")], &points);
    Engine::new(
        Arc::new(reader),
        EngineOptions {
            features,
            ..Default::default()
        },
        &prometheus::Registry::new(),
    )
}

fn on() -> Features {
    Features {
        duration_expr: true,
        ..Features::default()
    }
}

#[tokio::test]
async fn computed_durations_equal_their_plain_forms() {
    let e = engine(on());
    let t = 3_000_000;
    for (expr, plain) in [
        ("rate(x[5m * 2])", "rate(x[10m])"),
        ("x offset (1h - 30m)", "x offset 30m"),
        ("x offset -(2 * 5m)", "x offset -10m"),
        // A sign binds looser than `^` (Prometheus's duration_expression.test).
        ("x offset (-2 ^ 2)", "x offset -4s"),
        ("x offset (-2 ^ 2 + 10)", "x offset 6s"),
        (
            "max_over_time(x[2m ^ 1 + 1m:30s])",
            "max_over_time(x[3m:30s])",
        ),
        ("sum_over_time(x[(600 % 7m)])", "sum_over_time(x[3m])"),
        ("sum_over_time(x[min(10m, 1h) / 2])", "sum_over_time(x[5m])"),
    ] {
        let a = e.instant_query(expr, t).await.unwrap();
        let b = e.instant_query(plain, t).await.unwrap();
        assert_eq!(a, b, "{expr} vs {plain}");
        assert!(
            matches!(&a, Value::Vector(v) if !v.is_empty()),
            "{expr}: {a:?}"
        );
    }
}

#[tokio::test]
async fn step_is_the_range_query_step() {
    let e = engine(on());
    let a = e
        .range_query("sum_over_time(x[step() * 4])", 600_000, 1_200_000, 60_000)
        .await
        .unwrap();
    let b = e
        .range_query("sum_over_time(x[4m])", 600_000, 1_200_000, 60_000)
        .await
        .unwrap();
    assert_eq!(a, b);
    // An instant query's step is 0: a range of step() is empty.
    let err = e
        .instant_query("sum_over_time(x[step()])", 600_000)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "16:22: duration must be greater than 0");
    assert_eq!(err.error_type(), "bad_data");
}

#[tokio::test]
async fn refused_without_the_feature() {
    let e = engine(Features::default());
    for (expr, at) in [
        ("rate(x[5m * 2])", "1:8"),
        ("x offset (1h - 30m)", "1:11"),
        ("sum_over_time(x[step()])", "1:17"),
        ("x[1h:max(1m, 2m)]", "1:6"),
    ] {
        let err = e.instant_query(expr, 600_000).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{at}: parse error: experimental duration expression is not enabled"),
            "{expr}"
        );
    }
    // A parenthesised literal is no expression.
    assert!(e.instant_query("x offset (5m)", 600_000).await.is_ok());
}
