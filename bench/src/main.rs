//! `telltale-bench`: the benchmark of issue 15. The real `telltale` binary and Debian's
//! Prometheus 2.42 get the same seeded node_exporter-like workload in the same run,
//! through external interfaces only (remote_write, `/api/v1/query_range`,
//! `/api/v1/targets`, `/-/ready`, the command line, `-f` files, `/proc`), so it keeps
//! measuring while Telltale's internals change.
//!
//! ```text
//!  workload.rs  seeded hosts ──> remote_write.rs (prompb + snappy, 4 senders in step)
//!                     │                     │
//!                     │          ingest.rs: standalone | prometheus, one after the other
//!                     │            └─ queries.rs: six query_range queries, timed, compared
//!                     │          cluster.rs: dev-cluster parent + replica processes
//!                     │          disk.rs: one day, data dir during and after a clean stop
//!                     └──> scrape.rs: exporters on 127.0.0.1 scraped by both servers
//!  servers.rs (child processes, ports, readiness, stop)   measure.rs (/proc, du)
//!  report.rs  tables per repetition, summary, JSON (--out)
//! ```
//!
//! Parts (`--only`): `ingest` (1), `query` (2, implies the ingest), `scrape` (3),
//! `disk` (4), `cluster` (5; runs Prometheus's ingest and queries of the same repetition
//! for the ratios). Each repetition alternates which server goes first.

mod cluster;
mod disk;
mod error;
mod ingest;
mod measure;
mod queries;
mod remote_write;
mod report;
mod scrape;
mod servers;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::ingest::Side;
use crate::queries::Range;
use crate::remote_write::{Push, PushPlan};
use crate::report::Repetition;
use crate::workload::Fleet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    Ingest,
    Query,
    Scrape,
    Disk,
    Cluster,
}

/// Telltale against Prometheus 2.42 on the same workload, with ratios.
#[derive(Parser, Debug)]
#[command(name = "telltale-bench")]
struct Args {
    /// The telltale binary (default: `telltale` next to this program).
    #[arg(long)]
    telltale: Option<PathBuf>,
    #[arg(long, default_value = "/usr/bin/prometheus")]
    prometheus: PathBuf,
    /// Parts to run (comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<Part>,
    /// Tiny sizes for a smoke run (explicit size flags still win).
    #[arg(long)]
    quick: bool,
    /// JSON results (every repetition, rows and summary), rewritten after each repetition.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where data directories and logs go (default: a new directory under $TMPDIR).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep data directories and the work directory.
    #[arg(long)]
    keep: bool,
    /// Leave Telltale's range-query result cache on (off by default: Prometheus 2.42
    /// has none, and the queries are repeated over the same range).
    #[arg(long)]
    result_cache: bool,
    #[command(flatten)]
    sizes: SizeArgs,
}

/// Sizes: each flag overrides the default (or `--quick`'s value).
#[derive(clap::Args, Debug)]
struct SizeArgs {
    #[arg(long)]
    repetitions: Option<usize>,
    /// Series pushed in parts 1, 2 and 5 (hosts of 100 series).
    #[arg(long)]
    series: Option<usize>,
    /// Points per series (one every --interval-s, ending at the run's start).
    #[arg(long)]
    points: Option<usize>,
    #[arg(long)]
    interval_s: Option<u64>,
    /// Samples per remote_write request.
    #[arg(long)]
    request_samples: Option<usize>,
    /// Concurrent remote_write senders.
    #[arg(long)]
    senders: Option<usize>,
    /// How far (in intervals of data) one sender may run ahead of the slowest.
    #[arg(long)]
    slack_steps: Option<usize>,
    /// Timed runs per query (after one warm-up run).
    #[arg(long)]
    query_runs: Option<usize>,
    #[arg(long)]
    query_step_s: Option<i64>,
    #[arg(long)]
    scrape_targets: Option<usize>,
    #[arg(long)]
    scrape_series: Option<usize>,
    #[arg(long)]
    scrape_interval_s: Option<u64>,
    #[arg(long)]
    scrape_warmup_s: Option<u64>,
    #[arg(long)]
    scrape_window_s: Option<u64>,
    #[arg(long)]
    disk_series: Option<usize>,
    /// Points per series in part 4 (at --interval-s; 8,640 = one day at 10 s).
    #[arg(long)]
    disk_points: Option<usize>,
    #[arg(long)]
    cluster_shards: Option<u32>,
    #[arg(long)]
    cluster_replicas: Option<u32>,
    /// Pause after each ingest before the queries (its CPU is reported).
    #[arg(long)]
    settle_s: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
}

/// The sizes a run uses.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sizes {
    pub repetitions: usize,
    pub series: usize,
    pub points: usize,
    pub interval_s: u64,
    pub request_samples: usize,
    pub senders: usize,
    pub slack_steps: usize,
    pub query_runs: usize,
    pub query_step_s: i64,
    pub scrape_targets: usize,
    pub scrape_series: usize,
    pub scrape_interval_s: u64,
    pub scrape_warmup_s: u64,
    pub scrape_window_s: u64,
    pub disk_series: usize,
    pub disk_points: usize,
    pub cluster_shards: u32,
    pub cluster_replicas: u32,
    pub settle_s: u64,
    pub seed: u64,
}

impl Sizes {
    /// Issue 15's workload.
    fn full() -> Sizes {
        Sizes {
            repetitions: 2,
            series: 50_000,
            points: 360,
            interval_s: 10,
            request_samples: 2_000,
            senders: 4,
            slack_steps: 6,
            query_runs: 10,
            query_step_s: 15,
            scrape_targets: 100,
            scrape_series: 1_000,
            scrape_interval_s: 5,
            scrape_warmup_s: 30,
            scrape_window_s: 120,
            disk_series: 1_000,
            disk_points: 8_640,
            cluster_shards: 2,
            cluster_replicas: 3,
            settle_s: 10,
            seed: 15,
        }
    }

    /// A smoke run of every part in about a minute.
    fn quick() -> Sizes {
        Sizes {
            repetitions: 1,
            series: 300,
            points: 60,
            request_samples: 200,
            query_runs: 3,
            scrape_targets: 3,
            scrape_series: 100,
            scrape_interval_s: 1,
            scrape_warmup_s: 4,
            scrape_window_s: 5,
            disk_series: 100,
            disk_points: 720,
            settle_s: 1,
            ..Sizes::full()
        }
    }

    fn resolve(quick: bool, a: &SizeArgs) -> Sizes {
        let d = if quick { Sizes::quick() } else { Sizes::full() };
        Sizes {
            repetitions: a.repetitions.unwrap_or(d.repetitions),
            series: a.series.unwrap_or(d.series),
            points: a.points.unwrap_or(d.points),
            interval_s: a.interval_s.unwrap_or(d.interval_s),
            request_samples: a.request_samples.unwrap_or(d.request_samples),
            senders: a.senders.unwrap_or(d.senders),
            slack_steps: a.slack_steps.unwrap_or(d.slack_steps),
            query_runs: a.query_runs.unwrap_or(d.query_runs),
            query_step_s: a.query_step_s.unwrap_or(d.query_step_s),
            scrape_targets: a.scrape_targets.unwrap_or(d.scrape_targets),
            scrape_series: a.scrape_series.unwrap_or(d.scrape_series),
            scrape_interval_s: a.scrape_interval_s.unwrap_or(d.scrape_interval_s),
            scrape_warmup_s: a.scrape_warmup_s.unwrap_or(d.scrape_warmup_s),
            scrape_window_s: a.scrape_window_s.unwrap_or(d.scrape_window_s),
            disk_series: a.disk_series.unwrap_or(d.disk_series),
            disk_points: a.disk_points.unwrap_or(d.disk_points),
            cluster_shards: a.cluster_shards.unwrap_or(d.cluster_shards),
            cluster_replicas: a.cluster_replicas.unwrap_or(d.cluster_replicas),
            settle_s: a.settle_s.unwrap_or(d.settle_s),
            seed: a.seed.unwrap_or(d.seed),
        }
    }
}

/// What every part needs: binaries, a work directory, an HTTP client, the sizes.
pub struct Setup {
    pub telltale: PathBuf,
    pub prometheus: PathBuf,
    pub work: PathBuf,
    pub client: reqwest::Client,
    pub ticks: f64,
    pub keep: bool,
    pub result_cache: bool,
    pub sizes: Sizes,
    pub ready_timeout: Duration,
    pub stop_timeout: Duration,
}

fn version(bin: &std::path::Path) -> String {
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(if o.stdout.is_empty() {
                &o.stderr
            } else {
                &o.stdout
            })
            .into_owned();
            text.lines().next().unwrap_or_default().trim().to_string()
        })
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Builds a push plan's requests, saying how long it took.
fn build(what: &str, plan: PushPlan) -> Arc<Push> {
    let started = Instant::now();
    let push = plan.build();
    println!(
        "{what}: {} series × {} points = {} samples in {} requests ({:.1} MB snappy), built in {:.1} s",
        push.series,
        plan.points,
        push.samples,
        push.senders.iter().map(Vec::len).sum::<usize>(),
        push.compressed_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Arc::new(push)
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let sizes = Sizes::resolve(args.quick, &args.sizes);
    let parts = if args.only.is_empty() {
        vec![
            Part::Ingest,
            Part::Query,
            Part::Scrape,
            Part::Disk,
            Part::Cluster,
        ]
    } else {
        args.only.clone()
    };
    let has = |p| parts.contains(&p);
    let telltale = match args.telltale {
        Some(t) => t,
        None => std::env::current_exe()?.with_file_name("telltale"),
    };
    anyhow::ensure!(
        telltale.is_file(),
        "{} not found: build it (cargo build --release --bin telltale) or pass --telltale",
        telltale.display()
    );
    anyhow::ensure!(
        args.prometheus.is_file(),
        "{} not found: install Debian's prometheus (scripts/install-deps.sh) or pass --prometheus",
        args.prometheus.display()
    );
    let work = match args.work_dir {
        Some(w) => w,
        None => std::env::temp_dir().join(format!("telltale-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let setup = Setup {
        client: reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(300))
            .build()?,
        ticks: measure::clock_ticks(),
        keep: args.keep,
        result_cache: args.result_cache,
        ready_timeout: Duration::from_secs(120),
        stop_timeout: Duration::from_secs(120),
        telltale,
        prometheus: args.prometheus,
        work,
        sizes,
    };
    let sizes = &setup.sizes;
    let start_ms = now_ms();
    let interval_ms = sizes.interval_s as i64 * 1000;
    let end_ms = start_ms / interval_ms * interval_ms;
    let versions = (version(&setup.telltale), version(&setup.prometheus));
    println!("telltale:   {} ({})", setup.telltale.display(), versions.0);
    println!(
        "prometheus: {} ({})",
        setup.prometheus.display(),
        versions.1
    );
    println!("work dir:   {}; parts: {parts:?}", setup.work.display());
    println!("sizes: {}", serde_json::to_string(sizes)?);

    let pushing = has(Part::Ingest) || has(Part::Query) || has(Part::Cluster);
    let fleet = Fleet::new(sizes.series, sizes.seed)?;
    let plan = PushPlan {
        fleet,
        points: sizes.points,
        interval_ms,
        end_ms,
        senders: sizes.senders,
        request_samples: sizes.request_samples,
    };
    println!(
        "hosts: {} × {} series = {} series ({:?})",
        fleet.instances,
        fleet.shape.series(),
        fleet.series(),
        fleet.shape
    );
    let push = pushing.then(|| build("ingest workload", plan));
    let disk_push = if has(Part::Disk) {
        let plan = PushPlan {
            fleet: Fleet::new(sizes.disk_series, sizes.seed ^ 0xD15C)?,
            points: sizes.disk_points,
            ..plan
        };
        Some(build("disk workload", plan))
    } else {
        None
    };
    let step = sizes.query_step_s;
    let range = Range {
        start: (plan.start_ms() / 1000).div_euclid(step) * step + step,
        end: (end_ms / 1000).div_euclid(step) * step,
        step,
    };
    let qs = if has(Part::Query) || has(Part::Cluster) {
        queries::queries(&Fleet::instance_label(fleet.instances / 2))
    } else {
        Vec::new()
    };

    let mut reps: Vec<Repetition> = Vec::new();
    let mut ok = true;
    for r in 1..=sizes.repetitions {
        let order = if r % 2 == 1 {
            [Side::Telltale, Side::Prometheus]
        } else {
            [Side::Prometheus, Side::Telltale]
        };
        let mut rep = Repetition {
            index: r,
            first: Some(order[0]),
            ..Default::default()
        };
        let tag = format!("r{r}");
        if let Some(push) = &push {
            for side in order {
                if side == Side::Telltale && !has(Part::Ingest) && !has(Part::Query) {
                    continue; // only Prometheus's figures, for the cluster's ratios
                }
                let own_queries = if has(Part::Query) || has(Part::Cluster) {
                    &qs[..]
                } else {
                    &[]
                };
                println!(
                    "[{tag}] ingest{} {}",
                    if own_queries.is_empty() {
                        ""
                    } else {
                        " + queries"
                    },
                    side.name()
                );
                match ingest::run(
                    &setup,
                    side,
                    &format!("{tag}-ingest"),
                    push,
                    own_queries,
                    range,
                )
                .await
                {
                    Ok(out) => {
                        let f = &out.figures;
                        println!(
                            "  {} samples in {:.1} s, {:.2} CPU-s per million, peak RSS {:.0} MiB",
                            f.samples,
                            f.wall_s,
                            f.cpu_s_per_million,
                            f.vm_hwm_bytes as f64 / 1048576.0
                        );
                        if out.figures.send.failed > 0 {
                            rep.warnings.push(format!(
                                "{} refused {} of {} requests; first: {}",
                                side.name(),
                                out.figures.send.failed,
                                out.figures.send.requests,
                                out.figures.send.first_error.as_deref().unwrap_or("")
                            ));
                        }
                        rep.ingest.push(out.figures);
                        if !out.queries.is_empty() {
                            rep.queries.insert(side.name(), out.queries);
                        }
                    }
                    Err(e) => rep
                        .errors
                        .push(format!("ingest into {} failed: {e}", side.name())),
                }
            }
            compare_all(&mut rep, has(Part::Query));
            if has(Part::Cluster) {
                println!("[{tag}] dev-cluster ingest + queries");
                match cluster::run(&setup, &format!("{tag}-cluster"), push, &qs, range).await {
                    Ok(c) => {
                        println!(
                            "  {:.1} s, replicas {:.2} + dev-cluster {:.2} CPU-s per million",
                            c.parent.wall_s,
                            c.replicas_cpu_s_per_million,
                            c.parent.cpu_s_per_million
                        );
                        if c.parent.send.failed > 0 {
                            rep.warnings.push(format!(
                                "dev-cluster refused {} requests; first: {}",
                                c.parent.send.failed,
                                c.parent.send.first_error.as_deref().unwrap_or("")
                            ));
                        }
                        if let Some(prom) = rep.queries.get(Side::Prometheus.name()) {
                            for (t, p) in c.queries.iter().zip(prom) {
                                let cmp = queries::compare(t, p, TOLERANCE);
                                warn_difference(&mut rep.warnings, "dev-cluster", &cmp);
                                rep.cluster_comparisons.push(cmp);
                            }
                        }
                        rep.cluster = Some(c);
                    }
                    Err(e) => rep.errors.push(format!("dev-cluster failed: {e}")),
                }
            }
        }
        if has(Part::Scrape) {
            println!("[{tag}] scrape");
            match scrape::run(&setup, &format!("{tag}-scrape"), order).await {
                Ok(s) => {
                    for f in &s {
                        println!(
                            "  {}: {} scrapes in {:.0} s, {:.2} CPU-s per million samples",
                            f.server.name(),
                            f.scrapes,
                            f.window_s,
                            f.cpu_s_per_million
                        );
                        if f.up_after.0 != f.up_after.1
                            || f.up_before.0 != f.up_before.1
                            || f.up_after.1 != f.targets
                        {
                            rep.warnings.push(format!(
                                "{}: targets up {:?} after the warm-up, {:?} after the window, of {}",
                                f.server.name(),
                                f.up_before,
                                f.up_after,
                                f.targets
                            ));
                        }
                    }
                    rep.scrape = s;
                }
                Err(e) => rep.errors.push(format!("scrape failed: {e}")),
            }
        }
        if let Some(disk_push) = &disk_push {
            println!("[{tag}] disk");
            match disk::run(&setup, &format!("{tag}-disk"), order, disk_push).await {
                Ok(d) => {
                    for f in &d {
                        println!(
                            "  {}: {:.1} bytes per sample after the stop, {:.1} during (max)",
                            f.server.name(),
                            f.bytes_per_sample_after,
                            f.bytes_per_sample_during
                        );
                    }
                    for f in d.iter().filter(|f| f.send.failed > 0) {
                        rep.warnings.push(format!(
                            "disk: {} refused {} requests; first: {}",
                            f.server.name(),
                            f.send.failed,
                            f.send.first_error.as_deref().unwrap_or("")
                        ));
                    }
                    rep.disk = d;
                }
                Err(e) => rep.errors.push(format!("disk failed: {e}")),
            }
        }
        rep.build_rows();
        report::print_repetition(&rep);
        ok &= rep.errors.is_empty();
        reps.push(rep);
        let summary = report::summary(&reps);
        if let Some(out) = &args.out {
            let json = serde_json::json!({
                "telltale": {"path": setup.telltale, "version": versions.0},
                "prometheus": {"path": setup.prometheus, "version": versions.1},
                "run_start_ms": start_ms,
                "data_end_ms": end_ms,
                "query_range": range,
                "result_cache": setup.result_cache,
                "sizes": sizes,
                "fleet": fleet,
                "repetitions": reps,
                "summary": summary,
            });
            std::fs::write(out, serde_json::to_vec_pretty(&json)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        if r == sizes.repetitions {
            report::print_summary(&summary, reps.len());
        }
    }
    if !setup.keep && ok {
        let _ = std::fs::remove_dir_all(&setup.work);
    } else {
        println!("logs and data kept in {}", setup.work.display());
    }
    Ok(ok)
}

/// Relative difference two servers' points may have (float sums in another order).
const TOLERANCE: f64 = 1e-6;

fn warn_difference(warnings: &mut Vec<String>, who: &str, c: &queries::Comparison) {
    if c.mismatches > 0 || c.series.0 != c.series.1 {
        warnings.push(format!(
            "{who} answers differ from Prometheus on {:?}: series {} vs {}, {} points differ; first: {}",
            c.name,
            c.series.0,
            c.series.1,
            c.mismatches,
            c.first_difference.as_deref().unwrap_or("-")
        ));
    }
}

/// Compares Telltale's answers with Prometheus's (when both ran the queries).
fn compare_all(rep: &mut Repetition, queried: bool) {
    let (Some(t), Some(p)) = (rep.queries.get("telltale"), rep.queries.get("prometheus")) else {
        return;
    };
    if !queried {
        return;
    }
    let comparisons: Vec<_> = t
        .iter()
        .zip(p)
        .map(|(t, p)| queries::compare(t, p, TOLERANCE))
        .collect();
    for c in &comparisons {
        warn_difference(&mut rep.warnings, "telltale", c);
    }
    rep.comparisons = comparisons;
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    let ok = runtime.block_on(async {
        tokio::select! {
            r = run(args) => r,
            _ = tokio::signal::ctrl_c() => {
                // Dropping the run stops every server it started.
                anyhow::bail!("interrupted")
            }
        }
    })?;
    if !ok {
        anyhow::bail!("some measurements failed (see the ERROR lines)");
    }
    Ok(())
}
