//! A shard of three in-process replicas on loopback ports: writes through the sharded
//! client are acknowledged after a quorum commit and readable; the leader stops and a
//! new one takes over without losing acknowledged samples; a retried batch changes
//! nothing; a replica added by `ChangeMembership` after the log was compacted catches up
//! by snapshot.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use telltale_storage_api::cluster::reconcile::{ChangeOptions, change_voters};
use telltale_storage_api::cluster::{ShardMap, ShardedOptions, ShardedStorage};
use telltale_storage_api::pb::storage_client::StorageClient;
use telltale_storage_api::pb::{MatcherSet, SelectRequest, Selection, WriteRequest};
use telltale_storage_api::raft_pb::raft_client::RaftClient;
use telltale_storage_api::raft_pb::{ChangeMembershipRequest, Member};
use telltale_storage_api::{
    FloatHistogram, Label, MatchOp, Matcher, Sample, SampleReader, SampleWriter, TimeSeries,
};

mod common;
use common::{group_of, start, start_with, status, wait_leader};

/// Four float series and one native histogram series, one sample each.
fn series(batch: i64) -> Vec<TimeSeries> {
    let mut out: Vec<TimeSeries> = (0..4)
        .map(|s| TimeSeries {
            labels: vec![
                Label::new("__name__", "test_metric"),
                Label::new("series", s.to_string()),
            ],
            samples: vec![Sample {
                timestamp_ms: 1_700_000_000_000 + batch * 1000,
                value: batch as f64,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect();
    out.push(TimeSeries {
        labels: vec![
            Label::new("__name__", "test_metric"),
            Label::new("series", "histogram"),
        ],
        histograms: vec![histogram(batch).to_proto(1_700_000_000_000 + batch * 1000)],
        ..TimeSeries::default()
    });
    out
}

/// The histogram sample of batch `batch`.
fn histogram(batch: i64) -> FloatHistogram {
    let n = batch as f64;
    let mut h = FloatHistogram {
        schema: 3,
        count: 3.0 * n,
        sum: 1.5 * n,
        ..FloatHistogram::default()
    };
    h.set_positive([(1, n), (4, 2.0 * n)]);
    h
}

async fn count_samples(reader: &ShardedStorage) -> usize {
    let got = reader
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "test_metric")],
            start_ms: 0,
            end_ms: i64::MAX,
            resolution: 0,
        }))
        .await
        .unwrap();
    got.iter().map(|s| s.count() as usize).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shard_survives_its_leader_and_catches_up_a_new_replica_by_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut listeners, addrs, peers) = group_of(4, 3).await;
    let mut nodes = Vec::new();
    let fourth = listeners.pop().unwrap();
    for (i, l) in listeners.into_iter().enumerate() {
        nodes.push(start(dir.path(), i as u64 + 1, &peers, l).await);
    }
    let (leader, elected_in) = wait_leader(&addrs[..3], None).await;
    eprintln!("first leader {leader} after {elected_in:?}");

    let map = ShardMap::parse(&format!("0={}", addrs[..3].join(","))).unwrap();
    let client =
        ShardedStorage::new(map, ShardedOptions::default(), &prometheus::Registry::new()).unwrap();
    for b in 0..30 {
        assert_eq!(client.write(series(b)).await.unwrap(), 5);
    }
    assert_eq!(count_samples(&client).await, 150);

    // A follower refuses writes and names the leader.
    let follower = nodes.iter().find(|n| n.id != leader).unwrap();
    let mut raw = StorageClient::connect(format!("http://{}", follower.address))
        .await
        .unwrap();
    let err = raw
        .write(WriteRequest { series: series(99) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let named = err
        .metadata()
        .get("telltale-leader")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(named, addrs[leader as usize - 1]);

    // A retried batch (same writer id and batch number) changes nothing.
    let leader_addr = &addrs[leader as usize - 1];
    let mut to_leader = StorageClient::connect(format!("http://{leader_addr}"))
        .await
        .unwrap();
    for _ in 0..2 {
        let mut req = tonic::Request::new(WriteRequest {
            series: series(1000),
        });
        req.metadata_mut()
            .insert("telltale-client-id", "77".parse().unwrap());
        req.metadata_mut()
            .insert("telltale-batch-seq", "1".parse().unwrap());
        to_leader.write(req).await.unwrap();
    }
    let mut older = series(1001);
    older.truncate(1);
    let mut req = tonic::Request::new(WriteRequest { series: older });
    req.metadata_mut()
        .insert("telltale-client-id", "77".parse().unwrap());
    req.metadata_mut()
        .insert("telltale-batch-seq", "1".parse().unwrap());
    to_leader.write(req).await.unwrap();
    assert_eq!(
        count_samples(&client).await,
        155,
        "the resent batches were applied once"
    );

    // Stop the leader: a new one is elected and acknowledged samples stay.
    let pos = nodes.iter().position(|n| n.id == leader).unwrap();
    let mut old = nodes.remove(pos);
    let _ = old.stop.take().unwrap().send(());
    let _ = old.task.await;
    let rest: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    let (new_leader, failover) = wait_leader(&rest, Some(leader)).await;
    eprintln!("new leader {new_leader} after {failover:?}");
    for b in 30..60 {
        assert_eq!(client.write(series(b)).await.unwrap(), 5);
    }
    assert_eq!(count_samples(&client).await, 305);

    // Membership change: add replica 4 (empty disk) as a voter; the log was compacted
    // (a snapshot every 20 entries), so it catches up by snapshot.
    let mut all = peers.clone();
    all.0.insert(4, addrs[3].clone());
    nodes.push(start(dir.path(), 4, &all, fourth).await);
    let new_addr = &addrs[new_leader as usize - 1];
    let mut admin = RaftClient::connect(format!("http://{new_addr}"))
        .await
        .unwrap();
    let members: Vec<Member> = nodes
        .iter()
        .map(|n| Member {
            id: n.id,
            address: n.address.clone(),
        })
        .collect();
    let changed = admin
        .change_membership(ChangeMembershipRequest { members })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<u64> = changed.members.iter().map(|m| m.id).collect();
    assert!(ids.contains(&4) && !ids.contains(&leader), "{ids:?}");
    let t0 = Instant::now();
    let joined = loop {
        let s = status(&addrs[3]).await.unwrap();
        if s.applied_index >= changed.log_index {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "replica 4 did not catch up: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        joined.snapshot_index > 0,
        "caught up by snapshot: {joined:?}"
    );
    // Its own engine answers a follower read with everything.
    let only4 = ShardMap::parse(&format!("0={}", addrs[3])).unwrap();
    let follower_reader = ShardedStorage::new(
        only4,
        ShardedOptions {
            follower_reads: true,
            max_follower_lag: u64::MAX,
            ..ShardedOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .unwrap();
    assert_eq!(count_samples(&follower_reader).await, 305);
    // The histogram samples came through the log and the snapshot unchanged.
    let got = follower_reader
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "series", "histogram")],
            start_ms: 0,
            end_ms: i64::MAX,
            resolution: 0,
        }))
        .await
        .unwrap();
    let want: Vec<(i64, FloatHistogram)> = (0..60)
        .chain([1000])
        .map(|b| (1_700_000_000_000 + b * 1000, histogram(b)))
        .collect();
    let read: Vec<(i64, FloatHistogram)> = got[0]
        .histograms()
        .unwrap()
        .into_iter()
        .map(|(t, h)| (t, std::sync::Arc::unwrap_or_clone(h)))
        .collect();
    assert_eq!(read, want);
    let _ = MatcherSet::default();
    for mut n in nodes {
        let _ = n.stop.take().unwrap().send(());
        let _ = n.task.await;
    }
}

/// The operator's layout: every replica a shard can have is a peer, the group is created
/// with the first of them, and the others join by membership change. A replica that
/// returns with an empty disk while the group exists rejoins it instead of creating a
/// second group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_beyond_the_initial_voters_wait_to_be_added() {
    let dir = tempfile::tempdir().unwrap();
    let (listeners, addrs, peers) = group_of(3, 3).await;
    let mut nodes = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        nodes.push(start_with(dir.path(), i as u64 + 1, &peers, Some(1), l).await);
    }
    let (leader, _) = wait_leader(&addrs, None).await;
    assert_eq!(leader, 1, "the lowest initial voter creates the group");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let one = status(&addrs[0]).await.unwrap();
    assert_eq!(one.voters.iter().map(|m| m.id).collect::<Vec<_>>(), [1]);
    for a in &addrs[1..] {
        assert!(
            !status(a).await.unwrap().initialized,
            "{a} joined by itself"
        );
    }

    let all: BTreeMap<u64, String> = peers.0.clone();
    let changed = change_voters(&all, &[1, 2, 3].into(), &ChangeOptions::default())
        .await
        .unwrap();
    assert!(changed.complete);
    assert_eq!(changed.group.voters, [1, 2, 3].into());
    let map = ShardMap::parse(&format!("0={}", addrs.join(","))).unwrap();
    let client =
        ShardedStorage::new(map, ShardedOptions::default(), &prometheus::Registry::new()).unwrap();
    for b in 0..30 {
        assert_eq!(client.write(series(b)).await.unwrap(), 5);
    }

    // Replica 1 (the one that would create a group) loses its disk and comes back.
    let mut first = nodes.remove(0);
    first.stop.take().unwrap().send(()).unwrap();
    first.task.await.unwrap();
    // The stopped replica's RocksDB may still be closing on a background thread (files
    // appear while the directory is removed): retry until it is gone.
    let mut tries = 0;
    while let Err(e) = std::fs::remove_dir_all(dir.path().join("r1")) {
        tries += 1;
        assert!(
            tries < 50,
            "cannot remove the stopped replica's directory: {e}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (new_leader, _) = wait_leader(&addrs[1..], Some(1)).await;
    let l = tokio::net::TcpListener::bind(&addrs[0]).await.unwrap();
    nodes.push(start_with(dir.path(), 1, &peers, Some(1), l).await);
    let t0 = Instant::now();
    loop {
        let s = status(&addrs[0]).await;
        if let Some(s) = &s
            && s.initialized
        {
            let voters: Vec<u64> = s.voters.iter().map(|m| m.id).collect();
            assert_eq!(
                voters,
                [1, 2, 3],
                "replica 1 started a group of its own: {s:?}"
            );
            if s.applied_index > 0 && s.leader_id == new_leader {
                break;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "replica 1 did not rejoin: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count_samples(&client).await, 150);
    for mut n in nodes {
        n.stop.take().unwrap().send(()).unwrap();
        let _ = n.task.await;
    }
}
