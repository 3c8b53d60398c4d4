//! The admin service on a shard of three in-process replicas: a delete goes through the
//! Raft log to every replica, and a replica that joins after the log holding it was
//! purged gets it with the snapshot it installs; clean_tombstones applies on every
//! replica and answers the same.

use std::time::{Duration, Instant};

use telltale_storage_api::cluster::{ShardMap, ShardedOptions, ShardedStorage};
use telltale_storage_api::raft_pb::raft_client::RaftClient;
use telltale_storage_api::raft_pb::{ChangeMembershipRequest, Member};
use telltale_storage_api::{
    DeleteSeriesRequest, Label, MatchOp, Matcher, MatcherSet, Sample, SampleReader, SampleWriter,
    SelectRequest, Selection, StorageAdmin, TimeSeries,
};

mod common;
use common::{group_of, start, status, wait_leader};

const T0: i64 = 1_700_000_000_000;

/// Batch `b`: one sample at `T0 + b s` for each of four series.
fn batch(b: i64) -> Vec<TimeSeries> {
    (0..4)
        .map(|s| TimeSeries {
            labels: vec![
                Label::new("__name__", "admin_metric"),
                Label::new("series", s.to_string()),
            ],
            samples: vec![Sample {
                timestamp_ms: T0 + b * 1000,
                value: b as f64,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect()
}

/// Samples per series as `reader` answers.
async fn samples(reader: &ShardedStorage) -> Vec<(String, usize)> {
    let got = reader
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "admin_metric")],
            start_ms: 0,
            end_ms: i64::MAX,
            resolution: 0,
        }))
        .await
        .unwrap();
    got.iter()
        .map(|s| (s.label("series").unwrap().to_string(), s.count() as usize))
        .collect()
}

/// A reader of the replica at `address` alone (follower reads).
fn only(address: &str) -> ShardedStorage {
    ShardedStorage::new(
        ShardMap::parse(&format!("0={address}")).unwrap(),
        ShardedOptions {
            follower_reads: true,
            max_follower_lag: u64::MAX,
            ..ShardedOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .unwrap()
}

/// Waits until the replica at `address` applied `index`.
async fn applied(address: &str, index: u64) -> telltale_storage_api::raft_pb::StatusResponse {
    let t0 = Instant::now();
    loop {
        let s = status(address).await.unwrap();
        if s.applied_index >= index {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{address} behind: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletes_reach_every_replica_and_a_new_one_by_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut listeners, addrs, peers) = group_of(4, 3).await;
    let fourth = listeners.pop().unwrap();
    let mut nodes = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        nodes.push(start(dir.path(), i as u64 + 1, &peers, l).await);
    }
    let (leader, _) = wait_leader(&addrs[..3], None).await;
    let client = ShardedStorage::new(
        ShardMap::parse(&format!("0={}", addrs[..3].join(","))).unwrap(),
        ShardedOptions::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();
    for b in 0..30 {
        client.write(batch(b)).await.unwrap();
    }
    // Delete series 1 over the first 20 seconds, through the leader's log.
    client
        .delete_series(DeleteSeriesRequest {
            match_sets: vec![MatcherSet {
                matchers: vec![Matcher::new(MatchOp::Equal, "series", "1")],
            }],
            start_ms: i64::MIN,
            end_ms: T0 + 19_999,
        })
        .await
        .unwrap();
    // Enough writes after it for snapshots (every 20 entries) to purge the log past it.
    for b in 30..80 {
        client.write(batch(b)).await.unwrap();
    }
    let want = vec![
        ("0".to_string(), 80),
        ("1".to_string(), 60),
        ("2".to_string(), 80),
        ("3".to_string(), 80),
    ];
    let last = status(&addrs[leader as usize - 1])
        .await
        .unwrap()
        .last_log_index;
    for a in &addrs[..3] {
        applied(a, last).await;
        assert_eq!(samples(&only(a)).await, want, "replica {a}");
    }

    // Replica 4 joins with an empty disk: the log before the snapshot is gone, so the
    // delete reaches it inside the snapshot.
    let mut all = peers.clone();
    all.0.insert(4, addrs[3].clone());
    nodes.push(start(dir.path(), 4, &all, fourth).await);
    let members: Vec<Member> = nodes
        .iter()
        .map(|n| Member {
            id: n.id,
            address: n.address.clone(),
        })
        .collect();
    let changed = RaftClient::connect(format!("http://{}", addrs[leader as usize - 1]))
        .await
        .unwrap()
        .change_membership(ChangeMembershipRequest { members })
        .await
        .unwrap()
        .into_inner();
    let joined = applied(&addrs[3], changed.log_index).await;
    assert!(
        joined.snapshot_index > 0,
        "caught up by snapshot: {joined:?}"
    );
    assert_eq!(samples(&only(&addrs[3])).await, want, "the new replica");

    // Cleaning goes through the log too; every replica answers the same after it.
    client.clean_tombstones().await.unwrap();
    let (leader, _) = wait_leader(&addrs, None).await;
    let last = status(&addrs[leader as usize - 1])
        .await
        .unwrap()
        .last_log_index;
    for a in &addrs {
        applied(a, last).await;
        assert_eq!(samples(&only(a)).await, want, "replica {a} after the clean");
    }
    for mut n in nodes {
        let _ = n.stop.take().unwrap().send(());
        let _ = n.task.await;
    }
}
