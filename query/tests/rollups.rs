//! Rollup-aware planning through the public API: which tier a query reads, and that
//! answers from rollups equal those computed from raw samples over bucket-aligned ranges.

use std::sync::Arc;

use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, QueryRequest, Tier, Value};
use telltale_storage_api::Resolution;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Data spans 40 days; "now" is its end.
const SPAN: i64 = 40 * DAY;

/// A counter rising by 1 per sample and a gauge, one sample a minute at 30s past the
/// minute (never on a bucket edge), for two series each.
fn load(reader: &MemoryReader) {
    for inst in ["a", "b"] {
        let k = if inst == "a" { 1.0 } else { 3.0 };
        let counter: Vec<(i64, f64)> = (0..SPAN / MIN)
            .map(|i| (i * MIN + 30_000, k * i as f64))
            .collect();
        reader.add(&[("__name__", "reqs_total"), ("instance", inst)], &counter);
        let gauge: Vec<(i64, f64)> = (0..SPAN / MIN)
            .map(|i| (i * MIN + 30_000, k * ((i % 97) as f64 - 40.0)))
            .collect();
        reader.add(&[("__name__", "temp"), ("instance", inst)], &gauge);
        // A latency: positive, spread over a decade, a slow request now and then.
        let latency: Vec<(i64, f64)> = (0..SPAN / MIN)
            .map(|i| {
                let slow = if i % 89 == 0 { 2.0 } else { 0.0 };
                (
                    i * MIN + 30_000,
                    k * 0.02 * (1.0 + (i * 37 % 101) as f64 / 10.0) + slow,
                )
            })
            .collect();
        reader.add(
            &[("__name__", "latency_seconds"), ("instance", inst)],
            &latency,
        );
    }
}

/// A reader with Telltale's default retentions: raw 7d, 1m 30d, 1h 365d.
fn tiered() -> Arc<MemoryReader> {
    let r = MemoryReader::new();
    load(&r);
    r.set_tier(Resolution::Raw, 7 * DAY, None);
    r.set_tier(Resolution::OneMinute, 30 * DAY, None);
    r.set_tier(Resolution::OneHour, 365 * DAY, None);
    Arc::new(r)
}

fn engine(reader: Arc<MemoryReader>, use_rollups: bool) -> Engine {
    let opts = EngineOptions {
        use_rollups,
        ..EngineOptions::default()
    };
    Engine::new(reader, opts, &prometheus::Registry::new())
}

fn resolutions(r: &MemoryReader) -> Vec<Resolution> {
    let mut v: Vec<Resolution> = r
        .select_requests()
        .iter()
        .map(|q| Resolution::try_from(q.resolution).unwrap())
        .collect();
    v.sort_by_key(|r| *r as i32);
    v.dedup();
    v
}

fn assert_same(q: &str, a: &Value, b: &Value) {
    let (Value::Matrix(a), Value::Matrix(b)) = (a, b) else {
        panic!("{q}: expected matrices");
    };
    assert_eq!(a.len(), b.len(), "{q}: series count");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.metric, y.metric, "{q}");
        assert_eq!(x.points.len(), y.points.len(), "{q}: {}", x.metric);
        for (p, r) in x.points.iter().zip(&y.points) {
            let close = (p.1 - r.1).abs() <= 1e-9 * p.1.abs().max(r.1.abs()).max(1.0);
            assert!(p.0 == r.0 && close, "{q}: {} {p:?} != {r:?}", x.metric);
        }
    }
}

#[tokio::test]
async fn thirty_days_at_one_hour_step_reads_hourly_rollups_and_matches_raw() {
    let rolled = tiered();
    let raw_reader = Arc::new(MemoryReader::new());
    load(&raw_reader);
    let (fast, slow) = (engine(rolled.clone(), true), engine(raw_reader, false));
    let (start, end) = (SPAN - 30 * DAY, SPAN);
    for q in [
        "increase(reqs_total[1h])",
        "rate(reqs_total[2h])",
        "sum by (instance) (rate(reqs_total[1h]))",
        "avg_over_time(temp[1h])",
        "max_over_time(temp[3h])",
        "min_over_time(temp[1h])",
        "count_over_time(temp[1h])",
        "sum_over_time(temp[1h])",
        "last_over_time(temp[1h])",
        "temp",
        "timestamp(temp)",
        "max(temp) - min(temp)",
        "max_over_time(temp[1h] offset 1d)",
    ] {
        rolled.clear_select_requests();
        let got = fast
            .query(QueryRequest {
                expr: q.to_string(),
                start_ms: start,
                end_ms: end,
                step_ms: HOUR,
                timeout: None,
                lookback_ms: None,
            })
            .await
            .unwrap();
        assert_eq!(got.stats.tiers, vec![Tier::OneHour], "{q}");
        assert_eq!(got.stats.tier_header(), "1h");
        assert_eq!(resolutions(&rolled), vec![Resolution::OneHour], "{q}");
        let want = slow.range_query(q, start, end, HOUR).await.unwrap();
        assert_same(q, &got.value, &want);
    }
}

#[tokio::test]
async fn tier_follows_step_and_retention() {
    let r = tiered();
    let e = engine(r.clone(), true);
    let tiers = |q: &'static str, start: i64, step: i64| {
        let e = e.clone();
        async move {
            e.query(QueryRequest {
                expr: q.to_string(),
                start_ms: start,
                end_ms: (start + 30 * DAY).min(start + 10_000 * step).min(SPAN),
                step_ms: step,
                timeout: None,
                lookback_ms: None,
            })
            .await
            .unwrap()
            .stats
            .tiers
        }
    };
    // Within raw retention: raw, whatever the step.
    assert_eq!(
        tiers("rate(reqs_total[1h])", SPAN - DAY, HOUR).await,
        vec![Tier::Raw]
    );
    // A step under a minute reads raw even beyond raw retention.
    assert_eq!(tiers("temp", SPAN - 8 * DAY, 30_000).await, vec![Tier::Raw]);
    // Beyond raw retention, step under an hour, inside 1m retention: 1m.
    assert_eq!(
        tiers("avg_over_time(temp[5m])", SPAN - 10 * DAY, 5 * MIN).await,
        vec![Tier::OneMinute]
    );
    // Beyond 1m retention: 1h.
    assert_eq!(
        tiers("temp", SPAN - 35 * DAY, 5 * MIN).await,
        vec![Tier::OneHour]
    );
    // rate over 5m at a 1h step: 5m is not whole hours, so the 1m tier answers.
    assert_eq!(
        tiers("rate(reqs_total[5m])", SPAN - 20 * DAY, HOUR).await,
        vec![Tier::OneMinute]
    );
    // Functions without a rollup form read the finest tier holding the data.
    assert_eq!(
        tiers("deriv(temp[1h])", SPAN - 20 * DAY, HOUR).await,
        vec![Tier::OneMinute]
    );
    assert_eq!(
        tiers("quantile_over_time(0.5, temp[1h])", SPAN - 35 * DAY, HOUR).await,
        vec![Tier::OneHour]
    );
    // Instant queries: the finest tier whose retention holds the range.
    let instant = |q: &'static str, t: i64| {
        let e = e.clone();
        async move {
            e.query(QueryRequest {
                expr: q.to_string(),
                start_ms: t,
                end_ms: t,
                step_ms: 0,
                timeout: None,
                lookback_ms: None,
            })
            .await
            .unwrap()
            .stats
            .tiers
        }
    };
    assert_eq!(
        instant("max_over_time(temp[1d])", SPAN).await,
        vec![Tier::Raw]
    );
    assert_eq!(
        instant("max_over_time(temp[20d])", SPAN).await,
        vec![Tier::OneMinute]
    );
    assert_eq!(
        instant("max_over_time(temp[35d])", SPAN).await,
        vec![Tier::OneHour]
    );
    // A subquery's own step decides for what it contains.
    assert_eq!(
        instant("max_over_time(rate(reqs_total[1h])[20d:1h])", SPAN).await,
        vec![Tier::OneHour]
    );
    assert_eq!(
        instant("max_over_time(rate(reqs_total[5m])[20d:5m])", SPAN).await,
        vec![Tier::OneMinute]
    );
    // Mixed: each selector use gets its own tier.
    let mut both = instant("temp + on(instance) max_over_time(temp[35d])", SPAN).await;
    both.sort();
    assert_eq!(both, vec![Tier::Raw, Tier::OneHour]);
}

#[tokio::test]
async fn rollup_answers_match_raw_on_the_minute_tier_and_for_instant_queries() {
    let rolled = tiered();
    let raw_reader = Arc::new(MemoryReader::new());
    load(&raw_reader);
    let (fast, slow) = (engine(rolled.clone(), true), engine(raw_reader, false));
    let (start, end) = (SPAN - 20 * DAY, SPAN - 19 * DAY);
    for q in [
        "increase(reqs_total[10m])",
        "max_over_time(temp[5m])",
        "temp",
    ] {
        let got = fast.range_query(q, start, end, 10 * MIN).await.unwrap();
        let want = slow.range_query(q, start, end, 10 * MIN).await.unwrap();
        assert_same(q, &got, &want);
    }
    let q = "sum(avg_over_time(temp[2d]))";
    let t = SPAN - 10 * DAY;
    let (Value::Vector(got), Value::Vector(want)) = (
        fast.instant_query(q, t).await.unwrap(),
        slow.instant_query(q, t).await.unwrap(),
    ) else {
        panic!("{q}: expected vectors");
    };
    assert_eq!(got.len(), 1);
    assert_eq!(
        (&got[0].metric, got[0].t_ms),
        (&want[0].metric, want[0].t_ms)
    );
    assert!(
        (got[0].value - want[0].value).abs() < 1e-9,
        "{q}: {got:?} != {want:?}"
    );
}

#[tokio::test]
async fn incomplete_rollups_are_completed_from_raw_samples() {
    let rolled = tiered();
    // The hourly tier has rolled up everything but the last six hours.
    rolled.set_tier(Resolution::OneHour, 365 * DAY, Some(SPAN - 6 * HOUR));
    let raw_reader = Arc::new(MemoryReader::new());
    load(&raw_reader);
    let (fast, slow) = (engine(rolled.clone(), true), engine(raw_reader, false));
    let (start, end) = (SPAN - 30 * DAY, SPAN);
    let q = "increase(reqs_total[1h])";
    rolled.clear_select_requests();
    let got = fast.range_query(q, start, end, HOUR).await.unwrap();
    assert_eq!(
        resolutions(&rolled),
        vec![Resolution::Raw, Resolution::OneHour],
        "hourly points plus raw samples for the incomplete end"
    );
    let want = slow.range_query(q, start, end, HOUR).await.unwrap();
    assert_same(q, &got, &want);
}

#[tokio::test]
async fn rollups_can_be_turned_off() {
    let r = tiered();
    let e = engine(r.clone(), false);
    let out = e
        .query(QueryRequest {
            expr: "temp".into(),
            start_ms: SPAN - 30 * DAY,
            end_ms: SPAN,
            step_ms: HOUR,
            timeout: None,
            lookback_ms: None,
        })
        .await
        .unwrap();
    assert_eq!(out.stats.tiers, vec![Tier::Raw]);
    assert_eq!(resolutions(&r), vec![Resolution::Raw]);
}

#[tokio::test]
async fn functions_without_a_rollup_form_run_over_downsampled_samples() {
    let r = tiered();
    let e = engine(r.clone(), true);
    // Beyond 1m retention: hourly points read as one sample an hour.
    let (start, end) = (SPAN - 35 * DAY, SPAN - 34 * DAY);
    let Value::Matrix(m) = e
        .range_query("deriv(reqs_total[6h])", start, end, HOUR)
        .await
        .unwrap()
    else {
        panic!("expected a matrix");
    };
    assert_eq!(resolutions(&r), vec![Resolution::OneHour]);
    assert_eq!(m.len(), 2);
    // The counters rise 1 and 3 per minute: per second 1/60 and 3/60.
    for (s, per_min) in m.iter().zip([1.0, 3.0]) {
        assert_eq!(s.points.len(), 25);
        for (_, v) in &s.points {
            assert!((v - per_min / 60.0).abs() < 1e-9, "{}: {v}", s.metric);
        }
    }
    // A bare range read from rollups in an instant query.
    let Value::Matrix(m) = e
        .instant_query(r#"reqs_total{instance="a"}[3h]"#, SPAN - 35 * DAY)
        .await
        .unwrap()
    else {
        panic!("expected a matrix");
    };
    assert_eq!(m[0].points.len(), 3);
}

/// Each answer of `got` within `alpha` (relative) of `want`'s, series and steps equal.
fn assert_within(q: &str, got: &Value, want: &Value, alpha: f64) {
    let (Value::Matrix(a), Value::Matrix(b)) = (got, want) else {
        panic!("{q}: expected matrices");
    };
    assert_eq!(a.len(), b.len(), "{q}: series count");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.metric, y.metric, "{q}");
        assert_eq!(x.points.len(), y.points.len(), "{q}: {}", x.metric);
        for (p, r) in x.points.iter().zip(&y.points) {
            let close = (p.1 - r.1).abs() <= alpha * r.1.abs() * (1.0 + 1e-9);
            assert!(p.0 == r.0 && close, "{q}: {} {p:?} vs raw {r:?}", x.metric);
        }
    }
}

/// `quantile_over_time` over whole buckets (p50/p95/p99 per hour, or per day) is answered
/// from the hourly rollups' sketches: the `X-Telltale-Tier` header says `1h`, storage is
/// asked for hourly points only (without sketches the minute tier was read, as downsampled
/// samples), and every answer lies within the sketch's relative accuracy of the raw one.
#[tokio::test]
async fn quantile_over_time_is_answered_from_rollup_sketches_within_their_accuracy() {
    use telltale_storage_api::sketch::RELATIVE_ACCURACY;
    let rolled = tiered();
    let raw_reader = Arc::new(MemoryReader::new());
    load(&raw_reader);
    let (fast, slow) = (engine(rolled.clone(), true), engine(raw_reader, false));
    let (start, end) = (SPAN - 20 * DAY, SPAN - 10 * DAY);
    for q in [
        "quantile_over_time(0.5, latency_seconds[1h])",
        "quantile_over_time(0.95, latency_seconds[1h])",
        "quantile_over_time(0.99, latency_seconds[1h])",
        "quantile_over_time(0.99, latency_seconds[1d])",
        "max by (instance) (quantile_over_time(0.9, latency_seconds[6h]))",
    ] {
        rolled.clear_select_requests();
        let got = fast
            .query(QueryRequest {
                expr: q.to_string(),
                start_ms: start,
                end_ms: end,
                step_ms: HOUR,
                timeout: None,
                lookback_ms: None,
            })
            .await
            .unwrap();
        assert_eq!(got.stats.tier_header(), "1h", "{q}");
        assert_eq!(resolutions(&rolled), vec![Resolution::OneHour], "{q}");
        let want = slow.range_query(q, start, end, HOUR).await.unwrap();
        assert_within(q, &got.value, &want, RELATIVE_ACCURACY);
    }
    // φ outside [0, 1]: +Inf and Prometheus's warning, as from raw samples.
    let q = "quantile_over_time(1.5, latency_seconds[1h])";
    let got = fast.query(hourly(q, start, end)).await.unwrap();
    let want = slow.query(hourly(q, start, end)).await.unwrap();
    assert_eq!(got.stats.tiers, vec![Tier::OneHour]);
    assert_eq!(got.value, want.value);
    assert_eq!(got.warnings, want.warnings);
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);

    // Through the HTTP API: the response header names the tier.
    let app = telltale_query::router(Arc::new(fast));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let resp = reqwest::get(format!(
        "http://{addr}/api/v1/query_range?query=quantile_over_time(0.99,latency_seconds[1h])\
         &start={}&end={}&step=3600",
        start / 1000,
        end / 1000
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-telltale-tier"], "1h");
}

fn hourly(q: &str, start: i64, end: i64) -> QueryRequest {
    QueryRequest {
        expr: q.to_string(),
        start_ms: start,
        end_ms: end,
        step_ms: HOUR,
        timeout: None,
        lookback_ms: None,
    }
}

/// A native histogram counter, one sample a minute at 30s past the minute: buckets
/// growing at their own steady rates (so raw rates, extrapolated, equal rollup rates
/// over bucket-aligned ranges).
fn load_histograms(reader: &MemoryReader) {
    use telltale_storage_api::FloatHistogram;
    for (inst, k) in [("a", 1.0), ("b", 2.0)] {
        let samples: Vec<(i64, FloatHistogram)> = (0..SPAN / MIN)
            .map(|i| {
                let n = i as f64 * k;
                let mut h = FloatHistogram {
                    schema: 2,
                    zero_threshold: 0.001,
                    zero_count: n,
                    sum: n * 0.75,
                    ..FloatHistogram::default()
                };
                h.set_positive([(-3, 2.0 * n), (0, 3.0 * n), (4, n)]);
                h.count = 7.0 * n;
                (i * MIN + 30_000, h)
            })
            .collect();
        reader.add_histograms(&[("__name__", "rpc_seconds"), ("instance", inst)], &samples);
    }
}

/// Histogram points equal (counts and buckets within 1e-9 relative), floats as
/// `assert_same`.
fn assert_same_histograms(q: &str, a: &Value, b: &Value) {
    let (Value::Matrix(a), Value::Matrix(b)) = (a, b) else {
        panic!("{q}: expected matrices");
    };
    assert_eq!(a.len(), b.len(), "{q}: series count");
    assert!(!a.is_empty(), "{q}: no series");
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.metric, y.metric, "{q}");
        assert_eq!(
            x.points.len(),
            y.points.len(),
            "{q}: floats of {}",
            x.metric
        );
        for (p, r) in x.points.iter().zip(&y.points) {
            assert!(
                p.0 == r.0 && close(p.1, r.1),
                "{q}: {} {p:?} != {r:?}",
                x.metric
            );
        }
        assert_eq!(
            x.histograms.len(),
            y.histograms.len(),
            "{q}: histograms of {}",
            x.metric
        );
        assert!(
            !x.histograms.is_empty() || !x.points.is_empty(),
            "{q}: empty series"
        );
        for ((t1, h1), (t2, h2)) in x.histograms.iter().zip(&y.histograms) {
            let (mut h1, mut h2) = ((**h1).clone(), (**h2).clone());
            h1.compact();
            h2.compact();
            assert_eq!(t1, t2, "{q}");
            assert!(
                close(h1.count, h2.count) && close(h1.sum, h2.sum),
                "{q}: {h1:?} != {h2:?}"
            );
            assert_eq!(h1.positive_spans, h2.positive_spans, "{q}");
            for (c1, c2) in h1.positive_buckets.iter().zip(&h2.positive_buckets) {
                assert!(close(*c1, *c2), "{q}: {h1:?} != {h2:?}");
            }
        }
    }
}

#[tokio::test]
async fn native_histogram_rates_over_thirty_days_read_hourly_rollups_and_match_raw() {
    let rolled = Arc::new(MemoryReader::new());
    load_histograms(&rolled);
    rolled.set_tier(Resolution::Raw, 7 * DAY, None);
    rolled.set_tier(Resolution::OneMinute, 30 * DAY, None);
    rolled.set_tier(Resolution::OneHour, 365 * DAY, None);
    let raw_reader = Arc::new(MemoryReader::new());
    load_histograms(&raw_reader);
    let (fast, slow) = (engine(rolled.clone(), true), engine(raw_reader, false));
    let (start, end) = (SPAN - 30 * DAY, SPAN);
    for q in [
        "rate(rpc_seconds[1h])",
        "increase(rpc_seconds[2h])",
        "histogram_count(rate(rpc_seconds[1h]))",
        "histogram_sum(increase(rpc_seconds[1h]))",
        "histogram_quantile(0.9, rate(rpc_seconds[1h]))",
        "histogram_fraction(0, 1, rate(rpc_seconds[1h]))",
        "sum(rate(rpc_seconds[1h]))",
        "count_over_time(rpc_seconds[1h])",
        "last_over_time(rpc_seconds[1h])",
        "rpc_seconds",
    ] {
        rolled.clear_select_requests();
        let got = fast.query(hourly(q, start, end)).await.unwrap();
        assert_eq!(got.stats.tiers, vec![Tier::OneHour], "{q}");
        assert_eq!(resolutions(&rolled), vec![Resolution::OneHour], "{q}");
        let want = slow.range_query(q, start, end, HOUR).await.unwrap();
        assert_same_histograms(q, &got.value, &want);
    }
    // A month's rate in one step: from 720 hour points.
    let q = "histogram_count(rate(rpc_seconds[30d]))";
    let got = fast.query(hourly(q, end, end)).await.unwrap();
    assert_eq!(got.stats.tiers, vec![Tier::OneHour]);
    let want = slow.range_query(q, end, end, HOUR).await.unwrap();
    assert_same_histograms(q, &got.value, &want);
}
