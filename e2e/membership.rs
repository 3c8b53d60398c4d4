//! Raft membership that changes under load, with real processes: `telltale dev-cluster`
//! runs one shard of 3 replica processes while remote_write pushes samples through its
//! HTTP address, and the shard goes 3 → 5 → 3 → 1 → 3 replicas through
//! `POST /dev-cluster/shards/0/replicas?count=N`, with the leader killed (SIGKILL) at 5.
//! Shown:
//! - each change ends with exactly the replicas `1..=N` as voters, and
//!   `/api/v1/status/cluster` shows them (members, voters, leader, commit index, lag);
//! - the removed replicas' processes are gone and the term does not climb after they
//!   stopped (no election storm);
//! - replicas 2 and 3 come back with empty disks and catch up (by log here: the leader
//!   keeps 1000 entries below its snapshot; catch-up by snapshot after a wipe is
//!   `e2e/cluster.rs`'s partition and wipe test);
//! - every acknowledged sample is readable at the end through the query API;
//! - malformed or impossible requests are refused (400, unknown shard 404), and so is a
//!   shrink that would need a replica that is down to keep the quorum.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::load::{Load, assert_nothing_lost, read_back};
use common::{Proc, TELLTALE, free_port, get_json, wait_ready};
use serde_json::Value;

struct DevCluster {
    proc: Proc,
    base: String,
}

impl DevCluster {
    async fn start(dir: &Path) -> DevCluster {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(TELLTALE);
        cmd.args(["dev-cluster", "--shards", "1", "--replicas", "3"])
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--restart-dead", "--restart-delay", "3s"])
            // Frequent snapshots keep the log short while replicas come and go.
            .args(["--raft-snapshot-every", "200"])
            .env("TELLTALE_LOG", "info");
        let mut proc = Proc::spawn("dev-cluster", &mut cmd, dir.with_extension("log"));
        wait_ready(&mut proc, &format!("{base}/-/ready")).await;
        DevCluster { proc, base }
    }

    async fn shard(&self) -> Value {
        let s = get_json(&format!("{}/api/v1/status/cluster", self.base)).await;
        s["data"]["shards"][0].clone()
    }

    /// POST count=`count`: (HTTP status, body).
    async fn set_replicas(&self, shard: &str, count: &str) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/dev-cluster/shards/{shard}/replicas?count={count}",
                self.base
            ))
            .timeout(Duration::from_secs(180))
            .send()
            .await
            .unwrap();
        let code = resp.status().as_u16();
        (code, resp.json().await.unwrap_or(Value::Null))
    }

    /// Every voter answers, within `lag` entries of the leader, and there is no learner.
    async fn settled(&self, voters: &[u64], lag: u64, within: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let sh = self.shard().await;
            // A leader elected a moment ago reports commit index 0 until its first entry
            // of the term is committed: settled means it has been.
            let ok = ids(&sh["voters"]) == voters
                && sh["learners"].as_array().is_some_and(Vec::is_empty)
                && sh["leader_id"].as_u64().is_some()
                && sh["commit_index"].as_u64().is_some_and(|c| c > 0)
                && sh["replicas"].as_array().unwrap().len() == voters.len()
                && sh["replicas"].as_array().unwrap().iter().all(|r| {
                    r["alive"].as_bool() == Some(true)
                        && r["lag"].as_u64().is_some_and(|l| l <= lag)
                });
            if ok {
                return sh;
            }
            assert!(
                t0.elapsed() < within,
                "the shard did not settle on voters {voters:?} within {within:?}: {sh}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Highest term any replica reports.
    async fn term(&self) -> u64 {
        let sh = self.shard().await;
        sh["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["term"].as_u64())
            .max()
            .unwrap_or(0)
    }
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Term may rise by an election or two around a change (the leader's removal), not more.
const TERM_BOUND: u64 = 3;

async fn change(
    cluster: &DevCluster,
    count: u64,
    load: &Load,
    removed_pids: &[u64],
) -> BTreeMap<u64, u64> {
    let term_before = cluster.term().await;
    let t0 = Instant::now();
    let (code, body) = cluster.set_replicas("0", &count.to_string()).await;
    assert_eq!(code, 200, "count={count}: {body}");
    let voters: Vec<u64> = (1..=count).collect();
    assert_eq!(ids(&body["data"]["voters"]), voters, "{body}");
    eprintln!(
        "count={count} in {:?}: steps {}",
        t0.elapsed(),
        body["data"]["steps"]
    );
    let sh = cluster.settled(&voters, 400, Duration::from_secs(60)).await;
    assert_eq!(ids(&sh["members"]), voters, "{sh}");
    assert!(sh["commit_index"].as_u64().unwrap() > 0, "{sh}");
    assert_eq!(sh["quorum"], true, "{sh}");
    for pid in removed_pids {
        assert!(!alive(*pid), "removed replica process {pid} still runs");
    }
    // The removed processes are gone: no election storm follows.
    let term_after = cluster.term().await;
    load.goes_on(200, &format!("after count={count}")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let term_later = cluster.term().await;
    eprintln!("count={count}: term {term_before} -> {term_after} -> {term_later}");
    assert!(
        term_later <= term_before + TERM_BOUND,
        "count={count}: the term climbed from {term_before} to {term_later}"
    );
    assert_eq!(
        term_later, term_after,
        "count={count}: elections after the change"
    );
    pids(&cluster.shard().await)
}

/// Replica id -> pid.
fn pids(shard: &Value) -> BTreeMap<u64, u64> {
    shard["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((r["id"].as_u64()?, r["pid"].as_u64()?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shard_grows_and_shrinks_under_load_and_loses_nothing() {
    // Kept when the test fails (the replicas' logs are there).
    let dir = tempfile::tempdir().unwrap().keep();
    let cluster = DevCluster::start(&dir.join("cluster")).await;
    cluster
        .settled(&[1, 2, 3], 5, Duration::from_secs(30))
        .await;

    // Refused without changing anything.
    for (shard, count, code) in [
        ("0", "0", 400),
        ("0", "three", 400),
        ("0", "", 400),
        ("7", "3", 404),
        ("x", "3", 404),
    ] {
        let (got, body) = cluster.set_replicas(shard, count).await;
        assert_eq!(got, code, "shard {shard} count {count:?}: {body}");
        assert_eq!(body["status"], "error", "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    let load = Load::start(&cluster.base, 2);
    load.goes_on(200, "at the start").await;

    // 3 -> 5.
    let pids5 = change(&cluster, 5, &load, &[]).await;
    assert_eq!(pids5.len(), 5);

    // The leader is killed; a new one is elected, writes go on, the dead one restarts
    // (--restart-dead) and catches up.
    let leader = cluster.shard().await["leader_id"].as_u64().unwrap();
    let before = load.count();
    let _ = Command::new("kill")
        .args(["-9", &pids5[&leader].to_string()])
        .status();
    let t0 = Instant::now();
    loop {
        let sh = cluster.shard().await;
        if sh["leader_id"].as_u64().is_some_and(|l| l != leader) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no new leader: {sh}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("leader {leader} killed; a new one after {:?}", t0.elapsed());
    assert!(load.count() >= before);
    load.goes_on(200, "after the leader's kill").await;
    cluster
        .settled(&[1, 2, 3, 4, 5], 400, Duration::from_secs(60))
        .await;

    // 5 -> 3 -> 1 -> 3.
    let pids5 = pids(&cluster.shard().await);
    let pids3 = change(&cluster, 3, &load, &[pids5[&4], pids5[&5]]).await;
    change(&cluster, 1, &load, &[pids3[&2], pids3[&3]]).await;
    // Growing from one: replicas 2 and 3 return with empty disks and catch up.
    let pids3 = change(&cluster, 3, &load, &[]).await;

    // With a voter of {1, 2} down, shrinking to 2 would leave a group of two with one
    // answering: refused before anything changes.
    let leader = cluster.shard().await["leader_id"].as_u64().unwrap();
    let down = if leader == 1 { 2 } else { 1 };
    let _ = Command::new("kill")
        .args(["-9", &pids3[&down].to_string()])
        .status();
    let t0 = Instant::now();
    while cluster.shard().await["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"].as_u64() == Some(down) && r["error"].is_null())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "replica {down} still answers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, body) = cluster.set_replicas("0", "2").await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("quorum"), "{body}");
    // It restarts (--restart-dead) and the group is the same three.
    cluster
        .settled(&[1, 2, 3], 400, Duration::from_secs(60))
        .await;

    let acked = load.stop().await;
    let found = read_back(&cluster.base).await;
    assert_nothing_lost(&acked, &found);

    let status = cluster.shard().await;
    let mut cluster = cluster;
    cluster.proc.kill9();
    for pid in pids(&status).values() {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
