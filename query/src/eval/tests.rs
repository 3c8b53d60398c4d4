//! Evaluator tests through the engine against an in-memory reader.

use std::sync::Arc;

use crate::testing::MemoryReader;
use crate::value::STALE_NAN_BITS;
use crate::{Engine, EngineOptions, Error, Sample, Value};

const MIN: i64 = 60_000;

fn engine(reader: MemoryReader) -> (Engine, Arc<MemoryReader>) {
    let reader = Arc::new(reader);
    let e = Engine::new(
        reader.clone(),
        EngineOptions::default(),
        &prometheus::Registry::new(),
    );
    (e, reader)
}

/// `http_requests_total` for two instances of job api and one of job db, every 15s
/// from 0 to 10m, rising by 1, 2 and 3 per sample.
fn counters() -> MemoryReader {
    let r = MemoryReader::new();
    for (inst, job, per) in [("a", "api", 1.0), ("b", "api", 2.0), ("c", "db", 3.0)] {
        let pts: Vec<(i64, f64)> = (0..=40).map(|i| (i * 15_000, i as f64 * per)).collect();
        r.add(
            &[
                ("__name__", "http_requests_total"),
                ("instance", inst),
                ("job", job),
            ],
            &pts,
        );
    }
    r
}

async fn vector(e: &Engine, q: &str, t: i64) -> Vec<Sample> {
    match e.instant_query(q, t).await.unwrap() {
        Value::Vector(v) => v,
        other => panic!("expected vector for {q}, got {other:?}"),
    }
}

async fn sorted_values(e: &Engine, q: &str, t: i64) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = vector(e, q, t)
        .await
        .into_iter()
        .map(|s| (s.metric.to_string(), s.value))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test]
async fn selectors_match_and_use_lookback() {
    let (e, _) = engine(counters());
    let v = sorted_values(&e, r#"http_requests_total{job="api"}"#, 10 * MIN).await;
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].1, 40.0);
    // Regexes are fully anchored: "ap" matches nothing.
    assert!(
        vector(&e, r#"http_requests_total{job=~"ap"}"#, 10 * MIN)
            .await
            .is_empty()
    );
    assert_eq!(
        vector(&e, r#"http_requests_total{job!~"ap.*"}"#, 10 * MIN)
            .await
            .len(),
        1
    );
    assert_eq!(
        vector(&e, r#"http_requests_total{job!="api"}"#, 10 * MIN)
            .await
            .len(),
        1
    );
    // Lookback: the last sample (10m) is visible until 15m, exclusive.
    assert_eq!(
        vector(&e, "http_requests_total", 15 * MIN - 1).await.len(),
        3
    );
    assert!(vector(&e, "http_requests_total", 15 * MIN).await.is_empty());
    // Offset reads earlier samples; output time is the evaluation time.
    let v = vector(
        &e,
        r#"http_requests_total{instance="a"} offset 5m"#,
        10 * MIN,
    )
    .await;
    assert_eq!(v[0].value, 20.0);
    assert_eq!(v[0].t_ms, 10 * MIN);
    // @ pins the evaluation time.
    let v = vector(&e, r#"http_requests_total{instance="a"} @ 60"#, 10 * MIN).await;
    assert_eq!(v[0].value, 4.0);
}

#[tokio::test]
async fn staleness_marker_ends_a_series() {
    let r = MemoryReader::new();
    r.add(
        &[("__name__", "up")],
        &[(0, 1.0), (15_000, f64::from_bits(STALE_NAN_BITS))],
    );
    let (e, _) = engine(r);
    assert_eq!(vector(&e, "up", 10_000).await.len(), 1);
    assert!(vector(&e, "up", 20_000).await.is_empty());
    // A real NaN is a value.
    let r = MemoryReader::new();
    r.add(&[("__name__", "up")], &[(0, f64::NAN)]);
    let (e, _) = engine(r);
    assert!(vector(&e, "up", 10_000).await[0].value.is_nan());
}

#[tokio::test]
async fn rate_and_increase_follow_prometheus_extrapolation() {
    let (e, _) = engine(counters());
    // Instance a rises 1 per 15s. Over (5m, 10m] there are samples at 5m15s..10m:
    // 20 samples, increase 19 over 285s, extrapolated by 15s at the start -> 20.
    let v = sorted_values(
        &e,
        r#"increase(http_requests_total{instance="a"}[5m])"#,
        10 * MIN,
    )
    .await;
    assert_eq!(v, vec![(r#"{instance="a", job="api"}"#.to_string(), 20.0)]);
    let v = vector(
        &e,
        r#"rate(http_requests_total{instance="a"}[5m])"#,
        10 * MIN,
    )
    .await;
    assert!((v[0].value - 20.0 / 300.0).abs() < 1e-12);
    assert_eq!(v[0].metric.get("__name__"), None);
    // A counter reset is compensated.
    let r = MemoryReader::new();
    r.add(
        &[("__name__", "c")],
        &[(0, 10.0), (30_000, 20.0), (60_000, 5.0)],
    );
    let (e, _) = engine(r);
    // increase 15 over (0, 60s]: samples 30s, 60s only (0 is excluded), 20 -> 5 reset:
    // result 5; start gap 0 -> wait: samples in (0, 60000] are 30s and 60s.
    let v = vector(&e, "increase(c[1m])", 60_000).await;
    // result = 5 - 20 + 20 = 5; sampled 30s; gap to start 30s >= 33s? no (33 = 1.1*30),
    // zero point 30 * 20/5 = 120 > 30 -> extrapolate 30s: 5 * 60/30 = 10.
    assert!((v[0].value - 10.0).abs() < 1e-12, "{}", v[0].value);
}

#[tokio::test]
async fn aggregations_by_and_without() {
    let (e, _) = engine(counters());
    let t = 10 * MIN;
    assert_eq!(
        sorted_values(&e, "sum by (job) (http_requests_total)", t).await,
        vec![
            (r#"{job="api"}"#.to_string(), 120.0),
            (r#"{job="db"}"#.to_string(), 120.0)
        ]
    );
    assert_eq!(
        sorted_values(&e, "sum without (instance) (http_requests_total)", t).await,
        vec![
            (r#"{job="api"}"#.to_string(), 120.0),
            (r#"{job="db"}"#.to_string(), 120.0)
        ]
    );
    assert_eq!(
        sorted_values(&e, "sum(http_requests_total)", t).await,
        vec![("{}".to_string(), 240.0)]
    );
    assert_eq!(
        sorted_values(&e, "avg(http_requests_total)", t).await[0].1,
        80.0
    );
    assert_eq!(
        sorted_values(&e, "min(http_requests_total)", t).await[0].1,
        40.0
    );
    assert_eq!(
        sorted_values(&e, "max(http_requests_total)", t).await[0].1,
        120.0
    );
    assert_eq!(
        sorted_values(&e, "count by (job) (http_requests_total)", t).await[0].1,
        2.0
    );
    let top = vector(&e, "topk(1, http_requests_total)", t).await;
    assert_eq!(top[0].metric.get("instance"), Some("c"));
    assert_eq!(top[0].metric.get("__name__"), Some("http_requests_total"));
}

#[tokio::test]
async fn comparisons_filter_or_return_bool() {
    let (e, _) = engine(counters());
    let t = 10 * MIN;
    let v = vector(&e, "http_requests_total > 50", t).await;
    assert_eq!(v.len(), 2);
    assert!(
        v.iter()
            .all(|s| s.metric.get("__name__") == Some("http_requests_total"))
    );
    let v = sorted_values(&e, "http_requests_total > bool 50", t).await;
    assert_eq!(
        v.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![0.0, 1.0, 1.0]
    );
    assert!(v.iter().all(|x| !x.0.contains("__name__")));
    let s = e.instant_query("1 < bool 2", t).await.unwrap();
    assert_eq!(
        s,
        Value::Scalar {
            t_ms: t,
            value: 1.0
        }
    );
}

#[tokio::test]
async fn vector_matching_on_and_ignoring() {
    let r = counters();
    r.add(
        &[("__name__", "limit"), ("job", "api")],
        &[(0, 1000.0), (4 * MIN, 1000.0)],
    );
    r.add(
        &[("__name__", "limit"), ("job", "db")],
        &[(0, 10.0), (4 * MIN, 10.0)],
    );
    let (e, _) = engine(r);
    let t = 5 * MIN;
    let v = sorted_values(&e, "sum by (job) (http_requests_total) / on (job) limit", t).await;
    assert_eq!(
        v,
        vec![
            (r#"{job="api"}"#.to_string(), 0.06),
            (r#"{job="db"}"#.to_string(), 6.0)
        ]
    );
    let v = sorted_values(
        &e,
        "http_requests_total / ignoring (instance) group_left limit",
        t,
    )
    .await;
    assert_eq!(v.len(), 3);
    assert_eq!(v[2], (r#"{instance="c", job="db"}"#.to_string(), 6.0));
    let err = e
        .instant_query("http_requests_total / ignoring (instance) limit", t)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "execution");
    assert!(
        err.to_string()
            .contains("many-to-one matching must be explicit"),
        "{err}"
    );
    let v = vector(&e, r#"http_requests_total and on (job) limit{job="db"}"#, t).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].metric.get("__name__"), Some("http_requests_total"));
}

#[tokio::test]
async fn duplicate_labelsets_are_execution_errors() {
    let (e, _) = engine(counters());
    let err = e
        .instant_query(
            "rate(http_requests_total[5m]) * 0 + on() group_left vector(1)",
            10 * MIN,
        )
        .await;
    assert!(err.is_ok(), "{err:?}");
    let err = e
        .instant_query(
            r#"label_replace(http_requests_total, "instance", "x", "", "")"#,
            10 * MIN,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Execution { .. }));
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[tokio::test]
async fn range_query_evaluates_each_step_from_one_select() {
    let (e, reader) = engine(counters());
    let v = e
        .range_query(r#"http_requests_total{instance="b"} * 2"#, 0, 2 * MIN, MIN)
        .await
        .unwrap();
    let Value::Matrix(m) = v else {
        panic!("expected matrix")
    };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].metric.to_string(), r#"{instance="b", job="api"}"#);
    assert_eq!(m[0].points, vec![(0, 0.0), (MIN, 16.0), (2 * MIN, 32.0)]);
    let selects = reader.select_requests();
    assert_eq!(selects.len(), 1);
    assert_eq!(selects[0].start_ms, -5 * MIN + 1);
    assert_eq!(selects[0].end_ms, 2 * MIN);
    // Scalars become one series without labels.
    let Value::Matrix(m) = e.range_query("time()", 0, 2 * MIN, MIN).await.unwrap() else {
        panic!("expected matrix")
    };
    assert_eq!(m[0].points, vec![(0, 0.0), (MIN, 60.0), (2 * MIN, 120.0)]);
}

#[tokio::test]
async fn errors_are_classified() {
    let (e, _) = engine(counters());
    let err = e.instant_query("sum(", 0).await.unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let err = e
        .range_query("http_requests_total[5m]", 0, MIN, 15_000)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let err = e.range_query("up", MIN, 0, 15_000).await.unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let err = e.range_query("up", 0, MIN, 0).await.unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let small = Engine::new(
        Arc::new(counters()),
        EngineOptions {
            max_samples: 10,
            ..EngineOptions::default()
        },
        &prometheus::Registry::new(),
    );
    let err = small
        .instant_query("http_requests_total[10m]", 10 * MIN)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManySamples { .. }));
    assert_eq!(err.http_status(), 422);
}

#[tokio::test]
async fn functions_and_literals() {
    let (e, _) = engine(counters());
    let t = 10 * MIN;
    assert_eq!(
        e.instant_query("-(1 + 2) * 3", t).await.unwrap(),
        Value::Scalar {
            t_ms: t,
            value: -9.0
        }
    );
    assert_eq!(
        e.instant_query(r#""hello""#, t).await.unwrap(),
        Value::String {
            t_ms: t,
            value: "hello".to_string()
        }
    );
    assert_eq!(
        e.instant_query("2 ^ 10 % 1000", t).await.unwrap(),
        Value::Scalar {
            t_ms: t,
            value: 24.0
        }
    );
    let v = vector(
        &e,
        r#"clamp_max(http_requests_total{instance="c"}, 100)"#,
        t,
    )
    .await;
    assert_eq!(v[0].value, 100.0);
    let v = vector(&e, r#"absent(nonexistent{job="x"})"#, t).await;
    assert_eq!(v[0].metric.to_string(), r#"{job="x"}"#);
    assert!(
        vector(&e, "absent(http_requests_total)", t)
            .await
            .is_empty()
    );
    let s = e
        .instant_query(r#"scalar(http_requests_total{instance="a"})"#, t)
        .await
        .unwrap();
    assert_eq!(
        s,
        Value::Scalar {
            t_ms: t,
            value: 40.0
        }
    );
    let v = vector(
        &e,
        r#"last_over_time(http_requests_total{instance="a"}[1m])"#,
        t,
    )
    .await;
    assert_eq!(v[0].metric.get("__name__"), Some("http_requests_total"));
    let v = vector(
        &e,
        r#"avg_over_time(http_requests_total{instance="a"}[1m])"#,
        t,
    )
    .await;
    assert_eq!(v[0].value, 38.5);
    let v = vector(
        &e,
        r#"timestamp(http_requests_total{instance="a"})"#,
        t + 5_000,
    )
    .await;
    assert_eq!(v[0].value, 600.0);
    let v = vector(&e, "vector(3) - 1", t).await;
    assert_eq!(v[0].value, 2.0);
}

/// Arithmetic with a scalar drops the metric name: two series differing only in their
/// name collide; a filter keeps the names, and a vector without names cannot collide.
#[tokio::test]
async fn scalar_arithmetic_checks_dropped_names() {
    let r = MemoryReader::new();
    for name in ["a", "b"] {
        r.add(&[("__name__", name), ("job", "x")], &[(0, 1.0)]);
    }
    let (e, _) = engine(r);
    let err = e
        .instant_query(r#"{__name__=~"a|b"} * 2"#, 0)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    assert_eq!(vector(&e, r#"{__name__=~"a|b"} > 0"#, 0).await.len(), 2);
    // Aggregations keep `__name__` only when grouping by it.
    assert!(
        e.instant_query(r#"sum by (job, __name__) ({__name__=~"a|b"}) * 2"#, 0)
            .await
            .is_err()
    );
    assert_eq!(
        vector(&e, r#"sum by (job) ({__name__=~"a|b"}) * 2"#, 0).await[0].value,
        4.0
    );
    assert_eq!(
        vector(&e, r#"{__name__="a"} * 2 - 1"#, 0).await[0].value,
        1.0
    );
}
