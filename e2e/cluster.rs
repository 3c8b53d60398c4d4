//! Fault tests of replicated, sharded storage with real processes:
//! (a) `telltale dev-cluster` under a steady remote_write load while the leader of a
//!     shard is killed with SIGKILL ten times: every acknowledged sample is readable,
//!     a new leader comes within a few election timeouts, writes resume;
//! (b) three `telltale storage` replicas that reach each other only through TCP proxies
//!     this test controls: the leader is cut off, the minority stops acknowledging, the
//!     majority elects, the old leader rejoins as a follower, nothing acknowledged is
//!     lost and the replicas converge;
//! (c) one replica's disk is wiped: it catches up by snapshot;
//! (d) every replica restarts at once: the data is intact;
//! (e) the query role's result cache over two shards sees samples backfilled on both.
//! Failover times and acknowledged-then-lost counts are printed (`--nocapture`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dev_cluster::DevCluster;
use common::{Proc, TELLTALE, free_port, get_json, raft_status, remote_write, wait_ready};
use telltale_storage_api::cluster::{ShardMap, ShardedOptions, ShardedStorage};
use telltale_storage_api::pb::WriteRequest;
use telltale_storage_api::pb::storage_client::StorageClient;
use telltale_storage_api::{
    Label, MatchOp, Matcher, SampleReader, SampleWriter, SelectRequest, Selection,
};

/// One heavy test at a time: each starts several processes on a small machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const METRIC: &str = "cluster_test_samples";
/// Sample times start an hour ago (inside every retention), on a whole second.
fn base_ts() -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| (common::now_ms() - 3_600_000) / 1000 * 1000)
}

/// Every (series, timestamp) the cluster acknowledged.
type Acked = Arc<Mutex<BTreeSet<(String, i64)>>>;

async fn read_all(reader: &ShardedStorage) -> BTreeSet<(String, i64)> {
    let got = reader
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", METRIC)],
            start_ms: 0,
            end_ms: i64::MAX,
            resolution: 0,
        }))
        .await
        .expect("read every shard");
    got.iter()
        .flat_map(|s| {
            let id = s.label("writer").unwrap_or_default().to_string();
            let samples = s.samples().expect("chunks decode");
            samples.into_iter().map(move |p| (id.clone(), p.0))
        })
        .collect()
}

fn lost(acked: &Acked, found: &BTreeSet<(String, i64)>) -> usize {
    acked.lock().unwrap().difference(found).count()
}

fn kill9(pid: u64) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

// ---------------------------------------------------------------------------------------
// (a) dev-cluster, leader killed ten times under load

/// POSTs a remote_write request; true only for a 2xx answer (a connection error or a
/// timeout is simply not an acknowledgment).
/// Pushes batches through remote_write until `stop`; records what was acknowledged.
async fn remote_write_load(
    loader: usize,
    base: String,
    acked: Acked,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let mut batch = 0i64;
    while !stop.load(Ordering::Relaxed) {
        let ts = base_ts() + batch * 1000;
        let series: Vec<_> = (0..16)
            .map(|w| {
                let writer = format!("l{loader}w{w}");
                remote_write::series(
                    &[("__name__", METRIC), ("writer", &writer)],
                    ts,
                    batch as f64,
                )
            })
            .collect();
        sent.fetch_add(16, Ordering::Relaxed);
        if remote_write::acknowledged(&base, series).await {
            let mut a = acked.lock().unwrap();
            for w in 0..16 {
                a.insert((format!("l{loader}w{w}"), ts));
            }
        }
        batch += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_killed_ten_times_under_load_loses_nothing() {
    let _serial = SERIAL.lock().await;
    // Kept when the test fails (the replicas' logs are there).
    let dir = tempfile::tempdir().unwrap().keep();
    let cluster = DevCluster::start(&dir.as_path().join("cluster"), 2).await;
    assert!(
        cluster.settled(5, Duration::from_secs(30)).await,
        "cluster did not settle"
    );
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let loads: Vec<_> = (0..4)
        .map(|l| {
            tokio::spawn(remote_write_load(
                l,
                cluster.base.clone(),
                acked.clone(),
                stop.clone(),
                sent.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut failovers = Vec::new();
    for round in 0..10 {
        let shard = round % 2;
        let (leader, pid) = cluster
            .leader(shard, None, Duration::from_secs(20))
            .await
            .expect("a leader");
        let before = acked.lock().unwrap().len();
        kill9(pid);
        let t0 = Instant::now();
        let (new_leader, _) = cluster
            .leader(shard, Some(leader), Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("round {round}: no new leader for shard {shard}"));
        let failover = t0.elapsed();
        failovers.push(failover);
        eprintln!(
            "round {round}: shard {shard} leader {leader} (pid {pid}) killed; replica {new_leader} leads after {failover:?}"
        );
        // Writes resume.
        let t1 = Instant::now();
        while acked.lock().unwrap().len() <= before + 64 {
            assert!(
                t1.elapsed() < Duration::from_secs(30),
                "round {round}: writes did not resume"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The killed replica is restarted (--restart-dead) and catches up before the next round.
        assert!(
            cluster.settled(400, Duration::from_secs(60)).await,
            "round {round}: the cluster did not recover: {}",
            cluster.status().await
        );
    }
    stop.store(true, Ordering::Relaxed);
    for l in loads {
        l.await.unwrap();
    }
    let reader = ShardedStorage::new(
        cluster.shard_map().await,
        ShardedOptions::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();
    let found = read_all(&reader).await;
    let acked_n = acked.lock().unwrap().len();
    let lost_n = lost(&acked, &found);
    let max = failovers.iter().max().unwrap();
    let mean = failovers.iter().sum::<Duration>() / failovers.len() as u32;
    eprintln!(
        "kill -9 of the leader x10: failover mean {mean:?}, max {max:?}; samples sent {}, acknowledged {acked_n}, acknowledged-then-lost {lost_n}",
        sent.load(Ordering::Relaxed)
    );
    assert!(acked_n > 1000, "too few acknowledged samples: {acked_n}");
    assert_eq!(lost_n, 0, "acknowledged samples were lost");
    assert!(*max < Duration::from_secs(10), "failover took {max:?}");
    // The query role of the dev cluster, and a separate `telltale query --shard-map`,
    // see every series of every shard.
    let expr = format!("count(last_over_time({METRIC}[2h]))");
    let at = (base_ts() / 1000 + 1800) as f64;
    let count = |r: Vec<serde_json::Value>| r.first().map(common::value_of).unwrap_or(0.0);
    assert_eq!(
        count(common::query_at_time(&cluster.base, &expr, at).await),
        64.0
    );
    let query_port = free_port();
    let mut query = Proc::spawn(
        "query",
        Command::new(TELLTALE)
            .arg("query")
            .arg("--shard-map")
            .arg(dir.join("cluster").join("shard-map.yaml"))
            .args(["--listen", &format!("127.0.0.1:{query_port}")]),
        dir.join("query.log"),
    );
    let query_base = format!("http://127.0.0.1:{query_port}");
    wait_ready(&mut query, &format!("{query_base}/-/ready")).await;
    assert_eq!(
        count(common::query_at_time(&query_base, &expr, at).await),
        64.0
    );
    query.kill9();
    let status = cluster.status().await;
    let mut cluster = cluster;
    cluster.proc.kill9();
    for pid in DevCluster::pids(&status) {
        kill9(pid);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// (b), (c), (d): replicas behind fault-injecting proxies

/// A TCP proxy to `target` that drops every connection (and refuses new ones) while
/// `cut` is set. The cut is atomic for the bytes: each chunk is checked against the flag
/// after it is read and before it is forwarded, so nothing crosses a link once
/// `cut_node` has returned (a polling watcher alone let a few milliseconds of traffic
/// through, enough for a write sent right after the cut to reach a quorum).
async fn proxy(listener: tokio::net::TcpListener, target: String, cut: Arc<AtomicBool>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            return;
        };
        if cut.load(Ordering::SeqCst) {
            drop(inbound);
            continue;
        }
        let target = target.clone();
        let cut = cut.clone();
        tokio::spawn(async move {
            let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                return;
            };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::select! {
                _ = pump(ri, wo, &cut) => {}
                _ = pump(ro, wi, &cut) => {}
            }
        });
    }
}

/// Copies `from` to `to` until either side closes or the link is cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            r = from.read(&mut buf) => r,
            _ = async {
                while !cut.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } => return,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

struct Node {
    id: u64,
    address: String,
    dir: PathBuf,
    peers: String,
    proc: Option<Proc>,
}

impl Node {
    async fn start(&mut self, logs: &Path) {
        let http = free_port();
        let mut cmd = Command::new(TELLTALE);
        cmd.arg("storage")
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--grpc-listen", &self.address])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--shard", "0", "--replica-id", &self.id.to_string()])
            .args(["--peers", &self.peers])
            .args(["--raft-snapshot-every", "50", "--raft-logs-to-keep", "10"])
            .env("TELLTALE_LOG", "info");
        let log = logs.join(format!("replica-{}.{}.log", self.id, free_port()));
        let mut proc = Proc::spawn(&format!("replica {}", self.id), &mut cmd, log);
        wait_ready(&mut proc, &format!("http://127.0.0.1:{http}/-/ready")).await;
        self.proc = Some(proc);
    }

    fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }
}

async fn leader_of(nodes: &[Node], not: Option<u64>, within: Duration) -> Option<u64> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        for n in nodes
            .iter()
            .filter(|n| n.proc.is_some() && Some(n.id) != not)
        {
            if let Some(s) = raft_status(&n.address).await
                && s.role == "leader"
            {
                return Some(s.id);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn batch(writer: &str, from: i64, n: i64) -> Vec<telltale_storage_api::TimeSeries> {
    vec![telltale_storage_api::TimeSeries {
        labels: vec![Label::new("__name__", METRIC), Label::new("writer", writer)],
        samples: (from..from + n)
            .map(|i| telltale_storage_api::Sample {
                timestamp_ms: base_ts() + i * 1000,
                value: i as f64,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }]
}

async fn write_batches(client: &ShardedStorage, acked: &Acked, writer: &str, from: i64, n: i64) {
    for i in from..from + n {
        if client.write(batch(writer, i, 1)).await.is_ok() {
            acked
                .lock()
                .unwrap()
                .insert((writer.to_string(), base_ts() + i * 1000));
        }
    }
}

/// What one replica holds, read from it alone (a follower read).
async fn read_replica(address: &str) -> BTreeSet<(String, i64)> {
    let reader = ShardedStorage::new(
        ShardMap::parse(&format!("0={address}")).unwrap(),
        ShardedOptions {
            follower_reads: true,
            max_follower_lag: u64::MAX,
            ..ShardedOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .unwrap();
    read_all(&reader).await
}

/// Waits until every running replica applied the same index and holds the same samples.
async fn converged(nodes: &[Node], within: Duration) -> BTreeSet<(String, i64)> {
    let t0 = Instant::now();
    loop {
        let mut applied = BTreeSet::new();
        let mut contents = Vec::new();
        for n in nodes {
            let s = raft_status(&n.address).await.map(|s| s.applied_index);
            applied.insert(s);
            contents.push(read_replica(&n.address).await);
        }
        if applied.len() == 1 && contents.windows(2).all(|w| w[0] == w[1]) {
            return contents.pop().unwrap();
        }
        if t0.elapsed() > within {
            for n in nodes {
                eprintln!("replica {}: {:?}", n.id, raft_status(&n.address).await);
            }
            panic!(
                "replicas did not converge: applied {applied:?}, sizes {:?}",
                contents.iter().map(BTreeSet::len).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partition_wipe_and_full_restart_keep_every_acknowledged_sample() {
    let _serial = SERIAL.lock().await;
    // Kept when the test fails (the replicas' logs are there).
    let dir = tempfile::tempdir().unwrap().keep();
    let ids = [1u64, 2, 3];
    let real: BTreeMap<u64, String> = ids
        .iter()
        .map(|id| (*id, format!("127.0.0.1:{}", free_port())))
        .collect();
    // One proxy per ordered pair; cutting a node cuts every link to and from it.
    let mut routes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut links = Vec::new();
    for from in ids {
        for to in ids.iter().copied().filter(|to| *to != from) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            routes.insert((from, to), listener.local_addr().unwrap().to_string());
            // A link is cut when either end is cut.
            let link = Arc::new(AtomicBool::new(false));
            links.push((from, to, link.clone()));
            tokio::spawn(proxy(listener, real[&to].clone(), link));
        }
    }
    let cut_node = |id: u64, on: bool| {
        for (from, to, link) in &links {
            if *from == id || *to == id {
                link.store(on, Ordering::SeqCst);
            }
        }
    };
    let mut nodes: Vec<Node> = ids
        .iter()
        .map(|id| {
            let peers: Vec<String> = ids
                .iter()
                .map(|p| {
                    let a = if p == id {
                        real[p].clone()
                    } else {
                        routes[&(*id, *p)].clone()
                    };
                    format!("{p}={a}")
                })
                .collect();
            Node {
                id: *id,
                address: real[id].clone(),
                dir: dir.as_path().join(format!("replica-{id}")),
                peers: peers.join(","),
                proc: None,
            }
        })
        .collect();
    for n in &mut nodes {
        n.start(dir.as_path()).await;
    }
    let client = ShardedStorage::new(
        ShardMap::parse(&format!(
            "0={}",
            real.values().cloned().collect::<Vec<_>>().join(",")
        ))
        .unwrap(),
        ShardedOptions {
            request_timeout: Duration::from_secs(2),
            ..ShardedOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .unwrap();
    let acked: Acked = Arc::default();
    let leader = leader_of(&nodes, None, Duration::from_secs(30))
        .await
        .expect("a leader");
    write_batches(&client, &acked, "before", 0, 120).await;
    assert_eq!(acked.lock().unwrap().len(), 120);

    // (b) Cut the leader off.
    cut_node(leader, true);
    let t0 = Instant::now();
    // The minority stops acknowledging (tried while the majority elects).
    let address = real[&leader].clone();
    let minority = tokio::spawn(async move {
        let mut direct = StorageClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        let mut req = tonic::Request::new(WriteRequest {
            series: batch("minority", 0, 1),
        });
        req.set_timeout(Duration::from_secs(3));
        direct.write(req).await.is_err()
    });
    let majority_leader = leader_of(&nodes, Some(leader), Duration::from_secs(20))
        .await
        .expect("the majority elects a leader");
    let failover = t0.elapsed();
    assert!(
        minority.await.unwrap(),
        "a cut-off leader acknowledged a write"
    );
    write_batches(&client, &acked, "during", 0, 60).await;
    assert_eq!(
        acked.lock().unwrap().len(),
        180,
        "the majority acknowledges writes"
    );
    // Heal: the old leader rejoins as a follower.
    cut_node(leader, false);
    let t1 = Instant::now();
    loop {
        let s = raft_status(&real[&leader]).await;
        if let Some(s) = &s
            && s.role == "follower"
            && s.leader_id != leader
            && s.leader_id != 0
        {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(20),
            "old leader did not rejoin: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = converged(&nodes, Duration::from_secs(30)).await;
    let lost_b = lost(&acked, &all);
    eprintln!(
        "partition: leader {leader} cut off; replica {majority_leader} elected after {failover:?}; acknowledged-then-lost {lost_b}"
    );
    assert_eq!(lost_b, 0);
    assert!(
        !all.iter().any(|(w, _)| w == "minority"),
        "an unacknowledged minority write was committed"
    );

    // (c) Wipe one follower's disk and restart it under the same id: it catches up by
    // snapshot (the log was compacted: a snapshot every 50 entries).
    let current = leader_of(&nodes, None, Duration::from_secs(10))
        .await
        .unwrap();
    let victim = nodes.iter().position(|n| n.id != current).unwrap();
    nodes[victim].kill();
    std::fs::remove_dir_all(&nodes[victim].dir).unwrap();
    write_batches(&client, &acked, "wiped", 0, 60).await;
    let purged = raft_status(&real[&current]).await.unwrap().purged_index;
    assert!(purged > 0, "the leader compacted its log");
    let t2 = Instant::now();
    nodes[victim].start(dir.as_path()).await;
    let all = converged(&nodes, Duration::from_secs(60)).await;
    let s = raft_status(&nodes[victim].address).await.unwrap();
    eprintln!(
        "wiped replica {} caught up in {:?} (snapshot index {})",
        s.id,
        t2.elapsed(),
        s.snapshot_index
    );
    assert!(s.snapshot_index >= purged, "caught up by snapshot: {s:?}");
    assert_eq!(lost(&acked, &all), 0);

    // (d) Restart every replica at once.
    for n in &mut nodes {
        n.kill();
    }
    for n in &mut nodes {
        n.start(dir.as_path()).await;
    }
    leader_of(&nodes, None, Duration::from_secs(30))
        .await
        .expect("a leader after restart");
    write_batches(&client, &acked, "after", 0, 10).await;
    let all = read_all(&client).await;
    let lost_d = lost(&acked, &all);
    eprintln!(
        "full restart: acknowledged {}, acknowledged-then-lost {lost_d}",
        acked.lock().unwrap().len()
    );
    assert_eq!(lost_d, 0);
    assert_eq!(acked.lock().unwrap().len(), 250);
    converged(&nodes, Duration::from_secs(30)).await;
    for n in &mut nodes {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The query role's result cache over a sharded cluster: a repeated range query over
/// settled data is answered from the cache, and samples backfilled into a cached interval
/// (on every shard) are in the next answer. This is the shards' late-write counters,
/// merged (`telltale_storage_api::cluster::merge::merge_late_writes`), at work.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn result_cache_sees_backfill_on_every_shard() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(&dir.path().join("c"), 2).await;
    assert!(
        cluster.settled(5, Duration::from_secs(60)).await,
        "cluster did not settle: {}",
        cluster.status().await
    );
    const N: usize = 20;
    const MIN: i64 = 60_000;
    let now = common::now_ms() / MIN * MIN;
    let t0 = now - 4 * 60 * MIN;
    let sample = |i: usize, ts: i64, v: f64| {
        remote_write::series(&[("__name__", "cache_e2e"), ("i", &i.to_string())], ts, v)
    };
    // 20 series (both shards get some), value 1 every minute for two hours, without
    // samples in [t0 + 33m, t0 + 37m) (within the 5 m lookback); and one sample now, so that the two hours lie
    // before the newest sample minus the out-of-order window (settled, cacheable).
    let mut batch = Vec::new();
    for i in 0..N {
        for m in (0..120).filter(|m| !(33..37).contains(m)) {
            batch.push(sample(i, t0 + m * MIN, 1.0));
        }
        batch.push(sample(i, now, 1.0));
    }
    assert!(
        remote_write::acknowledged(&cluster.base, batch).await,
        "initial write"
    );

    let url = format!(
        "{}/api/v1/query_range?query=sum(cache_e2e)&start={}&end={}&step=60",
        cluster.base,
        t0 / 1000,
        (t0 + 120 * MIN) / 1000
    );
    let at = |answer: &serde_json::Value, t_ms: i64| -> f64 {
        let values = answer["data"]["result"][0]["values"].as_array().unwrap();
        let p = values
            .iter()
            .find(|p| p[0].as_f64() == Some((t_ms / 1000) as f64))
            .unwrap_or_else(|| panic!("no point at {t_ms}: {answer}"));
        p[1].as_str().unwrap().parse().unwrap()
    };
    let hits = || async {
        let text = common::get_text(&format!("{}/metrics", cluster.base)).await;
        text.lines()
            .find_map(|l| l.strip_prefix("telltale_query_result_cache_hits_total "))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    let first = get_json(&url).await;
    assert_eq!(at(&first, t0 + 35 * MIN), N as f64, "{first}");
    let before = hits().await;
    let second = get_json(&url).await;
    assert_eq!(second["data"], first["data"]);
    assert!(
        hits().await > before,
        "the repeated query was not answered from the cache"
    );

    // Backfill into the gap: every series (so every shard) gets a late sample.
    let late: Vec<_> = (0..N).map(|i| sample(i, t0 + 35 * MIN, 1000.0)).collect();
    assert!(
        remote_write::acknowledged(&cluster.base, late).await,
        "backfill"
    );
    let third = get_json(&url).await;
    assert_eq!(
        at(&third, t0 + 35 * MIN),
        1000.0 * N as f64,
        "a cached interval hid the backfilled samples: {third}"
    );
    assert_eq!(at(&third, t0 + 20 * MIN), N as f64);
}
