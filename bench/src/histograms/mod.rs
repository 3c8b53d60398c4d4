//! Part 7 (`--only histograms`, not in the default set): what native histograms cost.
//! A seeded workload of latency histograms ([`workload`]) pushed through remote_write
//! 1.0 ([`encode`]: integer histograms, delta-encoded buckets) into a fresh `telltale
//! standalone` and a fresh Prometheus 2.42 with `--enable-feature=native-histograms`,
//! one after the other, the same samples at the same times (a span ending at the run's
//! start, in time order). Per server:
//!
//! - CPU seconds per million histogram samples over the push (`/proc/PID/stat`; what a
//!   server does meanwhile in the background — Prometheus cutting blocks from its head,
//!   Telltale flushing — counts), and in the pause after it;
//! - peak RSS (`VmHWM`, and the largest sampled `VmRSS`);
//! - bytes per histogram sample of the whole data directory (`du`: every inode once),
//!   largest during the push, after the pause and after a clean stop: for Telltale
//!   everything under `--data-dir`, for Prometheus its blocks, `wal/`, `chunks_head/`
//!   and the small `lock` and `queries.active` files (the top-level entries are kept);
//! - what the server says it stored: Telltale's `X-Prometheus-Remote-Write-Histograms-
//!   Written` headers summed, Prometheus's
//!   `prometheus_tsdb_head_samples_appended_total{type="histogram"}`;
//! - a sanity check of the stored data: four range queries (`histogram_count` and
//!   `histogram_sum` summed, the series counted, the gauges' counts) compared point by
//!   point; a check Telltale refuses or answers with no series (its query side may not
//!   read native histograms yet) is noted, not failed.

pub mod encode;
pub mod workload;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Setup;
use crate::error::Result;
use crate::ingest::{self, PROMETHEUS_EMPTY_CONFIG, Side};
use crate::measure::{self, DirSize};
use crate::queries::{self, Comparison, Query, QueryRun, Range};
use crate::remote_write::{Push, SendStats};
use crate::servers::Server;
use encode::HistogramPlan;

/// The push of the part, built once and sent to both servers of every repetition.
pub struct HistogramPush {
    pub plan: HistogramPlan,
    pub push: Arc<Push>,
}

/// Prometheus's counter of appended native histogram samples (2.42 labels it by type).
pub const PROMETHEUS_APPENDED: &str =
    "prometheus_tsdb_head_samples_appended_total{type=\"histogram\"}";
/// The Telltale response header counted.
pub const TELLTALE_WRITTEN: &str = "X-Prometheus-Remote-Write-Histograms-Written";

/// The part's figures for one server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HistogramFigures {
    pub server: Side,
    pub series: usize,
    pub samples: u64,
    pub wall_s: f64,
    pub samples_per_s: f64,
    pub cpu_s: f64,
    pub cpu_s_per_million: f64,
    /// CPU seconds in the pause after the last request.
    pub settle_cpu_s: f64,
    pub vm_hwm_bytes: u64,
    pub rss_max_bytes: u64,
    pub other_cores: f64,
    /// Histogram samples the server says it stored, and how that was read.
    pub stored: Option<u64>,
    pub stored_by: &'static str,
    pub during_max: DirSize,
    pub after_settle: DirSize,
    pub after_stop: DirSize,
    pub stop_s: f64,
    /// Top-level entries of the data directory after the stop, largest first.
    pub top_level: Vec<(String, DirSize)>,
    /// The sanity-check queries it answered, and those it could not.
    pub queries: Vec<QueryRun>,
    pub query_errors: Vec<String>,
    pub send: SendStats,
}

impl HistogramFigures {
    pub fn per_sample(&self, bytes: u64) -> f64 {
        bytes as f64 / self.samples as f64
    }
}

/// The sanity-check queries.
pub fn checks() -> Vec<Query> {
    let q = |name, promql: String| Query { name, promql };
    let (c, g) = (workload::COUNTER_NAME, workload::GAUGE_NAME);
    vec![
        q(
            "sum of histogram_count",
            format!("sum(histogram_count({c}))"),
        ),
        q("sum of histogram_sum", format!("sum(histogram_sum({c}))")),
        q("histogram series", format!("count(histogram_count({c}))")),
        q(
            "gauge histograms' count",
            format!("sum(histogram_count({g}))"),
        ),
    ]
}

/// The checks' range: twelve steps over the data (on whole seconds, after its start).
pub fn check_range(plan: &HistogramPlan) -> Range {
    let (start, end) = (plan.start_ms() / 1000, plan.end_ms / 1000);
    let step = ((end - start) / 12).max(1);
    Range {
        start: start + step,
        end: start + 12 * step,
        step,
    }
}

async fn start(setup: &Setup, side: Side, dir: &Path) -> Result<Server> {
    match side {
        Side::Telltale => ingest::start(setup, side, dir, &[]).await,
        Side::Prometheus => {
            let mut server = Server::prometheus_with(
                &setup.prometheus,
                dir,
                PROMETHEUS_EMPTY_CONFIG,
                &["--enable-feature=native-histograms".to_string()],
            )?;
            server
                .wait_ready(&setup.client, setup.ready_timeout)
                .await?;
            Ok(server)
        }
    }
}

/// Runs each check once; a query the server refuses is kept as an error line.
async fn run_checks(setup: &Setup, url: &str, range: Range) -> (Vec<QueryRun>, Vec<String>) {
    let (mut runs, mut errors) = (Vec::new(), Vec::new());
    for q in checks() {
        match queries::run_all(&setup.client, url, std::slice::from_ref(&q), range, 1).await {
            Ok(mut r) => runs.append(&mut r),
            Err(e) => errors.push(format!("{}: {e}", q.name)),
        }
    }
    (runs, errors)
}

async fn one_server(
    setup: &Setup,
    side: Side,
    tag: &str,
    hp: &HistogramPush,
) -> Result<HistogramFigures> {
    let dir = ingest::fresh_dir(setup, &format!("{tag}-{}", side.name()))?;
    let mut server = start(setup, side, &dir).await?;
    let pid = server.pid();
    let m = ingest::timed_push(
        setup,
        &[pid],
        &format!("{}/api/v1/write", server.url),
        &hp.push,
        Some(dir.clone()),
    )
    .await?;
    let cpu_before = measure::cpu_seconds(pid, setup.ticks)?;
    tokio::time::sleep(Duration::from_secs(setup.sizes.histogram_settle_s)).await;
    let settle_cpu_s = measure::cpu_seconds(pid, setup.ticks)? - cpu_before;
    let after_settle = measure::dir_size(&dir);
    let (stored, stored_by) = match side {
        Side::Telltale => (m.send.written.map(|w| w.histograms), TELLTALE_WRITTEN),
        Side::Prometheus => {
            let text = crate::history::metrics_text(setup, &server).await?;
            let appended = crate::history::metric(&text, PROMETHEUS_APPENDED);
            (Some(appended as u64), PROMETHEUS_APPENDED)
        }
    };
    let (queries, query_errors) = run_checks(setup, &server.url, check_range(&hp.plan)).await;
    server.check_alive()?;
    let stopped = Instant::now();
    server.stop(setup.stop_timeout).await?;
    let stop_s = stopped.elapsed().as_secs_f64();
    let after_stop = measure::dir_size(&dir);
    let top_level = measure::top_level_sizes(&dir);
    ingest::discard(setup, &dir);
    let samples = hp.push.samples;
    Ok(HistogramFigures {
        server: side,
        series: hp.push.series,
        samples,
        wall_s: m.send.wall_s,
        samples_per_s: samples as f64 / m.send.wall_s,
        cpu_s: m.cpu_s[0],
        cpu_s_per_million: m.cpu_s[0] / (samples as f64 / 1e6),
        settle_cpu_s,
        vm_hwm_bytes: m.hwm[0],
        rss_max_bytes: m.rss_max[0],
        other_cores: m.other_cores,
        stored,
        stored_by,
        during_max: m.dir_max.unwrap_or_default(),
        after_settle,
        after_stop,
        stop_s,
        top_level,
        queries,
        query_errors,
        send: m.send,
    })
}

/// Both servers, in `order`.
pub async fn run(
    setup: &Setup,
    tag: &str,
    order: [Side; 2],
    hp: &HistogramPush,
) -> Result<Vec<HistogramFigures>> {
    let mut out = Vec::new();
    for side in order {
        println!("[{tag}] histograms {}", side.name());
        let f = one_server(setup, side, tag, hp).await?;
        println!(
            "  {} histogram samples in {:.1} s, {:.2} CPU-s per million, peak RSS {:.0} MiB, \
             {:.2} bytes per sample after the stop",
            f.samples,
            f.wall_s,
            f.cpu_s_per_million,
            f.vm_hwm_bytes as f64 / 1048576.0,
            f.per_sample(f.after_stop.allocated)
        );
        out.push(f);
    }
    Ok(out)
}

/// What the figures say about the stored data: warnings (samples refused or not all
/// stored, answers that differ) and notes (checks Telltale cannot answer yet), and the
/// comparisons of the checks both servers answered.
#[derive(Debug, Default)]
pub struct Verdict {
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub comparisons: Vec<Comparison>,
}

/// Relative difference the checks' answers may have (sums in another order).
const TOLERANCE: f64 = 1e-6;

pub fn verdict(figures: &[HistogramFigures]) -> Verdict {
    let mut v = Verdict::default();
    for f in figures {
        let who = f.server.name();
        if f.send.failed > 0 {
            v.warnings.push(format!(
                "histograms: {who} refused {} of {} requests; first: {}",
                f.send.failed,
                f.send.requests,
                f.send.first_error.as_deref().unwrap_or("")
            ));
        }
        // No float sample was sent: a server that counts some counts histograms twice.
        if let Some(w) = f.send.written
            && w.samples != 0
        {
            v.warnings.push(format!(
                "histograms: {who} answered X-Prometheus-Remote-Write-Samples-Written {} \
                 for requests without float samples (histograms are counted apart)",
                w.samples
            ));
        }
        if f.stored != Some(f.samples) {
            v.warnings.push(format!(
                "histograms: {who} stored {} of {} histogram samples ({})",
                f.stored
                    .map_or("an unknown number".into(), |n| n.to_string()),
                f.samples,
                f.stored_by
            ));
        }
        for e in &f.query_errors {
            match f.server {
                Side::Telltale => v.notes.push(format!(
                    "histograms: telltale did not answer the check {e} (skipped)"
                )),
                Side::Prometheus => v
                    .warnings
                    .push(format!("histograms: prometheus did not answer {e}")),
            }
        }
    }
    let pick = |s| figures.iter().find(|f| f.server == s);
    if let (Some(t), Some(p)) = (pick(Side::Telltale), pick(Side::Prometheus)) {
        for tq in &t.queries {
            let Some(pq) = p.queries.iter().find(|q| q.name == tq.name) else {
                continue;
            };
            let c = queries::compare(tq, pq, TOLERANCE);
            if pq.series == 0 {
                v.warnings.push(format!(
                    "histograms: prometheus answered {:?} with no series",
                    c.name
                ));
            } else if tq.series == 0 {
                // What was stored is checked above; reading native histograms back is
                // the query side's, which may not answer yet.
                v.notes.push(format!(
                    "histograms: telltale answered the check {:?} with no series (skipped)",
                    c.name
                ));
                continue;
            }
            if c.mismatches > 0 {
                v.warnings.push(format!(
                    "histograms: answers differ on {:?}: series {} vs {}, {} points differ; first: {}",
                    c.name,
                    c.series.0,
                    c.series.1,
                    c.mismatches,
                    c.first_difference.as_deref().unwrap_or("-")
                ));
            }
            v.comparisons.push(c);
        }
    }
    v
}

/// The part's rows: (figure, one server's value).
pub fn rows() -> Vec<crate::report::Figure<HistogramFigures>> {
    const MIB: f64 = 1024.0 * 1024.0;
    vec![
        ("histograms: CPU-s per million histogram samples", |f| {
            f.cpu_s_per_million
        }),
        ("histograms: CPU-s per million, push and pause", |f| {
            (f.cpu_s + f.settle_cpu_s) / (f.samples as f64 / 1e6)
        }),
        ("histograms: peak RSS (VmHWM), MiB", |f| {
            f.vm_hwm_bytes as f64 / MIB
        }),
        ("histograms: largest sampled RSS, MiB", |f| {
            f.rss_max_bytes as f64 / MIB
        }),
        ("histograms: bytes per sample after a clean stop", |f| {
            f.per_sample(f.after_stop.allocated)
        }),
        (
            "histograms: apparent bytes per sample after the stop",
            |f| f.per_sample(f.after_stop.apparent),
        ),
        ("histograms: bytes per sample after the pause", |f| {
            f.per_sample(f.after_settle.allocated)
        }),
        (
            "histograms: bytes per sample, largest during the push",
            |f| f.per_sample(f.during_max.allocated),
        ),
        ("histograms: wall time, s", |f| f.wall_s),
        ("histograms: samples per second", |f| f.samples_per_s),
        ("histograms: other processes' load meanwhile, cores", |f| {
            f.other_cores
        }),
    ]
}

/// The details the table does not show: where the bytes are, the checks.
pub fn print(figures: &[HistogramFigures], verdict_comparisons: &[Comparison]) {
    const MIB: f64 = 1024.0 * 1024.0;
    for f in figures {
        let top: Vec<String> = f
            .top_level
            .iter()
            .map(|(n, s)| format!("{n} {:.1} MiB", s.allocated as f64 / MIB))
            .collect();
        println!(
            "histograms {}: {} stored ({}); {:.1} MiB after the stop ({:.1} s to stop): {}",
            f.server.name(),
            f.stored.map_or("?".into(), |n| n.to_string()),
            f.stored_by,
            f.after_stop.allocated as f64 / MIB,
            f.stop_s,
            top.join(", ")
        );
    }
    for c in verdict_comparisons {
        println!(
            "histogram check {:<24} series {} / {}, points {} / {}, largest relative difference {:.1e}",
            c.name, c.series.0, c.series.1, c.points.0, c.points.1, c.max_relative_difference
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_range_lies_in_the_data() {
        let plan = HistogramPlan {
            series: 10,
            seed: 1,
            points: 5760,
            interval_ms: 15_000,
            end_ms: 1_700_000_010_000,
            senders: 2,
            request_samples: 100,
        };
        let r = check_range(&plan);
        assert!(r.start * 1000 > plan.start_ms() && r.end * 1000 <= plan.end_ms);
        assert_eq!((r.end - r.start) / r.step, 11);
        assert_eq!(r.step, 7200);
    }
}
