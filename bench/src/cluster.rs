//! Part 5: the ingest of part 1 through `telltale dev-cluster`'s remote_write, with the
//! CPU of the parent process and of every replica (a child `telltale storage` process,
//! found by parent PID, named by its `--shard` and `--replica-id` arguments), then the six
//! queries through its Prometheus API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Setup;
use crate::error::{Error, Result};
use crate::ingest::{self, IngestFigures, Side};
use crate::measure;
use crate::queries::{Query, QueryRun, Range};
use crate::remote_write::Push;
use crate::servers::Server;

/// One replica's share of the work.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReplicaFigures {
    pub shard: u32,
    pub replica: u64,
    pub pid: u32,
    pub cpu_s: f64,
    /// CPU seconds per million samples of its shard's share (total / shards: the jump
    /// hash spreads series evenly; the exact split is not visible from outside).
    pub cpu_s_per_million_of_share: f64,
    pub vm_hwm_bytes: u64,
    pub rss_max_bytes: u64,
}

/// Part 5's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClusterFigures {
    pub shards: u32,
    pub replicas_per_shard: u32,
    /// The dev-cluster process (HTTP, remote_write decoding, routing, query).
    pub parent: IngestFigures,
    pub replicas: Vec<ReplicaFigures>,
    pub replicas_cpu_s: f64,
    /// All replicas' CPU per million samples ingested.
    pub replicas_cpu_s_per_million: f64,
    /// Parent and replicas together per million samples.
    pub total_cpu_s_per_million: f64,
    pub queries: Vec<QueryRun>,
}

/// `--flag value` in an argument list.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The replica processes of a dev-cluster: (shard, replica id, pid).
fn replicas(parent: u32) -> Vec<(u32, u64, u32)> {
    let mut out: Vec<(u32, u64, u32)> = measure::children_of(parent)
        .into_iter()
        .filter_map(|pid| {
            let args = measure::cmdline(pid).ok()?;
            if !args.iter().any(|a| a == "storage") {
                return None;
            }
            let shard = flag_value(&args, "--shard")?.parse().ok()?;
            let id = flag_value(&args, "--replica-id")?.parse().ok()?;
            Some((shard, id, pid))
        })
        .collect();
    out.sort();
    out
}

/// Waits until every shard names a leader on `/api/v1/status/cluster`; a server
/// without that endpoint is taken as ready (the pusher retries 5xx anyway).
async fn wait_leaders(setup: &Setup, url: &str, shards: u32) -> Result<()> {
    let status = format!("{url}/api/v1/status/cluster");
    let deadline = Instant::now() + setup.ready_timeout;
    loop {
        let answer = setup
            .client
            .get(&status)
            .send()
            .await
            .map_err(Error::http(&status))?;
        if answer.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        if let Ok(body) = answer.json::<serde_json::Value>().await {
            let led = body["data"]["shards"]
                .as_array()
                .map_or(0, |s| s.iter().filter(|s| !s["leader"].is_null()).count());
            if led == shards as usize {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(Error::Invalid {
                what: "dev-cluster",
                detail: format!(
                    "not every shard had a leader on {status} within {:?}",
                    setup.ready_timeout
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn run(
    setup: &Setup,
    tag: &str,
    push: &Arc<Push>,
    queries: &[Query],
    range: Range,
) -> Result<ClusterFigures> {
    let (shards, per_shard) = (setup.sizes.cluster_shards, setup.sizes.cluster_replicas);
    let dir = ingest::fresh_dir(setup, &format!("{tag}-dev-cluster"))?;
    let mut extra = Vec::new();
    if !setup.result_cache {
        extra.extend(["--result-cache-bytes".to_string(), "0".to_string()]);
    }
    let started = Instant::now();
    let mut server =
        Server::telltale_dev_cluster(&setup.telltale, &dir, shards, per_shard, &extra)?;
    server
        .wait_ready(&setup.client, setup.ready_timeout)
        .await?;
    let expected = (shards * per_shard) as usize;
    let mut found = replicas(server.pid());
    while found.len() < expected {
        server.check_alive()?;
        if started.elapsed() > setup.ready_timeout {
            return Err(Error::Invalid {
                what: "dev-cluster",
                detail: format!(
                    "{} replica processes found, {expected} expected",
                    found.len()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        found = replicas(server.pid());
    }
    for (_, _, pid) in &found {
        server.add_companion(*pid);
    }
    wait_leaders(setup, &server.url, shards).await?;
    let ready_s = started.elapsed().as_secs_f64();
    let mut pids = vec![server.pid()];
    pids.extend(found.iter().map(|r| r.2));
    let m = ingest::timed_push(
        setup,
        &pids,
        &format!("{}/api/v1/write", server.url),
        push,
        None,
    )
    .await?;
    let settle_cpu_s = ingest::settle(setup, &pids).await?;
    let runs = crate::queries::run_all(
        &setup.client,
        &server.url,
        queries,
        range,
        setup.sizes.query_runs,
    )
    .await?;
    server.check_alive()?;
    server.stop(setup.stop_timeout).await?;
    ingest::discard(setup, &dir);

    let millions = push.samples as f64 / 1e6;
    let share = millions / f64::from(shards);
    let replicas: Vec<ReplicaFigures> = found
        .iter()
        .enumerate()
        .map(|(i, (shard, replica, pid))| ReplicaFigures {
            shard: *shard,
            replica: *replica,
            pid: *pid,
            cpu_s: m.cpu_s[i + 1],
            cpu_s_per_million_of_share: m.cpu_s[i + 1] / share,
            vm_hwm_bytes: m.hwm[i + 1],
            rss_max_bytes: m.rss_max[i + 1],
        })
        .collect();
    let replicas_cpu_s: f64 = replicas.iter().map(|r| r.cpu_s).sum();
    Ok(ClusterFigures {
        shards,
        replicas_per_shard: per_shard,
        parent: IngestFigures {
            server: Side::Telltale,
            series: push.series,
            samples: push.samples,
            wall_s: m.send.wall_s,
            samples_per_s: push.samples as f64 / m.send.wall_s,
            cpu_s: m.cpu_s[0],
            cpu_s_per_million: m.cpu_s[0] / millions,
            vm_hwm_bytes: m.hwm[0],
            rss_max_bytes: m.rss_max[0],
            settle_cpu_s,
            ready_s,
            other_cores: m.other_cores,
            send: m.send,
        },
        replicas_cpu_s,
        replicas_cpu_s_per_million: replicas_cpu_s / millions,
        total_cpu_s_per_million: (replicas_cpu_s + m.cpu_s[0]) / millions,
        replicas,
        queries: runs,
    })
}
