//! Write load for the membership tests: loaders push batches through remote_write and
//! record every sample the cluster acknowledged, so that the test can read everything
//! back at the end and name what was lost.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::remote_write;

/// The series every loader writes to.
pub const METRIC: &str = "membership_test_samples";
/// Series per push.
const WRITERS: usize = 8;

/// Every (writer, timestamp) the cluster acknowledged.
pub type Acked = Arc<Mutex<BTreeSet<(String, i64)>>>;

fn base_ts() -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| (super::now_ms() - 3_600_000) / 1000 * 1000)
}

/// Loaders pushing to one remote_write endpoint until stopped.
pub struct Load {
    pub acked: Acked,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `loaders` concurrent loaders pushing to `base`'s `/api/v1/write`.
    pub fn start(base: &str, loaders: usize) -> Load {
        let acked: Acked = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..loaders)
            .map(|l| tokio::spawn(load(l, base.to_string(), acked.clone(), stop.clone())))
            .collect();
        Load { acked, stop, tasks }
    }

    /// Samples acknowledged so far.
    pub fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits until `n` more samples than now are acknowledged (within 30 s).
    pub async fn goes_on(&self, n: usize, what: &str) {
        let before = self.count();
        let t0 = Instant::now();
        while self.count() < before + n {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "writes did not go on {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the loaders; every acknowledged sample.
    pub async fn stop(self) -> BTreeSet<(String, i64)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        self.acked.lock().unwrap().clone()
    }
}

/// Pushes batches through remote_write until `stop`; records what was acknowledged.
async fn load(loader: usize, base: String, acked: Acked, stop: Arc<AtomicBool>) {
    let mut batch = 0i64;
    while !stop.load(Ordering::Relaxed) {
        let ts = base_ts() + batch * 1000;
        let series: Vec<_> = (0..WRITERS)
            .map(|w| {
                let writer = format!("l{loader}w{w}");
                remote_write::series(
                    &[("__name__", METRIC), ("writer", &writer)],
                    ts,
                    batch as f64,
                )
            })
            .collect();
        let ok = remote_write::acknowledged(&base, series).await;
        if ok {
            let mut a = acked.lock().unwrap();
            for w in 0..WRITERS {
                a.insert((format!("l{loader}w{w}"), ts));
            }
        }
        batch += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every sample of the loaders' series, through the query API at `base` (a range
/// selector at a time after the last one).
pub async fn read_back(base: &str) -> BTreeSet<(String, i64)> {
    let at = (super::now_ms() / 1000) as f64;
    let expr = format!("{METRIC}[2h]");
    let result = super::query_at_time(base, &expr, at).await;
    let mut found = BTreeSet::new();
    for series in result {
        let writer = series["metric"]["writer"].as_str().unwrap().to_string();
        for v in series["values"].as_array().unwrap() {
            let ts = (v[0].as_f64().unwrap() * 1000.0).round() as i64;
            found.insert((writer.clone(), ts));
        }
    }
    found
}

/// Fails with the first lost samples unless every acknowledged one was read back.
pub fn assert_nothing_lost(acked: &BTreeSet<(String, i64)>, found: &BTreeSet<(String, i64)>) {
    let lost: Vec<_> = acked.difference(found).take(10).collect();
    eprintln!(
        "acknowledged {} samples, read back {}, lost {}",
        acked.len(),
        found.len(),
        acked.difference(found).count()
    );
    assert!(acked.len() > 2000, "too few acknowledged: {}", acked.len());
    assert!(lost.is_empty(), "acknowledged samples lost: {lost:?}");
}
