//! Native histograms through the engine and the HTTP API, as Prometheus 3.5 documents
//! them (querying/functions, querying/operators, the native histograms specification
//! and the HTTP API's `histogram` / `histograms` result fields): selectors and
//! staleness, rates and `*_over_time`, aggregations, binary operators, the
//! `histogram_*` functions, functions of floats ignoring histograms, and the
//! annotations Prometheus raises (its wording, at its positions).

use std::sync::Arc;

use serde_json::Value as Json;
use telltale_query::testing::MemoryReader;
use telltale_query::value::FloatHistogram;
use telltale_query::{Engine, EngineOptions, QueryOutput, QueryRequest, Value, router};
use telltale_storage_api::histogram::{ResetHint, Span};

const S: i64 = 1_000;
const H: &str = "http_request_duration_seconds";

/// An exponential histogram of schema 0: `buckets` as `(index, count)`, count their sum.
fn hist(sum: f64, buckets: &[(i32, f64)], hint: ResetHint) -> FloatHistogram {
    let mut h = FloatHistogram {
        reset_hint: hint,
        zero_threshold: 0.001,
        count: buckets.iter().map(|b| b.1).sum(),
        sum,
        ..FloatHistogram::default()
    };
    h.set_positive(buckets.iter().copied());
    h
}

/// A histogram with custom bucket bounds `bounds` (then +Inf), counts per bucket.
fn nhcb(bounds: &[f64], counts: &[f64]) -> FloatHistogram {
    FloatHistogram {
        schema: -53,
        count: counts.iter().sum(),
        sum: 1.0,
        custom_values: bounds.to_vec(),
        positive_spans: vec![Span {
            offset: 0,
            length: counts.len() as u32,
        }],
        positive_buckets: counts.to_vec(),
        ..FloatHistogram::default()
    }
}

/// The counter histogram of `job` every 15 s from 0 to 10 min: at sample `i`, `i`
/// observations in (0.5, 1] and `3 i` in (1, 2], their sum `2 i`.
fn counter(reader: &MemoryReader, job: &str) {
    let samples: Vec<(i64, FloatHistogram)> = (0..=40)
        .map(|i| {
            let i_f = i as f64;
            (
                i * 15 * S,
                hist(2.0 * i_f, &[(0, i_f), (1, 3.0 * i_f)], ResetHint::Unknown),
            )
        })
        .collect();
    reader.add_histograms(&[("__name__", H), ("job", job)], &samples);
}

fn engine(reader: MemoryReader) -> Engine {
    Engine::new(
        Arc::new(reader),
        EngineOptions::default(),
        &prometheus::Registry::new(),
    )
}

async fn at(engine: &Engine, expr: &str, t_ms: i64) -> QueryOutput {
    engine
        .query(QueryRequest {
            expr: expr.to_string(),
            start_ms: t_ms,
            end_ms: t_ms,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// The vector of an instant query: `(labels, float, histogram)` per sample.
async fn vector(
    engine: &Engine,
    expr: &str,
    t_ms: i64,
) -> Vec<(String, f64, Option<Arc<FloatHistogram>>)> {
    match at(engine, expr, t_ms).await.value {
        Value::Vector(v) => v
            .into_iter()
            .map(|s| (s.metric.to_string(), s.value, s.histogram))
            .collect(),
        other => panic!("{expr}: {other:?}"),
    }
}

/// The single float of an instant query's vector.
async fn one_float(engine: &Engine, expr: &str, t_ms: i64) -> f64 {
    let v = vector(engine, expr, t_ms).await;
    assert_eq!(v.len(), 1, "{expr}: {v:?}");
    assert!(v[0].2.is_none(), "{expr}: a histogram");
    v[0].1
}

/// The single histogram of an instant query's vector.
async fn one_histogram(engine: &Engine, expr: &str, t_ms: i64) -> FloatHistogram {
    let v = vector(engine, expr, t_ms).await;
    assert_eq!(v.len(), 1, "{expr}: {v:?}");
    FloatHistogram::clone(v[0].2.as_ref().unwrap_or_else(|| panic!("{expr}: a float")))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[tokio::test]
async fn selectors_read_histograms_and_their_staleness() {
    let reader = MemoryReader::new();
    counter(&reader, "api");
    // A series whose last sample is the histogram staleness marker.
    reader.add_histograms(
        &[("__name__", "gone")],
        &[
            (0, hist(1.0, &[(0, 1.0)], ResetHint::Unknown)),
            (30 * S, FloatHistogram::stale_marker()),
        ],
    );
    let e = engine(reader);
    let h = one_histogram(&e, H, 600 * S).await;
    assert_eq!((h.count, h.sum), (160.0, 80.0));
    // Lookback: the sample at 600 s is still seen at 10 min + 4 m 59 s, not at +5 m.
    assert_eq!(vector(&e, H, 899 * S).await.len(), 1);
    assert!(vector(&e, H, 900 * S).await.is_empty());
    // offset and @ move the read.
    let h = one_histogram(&e, &format!("{H} offset 5m"), 600 * S).await;
    assert_eq!(h.count, 80.0);
    let h = one_histogram(&e, &format!("{H} @ 150"), 600 * S).await;
    assert_eq!(h.count, 40.0);
    assert_eq!(vector(&e, "gone", 15 * S).await.len(), 1);
    assert!(vector(&e, "gone", 30 * S).await.is_empty());
    // The marker is no sample of a range either.
    assert_eq!(
        one_float(&e, "count_over_time(gone[1m])", 30 * S).await,
        1.0
    );
    // A range of histograms as a matrix.
    let Value::Matrix(m) = at(&e, &format!("{H}[1m]"), 600 * S).await.value else {
        panic!()
    };
    assert_eq!(m.len(), 1);
    assert!(m[0].points.is_empty());
    let times: Vec<i64> = m[0].histograms.iter().map(|p| p.0).collect();
    assert_eq!(times, vec![555 * S, 570 * S, 585 * S, 600 * S]);
    // A subquery of histograms.
    let h = one_histogram(&e, &format!("last_over_time({H}[5m:1m])"), 600 * S).await;
    assert_eq!(h.count, 160.0);
}

#[tokio::test]
async fn rate_increase_and_delta_extrapolate_histograms() {
    let reader = MemoryReader::new();
    counter(&reader, "api");
    let e = engine(reader);
    // (540 s, 600 s]: four samples 45 s apart end to end, 15 s to the window's start
    // (within 1.1 intervals): extrapolated to the whole minute, 4 / 15 s of counts.
    let r = one_histogram(&e, &format!("rate({H}[1m])"), 600 * S).await;
    assert!(close(r.count, 4.0 / 15.0), "{}", r.count);
    assert!(close(r.sum, 2.0 / 15.0), "{}", r.sum);
    let buckets: Vec<(i32, f64)> = r.positive().collect();
    assert_eq!(buckets.len(), 2);
    assert!(close(buckets[0].1, 1.0 / 15.0) && close(buckets[1].1, 3.0 / 15.0));
    assert_eq!(r.reset_hint, ResetHint::Gauge);
    let inc = one_histogram(&e, &format!("increase({H}[1m])"), 600 * S).await;
    assert!(close(inc.count, 16.0), "{}", inc.count);
    // The functions of histograms then read the rate.
    let count = one_float(&e, &format!("histogram_count(rate({H}[1m]))"), 600 * S).await;
    assert!(close(count, 4.0 / 15.0));
    let avg = one_float(&e, &format!("histogram_avg(rate({H}[1m]))"), 600 * S).await;
    assert!(close(avg, 0.5));
    // irate: the last two samples, 15 s apart.
    let ir = one_histogram(&e, &format!("irate({H}[1m])"), 600 * S).await;
    assert!(close(ir.count, 4.0 / 15.0));
    // delta of a counter histogram works, with a warning that it is not a gauge.
    let out = at(&e, &format!("delta({H}[1m])"), 600 * S).await;
    assert_eq!(
        out.warnings,
        vec![format!(
            "PromQL warning: this native histogram metric is not a gauge: {H:?} (1:7)"
        )]
    );
}

#[tokio::test]
async fn counter_resets_and_gauge_histograms() {
    let reader = MemoryReader::new();
    let u = ResetHint::Unknown;
    // 10, 20, then a reset to 5, then 15, every 15 s.
    reader.add_histograms(
        &[("__name__", "resetting")],
        &[
            (15 * S, hist(10.0, &[(0, 10.0)], u)),
            (30 * S, hist(20.0, &[(0, 20.0)], u)),
            (45 * S, hist(5.0, &[(0, 5.0)], u)),
            (60 * S, hist(15.0, &[(0, 15.0)], u)),
        ],
    );
    let g = ResetHint::Gauge;
    reader.add_histograms(
        &[("__name__", "queue_sizes")],
        &[
            (15 * S, hist(10.0, &[(0, 10.0)], g)),
            (30 * S, hist(2.0, &[(0, 2.0)], g)),
        ],
    );
    let e = engine(reader);
    // 15 - 10 + 20 (before the reset) = 25 over 45 s, extrapolated 15 s to the start.
    let inc = one_histogram(&e, "increase(resetting[1m])", 60 * S).await;
    assert!(close(inc.count, 25.0 * 60.0 / 45.0), "{}", inc.count);
    assert_eq!(one_float(&e, "resets(resetting[1m])", 60 * S).await, 1.0);
    assert_eq!(one_float(&e, "changes(resetting[1m])", 60 * S).await, 3.0);
    // rate of a gauge histogram: a result and a warning.
    let out = at(&e, "rate(queue_sizes[1m])", 30 * S).await;
    assert_eq!(
        out.warnings,
        vec![
            "PromQL warning: this native histogram metric is not a counter: \"queue_sizes\" (1:6)"
                .to_string()
        ]
    );
    // delta of a gauge histogram goes down, without a warning.
    let out = at(&e, "delta(queue_sizes[1m])", 30 * S).await;
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert!(v[0].histogram.as_ref().unwrap().count < 0.0);
    let out = at(&e, "idelta(queue_sizes[1m])", 30 * S).await;
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let out = at(&e, "irate(queue_sizes[1m])", 30 * S).await;
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
}

#[tokio::test]
async fn ranges_mixing_floats_and_histograms() {
    let reader = MemoryReader::new();
    // Floats until 30 s, histograms after.
    reader.add(
        &[("__name__", "switching")],
        &[(15 * S, 1.0), (30 * S, 2.0)],
    );
    reader.add_histograms(
        &[("__name__", "switching")],
        &[
            (45 * S, hist(1.0, &[(0, 1.0)], ResetHint::Unknown)),
            (60 * S, hist(2.0, &[(0, 2.0)], ResetHint::Unknown)),
        ],
    );
    let e = engine(reader);
    let out = at(&e, "rate(switching[1m])", 60 * S).await;
    assert_eq!(out.value, Value::Vector(vec![]));
    assert_eq!(
        out.warnings,
        vec![
            "PromQL warning: encountered a mix of histograms and floats for metric name \"switching\" (1:6)"
                .to_string()
        ]
    );
    assert_eq!(
        one_float(&e, "count_over_time(switching[1m])", 60 * S).await,
        4.0
    );
    // Functions of floats use the floats and say histograms were ignored.
    let out = at(&e, "max_over_time(switching[1m])", 60 * S).await;
    assert_eq!(out.infos, vec![
        "PromQL info: ignored histograms in a range containing both floats and histograms for metric name \"switching\" (1:15)".to_string()
    ]);
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert_eq!(v[0].value, 2.0);
    // sum_over_time of both kinds: nothing, with a warning.
    let out = at(&e, "sum_over_time(switching[1m])", 60 * S).await;
    assert_eq!(out.value, Value::Vector(vec![]));
    assert_eq!(out.warnings.len(), 1);
    // last_over_time keeps the last sample, a histogram here, and the name.
    let v = vector(&e, "last_over_time(switching[1m])", 60 * S).await;
    assert_eq!(v[0].0, "{__name__=\"switching\"}");
    assert_eq!(v[0].2.as_ref().unwrap().count, 2.0);
    // The instant selector reads whichever kind is latest.
    assert_eq!(one_float(&e, "switching", 30 * S).await, 2.0);
    assert_eq!(one_histogram(&e, "switching", 50 * S).await.count, 1.0);
    // changes: float to histogram counts.
    assert_eq!(one_float(&e, "changes(switching[1m])", 60 * S).await, 3.0);
    // avg_over_time of histograms only: their mean.
    let avg = one_histogram(&e, "avg_over_time(switching[10s])", 60 * S).await;
    assert_eq!(avg.count, 2.0);
    let avg = one_histogram(&e, "avg_over_time(switching[20s])", 60 * S).await;
    assert_eq!(avg.count, 1.5);
}

#[tokio::test]
async fn aggregations_of_histograms() {
    let reader = MemoryReader::new();
    counter(&reader, "api");
    counter(&reader, "web");
    reader.add(
        &[("__name__", "up"), ("job", "api"), ("instance", "x")],
        &[(600 * S, 1.0)],
    );
    let e = engine(reader);
    let sum = one_histogram(&e, &format!("sum({H})"), 600 * S).await;
    assert_eq!((sum.count, sum.sum), (320.0, 160.0));
    let avg = one_histogram(&e, &format!("avg({H})"), 600 * S).await;
    assert_eq!(avg.count, 160.0);
    let v = vector(&e, &format!("avg without (job) ({H})"), 600 * S).await;
    assert_eq!(v[0].2.as_ref().unwrap().count, 160.0);
    assert_eq!(one_float(&e, &format!("count({H})"), 600 * S).await, 2.0);
    assert_eq!(one_float(&e, &format!("group({H})"), 600 * S).await, 1.0);
    // Operations of floats ignore histograms, with an info at the aggregated
    // expression (at the aggregation for topk / bottomk).
    for (op, pos) in [
        ("max", "1:5"),
        ("min", "1:5"),
        ("stddev", "1:8"),
        ("stdvar", "1:8"),
    ] {
        let out = at(&e, &format!("{op}({H})"), 600 * S).await;
        assert_eq!(out.value, Value::Vector(vec![]), "{op}");
        assert_eq!(
            out.infos,
            vec![format!(
                "PromQL info: ignored histogram in {op} aggregation ({pos})"
            )]
        );
    }
    let out = at(&e, &format!("quantile(0.5, {H})"), 600 * S).await;
    assert_eq!(
        out.infos,
        vec!["PromQL info: ignored histogram in quantile aggregation (1:15)".to_string()]
    );
    let out = at(&e, &format!("topk(1, {H} or up)"), 600 * S).await;
    assert_eq!(
        out.infos,
        vec!["PromQL info: ignored histogram in topk aggregation (1:1)".to_string()]
    );
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].metric.get("__name__"), Some("up"));
    // sum of floats and histograms: no result, a warning.
    let out = at(&e, &format!("sum by (job) ({H} or up)"), 600 * S).await;
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert_eq!(v.len(), 1, "only the web group");
    assert_eq!(v[0].metric.get("job"), Some("web"));
    assert_eq!(
        out.warnings,
        vec![
            "PromQL warning: encountered a mix of histograms and floats for aggregation (1:15)"
                .to_string()
        ]
    );
    // count_values writes the histogram's text form.
    let v = vector(
        &e,
        &format!("count_values(\"h\", {H}{{job=\"api\"}} offset 590s)"),
        600 * S,
    )
    .await;
    assert_eq!(v[0].0, "{h=\"{count:0, sum:0}\"}");
}

#[tokio::test]
async fn custom_bucket_histograms_combine_only_with_the_same_bounds() {
    let reader = MemoryReader::new();
    reader.add_histograms(
        &[("__name__", "nhcb"), ("i", "a")],
        &[(0, nhcb(&[1.0, 5.0], &[1.0, 2.0, 3.0]))],
    );
    reader.add_histograms(
        &[("__name__", "nhcb"), ("i", "b")],
        &[(0, nhcb(&[1.0, 5.0], &[1.0, 1.0, 1.0]))],
    );
    reader.add_histograms(
        &[("__name__", "nhcb"), ("i", "c")],
        &[(0, nhcb(&[2.0], &[1.0, 1.0]))],
    );
    reader.add_histograms(
        &[("__name__", "nhcb"), ("i", "d")],
        &[(0, hist(1.0, &[(0, 1.0)], ResetHint::Unknown))],
    );
    let e = engine(reader);
    let sum = one_histogram(&e, r#"sum(nhcb{i=~"a|b"})"#, 0).await;
    assert_eq!(sum.count, 9.0);
    assert_eq!(sum.custom_values, vec![1.0, 5.0]);
    let out = at(&e, r#"sum(nhcb{i=~"a|c"})"#, 0).await;
    assert_eq!(out.value, Value::Vector(vec![]));
    assert_eq!(out.warnings, vec![
        "PromQL warning: vector contains histograms with incompatible custom buckets for metric name \"nhcb\" (1:5)".to_string()
    ]);
    let out = at(&e, r#"sum(nhcb{i=~"a|d"})"#, 0).await;
    assert_eq!(out.warnings, vec![
        "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"nhcb\" (1:5)".to_string()
    ]);
    // A binary operator between incompatible layouts: a warning, no result.
    let out = at(&e, r#"nhcb{i="a"} + ignoring(i) nhcb{i="c"}"#, 0).await;
    assert_eq!(out.value, Value::Vector(vec![]));
    assert_eq!(
        out.warnings,
        vec![
            "PromQL warning: incompatible bucket layout encountered for binary operator + (1:1)"
                .to_string()
        ]
    );
}

#[tokio::test]
async fn binary_operators_on_histograms() {
    let reader = MemoryReader::new();
    counter(&reader, "api");
    reader.add(&[("__name__", "factor"), ("job", "api")], &[(600 * S, 4.0)]);
    let e = engine(reader);
    let t = 600 * S;
    assert_eq!(one_histogram(&e, &format!("{H} * 2"), t).await.count, 320.0);
    assert_eq!(one_histogram(&e, &format!("2 * {H}"), t).await.count, 320.0);
    assert_eq!(one_histogram(&e, &format!("{H} / 4"), t).await.count, 40.0);
    assert_eq!(
        one_histogram(&e, &format!("{H} * on(job) factor"), t)
            .await
            .count,
        640.0
    );
    assert_eq!(one_histogram(&e, &format!("-{H}"), t).await.count, -160.0);
    let d = one_histogram(&e, &format!("{H} - {H} offset 5m"), t).await;
    assert_eq!((d.count, d.sum), (80.0, 40.0));
    assert_eq!(
        one_histogram(&e, &format!("{H} + {H}"), t).await.count,
        320.0
    );
    // == and != between histograms filter; the name is kept.
    let v = vector(&e, &format!("{H} == {H}"), t).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, format!("{{__name__={H:?}, job=\"api\"}}"));
    assert!(vector(&e, &format!("{H} != {H}"), t).await.is_empty());
    assert!(vector(&e, &format!("{H} != {H} offset 1m"), t).await.len() == 1);
    // Operators that do not apply: no result, an info at the expression.
    for (expr, text) in [
        (format!("{H} > 1"), "\">\": histogram > float"),
        (format!("1 + {H}"), "\"+\": float + histogram"),
        (format!("{H} / {H}"), "\"/\": histogram / histogram"),
        (format!("{H} - on(job) factor"), "\"-\": histogram - float"),
    ] {
        let out = at(&e, &expr, t).await;
        assert_eq!(out.value, Value::Vector(vec![]), "{expr}");
        assert_eq!(
            out.infos,
            vec![format!(
                "PromQL info: incompatible sample types encountered for binary operator {text} (1:1)"
            )],
            "{expr}"
        );
    }
    // Set operators pass histograms through.
    assert_eq!(vector(&e, &format!("{H} and factor"), t).await.len(), 1);
}

#[tokio::test]
async fn functions_of_floats_leave_histograms_out() {
    let reader = MemoryReader::new();
    counter(&reader, "api");
    reader.add(
        &[("__name__", "temp"), ("job", "api"), ("instance", "x")],
        &[(600 * S, -3.0)],
    );
    let e = engine(reader);
    let t = 600 * S;
    let both = format!("({H} or temp)");
    for f in [
        "abs",
        "ceil",
        "exp",
        "sgn",
        "round",
        "clamp_min",
        "day_of_month",
    ] {
        let expr = match f {
            "clamp_min" => format!("clamp_min({both}, 0)"),
            _ => format!("{f}({both})"),
        };
        let v = vector(&e, &expr, t).await;
        assert_eq!(v.len(), 1, "{expr}");
        assert!(v[0].2.is_none(), "{expr}");
    }
    assert_eq!(vector(&e, &format!("sort({both})"), t).await.len(), 1);
    // Functions of samples keep histograms.
    let ts = vector(&e, &format!("timestamp({both})"), t).await;
    assert_eq!(ts.len(), 2);
    assert!(ts.iter().all(|s| s.1 == 600.0 && s.2.is_none()));
    let v = vector(
        &e,
        &format!("label_replace({H}, \"svc\", \"$1\", \"job\", \"(.*)\")"),
        t,
    )
    .await;
    assert_eq!(v[0].2.as_ref().unwrap().count, 160.0);
    assert!(v[0].0.contains("svc=\"api\""));
    let v = vector(
        &e,
        &format!("label_join({both}, \"both\", \"-\", \"job\", \"instance\")"),
        t,
    )
    .await;
    assert_eq!(v.len(), 2);
    assert!(
        v.iter()
            .any(|s| s.2.is_some() && s.0.contains("both=\"api-\""))
    );
    // scalar() takes the only float; a histogram alone is NaN.
    assert!(one_scalar(&e, &format!("scalar({H})"), t).await.is_nan());
    assert_eq!(one_scalar(&e, &format!("scalar({both})"), t).await, -3.0);
    assert!(vector(&e, &format!("absent({H})"), t).await.is_empty());
    // The histogram functions take histograms only, and drop the name.
    let v = vector(&e, &format!("histogram_sum({both})"), t).await;
    assert_eq!(v, vec![("{job=\"api\"}".to_string(), 80.0, None)]);
    let v = vector(&e, &format!("histogram_count({both})"), t).await;
    assert_eq!(v[0].1, 160.0);
    // histogram_quantile and histogram_fraction of a native histogram: one value per
    // histogram (its number from `histogram_fns`), the name dropped.
    for expr in [
        format!("histogram_quantile(0.5, {both})"),
        format!("histogram_fraction(0, 1, {both})"),
        format!("histogram_stddev({both})"),
        format!("histogram_stdvar({both})"),
    ] {
        let v = vector(&e, &expr, t).await;
        assert_eq!(v.len(), 1, "{expr}");
        assert_eq!(v[0].0, "{job=\"api\"}", "{expr}");
    }
}

async fn one_scalar(e: &Engine, expr: &str, t: i64) -> f64 {
    match at(e, expr, t).await.value {
        Value::Scalar { value, .. } => value,
        other => panic!("{expr}: {other:?}"),
    }
}

#[tokio::test]
async fn histogram_quantile_refuses_a_series_with_classic_and_native_buckets() {
    let reader = MemoryReader::new();
    reader.add_histograms(
        &[("__name__", "lat"), ("job", "a")],
        &[(0, hist(1.0, &[(0, 1.0)], ResetHint::Unknown))],
    );
    for (le, v) in [("1", 1.0), ("+Inf", 2.0)] {
        reader.add(&[("__name__", "lat"), ("job", "a"), ("le", le)], &[(0, v)]);
        reader.add(&[("__name__", "lat"), ("job", "b"), ("le", le)], &[(0, v)]);
    }
    let e = engine(reader);
    let out = at(&e, "histogram_quantile(0.5, lat)", 0).await;
    assert_eq!(
        out.warnings,
        vec![
            "PromQL warning: vector contains a mix of classic and native histograms for metric name \"lat\" (1:25)"
                .to_string()
        ]
    );
    // Only job b, from its classic buckets: half of 2 observations, in (0, 1].
    let Value::Vector(v) = out.value else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].metric.to_string(), "{job=\"b\"}");
    assert_eq!(v[0].value, 1.0);
}

#[tokio::test]
async fn range_queries_of_histograms() {
    let reader = MemoryReader::new();
    counter(&reader, "api");
    counter(&reader, "web");
    let e = engine(reader);
    let range = |expr: &str| QueryRequest {
        expr: expr.to_string(),
        start_ms: 300 * S,
        end_ms: 600 * S,
        step_ms: 60 * S,
        ..Default::default()
    };
    // Sources over histogram series are evaluated step by step.
    let out = e
        .query(range(&format!("sum(rate({H}[1m]))")))
        .await
        .unwrap();
    let Value::Matrix(m) = out.value else {
        panic!()
    };
    assert_eq!(m.len(), 1);
    assert!(m[0].points.is_empty());
    assert_eq!(m[0].histograms.len(), 6);
    assert!(
        m[0].histograms
            .iter()
            .all(|(_, h)| close(h.count, 8.0 / 15.0))
    );
    let out = e
        .query(range(&format!("histogram_count({H}{{job=\"api\"}})")))
        .await
        .unwrap();
    let Value::Matrix(m) = out.value else {
        panic!()
    };
    let expected: Vec<(i64, f64)> = (5..=10).map(|m| (m * 60 * S, 16.0 * m as f64)).collect();
    assert_eq!(m[0].points, expected);
    assert!(m[0].histograms.is_empty());
}

#[tokio::test]
async fn the_api_writes_histograms_as_prometheus() {
    let reader = MemoryReader::new();
    reader.add_histograms(
        &[("__name__", "h")],
        &[
            (
                60 * S,
                FloatHistogram {
                    zero_threshold: 0.001,
                    zero_count: 1.0,
                    count: 5.0,
                    sum: 4.5,
                    positive_spans: vec![Span {
                        offset: 1,
                        length: 2,
                    }],
                    positive_buckets: vec![2.0, 0.0],
                    negative_spans: vec![Span {
                        offset: 0,
                        length: 1,
                    }],
                    negative_buckets: vec![2.0],
                    ..FloatHistogram::default()
                },
            ),
            (120 * S, hist(1.0, &[(0, 1.0)], ResetHint::Unknown)),
        ],
    );
    let e = engine(reader);
    let app = router(Arc::new(e));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let get = |q: String| async move {
        let body = reqwest::get(format!("http://{addr}{q}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (serde_json::from_str::<Json>(&body).unwrap(), body)
    };
    let (_, body) = get("/api/v1/query?query=h&time=60".to_string()).await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[60,{"count":"5","sum":"4.5","buckets":[[1,"-1","-0.5","2"],[3,"-0.001","0.001","1"],[0,"1","2","2"]]}]}]}}"#
    );
    let (json, _) = get("/api/v1/query_range?query=h&start=60&end=120&step=60".to_string()).await;
    let series = &json["data"]["result"][0];
    assert!(series.get("values").is_none(), "{series}");
    assert_eq!(series["histograms"][1][0], 120);
    assert_eq!(
        series["histograms"][1][1],
        serde_json::json!({"count": "1", "sum": "1", "buckets": [[0, "0.5", "1", "1"]]})
    );
}
