//! Parts 1 and 2: remote_write ingest into a fresh `telltale standalone` or Prometheus,
//! then the six queries against the same running process. The other server is not
//! running meanwhile, so the two never share the cores.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Setup;
use crate::error::{Error, Result};
use crate::measure::{self, DirSize, Sampler};
use crate::queries::{Query, QueryRun, Range};
use crate::remote_write::{self, Push, SendStats};
use crate::servers::Server;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Telltale,
    Prometheus,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Telltale => "telltale",
            Side::Prometheus => "prometheus",
        }
    }
}

/// Prometheus with nothing to scrape: only the remote_write receiver fills it.
pub const PROMETHEUS_EMPTY_CONFIG: &str = "global:\n  scrape_interval: 15s\n";

/// Starts a fresh server of `side` in `data_dir` and waits until it is ready.
pub async fn start(setup: &Setup, side: Side, data_dir: &Path, files: &[String]) -> Result<Server> {
    let mut server = match side {
        Side::Telltale => {
            let mut extra = files.to_vec();
            if !setup.result_cache {
                extra.extend(["--result-cache-bytes".to_string(), "0".to_string()]);
            }
            Server::telltale_standalone(&setup.telltale, data_dir, &extra)?
        }
        Side::Prometheus => {
            Server::prometheus(&setup.prometheus, data_dir, PROMETHEUS_EMPTY_CONFIG)?
        }
    };
    server
        .wait_ready(&setup.client, setup.ready_timeout)
        .await?;
    Ok(server)
}

/// A fresh directory for one server of one part (an old one of the same name removed).
pub fn fresh_dir(setup: &Setup, name: &str) -> Result<PathBuf> {
    let dir = setup.work.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(Error::io("cannot remove", &dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
    Ok(dir)
}

/// Removes a data directory unless `--keep`.
pub fn discard(setup: &Setup, dir: &Path) {
    if !setup.keep {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// What the kernel saw of some processes over a push.
#[derive(Clone, Debug)]
pub struct PushMeasure {
    pub send: SendStats,
    /// CPU seconds used during the push, per process.
    pub cpu_s: Vec<f64>,
    /// `VmHWM` at the end of the push, per process.
    pub hwm: Vec<u64>,
    /// Largest sampled `VmRSS`, per process.
    pub rss_max: Vec<u64>,
    /// Largest sampled size of the directory, if one was watched.
    pub dir_max: Option<DirSize>,
    /// Cores other processes of the machine kept busy meanwhile, on average.
    pub other_cores: f64,
}

/// Pushes `push` to `url` while measuring `pids` (and `dir`).
pub async fn timed_push(
    setup: &Setup,
    pids: &[u32],
    url: &str,
    push: &Arc<Push>,
    dir: Option<PathBuf>,
) -> Result<PushMeasure> {
    let cpu = |pids: &[u32]| -> Result<Vec<f64>> {
        pids.iter()
            .map(|p| measure::cpu_seconds(*p, setup.ticks))
            .collect()
    };
    let sampler = Sampler::start(pids.to_vec(), dir.clone());
    let other = measure::OtherLoad::start(pids, setup.ticks)?;
    let before = cpu(pids)?;
    let send = remote_write::send(&setup.client, url, push, setup.sizes.slack_steps).await;
    let after = cpu(pids);
    let other_cores = other.cores(pids, setup.ticks)?;
    let mut peaks = sampler.finish();
    let (send, after) = (send?, after?);
    if let Some(d) = &dir {
        let now = measure::dir_size(d);
        peaks.dir = Some(peaks.dir.map_or(now, |p| p.max(now)));
    }
    let hwm = pids
        .iter()
        .map(|p| measure::memory(*p).map(|m| m.hwm))
        .collect::<Result<Vec<_>>>()?;
    Ok(PushMeasure {
        send,
        cpu_s: after.iter().zip(&before).map(|(a, b)| a - b).collect(),
        hwm,
        rss_max: peaks.rss,
        dir_max: peaks.dir,
        other_cores,
    })
}

/// Part 1's figures for one server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IngestFigures {
    pub server: Side,
    pub series: usize,
    pub samples: u64,
    pub wall_s: f64,
    pub samples_per_s: f64,
    pub cpu_s: f64,
    pub cpu_s_per_million: f64,
    pub vm_hwm_bytes: u64,
    pub rss_max_bytes: u64,
    /// CPU seconds in the settle pause after the last request (deferred work).
    pub settle_cpu_s: f64,
    pub ready_s: f64,
    /// Cores other processes of the machine kept busy during the push, on average.
    pub other_cores: f64,
    pub send: SendStats,
}

/// What one server's ingest (and queries) gave.
pub struct IngestOutcome {
    pub figures: IngestFigures,
    pub queries: Vec<QueryRun>,
}

/// Waits `settle` and returns the CPU seconds `pids` used meanwhile.
pub async fn settle(setup: &Setup, pids: &[u32]) -> Result<f64> {
    let cpu = |pids: &[u32]| -> Result<f64> {
        pids.iter()
            .map(|p| measure::cpu_seconds(*p, setup.ticks))
            .sum()
    };
    let before = cpu(pids)?;
    tokio::time::sleep(Duration::from_secs(setup.sizes.settle_s)).await;
    Ok(cpu(pids)? - before)
}

/// Ingest `push` into a fresh server of `side`, then run `queries` (if any) on it.
pub async fn run(
    setup: &Setup,
    side: Side,
    tag: &str,
    push: &Arc<Push>,
    queries: &[Query],
    range: Range,
) -> Result<IngestOutcome> {
    let dir = fresh_dir(setup, &format!("{tag}-{}", side.name()))?;
    let started = Instant::now();
    let mut server = start(setup, side, &dir, &[]).await?;
    let ready_s = started.elapsed().as_secs_f64();
    let pid = server.pid();
    let m = timed_push(
        setup,
        &[pid],
        &format!("{}/api/v1/write", server.url),
        push,
        None,
    )
    .await?;
    let settle_cpu_s = settle(setup, &[pid]).await?;
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
    discard(setup, &dir);
    let samples = push.samples;
    Ok(IngestOutcome {
        figures: IngestFigures {
            server: side,
            series: push.series,
            samples,
            wall_s: m.send.wall_s,
            samples_per_s: samples as f64 / m.send.wall_s,
            cpu_s: m.cpu_s[0],
            cpu_s_per_million: m.cpu_s[0] / (samples as f64 / 1e6),
            vm_hwm_bytes: m.hwm[0],
            rss_max_bytes: m.rss_max[0],
            settle_cpu_s,
            ready_s,
            other_cores: m.other_cores,
            send: m.send,
        },
        queries: runs,
    })
}
