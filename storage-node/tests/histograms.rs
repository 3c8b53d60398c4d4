//! Native histogram samples through the engine's public API on a real RocksDB: written,
//! read from the head and from flushed chunks, out of order and backfilled, across a
//! restart and a crash (the log re-applied), deleted, and beside float samples.

use std::path::Path;
use std::sync::Arc;

use prometheus::Registry;
use telltale_storage::{Engine, EngineOptions, Error, Tier};
use telltale_storage_api::histogram::ResetHint;
use telltale_storage_api::{FloatHistogram, Label, MatchOp, Matcher, Sample, TimeSeries};

mod common;
use common::select_tier;

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_700_000_000_000;

/// A histogram whose buckets grow with `i` (a counter), sum `i * 1.5`.
fn hist(i: u32) -> FloatHistogram {
    let mut h = FloatHistogram {
        schema: 1,
        zero_threshold: 1e-128,
        zero_count: f64::from(i),
        sum: f64::from(i) * 1.5,
        reset_hint: ResetHint::NotCounterReset,
        ..FloatHistogram::default()
    };
    h.set_positive([
        (0, f64::from(i)),
        (1, f64::from(2 * i)),
        (5, f64::from(i / 3)),
    ]);
    h.set_negative([(2, f64::from(i / 2))]);
    h.count = h.zero_count
        + h.positive_buckets.iter().sum::<f64>()
        + h.negative_buckets.iter().sum::<f64>();
    h
}

fn series(name: &str, floats: &[(i64, f64)], hists: &[(i64, FloatHistogram)]) -> TimeSeries {
    TimeSeries {
        labels: vec![Label::new("__name__", name), Label::new("job", "api")],
        samples: floats
            .iter()
            .map(|&(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: hists.iter().map(|(t, h)| h.to_proto(*t)).collect(),
    }
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir, EngineOptions::default(), &Registry::new()).unwrap()
}

/// Histogram samples and float samples of one series.
type Read = (Vec<(i64, FloatHistogram)>, Vec<(i64, f64)>);

/// The histogram samples and float samples of metric `name` within `[start, end]`.
fn read(engine: &Engine, name: &str, start: i64, end: i64) -> Read {
    let m = [Matcher::new(MatchOp::Equal, "__name__", name)];
    let mut out = select_tier(engine, &m, start, end, Tier::Raw).unwrap();
    assert!(out.len() <= 1);
    match out.pop() {
        None => (Vec::new(), Vec::new()),
        Some(s) => (
            s.histograms
                .into_iter()
                .map(|(t, h)| (t, Arc::unwrap_or_clone(h)))
                .collect(),
            s.samples,
        ),
    }
}

fn expected(range: std::ops::Range<u32>, step: i64) -> Vec<(i64, FloatHistogram)> {
    range.map(|i| (T0 + i64::from(i) * step, hist(i))).collect()
}

#[test]
fn histograms_are_read_back_from_the_head_from_chunks_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let want = expected(0..100, 15_000);
    {
        let engine = open(dir.path());
        assert!(!engine.has_histograms());
        let written = engine
            .apply_write(&[series("rpc_seconds", &[], &want[..60])])
            .unwrap();
        assert_eq!(written, 60);
        assert!(engine.has_histograms());
        assert_eq!(read(&engine, "rpc_seconds", T0, T0 + HOUR).0, want[..60]);
        engine.flush().unwrap();
        engine
            .apply_write(&[series("rpc_seconds", &[], &want[60..])])
            .unwrap();
        // Flushed chunks and the head together, trimmed to the bounds.
        let (got, floats) = read(&engine, "rpc_seconds", T0 + 15_000, T0 + 1_000 * 15_000);
        assert_eq!(got, want[1..]);
        assert!(floats.is_empty());
        engine.flush().unwrap();
    }
    let engine = open(dir.path());
    assert!(engine.has_histograms(), "the flag survives a restart");
    assert_eq!(read(&engine, "rpc_seconds", T0, T0 + HOUR).0, want);
}

#[test]
fn out_of_order_duplicates_and_backfill_follow_the_float_rules() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let want = expected(0..40, 60_000);
    // In order, then every other one again (later writes win), then out of order.
    engine
        .apply_write(&[series("h", &[], &want[10..])])
        .unwrap();
    let mut again: Vec<(i64, FloatHistogram)> = want[20..30].to_vec();
    for (_, h) in &mut again {
        h.sum += 1000.0;
    }
    engine.apply_write(&[series("h", &[], &again)]).unwrap();
    engine
        .apply_write(&[series("h", &[], &want[..10])])
        .unwrap();
    // Backfill: days before the out-of-order window.
    let old: Vec<(i64, FloatHistogram)> = (0..5)
        .map(|i| (T0 - 3 * 86_400_000 + i64::from(i) * 1000, hist(i + 500)))
        .collect();
    engine.apply_write(&[series("h", &[], &old)]).unwrap();
    let mut all = old.clone();
    all.extend(want[..20].iter().cloned());
    all.extend(again.iter().cloned());
    all.extend(want[30..].iter().cloned());
    assert_eq!(read(&engine, "h", i64::MIN, i64::MAX).0, all);
    engine.flush().unwrap();
    assert_eq!(read(&engine, "h", i64::MIN, i64::MAX).0, all);
}

#[test]
fn a_crash_loses_nothing_the_log_replays() {
    let dir = tempfile::tempdir().unwrap();
    let want = expected(0..50, 10_000);
    let mut log = Vec::new();
    {
        let engine = open(dir.path());
        for (seq, part) in want.chunks(10).enumerate() {
            let prepared = engine
                .prepare(&[series("h", &[(part[0].0, 1.0)], part)])
                .unwrap();
            assert_eq!(prepared.histograms, part.len() as u64);
            assert_eq!(prepared.samples, part.len() as u64 + 1);
            let seq = seq as u64 + 1;
            engine.apply(seq, None, &prepared.record, None).unwrap();
            log.push((seq, prepared.record));
            if seq == 2 {
                engine.flush().unwrap();
            }
        }
        // Dropped without a flush: what followed seq 2 is only in the log.
    }
    let engine = open(dir.path());
    let durable = engine.durable().0;
    assert_eq!(durable, 2);
    assert_eq!(read(&engine, "h", i64::MIN, i64::MAX).0, want[..20]);
    for (seq, record) in &log {
        engine.apply(*seq, None, record, None).unwrap();
    }
    let (hists, floats) = read(&engine, "h", i64::MIN, i64::MAX);
    assert_eq!(hists, want);
    assert_eq!(floats.len(), 5, "the float samples of each write");
}

#[test]
fn a_series_may_hold_floats_and_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let floats: Vec<(i64, f64)> = (0..10).map(|i| (T0 + i * 1000, i as f64)).collect();
    let hists = expected(20..30, 1000);
    engine.apply_write(&[series("m", &floats, &[])]).unwrap();
    engine.apply_write(&[series("m", &[], &hists)]).unwrap();
    engine.flush().unwrap();
    let (h, f) = read(&engine, "m", i64::MIN, i64::MAX);
    assert_eq!(f, floats);
    assert_eq!(h, hists);
}

#[test]
fn invalid_histograms_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut bad = hist(3).to_proto(T0);
    bad.positive_buckets.pop();
    let mut ts = series("h", &[(T0, 1.0)], &[]);
    ts.histograms.push(bad);
    let good = series("other", &[(T0, 1.0)], &expected(0..2, 1000));
    match engine.apply_write(&[good, ts]) {
        Err(Error::InvalidSeries {
            index: 1, reason, ..
        }) => {
            assert!(reason.contains("native histogram"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(read(&engine, "other", i64::MIN, i64::MAX).0, Vec::new());
}

#[test]
fn deleted_histograms_stay_deleted_after_clean_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let want = expected(0..30, 60_000);
    engine.apply_write(&[series("h", &[], &want)]).unwrap();
    engine.flush().unwrap();
    let selector = telltale_storage::matcher::Selector::from_proto(&[Matcher::new(
        MatchOp::Equal,
        "__name__",
        "h",
    )])
    .unwrap();
    let (lo, hi) = (want[10].0, want[19].0);
    engine
        .delete_series(std::slice::from_ref(&selector), lo, hi)
        .unwrap();
    let mut kept = want[..10].to_vec();
    kept.extend(want[20..].iter().cloned());
    assert_eq!(read(&engine, "h", i64::MIN, i64::MAX).0, kept);
    engine.clean_tombstones().unwrap();
    assert_eq!(read(&engine, "h", i64::MIN, i64::MAX).0, kept);
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(read(&engine, "h", i64::MIN, i64::MAX).0, kept);
}

#[test]
fn rollup_tiers_keep_each_buckets_histograms() {
    use telltale_storage_api::histogram::rollup::{Point, merge, summarise};
    // A day boundary, so buckets line up with the samples.
    const T1: i64 = 1_767_225_600_000;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::options(), &Registry::new()).unwrap();
    // Six hours every 15 s; the counter restarts after four hours.
    let samples: Vec<(i64, FloatHistogram)> = (0..1440u32)
        .map(|i| {
            let n = if i < 960 { i } else { i - 960 };
            let mut h = hist(n);
            if i == 960 {
                h.reset_hint = ResetHint::CounterReset;
            }
            (T1 + i64::from(i) * 15_000, h)
        })
        .collect();
    for part in samples.chunks(200) {
        engine.apply_write(&[series("h", &[], part)]).unwrap();
        engine.flush().unwrap();
    }
    // A float series beside it, so windows hold both kinds.
    let floats: Vec<(i64, f64)> = (0..1440).map(|i| (T1 + i * 15_000, i as f64)).collect();
    engine.apply_write(&[series("f", &floats, &[])]).unwrap();
    // Later data moves the newest sample past the out-of-order window.
    engine
        .apply_write(&[series("f", &[(T1 + 50 * HOUR, 1.0)], &[])])
        .unwrap();
    engine.flush().unwrap();
    while engine.rollup_pass().unwrap() > 0 {}

    let shared: Vec<(i64, Arc<FloatHistogram>)> = samples
        .iter()
        .map(|(t, h)| (*t, Arc::new(h.clone())))
        .collect();
    let minutes = summarise(&shared, None, 60_000);
    let hours = merge(&minutes, HOUR);
    let m = [Matcher::new(MatchOp::Equal, "__name__", "h")];
    let got_minutes = select_tier(&engine, &m, T1, T1 + 6 * HOUR, Tier::Minute).unwrap();
    assert_eq!(got_minutes.len(), 1);
    assert_eq!(got_minutes[0].points, minutes);
    let got_hours = select_tier(&engine, &m, T1, T1 + 6 * HOUR, Tier::Hour).unwrap();
    assert_eq!(got_hours[0].points, hours);
    assert_eq!(hours.len(), 6);
    // The hours' increases add up to the counter's increase: 959 steps of hist(1)
    // growth before the restart, then the restarted counter from 0 to 479.
    let mut total = Point::of(&hours[0]).unwrap().increase;
    for p in &hours[1..] {
        total.add(&Point::of(p).unwrap().increase).unwrap();
    }
    total.compact();
    let mut want = hist(959);
    want.add(&hist(479)).unwrap();
    want.compact();
    assert_eq!(total.count, want.count);
    assert_eq!(total.positive_buckets, want.positive_buckets);
    // The float series' points are untouched by the histogram ones.
    let f = [Matcher::new(MatchOp::Equal, "__name__", "f")];
    let float_hours = select_tier(&engine, &f, T1, T1 + 6 * HOUR, Tier::Hour).unwrap();
    assert!(float_hours[0].points.iter().all(|p| p.histogram.is_none()));
    assert_eq!(float_hours[0].points.len(), 6);
}
