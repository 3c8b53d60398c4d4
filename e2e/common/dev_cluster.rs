//! `telltale dev-cluster` in the whole-system tests: starting it, its cluster status
//! (leaders, pids, lag) and shard map.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use telltale_storage_api::cluster::ShardMap;

use super::{Proc, TELLTALE, free_port, get_json, wait_ready};

/// A running `telltale dev-cluster` (killed when dropped).
pub struct DevCluster {
    pub proc: Proc,
    pub base: String,
}

impl DevCluster {
    /// Starts `shards` shards of three replicas that restart 5 s after dying, and waits
    /// until the cluster is ready.
    pub async fn start(dir: &Path, shards: u32) -> DevCluster {
        DevCluster::start_with(dir, shards, &[]).await
    }

    /// [`DevCluster::start`] with `extra` arguments.
    pub async fn start_with(dir: &Path, shards: u32, extra: &[&str]) -> DevCluster {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(TELLTALE);
        cmd.args([
            "dev-cluster",
            "--shards",
            &shards.to_string(),
            "--replicas",
            "3",
        ])
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // A killed replica stays down long enough for the survivors to elect.
        .args(["--restart-dead", "--restart-delay", "5s"])
        .args(["--raft-snapshot-every", "200"])
        .args(extra)
        .env("TELLTALE_LOG", "info");
        let mut proc = Proc::spawn("dev-cluster", &mut cmd, dir.with_extension("log"));
        wait_ready(&mut proc, &format!("{base}/-/ready")).await;
        DevCluster { proc, base }
    }

    pub async fn status(&self) -> serde_json::Value {
        get_json(&format!("{}/api/v1/status/cluster", self.base)).await["data"].clone()
    }

    /// (leader replica id, its pid) of `shard`, once a live replica other than `not`
    /// leads.
    pub async fn leader(
        &self,
        shard: usize,
        not: Option<u64>,
        within: Duration,
    ) -> Option<(u64, u64)> {
        let t0 = Instant::now();
        while t0.elapsed() < within {
            let s = self.status().await;
            let sh = &s["shards"][shard];
            if let Some(id) = sh["leader_id"].as_u64() {
                let r = sh["replicas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["id"].as_u64() == Some(id))
                    .unwrap();
                if let Some(pid) = r["pid"].as_u64()
                    && Some(id) != not
                {
                    return Some((id, pid));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub async fn shard_map(&self) -> ShardMap {
        let s = self.status().await;
        let text: Vec<String> = s["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sh| {
                let replicas: Vec<&str> = sh["replicas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["address"].as_str().unwrap())
                    .collect();
                format!("{}={}", sh["id"], replicas.join(","))
            })
            .collect();
        ShardMap::parse(&text.join(";")).unwrap()
    }

    /// Every replica alive and within `lag` entries of its leader.
    pub async fn settled(&self, lag: u64, within: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < within {
            let s = self.status().await;
            let ok = s["shards"].as_array().unwrap().iter().all(|sh| {
                sh["leader_id"].as_u64().is_some()
                    && sh["replicas"].as_array().unwrap().iter().all(|r| {
                        r["alive"].as_bool() == Some(true)
                            && r["lag"].as_u64().is_some_and(|l| l <= lag)
                    })
            });
            if ok {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub fn pids(status: &serde_json::Value) -> Vec<u64> {
        status["shards"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|sh| sh["replicas"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["pid"].as_u64())
            .collect()
    }
}
