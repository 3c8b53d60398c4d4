//! The engine through its public API, on a real RocksDB in a temporary directory.

use std::path::Path;

use prometheus::Registry;
use proptest::prelude::*;
use telltale_storage::{Engine, EngineOptions, Error, Tier};
use telltale_storage_api::{Label, MatchOp, Matcher, MatcherSet, Sample, TimeSeries};

mod common;
use common::{Selected, index, select_tier, try_index};

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        samples: samples
            .iter()
            .map(|&(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value)
}

fn select(engine: &Engine, matchers: Vec<Matcher>, start_ms: i64, end_ms: i64) -> Vec<Selected> {
    select_tier(engine, &matchers, start_ms, end_ms, Tier::Raw).unwrap()
}

fn samples_of(s: &Selected) -> Vec<(i64, f64)> {
    s.samples.clone()
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir, EngineOptions::default(), &Registry::new()).unwrap()
}

/// The value of one exposed series, e.g. `telltale_storage_series` or
/// `telltale_storage_write_requests_total{result="ok"}`; 0 when absent.
fn metric(registry: &Registry, series: &str) -> f64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[test]
fn write_select_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let engine = Engine::open(dir.path(), EngineOptions::default(), &registry).unwrap();
    let written = engine
        .apply_write(&[
            series(
                &[("__name__", "up"), ("job", "node")],
                &[(-20, 1.0), (10, 2.0), (30, 3.0)],
            ),
            // Labels out of order are sorted.
            series(&[("job", "api"), ("__name__", "up")], &[(10, 5.0)]),
            series(&[("__name__", "http_requests_total")], &[(10, 7.0)]),
        ])
        .unwrap();
    assert_eq!(written, 5);
    assert_eq!(metric(&registry, "telltale_storage_series"), 3.0);
    assert_eq!(
        metric(&registry, "telltale_storage_samples_appended_total"),
        5.0
    );
    assert_eq!(
        metric(
            &registry,
            r#"telltale_storage_write_requests_total{result="ok"}"#
        ),
        1.0
    );

    let check = |engine: &Engine| {
        let got = select(engine, vec![eq("__name__", "up")], -20, 10);
        // Ordered by labels: job="api" before job="node"; bounds are inclusive.
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].label("job"), Some("api"));
        assert_eq!(samples_of(&got[0]), vec![(10, 5.0)]);
        assert_eq!(got[1].label("job"), Some("node"));
        assert_eq!(samples_of(&got[1]), vec![(-20, 1.0), (10, 2.0)]);
        assert_eq!(got[1].labels[0].0, "__name__");

        let later = select(engine, vec![eq("__name__", "up")], 11, 1000);
        assert_eq!(
            later.len(),
            1,
            "series without samples in range are left out"
        );
        assert_eq!(samples_of(&later[0]), vec![(30, 3.0)]);
    };
    check(&engine);
    // Applied writes are durable from a flush on (until then the caller's log holds them).
    engine.flush().unwrap();
    drop(engine);
    assert_eq!(
        registry.gather().len(),
        0,
        "metrics are unregistered on drop"
    );

    let engine = Engine::open(dir.path(), EngineOptions::default(), &registry).unwrap();
    check(&engine);
    assert_eq!(metric(&registry, "telltale_storage_series"), 3.0);
    // New series after a reopen get fresh ids: nothing old is overwritten.
    engine
        .apply_write(&[series(&[("__name__", "up"), ("job", "db")], &[(10, 9.0)])])
        .unwrap();
    let got = select(&engine, vec![eq("__name__", "up")], i64::MIN, i64::MAX);
    let jobs: Vec<_> = got.iter().map(|t| t.label("job").unwrap()).collect();
    assert_eq!(jobs, vec!["api", "db", "node"]);
    assert_eq!(samples_of(&got[2]), vec![(-20, 1.0), (10, 2.0), (30, 3.0)]);
    engine.flush().unwrap();
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(
        select(&engine, vec![eq("job", "db")], 0, 100)
            .iter()
            .map(samples_of)
            .collect::<Vec<_>>(),
        vec![vec![(10, 9.0)]]
    );
}

#[test]
fn a_rejected_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let engine = Engine::open(dir.path(), EngineOptions::default(), &registry).unwrap();
    let err = engine
        .apply_write(&[
            series(&[("__name__", "up"), ("job", "a")], &[(1, 1.0)]),
            series(
                &[("__name__", "up"), ("job", "a"), ("job", "b")],
                &[(1, 1.0)],
            ),
        ])
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidSeries { index: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("duplicate label name \"job\""));
    assert_eq!(
        metric(
            &registry,
            r#"telltale_storage_write_requests_total{result="invalid_argument"}"#
        ),
        1.0
    );
    let nothing = |engine: &Engine| {
        assert!(select(engine, vec![eq("__name__", "up")], i64::MIN, i64::MAX).is_empty());
        let all = engine.series(&index(&[], i64::MIN, i64::MAX, 0));
        assert!(all.unwrap().is_empty());
    };
    nothing(&engine);
    drop(engine);
    nothing(&open(dir.path()));
}

#[test]
fn duplicate_timestamps_last_write_wins() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let labels = [("__name__", "temp")];
    engine
        .apply_write(&[series(&labels, &[(5, 1.0), (1, 0.5), (5, 2.0)])])
        .unwrap();
    let got = select(&engine, vec![eq("__name__", "temp")], 0, 10);
    assert_eq!(samples_of(&got[0]), vec![(1, 0.5), (5, 2.0)]);

    // The same series twice in one request, then again in a later request.
    engine
        .apply_write(&[series(&labels, &[(1, 10.0)]), series(&labels, &[(1, 11.0)])])
        .unwrap();
    engine.apply_write(&[series(&labels, &[(5, 3.0)])]).unwrap();
    let got = select(&engine, vec![eq("__name__", "temp")], 0, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(samples_of(&got[0]), vec![(1, 11.0), (5, 3.0)]);
}

/// The head's open chunk is answered as it is when it lies inside the bounds, trimmed
/// when it crosses them, and wins over flushed chunks it overlaps (a rewrite after a
/// flush lands in a new head chunk).
#[test]
fn the_head_chunk_joins_flushed_chunks_in_a_select() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let labels = [("__name__", "h")];
    let flushed: Vec<(i64, f64)> = (1..=10).map(|t| (t * 10, t as f64)).collect();
    engine.apply_write(&[series(&labels, &flushed)]).unwrap();
    engine.flush().unwrap();
    let head: Vec<(i64, f64)> = (11..=20).map(|t| (t * 10, t as f64)).collect();
    engine.apply_write(&[series(&labels, &head)]).unwrap();
    let all: Vec<(i64, f64)> = flushed.iter().chain(&head).copied().collect();
    let got = select(&engine, vec![eq("__name__", "h")], 0, 1_000);
    assert_eq!(samples_of(&got[0]), all);
    // Bounds inside the head chunk and across both.
    let got = select(&engine, vec![eq("__name__", "h")], 125, 175);
    assert_eq!(
        samples_of(&got[0]),
        vec![
            (130, 13.0),
            (140, 14.0),
            (150, 15.0),
            (160, 16.0),
            (170, 17.0)
        ]
    );
    let got = select(&engine, vec![eq("__name__", "h")], 95, 115);
    assert_eq!(samples_of(&got[0]), vec![(100, 10.0), (110, 11.0)]);

    // After another flush, a write inside the flushed range starts a new head chunk that
    // overlaps them: the head's values win.
    engine.flush().unwrap();
    engine
        .apply_write(&[series(&labels, &[(50, 55.0), (155, 15.5)])])
        .unwrap();
    let got = select(&engine, vec![eq("__name__", "h")], 0, 1_000);
    let mut want = all.clone();
    want[4].1 = 55.0;
    want.insert(15, (155, 15.5));
    assert_eq!(samples_of(&got[0]), want);
}

#[test]
fn stale_markers_and_extreme_timestamps_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let stale = telltale_model::STALE_NAN;
    engine
        .apply_write(&[series(
            &[("__name__", "m")],
            &[(i64::MIN, 1.0), (0, stale), (i64::MAX, -0.0)],
        )])
        .unwrap();
    let got = select(&engine, vec![eq("__name__", "m")], i64::MIN, i64::MAX);
    let s = &got[0].samples;
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].0, i64::MIN);
    assert_eq!(s[1].1.to_bits(), stale.to_bits());
    assert_eq!(s[2].0, i64::MAX);
    assert!(s[2].1.is_sign_negative());
}

#[test]
fn empty_requests_and_series_without_samples_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    assert_eq!(engine.apply_write(&[]).unwrap(), 0);
    assert_eq!(
        engine
            .apply_write(&[series(&[("__name__", "m")], &[])])
            .unwrap(),
        0
    );
    let names = engine
        .label_names(&index(&[], i64::MIN, i64::MAX, 0))
        .unwrap();
    assert!(names.is_empty());
}

#[test]
fn select_rejects_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let select = |matchers: Vec<Matcher>, start, end| {
        select_tier(&engine, &matchers, start, end, Tier::Raw).map(|_| ())
    };
    let empty_only = vec![Matcher::new(MatchOp::Regex, "job", ".*"), eq("zone", "")];
    let err = select(empty_only, 0, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector selector must contain at least one non-empty matcher"
    );
    let err = select(vec![eq("__name__", "up")], 2, 1).unwrap_err();
    assert!(matches!(err, Error::InvalidTimeRange { .. }));
    let bad_re = vec![Matcher::new(MatchOp::Regex, "job", "a(")];
    assert!(select(bad_re, 0, 1).unwrap_err().is_invalid_argument());
}

#[test]
fn concurrent_writers_share_new_series() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let engine = Engine::open(dir.path(), EngineOptions::default(), &registry).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4i64 {
            let engine = &engine;
            scope.spawn(move || {
                for i in 0..10i64 {
                    let ts = t * 100 + i;
                    let shard = (i % 3).to_string();
                    engine
                        .apply_write(&[series(
                            &[("__name__", "c"), ("shard", &shard)],
                            &[(ts, ts as f64)],
                        )])
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(metric(&registry, "telltale_storage_series"), 3.0);
    engine.flush().unwrap();
    drop(engine);
    let engine = open(dir.path());
    let got = select(&engine, vec![eq("__name__", "c")], i64::MIN, i64::MAX);
    assert_eq!(got.len(), 3);
    let total: usize = got.iter().map(|t| t.samples.len()).sum();
    assert_eq!(total, 40);
    for t in &got {
        assert!(t.samples.iter().all(|&(t, v)| v == t as f64));
    }
}

fn fixture(engine: &Engine) {
    engine
        .apply_write(&[
            series(
                &[("__name__", "up"), ("job", "node"), ("zone", "a")],
                &[(100, 1.0)],
            ),
            series(&[("__name__", "up"), ("job", "api")], &[(200, 1.0)]),
            series(
                &[("__name__", "cpu"), ("job", "node"), ("mode", "idle")],
                &[(300, 1.0)],
            ),
        ])
        .unwrap();
}

#[test]
fn matchers_follow_prometheus_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    fixture(&engine);
    let names = |matchers: Vec<Matcher>| -> Vec<String> {
        select(&engine, matchers, i64::MIN, i64::MAX)
            .iter()
            .map(|t| {
                let l = &t.labels;
                l.iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    // zone="" matches the series without a zone.
    assert_eq!(
        names(vec![eq("__name__", "up"), eq("zone", "")]),
        vec!["__name__=up,job=api"]
    );
    // No equality matcher: found through the postings of `job`.
    assert_eq!(
        names(vec![Matcher::new(MatchOp::Regex, "job", "no.*")]),
        vec![
            "__name__=cpu,job=node,mode=idle",
            "__name__=up,job=node,zone=a"
        ]
    );
    // Anchored: "od" does not match "node".
    assert!(names(vec![Matcher::new(MatchOp::Regex, "job", "od")]).is_empty());
    assert_eq!(
        names(vec![
            Matcher::new(MatchOp::NotEqual, "job", "node"),
            Matcher::new(MatchOp::Regex, "__name__", ".+"),
        ]),
        vec!["__name__=up,job=api"]
    );
    assert_eq!(
        names(vec![
            eq("job", "node"),
            Matcher::new(MatchOp::NotRegex, "mode", "idle|user"),
        ]),
        vec!["__name__=up,job=node,zone=a"]
    );
}

#[test]
fn index_queries_by_match_sets_time_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    fixture(&engine);
    let all = |m: Vec<Matcher>| MatcherSet { matchers: m };

    let series = engine
        .series(&index(
            &[
                all(vec![eq("job", "api")]),
                all(vec![eq("__name__", "cpu")]),
            ],
            i64::MIN,
            i64::MAX,
            0,
        ))
        .unwrap();
    let got: Vec<_> = series.iter().map(|s| s.get("__name__").unwrap()).collect();
    assert_eq!(got, vec!["cpu", "up"]);

    // Time: only the series with a sample in [150, 250].
    let series = engine.series(&index(&[], 150, 250, 0)).unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].get("job"), Some("api"));

    let limited = engine.series(&index(&[], i64::MIN, i64::MAX, 2)).unwrap();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].get("__name__"), Some("cpu"));

    let names = |match_sets: Vec<MatcherSet>, start_ms, end_ms, limit| {
        engine
            .label_names(&index(&match_sets, start_ms, end_ms, limit))
            .unwrap()
    };
    assert_eq!(
        names(vec![], i64::MIN, i64::MAX, 0),
        vec!["__name__", "job", "mode", "zone"]
    );
    assert_eq!(names(vec![], 0, 150, 0), vec!["__name__", "job", "zone"]);
    assert_eq!(
        names(
            vec![all(vec![eq("__name__", "cpu")])],
            i64::MIN,
            i64::MAX,
            2
        ),
        vec!["__name__", "job"]
    );

    let values = |name: &str, match_sets: Vec<MatcherSet>, start_ms, end_ms, limit| {
        try_index(&match_sets, start_ms, end_ms, limit).and_then(|q| engine.label_values(name, &q))
    };
    assert_eq!(
        values("job", vec![], i64::MIN, i64::MAX, 0).unwrap(),
        vec!["api", "node"]
    );
    assert_eq!(
        values("job", vec![], 150, 400, 0).unwrap(),
        vec!["api", "node"]
    );
    assert_eq!(values("job", vec![], 250, 400, 0).unwrap(), vec!["node"]);
    assert_eq!(values("job", vec![], 0, 400, 1).unwrap(), vec!["api"]);
    assert_eq!(
        values("__name__", vec![], i64::MIN, i64::MAX, 0).unwrap(),
        vec!["cpu", "up"]
    );
    assert_eq!(
        values("zone", vec![all(vec![eq("__name__", "up")])], 0, 1000, 0).unwrap(),
        vec!["a"]
    );
    assert!(
        values("absent", vec![], i64::MIN, i64::MAX, 0)
            .unwrap()
            .is_empty()
    );
    assert!(
        values("bad-name", vec![], 0, 1, 0)
            .unwrap_err()
            .is_invalid_argument()
    );
    assert!(
        values("job", vec![all(vec![eq("job", "")])], 0, 1, 0)
            .unwrap_err()
            .is_invalid_argument()
    );
}

/// A label set from a small alphabet, as `(name, value)` pairs without `__name__`.
fn small_labels() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["job", "zone"]),
        prop::sample::select(vec!["a", "b", "ab"]),
        0..3,
    )
    .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The engine's select against a brute-force scan of what was written.
    #[test]
    fn select_equals_brute_force(
        sets in prop::collection::vec(small_labels(), 1..12),
        op in prop::sample::select(vec![MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex]),
        name in prop::sample::select(vec!["job", "zone"]),
        value in prop::sample::select(vec!["", "a", "a|b", "a.*"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        let mut written = Vec::new();
        for (i, rest) in sets.iter().enumerate() {
            let mut labels = vec![("__name__", "m")];
            labels.extend(rest.iter().copied());
            engine.apply_write(&[series(&labels, &[(i as i64, i as f64)])]).unwrap();
            written.push(labels);
        }
        let re = regex::Regex::new(&format!("^(?:{value})$")).unwrap();
        let want: Vec<f64> = {
            // The last write of a label set wins (duplicate sets share a series).
            let mut by_set = std::collections::BTreeMap::new();
            for (i, labels) in written.iter().enumerate() {
                let v = labels.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| *v);
                let ok = match op {
                    MatchOp::Equal => v == value,
                    MatchOp::NotEqual => v != value,
                    MatchOp::Regex => re.is_match(v),
                    MatchOp::NotRegex => !re.is_match(v),
                };
                if ok {
                    let mut key = labels.clone();
                    key.sort();
                    by_set.entry(key).or_insert_with(Vec::new).push(i as f64);
                }
            }
            by_set.into_values().flatten().collect()
        };
        let got: Vec<f64> = select(
            &engine,
            vec![eq("__name__", "m"), Matcher::new(op, name, value)],
            i64::MIN,
            i64::MAX,
        )
        .iter()
        .flat_map(|t| t.samples.iter().map(|&(_, v)| v))
        .collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn late_writes_are_numbered_with_their_time_range() {
    const HOUR: i64 = 3_600_000;
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let before = engine.late_writes();
    assert_eq!(before.generation, 0);
    assert_eq!(before.out_of_order_window_ms, HOUR);
    // In order, then out of order inside the window: nothing settled changed.
    engine
        .apply_write(&[series(&[("__name__", "x")], &[(10 * HOUR, 1.0)])])
        .unwrap();
    engine
        .apply_write(&[series(&[("__name__", "x")], &[(10 * HOUR - 60_000, 1.0)])])
        .unwrap();
    assert_eq!(engine.late_writes().generation, 0);
    // Behind the window (backfill), for a new series too: reported with its range.
    engine
        .apply_write(&[
            series(&[("__name__", "x")], &[(2 * HOUR, 1.0)]),
            series(&[("__name__", "y")], &[(3 * HOUR, 1.0), (4 * HOUR, 2.0)]),
        ])
        .unwrap();
    let late = engine.late_writes();
    assert_eq!(late.generation, 1);
    assert_eq!(late.epoch, before.epoch);
    assert_eq!(late.recent.len(), 1);
    assert_eq!(
        (
            late.recent[0].generation,
            late.recent[0].min_ms,
            late.recent[0].max_ms
        ),
        (1, 2 * HOUR, 4 * HOUR)
    );
    // Reopening starts a new epoch.
    drop(engine);
    let reopened = open(dir.path());
    assert_ne!(reopened.late_writes().epoch, late.epoch);
}

/// Shared label sets (a scrape's series cache) take the same write path: a stored
/// series is named by id, the same record `prepare` makes from messages, and a new one is
/// validated.
#[test]
fn shared_label_sets_write_as_messages_do() {
    use std::sync::Arc;
    use telltale_storage_api::{SeriesLabels, SharedSample};

    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let engine = Engine::open(dir.path(), EngineOptions::default(), &registry).unwrap();
    let labels = |pairs: &[(&str, &str)]| {
        Arc::new(SeriesLabels::new(
            pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        ))
    };
    // Unsorted and with an empty label: the same series as the message below.
    let up = labels(&[("job", "a"), ("__name__", "up"), ("zone", "")]);
    let shared = |series: &Arc<SeriesLabels>, t: i64, v: f64| SharedSample {
        series: series.clone(),
        timestamp_ms: t,
        value: v,
    };
    let seq = |e: &Engine| e.applied_seq() + 1;
    let new = engine.prepare_shared(&[shared(&up, 10, 1.0)]).unwrap();
    engine.apply(seq(&engine), None, &new.record, None).unwrap();
    assert_eq!(metric(&registry, "telltale_storage_series"), 1.0);
    let known = engine.prepare_shared(&[shared(&up, 20, 2.0)]).unwrap();
    let as_message = engine
        .prepare(&[series(&[("__name__", "up"), ("job", "a")], &[(20, 2.0)])])
        .unwrap();
    assert_eq!(
        known, as_message,
        "a stored series is named by id either way"
    );
    assert!(known.record.len() < new.record.len());
    engine
        .apply(seq(&engine), None, &known.record, None)
        .unwrap();
    let got = select(&engine, vec![eq("__name__", "up")], 0, 100);
    assert_eq!(got.len(), 1);
    assert_eq!(samples_of(&got[0]), vec![(10, 1.0), (20, 2.0)]);

    let bad = labels(&[("__name__", "up"), ("0bad", "x")]);
    let err = engine
        .prepare_shared(&[shared(&up, 30, 3.0), shared(&bad, 30, 1.0)])
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidSeries { index: 1, .. }),
        "{err}"
    );
    assert_eq!(metric(&registry, "telltale_storage_series"), 1.0);
}

/// A label set remembers where an engine filed it, per engine: two engines that gave the
/// same series different ids each get their own id back.
#[test]
fn a_shared_label_set_remembers_its_id_per_engine() {
    use std::sync::Arc;
    use telltale_storage_api::{SeriesLabels, SharedSample};

    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(da.path()), open(db.path()));
    let labels = |name: &str| {
        Arc::new(SeriesLabels::new(vec![
            Label::new("__name__", name),
            Label::new("job", "j"),
        ]))
    };
    let (x, y) = (labels("x"), labels("y"));
    let write = |e: &Engine, s: &Arc<SeriesLabels>, t: i64| {
        let p = e
            .prepare_shared(&[SharedSample {
                series: s.clone(),
                timestamp_ms: t,
                value: t as f64,
            }])
            .unwrap();
        e.apply(e.applied_seq() + 1, None, &p.record, None).unwrap();
    };
    // x is series 0 in a and series 1 in b.
    write(&a, &x, 1);
    write(&b, &y, 1);
    write(&b, &x, 1);
    write(&a, &y, 1);
    for t in 2..5 {
        for e in [&a, &b] {
            write(e, &x, t);
            write(e, &y, t);
        }
    }
    for e in [&a, &b] {
        for name in ["x", "y"] {
            let got = select(e, vec![eq("__name__", name)], 0, 10);
            assert_eq!(got.len(), 1, "{name}");
            let want: Vec<(i64, f64)> = (1..5).map(|t| (t, t as f64)).collect();
            assert_eq!(samples_of(&got[0]), want, "{name}");
        }
    }
}
