//! Crash test: a child process (this same binary, re-executed with `CHILD_DIR` set)
//! writes batches in a loop and prints each acknowledged timestamp; the parent kills it
//! with SIGKILL mid-stream, reopens the database and checks that every acknowledged
//! sample is there and that every batch is all-or-nothing. Three rounds, each resuming
//! on the previous round's data, so recovery itself is crashed into as well.
//!
//! A test with its own `main` (`harness = false` in Cargo.toml).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use prometheus::Registry;
use telltale_storage::{Engine, EngineOptions};
use telltale_storage_api::{Label, MatchOp, Matcher, Sample, SelectRequest, TimeSeries};

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

/// Writes batches for timestamps `start, start + 1, ...` until killed, printing each
/// timestamp once its write is acknowledged.
///
/// The head is flushed every few milliseconds in the background, so kills land before,
/// during and after flushes: both the log replay and the flushed chunks are exercised.
fn child(dir: &Path, start: i64) {
    let opts = EngineOptions {
        flush_interval: std::time::Duration::from_millis(20),
        ..EngineOptions::default()
    };
    let engine =
        std::sync::Arc::new(Engine::open(dir, opts, &Registry::new()).expect("child: open"));
    let _maintenance = engine.start_maintenance(std::time::Duration::from_millis(5));
    let mut out = std::io::stdout().lock();
    for ts in start..start + 1_000_000 {
        engine.write(batch(ts)).expect("child: write");
        writeln!(out, "{ts}")
            .and_then(|_| out.flush())
            .expect("child: stdout");
    }
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

fn select(engine: &Engine, metric: &str) -> Result<Vec<TimeSeries>, String> {
    engine
        .select(&SelectRequest {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", metric)],
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            ..SelectRequest::default()
        })
        .map_err(|e| format!("select {metric}: {e}"))
}

fn verify(dir: &Path, acked: &[i64], round: i64) -> Result<(), String> {
    let engine = Engine::open(dir, EngineOptions::default(), &Registry::new())
        .map_err(|e| format!("reopen: {e}"))?;
    let mut fixed: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for ts in select(&engine, "crash_test")? {
        let s = ts.label("s").unwrap_or_default().to_string();
        let samples = ts.samples.iter().map(|x| (x.timestamp_ms, x.value));
        fixed.entry(s).or_default().extend(samples);
    }
    let mut new_series = BTreeSet::new();
    for ts in select(&engine, "crash_new")? {
        let n: i64 = parse(ts.label("n").unwrap_or_default())?;
        if ts.samples.len() != 1 || ts.samples[0].timestamp_ms != n {
            return Err(format!("crash_new{{n=\"{n}\"}} holds {:?}", ts.samples));
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
