//! Ingest cost of replication: the same write load into a 1-replica and a 3-replica
//! shard (in-process replicas on loopback gRPC), reporting process CPU per million
//! samples (total and per replica) and the client's write latency p50/p99 from send to
//! acknowledgment. Ignored by default (it measures, it does not check much):
//! `cargo test --release -p telltale-replica --test bench -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage::EngineOptions;
use telltale_storage_api::cluster::{ShardMap, ShardedOptions, ShardedStorage};
use telltale_storage_api::{Label, Sample, SampleWriter, TimeSeries};

/// Seconds of CPU this process used (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 0, utime 11, stime 12 (clock ticks).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

struct Result {
    replicas: usize,
    samples: u64,
    cpu: f64,
    p50: Duration,
    p99: Duration,
    wall: Duration,
}

async fn run(replicas: u64, batches: usize, series_per_batch: usize) -> Result {
    let dir = tempfile::tempdir().unwrap();
    let mut listeners = Vec::new();
    for _ in 0..replicas {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let peers = Peers(
        listeners
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.local_addr().unwrap().to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    let mut stops = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let id = i as u64 + 1;
        let config = ReplicaConfig {
            data_dir: dir.path().join(format!("r{id}")),
            shard: 0,
            id,
            peers: peers.clone(),
            initial_voters: None,
            engine: EngineOptions::default(),
            raft: RaftOptions::default(),
        };
        let replica = Replica::start(config, &prometheus::Registry::new())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push((
            tx,
            tokio::spawn(replica.serve(l, async {
                let _ = rx.await;
            })),
        ));
    }
    let map = ShardMap::parse(&format!(
        "0={}",
        peers.0.values().cloned().collect::<Vec<_>>().join(",")
    ))
    .unwrap();
    let client =
        ShardedStorage::new(map, ShardedOptions::default(), &prometheus::Registry::new()).unwrap();
    // Wait for a leader: the first write succeeds.
    let warm = |b: usize| -> Vec<TimeSeries> {
        (0..series_per_batch)
            .map(|s| TimeSeries {
                labels: vec![
                    Label::new("__name__", "node_cpu_seconds_total"),
                    Label::new("instance", format!("host-{}", s / 8)),
                    Label::new("cpu", (s % 8).to_string()),
                ],
                samples: vec![Sample {
                    timestamp_ms: 1_700_000_000_000 + b as i64 * 10_000,
                    value: (b * s) as f64,
                }],
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect()
    };
    client.write(warm(0)).await.unwrap();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut latencies = Vec::with_capacity(batches);
    let mut samples = 0;
    for b in 1..=batches {
        let batch = warm(b);
        let t = Instant::now();
        samples += client.write(batch).await.unwrap();
        latencies.push(t.elapsed());
    }
    let wall = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    for (tx, task) in stops {
        let _ = tx.send(());
        let _ = task.await;
    }
    Result {
        replicas: replicas as usize,
        samples,
        cpu,
        p50: pick(0.5),
        p99: pick(0.99),
        wall,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn one_versus_three_replicas() {
    let (batches, per_batch) = (400, 500);
    for replicas in [1, 3] {
        let r = run(replicas, batches, per_batch).await;
        let per_million = r.cpu / (r.samples as f64 / 1e6);
        println!(
            "{} replica(s): {} samples in {:?}; CPU {:.2} s = {:.2} CPU-s per million samples ({:.2} per replica); write latency p50 {:?}, p99 {:?}",
            r.replicas,
            r.samples,
            r.wall,
            r.cpu,
            per_million,
            per_million / r.replicas as f64,
            r.p50,
            r.p99
        );
        assert_eq!(r.samples, (batches * per_batch) as u64);
    }
}
