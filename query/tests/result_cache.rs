//! The range-query result cache through the public API: cached answers equal uncached
//! ones over random queries, repeated queries read storage only for the unsettled tail,
//! late writes reach the next answer, and storage that cannot report late writes turns
//! the cache off.

use std::sync::Arc;

use telltale_query::testing::MemoryReader;
use telltale_query::{CacheOptions, Engine, EngineOptions, QueryRequest, Value};
use telltale_storage_api::Resolution;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `hours` of data ending at `end`: counters and gauges for 3 instances of 2 jobs, one
/// sample every 30 s with jitter, a gap of 20 minutes and a staleness marker.
fn load(reader: &MemoryReader, end: i64, hours: i64) {
    let mut rng = Rng(7);
    let start = end - hours * HOUR;
    for job in ["api", "db"] {
        for inst in ["a", "b", "c"] {
            let mut counter = Vec::new();
            let mut gauge = Vec::new();
            let mut total = 0.0;
            let mut t = start;
            while t <= end {
                let jitter = rng.below(2000) as i64;
                let in_gap = inst == "b" && (t - start) % (6 * HOUR) < 20 * MIN;
                if !in_gap {
                    total += rng.below(100) as f64;
                    if rng.below(500) == 0 {
                        total = 0.0; // a counter reset
                    }
                    counter.push((t + jitter, total));
                    gauge.push((t + jitter, rng.below(1000) as f64 / 10.0 - 20.0));
                }
                t += 30_000;
            }
            if inst == "c" {
                // The series goes stale once, then comes back.
                let mid = start + hours * HOUR / 2 + 1;
                gauge.retain(|(t, _)| (t - mid).abs() > 3 * MIN);
                gauge.push((mid, telltale_model::STALE_NAN));
                gauge.sort_by_key(|p| p.0);
            }
            reader.add(
                &[("__name__", "reqs_total"), ("job", job), ("instance", inst)],
                &counter,
            );
            reader.add(
                &[("__name__", "temp"), ("job", job), ("instance", inst)],
                &gauge,
            );
        }
    }
}

const QUERIES: &[&str] = &[
    "reqs_total",
    "rate(reqs_total[5m])",
    "sum by (job) (rate(reqs_total[5m]))",
    "sum(rate(reqs_total{job=\"api\"}[5m])) / sum(rate(reqs_total[5m]))",
    "topk(2, temp)",
    "avg_over_time(temp[10m])",
    "max_over_time(temp[30m:1m])",
    "temp offset 1h",
    "rate(reqs_total[10m] offset -20m)",
    "temp @ 1699990000",
    "temp @ start()",
    "temp - temp @ end()",
    "increase(reqs_total[1h])",
    "quantile(0.9, temp)",
    "time() - timestamp(temp)",
    "absent(nope)",
    "deriv(temp[15m])",
    "count_values(\"v\", round(temp / 50))",
];

/// The end of the data: a fixed past time (hour-aligned), so "now - max freshness" is
/// never the limit.
const END: i64 = 1_699_999_200_000;

fn engine(reader: Arc<MemoryReader>, cache: CacheOptions, use_rollups: bool) -> Engine {
    let opts = EngineOptions {
        use_rollups,
        cache,
        ..EngineOptions::default()
    };
    Engine::new(reader, opts, &prometheus::Registry::new())
}

fn cache_on(max_bytes: usize, interval_ms: i64) -> CacheOptions {
    CacheOptions {
        max_bytes,
        interval_ms,
        ..CacheOptions::default()
    }
}

async fn range(e: &Engine, expr: &str, start: i64, end: i64, step: i64) -> Value {
    e.query(QueryRequest {
        expr: expr.to_string(),
        start_ms: start,
        end_ms: end,
        step_ms: step,
        ..QueryRequest::default()
    })
    .await
    .unwrap_or_else(|err| panic!("{expr} [{start}, {end}] step {step}: {err}"))
    .value
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_same(got: &Value, want: &Value, what: &str) {
    let (Value::Matrix(g), Value::Matrix(w)) = (got, want) else {
        panic!("{what}: not matrices: {got:?} / {want:?}");
    };
    assert_eq!(g.len(), w.len(), "{what}: series count");
    for (gs, ws) in g.iter().zip(w) {
        assert_eq!(gs.metric, ws.metric, "{what}");
        assert_eq!(gs.points.len(), ws.points.len(), "{what}: {:?}", gs.metric);
        for (gp, wp) in gs.points.iter().zip(&ws.points) {
            assert!(
                gp.0 == wp.0 && same(gp.1, wp.1),
                "{what}: {:?} {gp:?} != {wp:?}",
                gs.metric
            );
        }
    }
}

#[tokio::test]
async fn cached_answers_equal_uncached_ones_over_random_queries() {
    let reader = Arc::new(MemoryReader::new());
    load(&reader, END, 14);
    let plain = engine(reader.clone(), CacheOptions::default(), false);
    // Small intervals (many pieces per query) and, for the second engine, a budget that
    // forces evictions.
    let roomy = engine(reader.clone(), cache_on(64 << 20, 10 * MIN), false);
    let tight = engine(reader.clone(), cache_on(40_000, 5 * MIN), false);
    let mut rng = Rng(2026);
    let steps = [7_000, 15_000, 30_000, 60_000, 90_000, 300_000];
    for i in 0..60 {
        let expr = QUERIES[rng.below(QUERIES.len() as u64) as usize];
        let step = steps[rng.below(steps.len() as u64) as usize];
        let span = (rng.below(6 * 60) as i64 + 1) * MIN;
        let start = END - 13 * HOUR + rng.below(13 * 60) as i64 * MIN + rng.below(3) as i64 * 1000;
        let end = (start + span).min(END + 5 * MIN);
        let want = range(&plain, expr, start, end, step).await;
        for (name, e) in [("roomy", &roomy), ("tight", &tight)] {
            for attempt in ["first", "second"] {
                let got = range(e, expr, start, end, step).await;
                assert_same(
                    &got,
                    &want,
                    &format!("#{i} {name} {attempt}: {expr} [{start}, {end}] step {step}"),
                );
            }
        }
    }
}

#[tokio::test]
async fn cached_rollup_answers_equal_uncached_ones() {
    // 40 days at one sample a minute; raw kept 7 days, so a 30-day query reads 1h rollups.
    let reader = Arc::new(MemoryReader::new());
    let end = 40 * DAY;
    for inst in ["a", "b"] {
        let k = if inst == "a" { 1.0 } else { 3.0 };
        let counter: Vec<(i64, f64)> = (0..end / MIN)
            .map(|i| (i * MIN + 30_000, k * i as f64))
            .collect();
        reader.add(&[("__name__", "reqs_total"), ("instance", inst)], &counter);
    }
    reader.set_tier(Resolution::Raw, 7 * DAY, None);
    reader.set_tier(Resolution::OneMinute, 30 * DAY, None);
    reader.set_tier(Resolution::OneHour, 365 * DAY, None);
    let plain = engine(reader.clone(), CacheOptions::default(), true);
    let cached = engine(reader.clone(), cache_on(64 << 20, HOUR), true);
    for expr in [
        "sum(rate(reqs_total[1h]))",
        "max_over_time(reqs_total[1h])",
        "reqs_total",
    ] {
        for start in [end - 30 * DAY, end - 30 * DAY + 3 * HOUR] {
            let want = range(&plain, expr, start, end, HOUR).await;
            reader.clear_select_requests();
            let first = range(&cached, expr, start, end, HOUR).await;
            assert_same(&first, &want, expr);
            let second = range(&cached, expr, start, end, HOUR).await;
            assert_same(&second, &want, expr);
        }
    }
}

#[tokio::test]
async fn a_repeated_query_reads_storage_only_for_the_unsettled_tail() {
    let reader = Arc::new(MemoryReader::new());
    load(&reader, END, 14);
    let registry = prometheus::Registry::new();
    let e = Engine::new(
        reader.clone(),
        EngineOptions {
            cache: cache_on(64 << 20, HOUR),
            ..EngineOptions::default()
        },
        &registry,
    );
    let expr = "sum by (job) (rate(reqs_total[5m]))";
    let (start, end, step) = (END - 12 * HOUR, END, 60_000);
    let first = range(&e, expr, start, end, step).await;
    let first_selects = reader.select_requests();
    reader.clear_select_requests();
    let second = range(&e, expr, start, end, step).await;
    assert_same(&second, &first, "second run");
    let selects = reader.select_requests();
    assert!(!selects.is_empty(), "the newest interval is never cached");
    // Only the last interval (the one holding the newest sample) is read again.
    let tail = END - END.rem_euclid(HOUR) - 5 * MIN;
    for s in &selects {
        assert!(
            s.start_ms >= tail,
            "read {} before the tail {tail}",
            s.start_ms
        );
    }
    assert!(first_selects.iter().any(|s| s.start_ms < tail));
    // A dashboard refresh a few minutes later: the window moves, settled intervals stay.
    reader.clear_select_requests();
    let later = range(&e, expr, start + 5 * MIN, end + 5 * MIN, step).await;
    let plain = engine(reader.clone(), CacheOptions::default(), true);
    let want = range(&plain, expr, start + 5 * MIN, end + 5 * MIN, step).await;
    assert_same(&later, &want, "moved window");
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    assert!(hits(&text) >= 12, "{text}");
    assert!(text.contains("telltale_query_result_cache_bytes"));
}

fn hits(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("telltale_query_result_cache_hits_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_backfilled_sample_in_a_cached_interval_is_in_the_next_answer() {
    let reader = Arc::new(MemoryReader::new());
    load(&reader, END, 14);
    let e = engine(reader.clone(), cache_on(64 << 20, HOUR), false);
    let expr = "max by (job) (max_over_time(temp[1m]))";
    let (start, end, step) = (END - 12 * HOUR, END, 60_000);
    range(&e, expr, start, end, step).await;
    // Backfill a spike six hours back, well inside a cached interval.
    let t = END - 6 * HOUR - 30 * MIN + 5_000;
    reader.add(
        &[("__name__", "temp"), ("job", "db"), ("instance", "z")],
        &[(t, 1e6)],
    );
    let got = range(&e, expr, start, end, step).await;
    let plain = engine(reader.clone(), CacheOptions::default(), false);
    assert_same(
        &got,
        &range(&plain, expr, start, end, step).await,
        "after backfill",
    );
    let Value::Matrix(series) = got else {
        unreachable!()
    };
    assert!(
        series
            .iter()
            .any(|s| s.points.iter().any(|&(_, v)| v == 1e6)),
        "the backfilled spike is visible"
    );
}

#[tokio::test]
async fn at_start_and_end_keep_answers_apart() {
    let reader = Arc::new(MemoryReader::new());
    load(&reader, END, 14);
    let e = engine(reader.clone(), cache_on(64 << 20, HOUR), false);
    let plain = engine(reader.clone(), CacheOptions::default(), false);
    for expr in ["temp @ start()", "temp @ end() - temp offset 10m"] {
        for shift in [0, 2 * HOUR, 4 * HOUR] {
            let (start, end) = (END - 12 * HOUR + shift, END - 6 * HOUR + shift);
            let got = range(&e, expr, start, end, 60_000).await;
            let want = range(&plain, expr, start, end, 60_000).await;
            assert_same(&got, &want, expr);
        }
    }
}

#[tokio::test]
async fn storage_without_late_writes_is_not_cached() {
    let reader = Arc::new(MemoryReader::new());
    load(&reader, END, 14);
    reader.hide_late_writes(true);
    let e = engine(reader.clone(), cache_on(64 << 20, HOUR), false);
    let (start, end) = (END - 12 * HOUR, END);
    range(&e, "rate(reqs_total[5m])", start, end, 60_000).await;
    let first = reader.select_requests().len();
    reader.clear_select_requests();
    range(&e, "rate(reqs_total[5m])", start, end, 60_000).await;
    let selects = reader.select_requests();
    assert_eq!(selects.len(), first);
    assert!(selects.iter().any(|s| s.start_ms < start));
}
