//! Head, flush, backfill, rollups, retention and checkpoints, through the public API on a
//! real RocksDB in a temporary directory. Time only moves with the data written: every
//! background step is called explicitly.

use std::path::Path;
use std::time::Duration;

use prometheus::Registry;
use telltale_storage::{Engine, EngineOptions, Retention, Tier};
use telltale_storage_api::rollup;
use telltale_storage_api::{Aggregate, MatchOp, Matcher, Resolution, TimeSeries};

mod common;
use common::{index, options, select_tier, series};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z: a day boundary.
const T0: i64 = 1_767_225_600_000;

fn open(dir: &Path, opts: EngineOptions) -> Engine {
    Engine::open(dir, opts, &Registry::new()).unwrap()
}

fn by_name(name: &str) -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, "__name__", name)]
}

fn raw(engine: &Engine, name: &str, start: i64, end: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    select_tier(engine, &by_name(name), start, end, Tier::Raw)
        .unwrap()
        .into_iter()
        .map(|s| (s.label("instance").unwrap().to_string(), s.samples))
        .collect()
}

fn points(
    engine: &Engine,
    name: &str,
    start: i64,
    end: i64,
    r: Resolution,
) -> Vec<(String, Vec<Aggregate>)> {
    select_tier(engine, &by_name(name), start, end, Tier::from_resolution(r))
        .unwrap()
        .into_iter()
        .map(|s| (s.label("instance").unwrap().to_string(), s.points))
        .collect()
}

/// A counter with resets and a gauge, every `step` ms from `start` for `n` samples.
fn workload(start: i64, step: i64, n: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for inst in 0..3 {
        let mut counter = 0.0;
        let mut c = Vec::new();
        let mut g = Vec::new();
        for i in 0..n {
            let t = start + i * step + inst * 7;
            counter += (i % 13) as f64 + inst as f64;
            if i % 500 == 499 {
                counter = 1.0; // restart
            }
            c.push((t, counter));
            g.push((t, ((i * 37 + inst * 11) % 101) as f64 - 50.0));
        }
        out.push(series("c_total", &format!("i{inst}"), &c));
        out.push(series("g", &format!("i{inst}"), &g));
    }
    out
}

fn rollup_all(engine: &Engine) {
    while engine.rollup_pass().unwrap() > 0 {}
}

fn assert_points_eq(got: &[Aggregate], want: &[Aggregate]) {
    assert_eq!(got.len(), want.len(), "point count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (
                g.timestamp_ms,
                g.count,
                g.min,
                g.max,
                g.last,
                g.last_timestamp_ms
            ),
            (
                w.timestamp_ms,
                w.count,
                w.min,
                w.max,
                w.last,
                w.last_timestamp_ms
            ),
            "at {}",
            g.timestamp_ms
        );
        assert!(
            (g.sum - w.sum).abs() <= 1e-9 * w.sum.abs().max(1.0),
            "sum at {}",
            g.timestamp_ms
        );
        assert!(
            (g.increase - w.increase).abs() <= 1e-9 * w.increase.abs().max(1.0),
            "increase at {}: {} vs {}",
            g.timestamp_ms,
            g.increase,
            w.increase
        );
        // The quantile sketch: an hour's merged from its minutes is the hour's own.
        assert_eq!(g.sketch, w.sketch, "sketch at {}", g.timestamp_ms);
        assert!(!g.sketch.is_empty(), "sketch at {}", g.timestamp_ms);
    }
}

#[test]
fn rollups_equal_what_raw_data_gives() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    // 26 hours at 15 s: the first day's hour rollup becomes due.
    let n = 26 * 240;
    for batch in workload(T0, 15_000, n).chunks(2) {
        engine.apply_write(batch).unwrap();
    }
    engine.flush().unwrap();
    rollup_all(&engine);

    let info = engine.info().unwrap();
    let until = |r: Resolution| {
        info.iter()
            .find(|t| t.resolution == r as i32)
            .unwrap()
            .complete_until_ms
    };
    assert_eq!(
        until(Resolution::OneMinute),
        T0 + 25 * HOUR,
        "minute windows up to newest - 10m"
    );
    assert_eq!(until(Resolution::OneHour), T0 + DAY);

    for name in ["c_total", "g"] {
        let raw = raw(&engine, name, T0, T0 + DAY - 1);
        let minutes = points(&engine, name, T0, T0 + 25 * HOUR - 1, Resolution::OneMinute);
        let hours = points(&engine, name, T0, T0 + DAY - 1, Resolution::OneHour);
        assert_eq!(raw.len(), 3);
        for ((inst, samples), ((mi, m), (hi, h))) in raw.iter().zip(minutes.iter().zip(&hours)) {
            assert_eq!((inst, inst), (mi, hi));
            let want_m = rollup::summarise(samples, None, MIN);
            let day_minutes: Vec<Aggregate> = m
                .iter()
                .filter(|p| p.timestamp_ms < T0 + DAY)
                .cloned()
                .collect();
            assert_points_eq(&day_minutes, &want_m);
            assert_points_eq(h, &rollup::summarise(samples, None, HOUR));
            assert_eq!(h.len(), 24);
        }
    }
    // A counter's increase over the day from hour points equals the raw answer.
    let raw = raw(&engine, "c_total", T0, T0 + DAY - 1);
    let hours = points(&engine, "c_total", T0, T0 + DAY - 1, Resolution::OneHour);
    let mut want = 0.0;
    for w in raw[0].1.windows(2) {
        want += if w[1].1 >= w[0].1 {
            w[1].1 - w[0].1
        } else {
            w[1].1
        };
    }
    let got: f64 = hours[0].1.iter().map(|p| p.increase).sum();
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
}

#[test]
fn late_samples_make_rolled_up_windows_dirty_and_they_are_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    engine.apply_write(&workload(T0, 60_000, 5 * 60)).unwrap();
    rollup_all(&engine);
    let before = points(&engine, "g", T0, T0 + HOUR - 1, Resolution::OneMinute);
    assert_eq!(before[0].1[10].count, 1);
    // Backfill into the first hour (older than the out-of-order window): a second
    // sample in minute 10 of instance i0 and a new value for an existing timestamp.
    engine
        .apply_write(&[series(
            "g",
            "i0",
            &[(T0 + 10 * MIN + 30_000, 1000.0), (T0 + 11 * MIN, -1000.0)],
        )])
        .unwrap();
    rollup_all(&engine);
    let after = points(&engine, "g", T0, T0 + HOUR - 1, Resolution::OneMinute);
    assert_eq!(after[0].1[10].count, 2);
    assert_eq!(after[0].1[10].max, 1000.0);
    assert_eq!(
        after[0].1[11].min, -1000.0,
        "the later write replaced the sample"
    );
    assert_eq!(after[0].1[11].count, 1);
    // Other instances untouched.
    assert_eq!(after[1].1, before[1].1);
}

#[test]
fn out_of_order_backfill_and_duplicates_survive_flush_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let stale = telltale_model::STALE_NAN;
    let expected = vec![
        (T0 - 3 * DAY, 1.0),
        (T0 + 10_000, 5.0),
        (T0 + 20_000, 2.5),
        (T0 + 30_000, 3.0),
        (T0 + HOUR, stale),
        (T0 + 2 * HOUR, 7.0),
    ];
    {
        let engine = open(dir.path(), options());
        engine
            .apply_write(&[series("m", "a", &[(T0 + 2 * HOUR, 7.0)])])
            .unwrap();
        // Older than the out-of-order window: backfill.
        engine
            .apply_write(&[series("m", "a", &[(T0 + 10_000, 1.0), (T0 + 30_000, 3.0)])])
            .unwrap();
        engine.flush().unwrap();
        // Backfill again over the same timestamp: the later write wins.
        engine
            .apply_write(&[series("m", "a", &[(T0 + 10_000, 5.0), (T0 + 20_000, 2.0)])])
            .unwrap();
        engine
            .apply_write(&[series("m", "a", &[(T0 + 20_000, 2.5)])])
            .unwrap();
        // A week-old-style backfill into another day, and a staleness marker.
        engine
            .apply_write(&[series("m", "a", &[(T0 - 3 * DAY, 1.0), (T0 + HOUR, stale)])])
            .unwrap();
        let got = &raw(&engine, "m", i64::MIN, i64::MAX)[0].1;
        assert_eq!(bits(got), bits(&expected));
    }
    for flush in [false, true] {
        let engine = open(dir.path(), options());
        if flush {
            engine.flush().unwrap();
        }
        let got = &raw(&engine, "m", i64::MIN, i64::MAX)[0].1;
        assert_eq!(
            bits(got),
            bits(&expected),
            "after reopen (flushed: {flush})"
        );
        // A range inside one day reads only that day.
        assert_eq!(raw(&engine, "m", T0, T0 + 25_000)[0].1.len(), 2);
    }
}

fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
    s.iter().map(|(t, v)| (*t, v.to_bits())).collect()
}

#[test]
fn retention_drops_whole_expired_days_per_tier() {
    let dir = tempfile::tempdir().unwrap();
    let opts = EngineOptions {
        retention: Retention::new(
            Some(Duration::from_secs(2 * 86_400)),
            vec![
                (Tier::Minute, Some(Duration::from_secs(3 * 86_400))),
                (Tier::Hour, None),
            ],
        )
        .unwrap(),
        ..options()
    };
    let engine = open(dir.path(), opts);
    // Six days, one sample every 10 minutes.
    engine
        .apply_write(&workload(T0, 10 * MIN, 6 * 144))
        .unwrap();
    engine.flush().unwrap();
    rollup_all(&engine);
    engine.enforce_retention().unwrap();
    let newest = T0 + (6 * 144 - 1) * 10 * MIN + 14;
    // Raw keeps the days that end after newest - 2d: days 3, 4 and 5.
    let kept = raw(&engine, "g", i64::MIN, i64::MAX);
    let first = kept[0].1.first().unwrap().0;
    assert_eq!(first, T0 + 3 * DAY, "raw starts at the first kept day");
    assert_eq!(
        kept[0].1.len(),
        3 * 144,
        "nothing inside a kept day was deleted"
    );
    let cut = (newest - 2 * DAY).div_euclid(DAY) * DAY;
    assert_eq!(cut, T0 + 3 * DAY);
    // Minute rollups keep days 2..; hour rollups keep everything.
    let minutes = points(&engine, "g", i64::MIN, i64::MAX, Resolution::OneMinute);
    assert_eq!(minutes[0].1.first().unwrap().timestamp_ms, T0 + 2 * DAY);
    let hours = points(&engine, "g", i64::MIN, i64::MAX, Resolution::OneHour);
    assert_eq!(hours[0].1.first().unwrap().timestamp_ms, T0);
    // The series is still listed (its rollups are kept).
    let listed = engine.series(&index(&[], T0, T0 + DAY - 1, 0)).unwrap();
    assert_eq!(listed.len(), 6);
}

#[test]
fn index_queries_read_only_the_days_in_range() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    engine
        .apply_write(&[series("old", "a", &[(T0, 1.0)])])
        .unwrap();
    engine
        .apply_write(&[series("new", "b", &[(T0 + 5 * DAY, 1.0)])])
        .unwrap();
    let values = |start, end| {
        engine
            .label_values("instance", &index(&[], start, end, 0))
            .unwrap()
    };
    assert_eq!(values(T0 + 5 * DAY - HOUR, T0 + 5 * DAY + HOUR), vec!["b"]);
    assert_eq!(values(T0, T0 + HOUR), vec!["a"]);
    assert_eq!(values(i64::MIN, i64::MAX), vec!["a", "b"]);
    assert!(values(T0 + DAY, T0 + 2 * DAY).is_empty());
    let series = |start, end| engine.series(&index(&[], start, end, 0)).unwrap().len();
    assert_eq!(
        series(T0 + 1, T0 + HOUR),
        0,
        "edge days are checked sample by sample"
    );
    assert_eq!(series(T0, T0 + HOUR), 1);
}

#[test]
fn a_snapshot_opens_as_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    engine.apply_write(&workload(T0, 10_000, 300)).unwrap();
    engine.flush().unwrap();
    engine
        .apply_write(&workload(T0 + 3_000_000, 10_000, 10))
        .unwrap();
    let snap = dir.path().join("snap");
    let (seq, _) = engine.snapshot(&snap).unwrap();
    assert_eq!(seq, engine.applied_seq());
    let copy = open(&snap, options());
    assert_eq!(copy.applied_seq(), seq);
    for name in ["c_total", "g"] {
        assert_eq!(
            raw(&copy, name, i64::MIN, i64::MAX),
            raw(&engine, name, i64::MIN, i64::MAX)
        );
    }
}

/// The state-machine face used by Raft: records applied by log index with opaque
/// metadata, no engine log, a durable point at each flush, snapshots, and the writers'
/// batches remembered through flushes, snapshots and reopening.
#[test]
fn applied_by_index_without_the_engine_log() {
    use telltale_storage_api::BatchId;
    let dir = tempfile::tempdir().unwrap();
    let batch = |seq: u64| Some(BatchId { writer: 7, seq });
    {
        let engine = open(dir.path(), options());
        let rec = |t: i64| {
            engine
                .prepare(&[series("m", "a", &[(t, t as f64)])])
                .unwrap()
                .record
        };
        let first = rec(T0);
        assert_eq!(
            engine
                .apply(1, batch(1), &first, Some(b"log-1"))
                .unwrap()
                .samples,
            1
        );
        engine.apply_meta(2, b"log-2").unwrap();
        let again = engine.apply(2, None, &rec(T0 + 1), Some(b"again")).unwrap();
        assert_eq!(again.samples, 0, "re-delivery is skipped");
        engine.flush().unwrap();
        assert_eq!(engine.durable(), (2, b"log-2".to_vec()));
        let retried = engine.apply(3, batch(1), &first, None).unwrap();
        assert!(retried.duplicate, "a retried batch is applied once");
        engine
            .apply(4, batch(2), &rec(T0 + 2), Some(b"log-4"))
            .unwrap();
        assert_eq!(engine.applied(), (4, b"log-4".to_vec()));
        assert_eq!(engine.durable().0, 2, "not flushed yet");
        let snap = dir.path().join("snap");
        assert_eq!(engine.snapshot(&snap).unwrap(), (4, b"log-4".to_vec()));
        let copy = open(&snap, options());
        assert_eq!(copy.applied(), (4, b"log-4".to_vec()));
        assert_eq!(raw(&copy, "m", i64::MIN, i64::MAX)[0].1.len(), 2);
        assert!(
            copy.apply(5, batch(2), &rec(T0 + 9), None)
                .unwrap()
                .duplicate,
            "the snapshot remembers the writer"
        );
        // The record names the series by id: it resolves in the copy too.
        let later = rec(T0 + 3);
        assert!(later.len() < 30, "{} bytes", later.len());
        assert_eq!(copy.apply(6, batch(3), &later, None).unwrap().samples, 1);
        engine.apply(5, batch(3), &later, None).unwrap();
    }
    // Entry 5 was never flushed and the engine kept no log of it: the applier re-applies
    // from its own log after `durable()`.
    let engine = open(dir.path(), options());
    assert_eq!(engine.applied(), (4, b"log-4".to_vec()));
    assert_eq!(raw(&engine, "m", i64::MIN, i64::MAX)[0].1.len(), 2);
    let rec = engine
        .prepare(&[series("m", "a", &[(T0 + 3, 3.0)])])
        .unwrap()
        .record;
    assert!(engine.apply(5, batch(2), &rec, None).unwrap().duplicate);
    assert_eq!(engine.apply(6, batch(3), &rec, None).unwrap().samples, 1);
    assert_eq!(raw(&engine, "m", i64::MIN, i64::MAX)[0].1.len(), 3);
}

#[test]
fn a_window_of_thousands_of_series_rolls_up_every_one_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    // 2,100 series (more than one group of series the rollup reads together), 70
    // minutes at 60 s: the first hour window becomes due. A flush half way leaves the
    // window's samples partly in chunks on disk (two per series, compacted into one by
    // the rollup) and partly in the head.
    let series_count = 2_100;
    let sample = |s: i64, i: i64| ((s * 31 + i * 7) % 97) as f64;
    for i in 0..70 {
        if i == 35 {
            engine.flush().unwrap();
        }
        let batch: Vec<TimeSeries> = (0..series_count)
            .map(|s| series("g", &format!("i{s:04}"), &[(T0 + i * MIN, sample(s, i))]))
            .collect();
        engine.apply_write(&batch).unwrap();
    }
    engine.flush().unwrap();
    for i in 70..72 {
        let batch: Vec<TimeSeries> = (0..series_count)
            .map(|s| series("g", &format!("i{s:04}"), &[(T0 + i * MIN, sample(s, i))]))
            .collect();
        engine.apply_write(&batch).unwrap();
    }
    rollup_all(&engine);

    let raw = raw(&engine, "g", T0, T0 + HOUR - 1);
    let minutes = points(&engine, "g", T0, T0 + HOUR - 1, Resolution::OneMinute);
    assert_eq!(raw.len(), series_count as usize);
    assert_eq!(minutes.len(), series_count as usize);
    for (s, ((inst, samples), (mi, m))) in raw.iter().zip(&minutes).enumerate() {
        assert_eq!(inst, mi);
        let want: Vec<(i64, f64)> = (0..60)
            .map(|i| (T0 + i * MIN, sample(s as i64, i)))
            .collect();
        assert_eq!(samples, &want, "raw samples of {inst}");
        assert_points_eq(m, &rollup::summarise(samples, None, MIN));
    }
}

#[test]
fn a_series_in_the_head_is_indexed_on_each_new_day_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    let values = |engine: &Engine, day: i64| {
        engine
            .label_values(
                "instance",
                &index(&[], T0 + day * DAY, T0 + day * DAY + HOUR, 0),
            )
            .unwrap()
    };
    // One series, one sample per write, across three midnights: the first two in one
    // head (the series' newest indexed day is then remembered by the head), the third
    // after a flush (a new head), the fourth after a reopen (without an applier's log,
    // only flushed writes survive it).
    let write = |engine: &Engine, day: i64| {
        engine
            .apply_write(&[series("m", "a", &[(T0 + day * DAY + 60_000, 1.0)])])
            .unwrap();
    };
    write(&engine, 0);
    write(&engine, 1);
    assert_eq!(values(&engine, 1), vec!["a"]);
    engine.flush().unwrap();
    write(&engine, 2);
    assert_eq!(values(&engine, 2), vec!["a"]);
    engine.flush().unwrap();
    drop(engine);
    let engine = open(dir.path(), options());
    write(&engine, 3);
    for day in 0..4 {
        assert_eq!(values(&engine, day), vec!["a"], "day {day}");
    }
    assert!(values(&engine, 4).is_empty());
}

fn tiers(raw: Option<u64>, rollups: &[(Tier, Option<u64>)]) -> Retention {
    let days = |d: Option<u64>| d.map(|d| Duration::from_secs(d * 86_400));
    Retention::new(
        days(raw),
        rollups.iter().map(|(t, d)| (*t, days(*d))).collect(),
    )
    .unwrap()
}

fn info_tiers(engine: &Engine) -> Vec<(Resolution, i64)> {
    engine
        .info()
        .unwrap()
        .into_iter()
        .map(|t| {
            (
                Resolution::try_from(t.resolution).unwrap(),
                t.complete_until_ms,
            )
        })
        .collect()
}

#[test]
fn configured_tiers_roll_up_from_the_next_finer_tier_kept() {
    let dir = tempfile::tempdir().unwrap();
    let opts = EngineOptions {
        retention: tiers(None, &[(Tier::FiveMinutes, None), (Tier::Day, None)]),
        ..options()
    };
    let engine = open(dir.path(), opts);
    // Two days and two hours at 30 s: the first two days' day points become due.
    let n = 50 * 120;
    for batch in workload(T0, 30_000, n).chunks(2) {
        engine.apply_write(batch).unwrap();
    }
    engine.flush().unwrap();
    rollup_all(&engine);

    // Only the tiers configured are kept and reported.
    let info = info_tiers(&engine);
    let kept: Vec<Resolution> = info.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        kept,
        [Resolution::Raw, Resolution::FiveMinutes, Resolution::OneDay]
    );
    assert_eq!(info[2].1, T0 + 2 * DAY, "day points complete for two days");
    assert!(points(&engine, "g", T0, T0 + 3 * DAY, Resolution::OneMinute).is_empty());
    assert!(points(&engine, "g", T0, T0 + 3 * DAY, Resolution::OneHour).is_empty());

    for name in ["c_total", "g"] {
        let five = points(&engine, name, T0, T0 + 2 * DAY - 1, Resolution::FiveMinutes);
        let days = points(&engine, name, T0, T0 + 2 * DAY - 1, Resolution::OneDay);
        let raw = raw(&engine, name, T0 - 10 * MIN, T0 + 2 * DAY - 1);
        assert_eq!(five.len(), 3);
        for ((inst, five), (_, samples)) in five.iter().zip(&raw) {
            // Five-minute points are the raw samples summarised per five minutes.
            let want = rollup::summarise(samples, None, 5 * MIN);
            assert_eq!(five.len(), 2 * 288, "{name} {inst}");
            assert_points_eq(five, &want);
            // Day points are the five-minute points merged per day.
            let (_, day) = days.iter().find(|(i, _)| i == inst).unwrap();
            assert_eq!(day.len(), 2, "{name} {inst}");
            assert_points_eq(day, &rollup::merge(five, DAY));
            assert_eq!(day[0].count, 24 * 120);
        }
    }
}

#[test]
fn reconfigured_tiers_backfill_new_ones_and_drop_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let n = 26 * 120;
    {
        // Written with the default tiers (1m, 1h), as every data directory before
        // tiers became configuration.
        let engine = open(dir.path(), options());
        for batch in workload(T0, 30_000, n).chunks(2) {
            engine.apply_write(batch).unwrap();
        }
        engine.flush().unwrap();
        rollup_all(&engine);
    }
    let minutes_before = points(
        &open(dir.path(), options()),
        "g",
        T0,
        T0 + DAY - 1,
        Resolution::OneMinute,
    );
    assert!(!minutes_before.is_empty());

    // Adding 5m and 1d: both are computed from what the directory already holds.
    let all = tiers(
        None,
        &[
            (Tier::Minute, None),
            (Tier::FiveMinutes, None),
            (Tier::Hour, None),
            (Tier::Day, None),
        ],
    );
    {
        let engine = open(
            dir.path(),
            EngineOptions {
                retention: all,
                ..options()
            },
        );
        rollup_all(&engine);
        let minutes = points(&engine, "g", T0, T0 + DAY - 1, Resolution::OneMinute);
        assert_eq!(minutes.len(), minutes_before.len());
        for ((_, got), (_, want)) in minutes.iter().zip(&minutes_before) {
            assert_points_eq(got, want);
        }
        let five = points(&engine, "g", T0, T0 + DAY - 1, Resolution::FiveMinutes);
        let hours = points(&engine, "g", T0, T0 + DAY - 1, Resolution::OneHour);
        let days = points(&engine, "g", T0, T0 + DAY - 1, Resolution::OneDay);
        for (((_, m), (_, f)), ((_, h), (_, d))) in
            minutes.iter().zip(&five).zip(hours.iter().zip(&days))
        {
            assert_points_eq(f, &rollup::merge(m, 5 * MIN));
            assert_eq!(d.len(), 1);
            assert_points_eq(d, &rollup::merge(h, DAY));
        }
    }

    // Taking 1m out: its data goes at the next retention pass, the others stay.
    let engine = open(
        dir.path(),
        EngineOptions {
            retention: tiers(
                None,
                &[
                    (Tier::FiveMinutes, None),
                    (Tier::Hour, None),
                    (Tier::Day, None),
                ],
            ),
            ..options()
        },
    );
    engine.enforce_retention().unwrap();
    assert!(points(&engine, "g", T0, T0 + DAY - 1, Resolution::OneMinute).is_empty());
    assert!(!points(&engine, "g", T0, T0 + DAY - 1, Resolution::FiveMinutes).is_empty());
    let kept: Vec<Resolution> = info_tiers(&engine).iter().map(|(r, _)| *r).collect();
    assert_eq!(
        kept,
        [
            Resolution::Raw,
            Resolution::FiveMinutes,
            Resolution::OneHour,
            Resolution::OneDay
        ]
    );
}

#[test]
fn late_samples_years_apart_cost_only_their_own_days() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), options());
    engine
        .apply_write(&[series("g", "a", &[(T0 + 10 * DAY, 1.0)])])
        .unwrap();
    // Two late samples some 300 million years apart: the days between are not walked
    // (when they were, this write ran out of memory).
    let far = -10_000_000_000_000_000;
    engine
        .apply_write(&[series("g", "a", &[(far, 2.0), (T0, 3.0)])])
        .unwrap();
    assert_eq!(raw(&engine, "g", far, far).len(), 1);
}
