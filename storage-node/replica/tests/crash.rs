//! Crash test: a child process (this same binary, re-executed with `CHILD_DIR` set) runs
//! a one-replica group (standalone's storage) and writes batches through it in a loop,
//! printing each acknowledged timestamp; the parent kills it with SIGKILL mid-stream,
//! reopens the replica and checks that every acknowledged sample is there and that every
//! batch is all-or-nothing. The engine flushes every few milliseconds and the group
//! snapshots and purges its log every few dozen entries, so kills land before, during
//! and after flushes, snapshots and purges. Three rounds, each resuming on the previous
//! round's data, so recovery itself is crashed into as well.
//!
//! A test with its own `main` (`harness = false` in Cargo.toml).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use prometheus::Registry;
use telltale_replica::{LocalStorage, Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage::EngineOptions;
use telltale_storage_api::{
    Label, MatchOp, Matcher, Resolution, Sample, SampleReader, SampleWriter, SelectRequest,
    Selection, TimeSeries,
};

const CHILD_DIR: &str = "TELLTALE_CRASH_CHILD_DIR";
const CHILD_START: &str = "TELLTALE_CRASH_CHILD_START";
/// Acknowledgements the parent waits for before killing the child.
const ACKS_BEFORE_KILL: usize = 40;
const ROUNDS: i64 = 3;

fn main() -> ExitCode {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let start = std::env::var(CHILD_START)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        child(Path::new(&dir), start);
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--list") {
        println!("acknowledged_writes_survive_sigkill: test");
        return ExitCode::SUCCESS;
    }
    print!("test acknowledged_writes_survive_sigkill ... ");
    match parent() {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAILED\n{e}");
            ExitCode::FAILURE
        }
    }
}

/// One batch: the samples at `ts` of two fixed series and one series new to this batch.
fn batch(ts: i64) -> Vec<TimeSeries> {
    let one = |labels: Vec<Label>, value: f64| TimeSeries {
        labels,
        samples: vec![Sample {
            timestamp_ms: ts,
            value,
        }],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    };
    vec![
        one(
            vec![Label::new("__name__", "crash_test"), Label::new("s", "a")],
            ts as f64,
        ),
        one(
            vec![Label::new("__name__", "crash_test"), Label::new("s", "b")],
            -(ts as f64),
        ),
        one(
            vec![
                Label::new("__name__", "crash_new"),
                Label::new("n", ts.to_string()),
            ],
            1.0,
        ),
    ]
}

/// A one-replica group in `dir` on a fresh loopback port, leading.
async fn open_replica(dir: &Path) -> Result<(Replica, tokio::net::TcpListener), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let config = ReplicaConfig {
        data_dir: dir.to_path_buf(),
        shard: 0,
        id: 1,
        peers: Peers(BTreeMap::from([(1, addr.to_string())])),
        initial_voters: None,
        engine: EngineOptions {
            flush_interval: Duration::from_millis(20),
            ..EngineOptions::default()
        },
        raft: RaftOptions {
            snapshot_every: 30,
            logs_to_keep: 5,
            ..RaftOptions::default()
        },
    };
    let replica = Replica::start(config, &Registry::new())
        .await
        .map_err(|e| format!("open: {e}"))?;
    replica
        .raft()
        .wait(Some(Duration::from_secs(20)))
        .current_leader(1, "leads")
        .await
        .map_err(|e| format!("no leader: {e}"))?;
    Ok((replica, listener))
}

/// Writes batches for timestamps `start, start + 1, ...` until killed, printing each
/// timestamp once its write is acknowledged.
fn child(dir: &Path, start: i64) {
    let rt = tokio::runtime::Runtime::new().expect("child: runtime");
    rt.block_on(async {
        let (replica, _listener) = open_replica(dir).await.expect("child: open");
        let storage = replica.local_storage();
        let mut out = std::io::stdout().lock();
        for ts in start..start + 1_000_000 {
            storage.write(batch(ts)).await.expect("child: write");
            writeln!(out, "{ts}")
                .and_then(|_| out.flush())
                .expect("child: stdout");
        }
    });
}

fn parent() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut acked: Vec<i64> = Vec::new();
    for round in 0..ROUNDS {
        let start = round * 1_000_000;
        acked.extend(run_child_and_kill(dir.path(), start)?);
        verify(dir.path(), &acked, round)?;
    }
    Ok(())
}

/// Starts a child, kills it after some acknowledgements, returns every timestamp it
/// acknowledged (including lines still in the pipe when it died).
fn run_child_and_kill(dir: &Path, start: i64) -> Result<Vec<i64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env(CHILD_DIR, dir)
        .env(CHILD_START, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn child: {e}"))?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < ACKS_BEFORE_KILL && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => acked.push(parse(&line)?),
            _ => break,
        }
    }
    // Right after an acknowledgement the child is inside its next write.
    child.kill().map_err(|e| format!("kill child: {e}"))?;
    for line in lines {
        match line {
            Ok(line) if !line.is_empty() => acked.push(parse(&line)?),
            _ => break,
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if acked.len() < ACKS_BEFORE_KILL {
        return Err(format!(
            "child ({status}) acknowledged only {} writes",
            acked.len()
        ));
    }
    Ok(acked)
}

fn parse(line: &str) -> Result<i64, String> {
    line.trim()
        .parse()
        .map_err(|e| format!("child printed {line:?}: {e}"))
}

/// Every series of `metric`: its `s` or `n` label and its samples.
async fn select(
    storage: &LocalStorage,
    metric: &str,
) -> Result<Vec<(String, String, Vec<(i64, f64)>)>, String> {
    let series = storage
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", metric)],
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            resolution: Resolution::Raw as i32,
        }))
        .await
        .map_err(|e| format!("select {metric}: {e}"))?;
    series
        .into_iter()
        .map(|s| {
            let samples = s.samples().map_err(|e| e.to_string())?;
            let label = |n| s.label(n).unwrap_or_default().to_string();
            Ok((label("s"), label("n"), samples))
        })
        .collect()
}

fn verify(dir: &Path, acked: &[i64], round: i64) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (crash_test, crash_new) = rt.block_on(async {
        let (replica, _listener) = open_replica(dir).await?;
        let storage = replica.local_storage();
        let found = (
            select(&storage, "crash_test").await?,
            select(&storage, "crash_new").await?,
        );
        replica.shutdown().await;
        Ok::<_, String>(found)
    })?;
    let mut fixed: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for (s, _, samples) in crash_test {
        fixed.entry(s).or_default().extend(samples);
    }
    let mut new_series = BTreeSet::new();
    for (_, n, samples) in crash_new {
        let n: i64 = parse(&n)?;
        if samples.len() != 1 || samples[0].0 != n {
            return Err(format!("crash_new{{n=\"{n}\"}} holds {samples:?}"));
        }
        new_series.insert(n);
    }
    let empty = BTreeMap::new();
    let (a, b) = (
        fixed.get("a").unwrap_or(&empty),
        fixed.get("b").unwrap_or(&empty),
    );
    for &ts in acked {
        if a.get(&ts) != Some(&(ts as f64)) || b.get(&ts) != Some(&-(ts as f64)) {
            return Err(format!("round {round}: acknowledged sample at {ts} lost"));
        }
        if !new_series.contains(&ts) {
            return Err(format!("round {round}: acknowledged series n={ts} lost"));
        }
    }
    // All or nothing: the same timestamps in every part of the batches.
    let a_ts: BTreeSet<i64> = a.keys().copied().collect();
    let b_ts: BTreeSet<i64> = b.keys().copied().collect();
    if a_ts != b_ts || a_ts != new_series {
        return Err(format!(
            "round {round}: a partial batch is visible: {} / {} / {} timestamps",
            a_ts.len(),
            b_ts.len(),
            new_series.len()
        ));
    }
    // At most the one batch in flight at the kill is there unacknowledged per round.
    let extra = a_ts.len() - acked.len();
    if extra > (round + 1) as usize {
        return Err(format!(
            "round {round}: {extra} unacknowledged batches stored"
        ));
    }
    Ok(())
}
