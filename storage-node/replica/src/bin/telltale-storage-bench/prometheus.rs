//! The same workload through Prometheus's own TSDB: written as OpenMetrics, one file per
//! 2-hour block, and turned into blocks by `promtool tsdb create-blocks-from
//! openmetrics` (the Debian `prometheus` package).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::workload::Workload;
use crate::{Error, cpu};

pub struct PrometheusFigures {
    pub samples: u64,
    pub cpu: Duration,
    pub wall: Duration,
    /// Every file of every block (chunks, index, meta, tombstones).
    pub bytes: u64,
    /// The chunk files alone.
    pub chunk_bytes: u64,
}

const BLOCK_MS: i64 = 2 * 3_600_000;

/// Generates `rounds` scrapes from `start` with `workload` and builds Prometheus blocks
/// in `dir`.
pub fn run(
    mut workload: Workload,
    start: i64,
    rounds: i64,
    promtool: &Path,
    dir: &Path,
) -> Result<PrometheusFigures, Error> {
    std::fs::create_dir_all(dir)?;
    let blocks = dir.join("blocks");
    let per_block = (BLOCK_MS / workload.interval_ms).max(1);
    let mut order: Vec<usize> = (0..workload.len()).collect();
    let names: Vec<String> = workload
        .labels()
        .map(|l| {
            l.iter()
                .map(|x| format!("{}={}", x.name, x.value))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    order.sort_by(|a, b| names[*a].cmp(&names[*b]));
    let series_text: Vec<String> = workload.labels().map(exposition_name).collect();

    let (mut samples, mut cpu, mut wall) = (0u64, Duration::ZERO, Duration::ZERO);
    let mut round = 0;
    while round < rounds {
        let n = per_block.min(rounds - round);
        let mut values: Vec<Vec<(i64, f64)>> = vec![Vec::with_capacity(n as usize); workload.len()];
        for r in round..round + n {
            for (i, ts) in workload.scrape(start, r).into_iter().enumerate() {
                values[i].push((ts.samples[0].timestamp_ms, ts.samples[0].value));
            }
        }
        let file = dir.join("block.om");
        {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
            for &i in &order {
                for (t, v) in &values[i] {
                    writeln!(
                        out,
                        "{} {} {}.{:03}",
                        series_text[i],
                        v,
                        t.div_euclid(1000),
                        t.rem_euclid(1000)
                    )?;
                }
            }
            writeln!(out, "# EOF")?;
            out.flush()?;
        }
        let before = cpu::children();
        let began = Instant::now();
        let status = Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
            .arg(&file)
            .arg(&blocks)
            .status()
            .map_err(|e| format!("running {}: {e}", promtool.display()))?;
        wall += began.elapsed();
        cpu += cpu::children().saturating_sub(before);
        if !status.success() {
            return Err(format!("promtool failed with {status}").into());
        }
        samples += n as u64 * workload.len() as u64;
        round += n;
    }
    std::fs::remove_file(dir.join("block.om")).ok();
    let (bytes, chunk_bytes) = sizes(&blocks)?;
    Ok(PrometheusFigures {
        samples,
        cpu,
        wall,
        bytes,
        chunk_bytes,
    })
}

/// `name{a="b",...}` for a label list holding `__name__`.
fn exposition_name(labels: &[telltale_storage_api::Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map_or("", |l| l.value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| format!("{}=\"{}\"", l.name, l.value))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

/// Total bytes under `dir`, and bytes under its `chunks` directories.
fn sizes(dir: &Path) -> Result<(u64, u64), Error> {
    let (mut total, mut chunks) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let (t, c) = sizes(&path)?;
            total += t;
            chunks += if path.file_name().is_some_and(|n| n == "chunks") {
                t
            } else {
                c
            };
        } else {
            total += std::fs::metadata(&path)?.len();
        }
    }
    Ok((total, chunks))
}
