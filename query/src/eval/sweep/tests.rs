//! Series-major evaluation against step-major evaluation of the same query on random
//! series: the same matrix, bit for bit, or the same error.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::Grid;
use crate::eval::selector::{Fetched, StoredSeries, plan_selections};
use crate::job::Job;
use crate::labels::Labels;
use crate::value::{STALE_NAN_BITS, Value};

/// Queries with `R` for a range and `X` for a selector.
const QUERIES: &[&str] = &[
    "rate(X[R])",
    "increase(X[R])",
    "delta(X[R])",
    "irate(X[R])",
    "idelta(X[R])",
    "changes(X[R])",
    "resets(X[R])",
    "deriv(X[R])",
    "avg_over_time(X[R])",
    "min_over_time(X[R])",
    "max_over_time(X[R])",
    "sum_over_time(X[R])",
    "count_over_time(X[R])",
    "last_over_time(X[R])",
    "present_over_time(X[R])",
    "stddev_over_time(X[R])",
    "stdvar_over_time(X[R])",
    "X",
    "(X offset 40s)",
    "rate(X[R] offset 1m)",
    "sum(rate(X[R]))",
    "sum by (job) (rate(X[R] offset 30s))",
    "avg without (instance) (increase(X[R]))",
    "count by (job) (X)",
    "avg by (instance) (X)",
    "min by (job) (delta(X[R]))",
    "max(irate(X[R]))",
    "group by (job) (X offset 10s)",
    "stddev by (job) (rate(X[R]))",
    "stdvar without (job) (X)",
    "sum by (__name__) (rate(X[R]))",
    "sum by (__name__, job) (X)",
    "count by (job) (last_over_time(X[R]))",
    "sum(rate(X[R])) / sum(rate(X[R] offset 1m))",
    "sum by (job) (rate(X[R])) > bool 0.1",
    "-sum(X)",
    "topk(2, rate(X[R]))",
    "quantile(0.5, rate(X[R]))",
    "quantile without (instance) (0.9, X)",
    "topk by (job) (3, X offset 20s)",
    "bottomk(2, last_over_time(X[R]))",
    "bottomk by (instance) (1, X)",
    "topk((2), X)",
    "topk(0, X)",
    "topk(NaN, X)",
    "topk(1e30, X)",
    "topk(150, X)",
    "topk(2, X) + on() group_left sum(X)",
    "sum(sum by (job) (rate(X[R])))",
    "max_over_time(sum(rate(X[R]))[2m:20s])",
    "sum(rate(X[R] @ 100))",
    "abs(sum by (job) (deriv(X[R])))",
    "rate(X[R]) * 2",
    "X * 2",
    "X > 1",
    "2 < bool X",
    "-irate(X[R])",
    "sum(rate(X[R]) > 0.5)",
    "label_replace(delta(X[R]), \"i\", \"$1\", \"instance\", \"i(.*)\")",
    "rate(X[R]) / on(instance, job) group_left rate(X[R] offset 1m)",
    "topk(200, increase(X[R]))",
    "count_values(\"v\", changes(X[R]))",
    "timestamp(X)",
];

const SELECTORS: &[&str] = &["x", r#"{__name__=~"x|y"}"#, r#"x{job="a"}"#];

const RANGES: &[&str] = &["10s", "45s", "1m", "5m"];

/// A value: mostly a rising counter, sometimes a reset, a negative value, a NaN, a
/// staleness marker or an infinity.
fn value() -> impl Strategy<Value = (u8, f64)> {
    (0u8..100, -5.0f64..50.0)
}

fn points() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((1i64..40_000, value()), 0..60).prop_map(|steps| {
        let (mut t, mut v) = (-20_000i64, 0.0f64);
        steps
            .into_iter()
            .map(|(gap, (kind, x))| {
                t += gap;
                let value = match kind {
                    0..=3 => x.abs() / 10.0, // reset
                    4 => -x.abs(),
                    5 => f64::NAN,
                    6 => f64::from_bits(STALE_NAN_BITS),
                    7 => f64::INFINITY,
                    // Ties, for the order of topk and bottomk.
                    8..=40 => (x.abs() as i64 % 3) as f64,
                    _ => {
                        v += x.abs();
                        v
                    }
                };
                if kind < 5 {
                    v = value;
                }
                (t, value)
            })
            .collect()
    })
}

/// Up to six distinct series named `x` or `y` with jobs and instances.
fn series() -> impl Strategy<Value = Vec<StoredSeries>> {
    prop::collection::vec((0u8..2, 0u8..2, 0u8..3, points()), 0..7).prop_map(|all| {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<StoredSeries> = all
            .into_iter()
            .filter(|(n, j, i, _)| seen.insert((*n, *j, *i)))
            .map(|(n, j, i, points)| {
                let labels = Labels::from(vec![
                    ("__name__".to_string(), ["x", "y"][n as usize].to_string()),
                    ("instance".to_string(), format!("i{i}")),
                    ("job".to_string(), ["a", "b"][j as usize].to_string()),
                ]);
                // Half the series as storage answers them (chunks, decoded when read).
                if i % 2 == 0 {
                    let chunks = points
                        .chunks(7)
                        .filter_map(telltale_storage_api::Chunk::from_samples)
                        .collect();
                    StoredSeries::from_chunks(labels, chunks)
                } else {
                    StoredSeries::from_points(labels, points)
                }
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    })
}

fn job(expr: &str, series: &[StoredSeries], from: i64, step: i64, steps: i64) -> Job {
    limited_job(expr, series, from, step, steps, 1_000_000)
}

/// A job with delayed name removal (`promql-delayed-name-removal`) set as `delayed`.
fn delayed_job(
    expr: &str,
    series: &[StoredSeries],
    (from, step, steps): (i64, i64, i64),
    max_samples: usize,
    delayed: bool,
) -> Job {
    Job {
        delayed_name_removal: delayed,
        ..limited_job(expr, series, from, step, steps, max_samples)
    }
}

fn limited_job(
    expr: &str,
    series: &[StoredSeries],
    from: i64,
    step: i64,
    steps: i64,
    max_samples: usize,
) -> Job {
    let expr = promql_parser::parser::parse(expr).expect("test query parses");
    let to = from + (steps - 1) * step;
    let mut fetched = Fetched::default();
    for sel in plan_selections(&expr, from, to, 60_000) {
        fetched.raw.insert(sel.key, series.to_vec());
    }
    Job {
        query: String::new(),
        expr,
        fetched,
        start: from,
        end: to,
        from,
        to,
        step,
        lookback: 60_000,
        deadline: Instant::now() + Duration::from_secs(60),
        canceled: Arc::new(AtomicBool::new(false)),
        max_samples,
        delayed_name_removal: false,
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_same(query: &str, series_major: &Value, step_major: &Value) {
    let (Value::Matrix(a), Value::Matrix(b)) = (series_major, step_major) else {
        panic!("{query}: not matrices: {series_major:?} / {step_major:?}");
    };
    assert_eq!(a.len(), b.len(), "{query}: {a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.metric, y.metric, "{query}");
        assert_eq!(x.points.len(), y.points.len(), "{query} {}", x.metric);
        for (p, q) in x.points.iter().zip(&y.points) {
            assert!(
                p.0 == q.0 && same(p.1, q.1),
                "{query} {}: {p:?} != {q:?}",
                x.metric
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn series_major_equals_step_major(
        series in series(),
        query in 0..QUERIES.len(),
        selector in 0..SELECTORS.len(),
        range in 0..RANGES.len(),
        from in -30_000i64..400_000,
        step in 1_000i64..60_000,
        steps in 1i64..40,
        limit in prop::sample::select(vec![1_000_000usize, 150, 30]),
        delayed in any::<bool>(),
    ) {
        let query = QUERIES[query]
            .replace('X', SELECTORS[selector])
            .replace('R', RANGES[range]);
        let grid = (from, step, steps);
        let a = delayed_job(&query, &series, grid, limit, delayed).evaluate();
        let b = delayed_job(&query, &series, grid, limit, delayed).evaluate_step_major();
        match (a, b) {
            (Ok(a), Ok(b)) => assert_same(&query, &a, &b),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("{query}: {a:?} / {b:?}"),
        }
    }
}

/// Counter resets inside and at the edges of sliding windows, many steps: the window's
/// correction adds exactly the resets `extrapolated_rate` finds.
#[test]
fn rate_windows_over_resets() {
    let points: Vec<(i64, f64)> = (0..500)
        .map(|i| {
            (
                i * 10_000 + (i * 7) % 5,
                ((i * 37) % 101) as f64 * 1.1 - 3.0,
            )
        })
        .collect();
    let series = vec![StoredSeries::from_points(
        Labels::from(vec![("__name__".to_string(), "x".to_string())]),
        points,
    )];
    for query in ["rate(x[1m])", "increase(x[5m])", "sum(rate(x[35s]))"] {
        let a = job(query, &series, 0, 15_000, 300).evaluate().unwrap();
        let b = job(query, &series, 0, 15_000, 300)
            .evaluate_step_major()
            .unwrap();
        assert_same(query, &a, &b);
    }
}

/// Ties and NaNs decide which series `topk` and `bottomk` pick: the earlier series in
/// label order, NaN last, as the stable sort of step-major evaluation.
#[test]
fn picks_break_ties_by_series_order() {
    let series: Vec<StoredSeries> = (0..6)
        .map(|i| {
            StoredSeries::from_points(
                Labels::from(vec![
                    ("__name__".to_string(), "x".to_string()),
                    ("instance".to_string(), format!("i{i}")),
                    ("job".to_string(), ["a", "b"][i % 2].to_string()),
                ]),
                (0..20)
                    .map(|t| {
                        let v = match (i + t) % 4 {
                            0 => f64::NAN,
                            1 => 2.0,
                            _ => 1.0,
                        };
                        (t as i64 * 10_000, v)
                    })
                    .collect(),
            )
        })
        .collect();
    for query in [
        "topk(2, x)",
        "bottomk(3, x)",
        "topk by (job) (2, x)",
        "bottomk without (instance) (1, x)",
        "topk(5, x)",
    ] {
        let a = job(query, &series, 0, 10_000, 20).evaluate().unwrap();
        let b = job(query, &series, 0, 10_000, 20)
            .evaluate_step_major()
            .unwrap();
        assert_same(query, &a, &b);
    }
}

#[test]
fn grid_indexes_steps_only() {
    let g = Grid::new(1_000, 10_000, 3_000);
    assert_eq!(g.len, 4);
    assert_eq!(g.index(7_000), Some(2));
    assert_eq!(g.index(8_000), None);
    assert_eq!(g.index(13_000), None);
    assert_eq!(g.index(-2_000), None);
    assert_eq!(Grid::new(5, 4, 1).len, 0);
}
