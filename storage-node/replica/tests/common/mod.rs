//! In-process replicas of one shard on loopback ports, for the group tests: starting
//! them, their Raft status, waiting for a leader.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage::EngineOptions;
use telltale_storage_api::raft_pb::raft_client::RaftClient;
use telltale_storage_api::raft_pb::{StatusRequest, StatusResponse};
use tokio::sync::oneshot;

/// A replica serving on its listener until `stop` is sent.
pub struct Running {
    pub id: u64,
    pub address: String,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn free_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub async fn start(
    dir: &Path,
    id: u64,
    peers: &Peers,
    listener: tokio::net::TcpListener,
) -> Running {
    start_with(dir, id, peers, None, listener).await
}

pub async fn start_with(
    dir: &Path,
    id: u64,
    peers: &Peers,
    initial_voters: Option<usize>,
    listener: tokio::net::TcpListener,
) -> Running {
    start_tls(dir, id, peers, initial_voters, listener, None).await
}

/// [`start_with`], serving over mutual TLS with `tls`.
pub async fn start_tls(
    dir: &Path,
    id: u64,
    peers: &Peers,
    initial_voters: Option<usize>,
    listener: tokio::net::TcpListener,
    tls: Option<std::sync::Arc<telltale_storage_api::tls::ServerTls>>,
) -> Running {
    let config = ReplicaConfig {
        data_dir: dir.join(format!("r{id}")),
        shard: 0,
        id,
        peers: peers.clone(),
        initial_voters,
        engine: EngineOptions::default(),
        raft: RaftOptions {
            snapshot_every: 20,
            logs_to_keep: 5,
            ..RaftOptions::default()
        },
    };
    let address = listener.local_addr().unwrap().to_string();
    let replica = Replica::start(config, &prometheus::Registry::new())
        .await
        .unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        replica
            .serve_tls(listener, tls, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        id,
        address,
        stop: Some(tx),
        task,
    }
}

/// `n` bound loopback listeners, their addresses, and the first `peers` of them as the
/// peers of a group.
pub async fn group_of(n: usize, peers: u64) -> (Vec<tokio::net::TcpListener>, Vec<String>, Peers) {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(free_listener().await);
    }
    let addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let peers = Peers(
        (1..=peers)
            .map(|i| (i, addrs[i as usize - 1].clone()))
            .collect::<BTreeMap<_, _>>(),
    );
    (listeners, addrs, peers)
}

pub async fn status(address: &str) -> Option<StatusResponse> {
    let mut c = RaftClient::connect(format!("http://{address}"))
        .await
        .ok()?;
    Some(c.status(StatusRequest {}).await.ok()?.into_inner())
}

pub async fn wait_leader(addresses: &[String], not: Option<u64>) -> (u64, Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        for a in addresses {
            if let Some(s) = status(a).await
                && s.role == "leader"
                && Some(s.id) != not
            {
                return (s.id, t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no leader elected in 20 s");
}

/// A group of one on a loopback listener, leading, served until the sender is used.
pub async fn one_replica(
    dir: &Path,
) -> (
    Replica,
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = free_listener().await;
    let addr = listener.local_addr().unwrap().to_string();
    let config = ReplicaConfig {
        data_dir: dir.to_path_buf(),
        shard: 0,
        id: 1,
        peers: Peers(BTreeMap::from([(1, addr.clone())])),
        initial_voters: None,
        engine: EngineOptions::default(),
        raft: RaftOptions::default(),
    };
    let replica = Replica::start(config, &prometheus::Registry::new())
        .await
        .unwrap();
    replica
        .raft()
        .wait(Some(Duration::from_secs(20)))
        .current_leader(1, "leads its group of one")
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = replica.clone();
    let server = tokio::spawn(async move {
        served
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (replica, addr, stop, server)
}

/// How many samples of `metric` a Select through `client` streams back.
pub async fn count_selected(
    client: &mut telltale_storage_api::pb::storage_client::StorageClient<tonic::transport::Channel>,
    metric: &str,
) -> usize {
    use telltale_storage_api::{MatchOp, Matcher, SelectRequest, Selection};
    let mut stream = client
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", metric)],
            start_ms: 0,
            end_ms: i64::MAX,
            resolution: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(resp) = stream.message().await.unwrap() {
        n += resp
            .series
            .iter()
            .map(|s| s.count() as usize)
            .sum::<usize>();
    }
    n
}
