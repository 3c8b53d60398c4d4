//! Part 4: disk. One day of busy series (the day ending at the run's start, in time
//! order) pushed into a fresh server; the whole data directory's size (each inode once,
//! allocated blocks, as `du`) sampled every second during the push (largest kept), again
//! after a pause of `--disk-settle-s` (background work: Prometheus compacts and
//! truncates its WAL on a one-minute timer), and after a clean stop (SIGTERM, exit waited
//! for), with its top-level entries.

use std::sync::Arc;

use crate::Setup;
use crate::error::Result;
use crate::ingest::{self, Side};
use crate::measure::{self, DirSize};
use crate::remote_write::{Push, SendStats};

/// Part 4's figures for one server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DiskFigures {
    pub server: Side,
    pub series: usize,
    pub samples: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub during_max: DirSize,
    pub after_settle: DirSize,
    pub after_stop: DirSize,
    pub bytes_per_sample_during: f64,
    pub bytes_per_sample_after_settle: f64,
    pub bytes_per_sample_after: f64,
    pub apparent_bytes_per_sample_after: f64,
    pub stop_s: f64,
    /// Top-level entries of the data directory after the stop, largest first.
    pub top_level: Vec<(String, DirSize)>,
    pub send: SendStats,
}

async fn one_server(setup: &Setup, side: Side, tag: &str, push: &Arc<Push>) -> Result<DiskFigures> {
    let dir = ingest::fresh_dir(setup, &format!("{tag}-{}", side.name()))?;
    let server = ingest::start(setup, side, &dir, &[]).await?;
    let m = ingest::timed_push(
        setup,
        &[server.pid()],
        &format!("{}/api/v1/write", server.url),
        push,
        Some(dir.clone()),
    )
    .await?;
    tokio::time::sleep(std::time::Duration::from_secs(setup.sizes.disk_settle_s)).await;
    let settled = measure::dir_size(&dir);
    let stop = server.stop(setup.stop_timeout).await?;
    let after = measure::dir_size(&dir);
    let top_level = measure::top_level_sizes(&dir);
    ingest::discard(setup, &dir);
    let during = m.dir_max.unwrap_or_default();
    let samples = push.samples as f64;
    Ok(DiskFigures {
        server: side,
        series: push.series,
        samples: push.samples,
        wall_s: m.send.wall_s,
        cpu_s: m.cpu_s[0],
        during_max: during,
        after_settle: settled,
        after_stop: after,
        bytes_per_sample_during: during.allocated as f64 / samples,
        bytes_per_sample_after_settle: settled.allocated as f64 / samples,
        bytes_per_sample_after: after.allocated as f64 / samples,
        apparent_bytes_per_sample_after: after.apparent as f64 / samples,
        stop_s: stop.as_secs_f64(),
        top_level,
        send: m.send,
    })
}

/// Both servers, in `order`.
pub async fn run(
    setup: &Setup,
    tag: &str,
    order: [Side; 2],
    push: &Arc<Push>,
) -> Result<Vec<DiskFigures>> {
    let mut out = Vec::new();
    for side in order {
        out.push(one_server(setup, side, tag, push).await?);
    }
    Ok(out)
}
