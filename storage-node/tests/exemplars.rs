//! Exemplars through the engine's public API on a real RocksDB: they ride the log
//! record, go into the ring as it is applied, are written with each flush and come back
//! when the engine reopens (into a ring of the configured size).

use std::path::Path;

use prometheus::Registry;
use telltale_storage::matcher::Selector;
use telltale_storage::{Engine, EngineOptions, IndexQuery};
use telltale_storage_api::{Exemplar, Label, MatchOp, Matcher, Sample, TimeSeries};

fn with_exemplar(
    name: &str,
    sample: Option<(i64, f64)>,
    trace: &str,
    value: f64,
    t: i64,
) -> TimeSeries {
    TimeSeries {
        labels: vec![Label::new("__name__", name), Label::new("job", "x")],
        samples: sample
            .map(|(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
            .into_iter()
            .collect(),
        exemplars: vec![Exemplar {
            labels: vec![Label::new("trace_id", trace)],
            value,
            timestamp_ms: t,
        }],
        histograms: Vec::new(),
    }
}

fn open(dir: &Path, limit: usize) -> Engine {
    let opts = EngineOptions {
        exemplars_limit: limit,
        ..EngineOptions::default()
    };
    Engine::open(dir, opts, &Registry::new()).unwrap()
}

/// (metric name, [(trace id, time)]) per series holding exemplars.
fn held(engine: &Engine) -> Vec<(String, Vec<(String, i64)>)> {
    let all = Selector::from_proto(&[Matcher::new(MatchOp::Equal, "job", "x")]).unwrap();
    engine
        .exemplars(&[all], i64::MIN, i64::MAX)
        .into_iter()
        .map(|(series, exemplars)| {
            (
                series.get("__name__").unwrap_or("").to_string(),
                exemplars
                    .iter()
                    .map(|e| (e.labels[0].1.clone(), e.ts))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn exemplars_are_applied_flushed_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), 10);
    // With samples, without samples (a scrape's second write), out of order, too long.
    engine
        .apply_write(&[with_exemplar("a_total", Some((1000, 1.0)), "t1", 0.5, 900)])
        .unwrap();
    engine
        .apply_write(&[
            with_exemplar("a_total", None, "t2", 0.5, 950),
            with_exemplar("b_bucket", None, "t3", 0.5, 10),
            with_exemplar("a_total", None, "old", 0.5, 100),
            with_exemplar("a_total", None, &"x".repeat(200), 0.5, 990),
        ])
        .unwrap();
    let want = vec![
        (
            "a_total".to_string(),
            vec![("t1".into(), 900), ("t2".into(), 950)],
        ),
        ("b_bucket".to_string(), vec![("t3".into(), 10)]),
    ];
    assert_eq!(held(&engine), want);
    // An exemplar-only series is not created in the index.
    let everything = IndexQuery {
        selectors: vec![Selector::from_proto(&[Matcher::new(MatchOp::Equal, "job", "x")]).unwrap()],
        start: i64::MIN,
        end: i64::MAX,
        limit: 0,
    };
    assert_eq!(engine.series(&everything).unwrap().len(), 1);
    engine.flush().unwrap();
    // Applied after the flush and never flushed: a crash loses it (the Raft log replays
    // it in a replica).
    engine
        .apply_write(&[with_exemplar("a_total", None, "t4", 0.5, 960)])
        .unwrap();
    drop(engine);

    let engine = open(dir.path(), 10);
    assert_eq!(held(&engine), want);
    drop(engine);
    // A smaller ring keeps the newest.
    let engine = open(dir.path(), 1);
    assert_eq!(
        held(&engine),
        vec![("b_bucket".to_string(), vec![("t3".into(), 10)])]
    );
}

#[test]
fn replaying_the_records_builds_the_same_ring() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, second) = (open(a.path(), 3), open(b.path(), 3));
    let writes: Vec<Vec<TimeSeries>> = (0..6)
        .map(|i| {
            vec![with_exemplar(
                if i % 2 == 0 { "a_total" } else { "b_bucket" },
                Some((1000 + i, 1.0)),
                &format!("t{i}"),
                i as f64,
                100 + i,
            )]
        })
        .collect();
    for (seq, w) in writes.iter().enumerate() {
        let prepared = first.prepare(w).unwrap();
        assert_eq!(prepared.exemplars, 1);
        first
            .apply(seq as u64 + 1, None, &prepared.record, None)
            .unwrap();
        second
            .apply(seq as u64 + 1, None, &prepared.record, None)
            .unwrap();
    }
    assert_eq!(held(&first), held(&second));
    // The ring of 3 holds the newest three.
    assert_eq!(
        held(&first),
        vec![
            ("a_total".to_string(), vec![("t4".into(), 104)]),
            (
                "b_bucket".to_string(),
                vec![("t3".into(), 103), ("t5".into(), 105)]
            ),
        ]
    );
}
