//! The Raft log's byte bound holds at all times, not only on average: four writers in
//! the same process (standalone's path) push new series as fast as the replica takes
//! them into a group of one whose log is bounded at 256 KiB, while a watcher reads the
//! log's bytes since its last snapshot every millisecond. Without the write gate the
//! log runs far past the bound while a snapshot's engine flush is being built.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use prometheus::Registry;
use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage::EngineOptions;
use telltale_storage_api::{Label, Sample, SampleReader, SampleWriter, SeriesRequest, TimeSeries};

const BOUND: u64 = 256 << 10;
const WRITERS: usize = 4;
const BATCHES: usize = 150;
const SERIES_PER_BATCH: usize = 100;

/// A batch of new series (so every entry carries labels: a few KiB each).
fn batch(writer: usize, n: usize) -> Vec<TimeSeries> {
    (0..SERIES_PER_BATCH)
        .map(|i| TimeSeries {
            labels: vec![
                Label::new("__name__", "node_network_receive_bytes_total"),
                Label::new("device", format!("eth{i}")),
                Label::new("instance", format!("host-{writer}-{n}.example.com:9100")),
                Label::new("job", "node"),
            ],
            samples: vec![Sample {
                timestamp_ms: 1_700_000_000_000 + n as i64 * 10_000,
                value: (writer * n + i) as f64,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_stays_under_its_byte_bound_while_writers_outrun_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let registry = Registry::new();
    let replica = Replica::start(
        ReplicaConfig {
            data_dir: dir.path().to_path_buf(),
            shard: 0,
            id: 1,
            peers: Peers(BTreeMap::from([(1, addr)])),
            initial_voters: None,
            engine: EngineOptions::default(),
            raft: RaftOptions {
                // Only the byte bound asks for snapshots.
                snapshot_every: 1_000_000,
                log_max_bytes: BOUND,
                ..RaftOptions::default()
            },
        },
        &registry,
    )
    .await
    .unwrap();
    replica
        .raft()
        .wait(Some(Duration::from_secs(20)))
        .current_leader(1, "leads its group of one")
        .await
        .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let (peak, peak_held) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let watcher = {
        let (replica, done) = (replica.clone(), done.clone());
        let (peak, peak_held) = (peak.clone(), peak_held.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(replica.log_since_snapshot(), Ordering::AcqRel);
                peak_held.fetch_max(replica.log_size().bytes, Ordering::AcqRel);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let client = replica.local_storage();
            tokio::spawn(async move {
                let mut written = 0;
                for n in 0..BATCHES {
                    written += client.write(batch(w, n)).await.unwrap();
                }
                written
            })
        })
        .collect();
    let mut written = 0;
    for w in writers {
        written += w.await.unwrap();
    }
    done.store(true, Ordering::Release);
    watcher.await.unwrap();

    // Everything written is stored.
    let total = (WRITERS * BATCHES * SERIES_PER_BATCH) as u64;
    assert_eq!(written, total);
    let stored = replica
        .local_storage()
        .series(SeriesRequest {
            match_sets: vec![],
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(stored.len() as u64, total);

    // The log passed through many times its bound, and never held more than it.
    let snapshot = replica
        .raft()
        .metrics()
        .borrow()
        .snapshot
        .map_or(0, |l| l.index);
    assert!(
        snapshot as usize >= WRITERS * BATCHES / 4,
        "snapshots were taken (the last at {snapshot})"
    );
    let (peak, peak_held) = (
        peak.load(Ordering::Acquire),
        peak_held.load(Ordering::Acquire),
    );
    assert!(peak > 0, "the watcher saw the log grow");
    assert!(
        peak <= BOUND,
        "the log held {peak} bytes since its last snapshot, over its bound of {BOUND}"
    );
    // Writes did wait for room (the gate, not luck, held the bound), and none failed.
    let waits = registry
        .gather()
        .iter()
        .find(|f| f.name() == "telltale_raft_log_full_waits_total")
        .map_or(0.0, |f| f.get_metric()[0].get_counter().value());
    assert!(waits > 0.0, "no write waited for room in the log");
    // The entries up to a new snapshot are purged right after it is built.
    assert!(
        peak_held <= BOUND + BOUND / 2,
        "the log held {peak_held} bytes in all"
    );
    replica.shutdown().await;
}
