//! `delete_series` and `clean_tombstones` on the engine, through the public API on a real
//! RocksDB: tombstones mask the head, stored chunks, rollup points and the series index
//! query; cleaning rewrites the chunks and answers the same; applying the records is
//! deterministic (two engines fed the same log agree, replays change nothing).

use std::path::Path;

use prometheus::Registry;
use telltale_storage::matcher::Selector;
use telltale_storage::{Engine, Tier};
use telltale_storage_api::{Aggregate, MatchOp, Matcher};

mod common;
use common::{Selected, index, options, select_tier, series};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

fn open(dir: &Path) -> Engine {
    Engine::open(dir, options(), &Registry::new()).unwrap()
}

fn selector(matchers: &[Matcher]) -> Selector {
    Selector::from_proto(matchers).unwrap()
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value)
}

/// One series as read: its instance, its samples and its rollup points.
type Read = (String, Vec<(i64, f64)>, Vec<Aggregate>);

/// Every series of metric `name` in `tier` over all time.
fn read(engine: &Engine, name: &str, tier: Tier) -> Vec<Read> {
    select_tier(engine, &[eq("__name__", name)], i64::MIN, i64::MAX, tier)
        .unwrap()
        .into_iter()
        .map(|s: Selected| {
            (
                s.label("instance").unwrap().to_string(),
                s.samples,
                s.points,
            )
        })
        .collect()
}

/// One sample a minute from `from` (inclusive) to `to` (exclusive), value = minute index.
fn minutes(from: i64, to: i64) -> Vec<(i64, f64)> {
    (from..to)
        .step_by(MIN as usize)
        .map(|t| (t, ((t - T0) / MIN) as f64))
        .collect()
}

#[test]
fn deleted_samples_are_masked_in_chunks_head_and_index_and_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    // Two hours for two instances of `m` and one of `other`: the first hour flushed to
    // chunks, the second in the head.
    let first = minutes(T0, T0 + HOUR);
    let second = minutes(T0 + HOUR, T0 + 2 * HOUR);
    for part in [&first, &second] {
        engine
            .apply_write(&[
                series("m", "a", part),
                series("m", "b", part),
                series("other", "a", part),
            ])
            .unwrap();
        if part == &first {
            engine.flush().unwrap();
        }
    }
    // Delete m{instance="a"} over 30 minutes across the flushed/head boundary.
    let (lo, hi) = (T0 + 45 * MIN, T0 + 75 * MIN);
    engine
        .delete_series(
            &[selector(&[eq("__name__", "m"), eq("instance", "a")])],
            lo,
            hi,
        )
        .unwrap();
    assert_eq!(engine.tombstoned_series(), 1);

    let check = |engine: &Engine| {
        let all: Vec<(i64, f64)> = first.iter().chain(&second).copied().collect();
        let kept: Vec<(i64, f64)> = all
            .iter()
            .copied()
            .filter(|(t, _)| !(lo..=hi).contains(t))
            .collect();
        let m = read(engine, "m", Tier::Raw);
        assert_eq!(m[0].0, "a");
        assert_eq!(m[0].1, kept, "the deleted interval is a gap");
        assert_eq!(m[1].1, all, "the other instance is untouched");
        assert_eq!(read(engine, "other", Tier::Raw)[0].1, all);
        // The series API: a series with no data left in the range is not answered.
        let q = index(&[], lo, hi, 0);
        let names: Vec<String> = engine
            .series(&q)
            .unwrap()
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            names,
            [
                r#"{__name__="m", instance="b"}"#,
                r#"{__name__="other", instance="a"}"#
            ]
        );
        assert_eq!(
            engine.series(&index(&[], lo - MIN, hi, 0)).unwrap().len(),
            3
        );
    };
    check(&engine);
    // Samples written into the interval later (a late write) are deleted too, until
    // the tombstones are cleaned.
    engine
        .apply_write(&[series("m", "a", &[(lo + 30_000, 99.0)])])
        .unwrap();
    check(&engine);
    // Reopened as of a flush (a replica's log would replay the rest).
    engine.flush().unwrap();
    drop(engine);
    let engine = open(dir.path());
    check(&engine);
}

#[test]
fn rollup_points_over_a_deletion_go_and_later_rollups_leave_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .apply_write(&[series("m", "a", &minutes(T0, T0 + 3 * HOUR))])
        .unwrap();
    engine.flush().unwrap();
    while engine.rollup_pass().unwrap() > 0 {}
    let before = read(&engine, "m", Tier::Minute);
    assert_eq!(
        before[0].2.len(),
        120,
        "the two hour windows out of the ooo window"
    );
    // Delete part of a minute bucket and two whole ones: the three points go.
    let (lo, hi) = (T0 + 10 * MIN + 30_000, T0 + 12 * MIN + 59_999);
    engine
        .delete_series(&[selector(&[eq("__name__", "m")])], lo, hi)
        .unwrap();
    let after = read(&engine, "m", Tier::Minute);
    let ts: Vec<i64> = after[0].2.iter().map(|p| p.timestamp_ms).collect();
    assert_eq!(after[0].2.len(), 117);
    for gone in [T0 + 10 * MIN, T0 + 11 * MIN, T0 + 12 * MIN] {
        assert!(
            !ts.contains(&gone),
            "point at {gone} summarises deleted samples"
        );
    }
    // More data: the windows computed now, and the hour tier, leave deleted data out.
    engine
        .apply_write(&[series("m", "a", &minutes(T0 + 3 * HOUR, T0 + 26 * HOUR))])
        .unwrap();
    while engine.rollup_pass().unwrap() > 0 {}
    let hours = read(&engine, "m", Tier::Hour);
    assert!(
        hours[0].2.iter().all(|p| p.timestamp_ms != T0),
        "the hour holding the deletion has no point"
    );
    assert!(hours[0].2.iter().any(|p| p.timestamp_ms == T0 + HOUR));

    // Cleaning answers the same in every tier, with no tombstone left.
    let snapshot = |e: &Engine| {
        [Tier::Raw, Tier::Minute, Tier::Hour].map(|t| {
            let r = read(e, "m", t);
            let samples: Vec<(i64, u64)> = r[0].1.iter().map(|(t, v)| (*t, v.to_bits())).collect();
            let points: Vec<(i64, u64, u64)> = r[0]
                .2
                .iter()
                .map(|p| (p.timestamp_ms, p.count, p.sum.to_bits()))
                .collect();
            (samples, points)
        })
    };
    let masked = snapshot(&engine);
    assert!(masked[0].0.iter().all(|(t, _)| !(lo..=hi).contains(t)));
    engine.clean_tombstones().unwrap();
    assert_eq!(engine.tombstoned_series(), 0);
    assert_eq!(
        snapshot(&engine),
        masked,
        "clean_tombstones changed an answer"
    );
    engine.flush().unwrap();
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(engine.tombstoned_series(), 0);
    assert_eq!(snapshot(&engine), masked);
}

#[test]
fn clean_tombstones_removes_head_and_chunk_data_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let all = minutes(T0, T0 + 2 * HOUR);
    engine.apply_write(&[series("m", "a", &all[..60])]).unwrap();
    engine.flush().unwrap();
    engine.apply_write(&[series("m", "a", &all[60..])]).unwrap();
    let (lo, hi) = (T0 + 50 * MIN, T0 + 70 * MIN);
    engine
        .delete_series(&[selector(&[eq("instance", "a")])], lo, hi)
        .unwrap();
    engine.clean_tombstones().unwrap();
    let kept: Vec<(i64, f64)> = all
        .iter()
        .copied()
        .filter(|(t, _)| !(lo..=hi).contains(t))
        .collect();
    assert_eq!(read(&engine, "m", Tier::Raw)[0].1, kept);
    // With the tombstones gone, a sample written into the interval now shows.
    engine
        .apply_write(&[series("m", "a", &[(lo, -1.0)])])
        .unwrap();
    let now = read(&engine, "m", Tier::Raw);
    assert!(now[0].1.contains(&(lo, -1.0)));
    assert_eq!(now[0].1.len(), kept.len() + 1);
}

#[test]
fn a_delete_record_applies_the_same_on_every_replica_and_replays_as_a_no_op() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (leader, follower) = (open(d1.path()), open(d2.path()));
    let mut log: Vec<Vec<u8>> = Vec::new();
    let data = [
        series("m", "a", &minutes(T0, T0 + HOUR)),
        series("m", "b", &minutes(T0, T0 + HOUR)),
    ];
    log.push(leader.prepare(&data).unwrap().record);
    for (i, r) in log.iter().enumerate() {
        leader.apply(i as u64 + 1, None, r, None).unwrap();
    }
    let sel = [selector(&[eq("instance", "b")])];
    // The interval is clamped to the data the leader holds.
    let record = leader
        .prepare_delete(&sel, T0 + 30 * MIN, i64::MAX)
        .unwrap()
        .expect("b matches");
    log.push(record);
    // A sample newer than the delete's interval, written after it.
    let later = (T0 + 2 * HOUR, 1.0);
    log.push(
        leader
            .prepare(&[series("m", "b", &[later])])
            .unwrap()
            .record,
    );
    log.push(leader.prepare_clean_tombstones());
    // Nothing matching: nothing to log.
    assert!(
        leader
            .prepare_delete(&[selector(&[eq("instance", "zz")])], i64::MIN, i64::MAX)
            .unwrap()
            .is_none()
    );
    assert!(
        leader
            .prepare_delete(&sel, T0 + 5, T0 + 4)
            .unwrap()
            .is_none(),
        "an empty range deletes nothing"
    );

    let mut b_left = minutes(T0, T0 + 30 * MIN);
    b_left.push(later);
    for engine in [&leader, &follower] {
        for (i, r) in log.iter().enumerate() {
            let seq = i as u64 + 1;
            engine.apply(seq, None, r, None).unwrap();
            // Re-delivered: applied already, nothing changes.
            engine.apply(seq, None, r, None).unwrap();
            if seq == 3 {
                assert_eq!(engine.tombstoned_series(), 1);
                assert_eq!(read(engine, "m", Tier::Raw)[1].1, b_left);
            }
        }
    }
    for engine in [&leader, &follower] {
        let m = read(engine, "m", Tier::Raw);
        assert_eq!(m[0].1, minutes(T0, T0 + HOUR));
        assert_eq!(m[1].1, b_left);
        assert_eq!(engine.applied_seq(), 4);
        assert_eq!(engine.tombstoned_series(), 0);
    }
}

#[test]
fn checkpoints_hold_the_tombstones_and_with_the_head_or_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("engine"));
    let flushed = minutes(T0, T0 + HOUR);
    let in_head = minutes(T0 + HOUR, T0 + 2 * HOUR);
    engine.apply_write(&[series("m", "a", &flushed)]).unwrap();
    engine.flush().unwrap();
    engine.apply_write(&[series("m", "a", &in_head)]).unwrap();
    let (lo, hi) = (T0 + 10 * MIN, T0 + 20 * MIN);
    engine
        .delete_series(&[selector(&[eq("__name__", "m")])], lo, hi)
        .unwrap();
    let kept = |all: &[(i64, f64)]| -> Vec<(i64, f64)> {
        all.iter()
            .copied()
            .filter(|(t, _)| !(lo..=hi).contains(t))
            .collect()
    };

    let with_head = dir.path().join("with-head");
    let without = dir.path().join("without-head");
    engine.checkpoint_into(&without, false).unwrap();
    engine.checkpoint_into(&with_head, true).unwrap();
    let everything: Vec<(i64, f64)> = flushed.iter().chain(&in_head).copied().collect();
    let copy = open(&with_head);
    assert_eq!(copy.tombstoned_series(), 1);
    assert_eq!(read(&copy, "m", Tier::Raw)[0].1, kept(&everything));
    let copy = open(&without);
    assert_eq!(copy.tombstoned_series(), 1);
    assert_eq!(
        read(&copy, "m", Tier::Raw)[0].1,
        kept(&flushed),
        "the head left out"
    );
}
