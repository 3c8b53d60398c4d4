//! The cold tier through the engine's public API: days exported as objects, moved by
//! the log record every replica applies, read back through the cache with the same
//! answers, late samples beside them, retention, and damaged objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use telltale_storage::cold::{ColdEntry, ColdStorage};
use telltale_storage::engine::cold::ColdOptions;
use telltale_storage::{Engine, EngineOptions, Error, Retention, Tier};
use telltale_storage_api::{MatchOp, Matcher, MatcherSet, TimeSeries};

mod common;
use common::{index, options, select_tier, series};

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z: a day boundary.
const T0: i64 = 1_767_225_600_000;

/// Objects in a directory: what a bucket holds, as files.
#[derive(Debug)]
struct Bucket(PathBuf);

impl ColdStorage for Bucket {
    fn fetch(&self, name: &str, dest: &Path) -> Result<u64, String> {
        std::fs::copy(self.0.join(name), dest).map_err(|e| e.to_string())
    }

    fn upload_checked(&self, src: &Path, entry: &ColdEntry) -> Result<(), String> {
        let path = self.0.join(&entry.object);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::copy(src, path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn delete(&self, name: &str) -> Result<(), String> {
        std::fs::remove_file(self.0.join(name)).map_err(|e| e.to_string())
    }
}

impl Bucket {
    /// Exports every due day, "uploads" it and applies the move as the log would.
    fn move_due(&self, engine: &Engine) -> Vec<(Tier, i64)> {
        let due = engine.cold_due().unwrap();
        for &(tier, day) in &due {
            let mut bytes = Vec::new();
            let entry = engine.export_cold(tier, day, &mut bytes).unwrap();
            assert_eq!(bytes.len() as u64, entry.bytes);
            let file = self.0.join("upload.tmp");
            std::fs::write(&file, &bytes).unwrap();
            self.upload_checked(&file, &entry).unwrap();
            let record = Engine::prepare_cold_moved(tier, day, entry);
            let seq = engine.applied_seq() + 1;
            engine.apply(seq, None, &record, None).unwrap();
        }
        due
    }
}

fn opts(dir: &Path, bucket: &Path) -> EngineOptions {
    EngineOptions {
        retention: Retention::new(
            Some(Duration::from_secs(30 * 86_400)),
            vec![(Tier::Minute, None), (Tier::Hour, None)],
        )
        .unwrap(),
        cold: Some(ColdOptions {
            storage: Arc::new(Bucket(bucket.to_path_buf())),
            after: vec![
                (Tier::Raw, Duration::from_secs(2 * 86_400)),
                (Tier::Minute, Duration::from_secs(3 * 86_400)),
                // Days 0 and 1 go cold in every tier: their postings leave the disk too.
                (Tier::Hour, Duration::from_secs(4 * 86_400)),
            ],
            cache_dir: dir.join("cold-cache"),
            // Smaller than the objects together: reads evict and fetch again.
            cache_disk_bytes: 64 * 1024,
            cache_memory_bytes: 32 * 1024,
            move_every: Duration::from_secs(60),
        }),
        ..options()
    }
}

fn open(dir: &Path, bucket: &Path) -> Engine {
    Engine::open(&dir.join("db"), opts(dir, bucket), &Registry::new()).unwrap()
}

fn workload(start: i64, days: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for inst in 0..4 {
        let mut c = Vec::new();
        let mut g = Vec::new();
        let mut counter = 0.0;
        for i in 0..days * 24 * 12 {
            let t = start + i * 5 * MIN + inst;
            counter += (i % 7) as f64;
            c.push((t, counter));
            g.push((t, ((i * 13 + inst) % 29) as f64));
        }
        out.push(series("c_total", &format!("i{inst}"), &c));
        out.push(series("g", &format!("i{inst}"), &g));
    }
    out
}

/// An engine holding seven days of the workload, flushed and rolled up.
fn loaded(dir: &Path, bucket: &Path) -> Engine {
    let engine = open(dir, bucket);
    for batch in workload(T0, 7).chunks(2) {
        engine.apply_write(batch).unwrap();
    }
    engine.flush().unwrap();
    while engine.rollup_pass().unwrap() > 0 {}
    engine
}

/// Every answer the test compares: raw and rollup selects, and the index.
fn answers(engine: &Engine) -> Vec<String> {
    let all = [Matcher::new(MatchOp::Regex, "__name__", ".+")];
    let mut out = Vec::new();
    for tier in [Tier::Raw, Tier::Minute, Tier::Hour] {
        let mut got = select_tier(engine, &all, T0 - DAY, T0 + 8 * DAY, tier).unwrap();
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        for s in got {
            out.push(format!(
                "{tier:?} {:?} {:?} {:?}",
                s.labels, s.samples, s.points
            ));
        }
    }
    let set = MatcherSet {
        matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "g")],
    };
    let found = engine.series(&index(&[set], T0, T0 + DAY, 0)).unwrap();
    out.push(format!("{found:?}"));
    out
}

#[test]
fn days_moved_to_the_cold_tier_answer_as_before_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let before;
    {
        let engine = loaded(dir.path(), bucket.path());
        before = answers(&engine);
        let raw_bytes = |e: &Engine| e.info().unwrap()[0].disk_bytes;
        engine.flush().unwrap();
        let local_before = raw_bytes(&engine);

        let moved = Bucket(bucket.path().into()).move_due(&engine);
        // Raw days older than 2 days and minute days older than 3 days, whose rollups
        // are computed (the newest sample is in day 6; hours complete through day 5).
        let raw: Vec<i64> = moved
            .iter()
            .filter(|(t, _)| *t == Tier::Raw)
            .map(|(_, d)| *d)
            .collect();
        let minute: Vec<i64> = moved
            .iter()
            .filter(|(t, _)| *t == Tier::Minute)
            .map(|(_, d)| *d)
            .collect();
        let hour: Vec<i64> = moved
            .iter()
            .filter(|(t, _)| *t == Tier::Hour)
            .map(|(_, d)| *d)
            .collect();
        let d0 = T0 / DAY;
        assert_eq!(raw, (d0..d0 + 4).collect::<Vec<_>>());
        assert_eq!(minute, (d0..d0 + 3).collect::<Vec<_>>());
        assert_eq!(hour, (d0..d0 + 2).collect::<Vec<_>>());
        assert!(engine.cold_due().unwrap().is_empty(), "moved once");
        // Four of seven raw days left the disk.
        engine.maintenance_step();
        let local_after = raw_bytes(&engine);
        assert!(
            local_after * 10 < local_before * 6,
            "{local_before} -> {local_after} bytes"
        );
        assert_eq!(answers(&engine), before, "same answers from the cold tier");
    }
    // After a restart the cache is empty: the objects are fetched again. A read of
    // local days fetches nothing, though other tiers of those days are cold.
    let engine = open(dir.path(), bucket.path());
    let all = [Matcher::new(MatchOp::Regex, "__name__", ".+")];
    let hours = select_tier(&engine, &all, T0 + 2 * DAY, T0 + 5 * DAY, Tier::Hour).unwrap();
    assert_eq!(hours.len(), 8);
    let cached = || {
        std::fs::read_dir(dir.path().join("cold-cache"))
            .unwrap()
            .count()
    };
    assert_eq!(cached(), 0, "local days read no object");
    assert_eq!(answers(&engine), before);
    assert!(
        std::fs::read_dir(dir.path().join("cold-cache"))
            .unwrap()
            .count()
            > 0
    );

    // A late sample in a cold raw day is read beside the object.
    let late = series("g", "i0", &[(T0 + DAY + 30_000, 1234.5)]);
    engine.apply_write(&[late]).unwrap();
    let g = select_tier(
        &engine,
        &[
            Matcher::new(MatchOp::Equal, "instance", "i0"),
            Matcher::new(MatchOp::Equal, "__name__", "g"),
        ],
        T0 + DAY,
        T0 + DAY + MIN,
        Tier::Raw,
    )
    .unwrap();
    assert_eq!(
        g[0].samples
            .iter()
            .find(|(t, _)| *t == T0 + DAY + 30_000)
            .map(|s| s.1),
        Some(1234.5)
    );
    assert_eq!(g[0].samples.len(), 2, "{:?}", g[0].samples);
}

#[test]
fn retention_forgets_cold_days_and_reports_their_objects() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = tempfile::tempdir().unwrap();
    {
        let engine = loaded(dir.path(), bucket.path());
        let moved = Bucket(bucket.path().into()).move_due(&engine);
        assert!(moved.contains(&(Tier::Raw, T0 / DAY)));
    }
    // Raw retention lowered to 4 days back from day 6: days 0 and 1 go, cold or not.
    let mut o = opts(dir.path(), bucket.path());
    o.retention = Retention::new(
        Some(Duration::from_secs(4 * 86_400)),
        vec![(Tier::Minute, None), (Tier::Hour, None)],
    )
    .unwrap();
    let engine = Engine::open(&dir.path().join("db"), o, &Registry::new()).unwrap();
    engine.enforce_retention().unwrap();
    let mut expired = engine.take_expired_cold();
    expired.sort();
    let d0 = T0 / DAY;
    let days: Vec<String> = expired
        .iter()
        .map(|o| o.split(['/', '-']).nth(1).unwrap().to_string())
        .collect();
    assert_eq!(days, [d0.to_string(), (d0 + 1).to_string()], "{expired:?}");
    assert!(expired.iter().all(|o| o.starts_with("raw/")), "{expired:?}");
    assert!(engine.take_expired_cold().is_empty());
    let all = [Matcher::new(MatchOp::Equal, "__name__", "g")];
    let raw = select_tier(&engine, &all, T0, T0 + 3 * DAY - 1, Tier::Raw).unwrap();
    assert!(!raw.is_empty());
    assert!(
        raw.iter()
            .all(|s| s.samples.iter().all(|(t, _)| *t >= T0 + 2 * DAY))
    );
    // The minute tier keeps its cold days.
    let minutes = select_tier(&engine, &all, T0, T0 + DAY - 1, Tier::Minute).unwrap();
    assert_eq!(
        minutes[0].points.len(),
        24 * 12,
        "a point per 5-minute sample"
    );
}

#[test]
fn a_damaged_object_is_an_error_not_a_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = tempfile::tempdir().unwrap();
    {
        let engine = loaded(dir.path(), bucket.path());
        Bucket(bucket.path().into()).move_due(&engine);
    }
    let raw_dir = bucket.path().join("raw");
    let first = std::fs::read_dir(&raw_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&first).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    std::fs::write(&first, bytes).unwrap();

    let engine = open(dir.path(), bucket.path());
    let all = [Matcher::new(MatchOp::Regex, "__name__", ".+")];
    match select_tier(&engine, &all, T0, T0 + 5 * DAY, Tier::Raw) {
        Err(Error::Cold { reason, .. }) => assert!(reason.contains("SHA-256"), "{reason}"),
        other => panic!(
            "expected a cold storage error, got {:?}",
            other.map(|s| s.len())
        ),
    }
    // A missing object is an error too.
    std::fs::remove_file(&first).unwrap();
    assert!(matches!(
        select_tier(&engine, &all, T0, T0 + 5 * DAY, Tier::Raw),
        Err(Error::Cold { .. })
    ));
}
