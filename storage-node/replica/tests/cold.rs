//! The cold tier in a three-replica group: only the leader uploads (one object per day
//! in the bucket, the `file://` backend of `object_store`), every replica applies the
//! move and reads the day back from the object, and an upload that fails — before or
//! after the object is written — leaves the day local until a later round moves it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use telltale_replica::cold::ColdBucket;
use telltale_replica::{RaftOptions, Replica, ReplicaConfig};
use telltale_storage::cold::{ColdEntry, ColdStorage};
use telltale_storage::engine::cold::ColdOptions;
use telltale_storage::{EngineOptions, Retention, Tier};
use telltale_storage_api::{
    GrpcStorage, Label, MatchOp, Matcher, Resolution, Sample, SampleReader, SampleWriter,
    SelectRequest, Selection, TimeSeries,
};

mod common;
use common::{group_of, wait_leader};

const DAY: i64 = 86_400_000;
const STEP: i64 = 600_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

/// The bucket, failing its first uploads: the first `before` fail before writing the
/// object, the next `after` after it (a crash between the upload and the log record).
#[derive(Debug)]
struct Flaky {
    bucket: ColdBucket,
    before: AtomicUsize,
    after: AtomicUsize,
}

impl ColdStorage for Flaky {
    fn fetch(&self, name: &str, dest: &Path) -> Result<u64, String> {
        self.bucket.fetch(name, dest)
    }

    fn upload_checked(&self, src: &Path, entry: &ColdEntry) -> Result<(), String> {
        let take = |n: &AtomicUsize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                .is_ok()
        };
        if take(&self.before) {
            return Err("connection reset (before the upload)".into());
        }
        self.bucket.upload_checked(src, entry)?;
        if take(&self.after) {
            return Err("connection reset (after the upload)".into());
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), String> {
        self.bucket.delete(name)
    }
}

fn engine_options(dir: &Path, storage: Arc<dyn ColdStorage>) -> EngineOptions {
    EngineOptions {
        retention: Retention::new(
            Some(Duration::from_secs(30 * 86_400)),
            vec![(Tier::Minute, None), (Tier::Hour, None)],
        )
        .unwrap(),
        out_of_order_window: Duration::from_secs(600),
        rollup_windows_per_pass: 1_000,
        cold: Some(ColdOptions {
            storage,
            after: vec![(Tier::Raw, Duration::from_secs(2 * 86_400))],
            cache_dir: dir.join("cold-cache"),
            cache_disk_bytes: 1 << 20,
            cache_memory_bytes: 1 << 20,
            move_every: Duration::from_millis(200),
        }),
        ..EngineOptions::default()
    }
}

fn series(inst: &str, days: i64) -> TimeSeries {
    TimeSeries {
        labels: vec![Label::new("__name__", "g"), Label::new("instance", inst)],
        samples: (0..days * DAY / STEP)
            .map(|i| Sample {
                timestamp_ms: T0 + i * STEP,
                value: (i % 17) as f64,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

fn objects(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_moves_each_day_once_and_every_replica_reads_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket_dir = tmp.path().join("bucket");
    let url = format!("file://{}", bucket_dir.display());
    let flaky = Arc::new(Flaky {
        bucket: ColdBucket::open(&url, 0).unwrap(),
        before: AtomicUsize::new(2),
        after: AtomicUsize::new(1),
    });

    let (listeners, addrs, peers) = group_of(3, 3).await;
    let mut replicas: Vec<Replica> = Vec::new();
    let mut stops = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let id = i as u64 + 1;
        let data_dir: PathBuf = tmp.path().join(format!("r{id}"));
        let config = ReplicaConfig {
            engine: engine_options(&data_dir, flaky.clone()),
            data_dir,
            shard: 0,
            id,
            peers: peers.clone(),
            initial_voters: None,
            raft: RaftOptions::default(),
        };
        let replica = Replica::start(config, &prometheus::Registry::new())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = replica.clone();
        tokio::spawn(async move {
            served
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        replicas.push(replica);
        stops.push(tx);
    }
    let (leader, _) = wait_leader(&addrs, None).await;
    let client = GrpcStorage::connect_lazy(&addrs[leader as usize - 1]).unwrap();
    client
        .write(vec![series("a", 6), series("b", 6)])
        .await
        .unwrap();
    let select = || {
        SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "g")],
            start_ms: T0,
            end_ms: T0 + 6 * DAY,
            resolution: Resolution::Raw as i32,
        })
    };
    let count =
        |s: &Vec<telltale_storage_api::SeriesChunks>| -> u64 { s.iter().map(|c| c.count()).sum() };
    let written = 2 * 6 * DAY / STEP;
    assert_eq!(
        count(&client.select(select()).await.unwrap()) as i64,
        written
    );

    // Days 0..=2 end more than two days before the newest sample (late in day 5).
    let want: Vec<(Tier, i64)> = (0..3).map(|d| (Tier::Raw, T0 / DAY + d)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = replicas
            .iter()
            .all(|r| r.engine().unwrap().cold_days() == want);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cold days: {:?}",
            replicas
                .iter()
                .map(|r| r.engine().unwrap().cold_days())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        flaky.before.load(Ordering::SeqCst),
        0,
        "the failed uploads were retried"
    );
    // One object per day: only the leader uploaded (the one that failed after its upload
    // was exported again and written under its name, or left beside it unread).
    let all = objects(&bucket_dir.join("shard-0").join("raw"));
    let (manifests, raw): (Vec<String>, Vec<String>) =
        all.into_iter().partition(|o| o.ends_with(".json"));
    let days: std::collections::BTreeSet<&str> =
        raw.iter().map(|o| o.split('-').next().unwrap()).collect();
    assert_eq!(days.len(), 3, "{raw:?}");
    assert!(raw.len() <= 4, "{raw:?}");
    // Each object's manifest beside it says what it is.
    for object in &raw {
        let m = manifests
            .iter()
            .find(|m| **m == format!("{object}.json"))
            .unwrap_or_else(|| panic!("no manifest for {object}: {manifests:?}"));
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(bucket_dir.join("shard-0").join("raw").join(m)).unwrap(),
        )
        .unwrap();
        let bytes = std::fs::metadata(bucket_dir.join("shard-0").join("raw").join(object))
            .unwrap()
            .len();
        assert_eq!(m["bytes"], bytes, "{m}");
        assert_eq!(m["tier"], "raw");
        assert_eq!(m["sha256"].as_str().unwrap().len(), 64);
    }
    assert_eq!(manifests.len(), raw.len(), "{manifests:?}");

    // Every replica answers from the objects: each engine read directly.
    for r in &replicas {
        let engine = r.engine().unwrap();
        let spec = telltale_replica::convert::select_spec(&select()).unwrap();
        let mut n = 0u64;
        engine
            .select_chunks(&spec, &mut |s| {
                n += s.chunks.iter().map(|c| u64::from(c.count)).sum::<u64>();
                Ok(())
            })
            .unwrap();
        assert_eq!(n as i64, written, "replica {}", r.id());
    }
    for s in stops {
        let _ = s.send(());
    }
}
