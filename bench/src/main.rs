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
//!  history.rs: months of data in standalone, days moved to a cold tier in moto (S3),
//!              dashboards before and after, `telltale backup` and `restore`
//!  histograms/: seeded latency histograms (workload.rs) as remote_write 1.0 native
//!              histograms (encode.rs) into both servers: CPU, RSS, bytes on disk
//!  servers.rs (child processes, ports, readiness, stop)   measure.rs (/proc, du)
//!  report.rs  tables per repetition, summary, JSON (--out)
//! ```
//!
//! Parts (`--only`): `ingest` (1), `query` (2, implies the ingest), `scrape` (3),
//! `disk` (4), `cluster` (5; runs Prometheus's ingest and queries of the same repetition
//! for the ratios), `history` (6; Telltale only, with moto; not in the default set),
//! `histograms` (7; native histograms' ingest CPU and bytes on disk against Prometheus
//! with `--enable-feature=native-histograms`; not in the default set).
//! Each repetition alternates which server goes first.

mod cluster;
mod disk;
mod error;
mod histograms;
mod history;
mod ingest;
mod measure;
mod queries;
mod remote_write;
mod repetition;
mod report;
mod scrape;
mod servers;
mod sizes;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use telltale_model::now_ms;

use crate::queries::Range;
use crate::remote_write::{Push, PushPlan};
use crate::report::Repetition;
use crate::sizes::{SizeArgs, Sizes};
use crate::workload::Fleet;

/// A part of the benchmark (`--only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Part {
    Ingest,
    Query,
    Scrape,
    Disk,
    Cluster,
    /// Telltale only: cold tier, dashboards over months, backup and restore (needs moto;
    /// only when asked for).
    History,
    /// Native histograms: ingest CPU and bytes on disk per histogram sample (only when
    /// asked for).
    Histograms,
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
    /// moto's S3 API server, for `--only history` (default: the tests' venv,
    /// ~/.cache/telltale-venv/bin/moto_server).
    #[arg(long)]
    moto: Option<PathBuf>,
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

/// What every part needs: binaries, a work directory, an HTTP client, the sizes.
pub struct Setup {
    pub telltale: PathBuf,
    pub prometheus: PathBuf,
    pub moto: PathBuf,
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
        args.prometheus.is_file() || parts == [Part::History],
        "{} not found: install Debian's prometheus (scripts/install-deps.sh) or pass --prometheus",
        args.prometheus.display()
    );
    let moto = args.moto.unwrap_or_else(history::default_moto);
    anyhow::ensure!(
        moto.is_file() || !has(Part::History),
        "{} not found: install moto[server] (scripts/requirements-test.txt) or pass --moto",
        moto.display()
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
        moto,
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
    let push_plan = PushPlan {
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
    let push = pushing.then(|| build("ingest workload", push_plan));
    let disk_push = if has(Part::Disk) {
        let plan = PushPlan {
            fleet: Fleet::new(sizes.disk_series, sizes.seed ^ 0xD15C)?,
            points: sizes.disk_points,
            ..push_plan
        };
        Some(build("disk workload", plan))
    } else {
        None
    };
    let step = sizes.query_step_s;
    let range = Range {
        start: (push_plan.start_ms() / 1000).div_euclid(step) * step + step,
        end: (end_ms / 1000).div_euclid(step) * step,
        step,
    };
    let histogram_push = has(Part::Histograms).then(|| {
        let interval_ms = sizes.histogram_interval_s as i64 * 1000;
        let plan = histograms::encode::HistogramPlan {
            series: sizes.histogram_series,
            seed: sizes.seed,
            points: sizes.histogram_points,
            interval_ms,
            end_ms: start_ms / interval_ms * interval_ms,
            senders: sizes.senders,
            request_samples: sizes.request_samples,
        };
        let started = Instant::now();
        let push = plan.build();
        println!(
            "histogram workload: {} series × {} points = {} histogram samples in {} requests ({:.1} MB snappy), built in {:.1} s",
            push.series,
            plan.points,
            push.samples,
            push.senders.iter().map(Vec::len).sum::<usize>(),
            push.compressed_bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        histograms::HistogramPush {
            plan,
            push: Arc::new(push),
        }
    });
    let plan = repetition::Plan {
        queries: if has(Part::Query) || has(Part::Cluster) {
            queries::queries(&Fleet::instance_label(fleet.instances / 2))
        } else {
            Vec::new()
        },
        parts,
        push,
        disk_push,
        histogram_push,
        range,
    };

    let mut reps: Vec<Repetition> = Vec::new();
    let mut ok = true;
    for r in 1..=sizes.repetitions {
        let mut rep = repetition::run(&setup, &plan, r).await;
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
                "histogram_plan": plan.histogram_push.as_ref().map(|h| h.plan),
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
