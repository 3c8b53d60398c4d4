//! `query-vs-prometheus`: latency of typical dashboard range queries against Telltale
//! (a one-replica Raft group read in process, as `telltale standalone` runs it, the query
//! API over HTTP) and Prometheus
//! 2.42 (Debian's `prometheus`, blocks built by `promtool`) holding the same data, in one
//! run. Every answer is compared between the two.
//!
//! ```text
//! make bench-query   # = cargo bench -p telltale-query --bench query-vs-prometheus
//! ```
//! Data (seeded, deterministic, ending 2026-02-01T00:00Z):
//! - `job="node"`: `--hosts` (100) node_exporter-like hosts x 100 series = 10,000
//!   series, one scrape every `--interval` (60) seconds for the last 24 hours;
//! - `job="archive"`: `--archive-hosts` (5) hosts = 500 series every
//!   `--archive-interval` (600) seconds for 30 days, for the 30-day queries (answered by
//!   Telltale from its 1-hour rollups).
//!
//! Scrapes happen 1.234 s after the minute (plus a few ms of per-host jitter), so no
//! sample sits exactly on a range boundary, where Prometheus 2.x (closed ranges) and 3.x
//! (left-open ranges, which Telltale follows) differ.
//!
//! Flags: `--runs N` (timed runs per query, 5), `--seed`, `--dir` (/tmp/telltale-query-bench),
//! `--prometheus PATH`, `--promtool PATH`, `--quick` (10 hosts, 4 days archive).

mod compare;
mod prometheus;
mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compare::Query;
use telltale_query::{CacheOptions, EngineOptions};
use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage::EngineOptions as StorageOptions;
use telltale_storage_api::{SampleReader, SampleWriter};
use workload::Workload;

type Error = Box<dyn std::error::Error + Send + Sync>;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-02-01T00:00:00Z: the end of the data.
const END: i64 = 1_769_904_000_000;
/// Scrapes happen this long after the interval starts.
const OFFSET: i64 = 1_234;

struct Args {
    hosts: usize,
    interval_s: i64,
    archive_hosts: usize,
    archive_interval_s: i64,
    archive_days: i64,
    runs: usize,
    seed: u64,
    dir: PathBuf,
    prometheus: PathBuf,
    promtool: PathBuf,
}

impl Args {
    fn parse() -> Result<Self, Error> {
        let mut a = Args {
            hosts: 100,
            interval_s: 60,
            archive_hosts: 5,
            archive_interval_s: 600,
            archive_days: 30,
            runs: 5,
            seed: 42,
            dir: PathBuf::from("/tmp/telltale-query-bench"),
            prometheus: PathBuf::from("/usr/bin/prometheus"),
            promtool: PathBuf::from("/usr/bin/promtool"),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--hosts" => a.hosts = value()?.parse()?,
                "--interval" => a.interval_s = value()?.parse()?,
                "--archive-hosts" => a.archive_hosts = value()?.parse()?,
                "--archive-interval" => a.archive_interval_s = value()?.parse()?,
                "--runs" => a.runs = value()?.parse()?,
                "--seed" => a.seed = value()?.parse()?,
                "--dir" => a.dir = value()?.into(),
                "--prometheus" => a.prometheus = value()?.into(),
                "--promtool" => a.promtool = value()?.into(),
                "--quick" => {
                    a.hosts = 10;
                    a.archive_days = 4;
                    a.runs = 3;
                }
                // cargo bench passes --bench to harness = false targets.
                "--bench" => {}
                other => return Err(format!("unknown flag {other} (see the file's header)").into()),
            }
        }
        Ok(a)
    }
}

fn main() -> Result<(), Error> {
    let args = Args::parse()?;
    let began = Instant::now();
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(&args));
    std::fs::remove_dir_all(&args.dir).ok();
    println!("\ntotal wall time {:.0} s", began.elapsed().as_secs_f64());
    result
}

async fn bench(args: &Args) -> Result<(), Error> {
    let day_start = END - DAY;
    let mut node = Workload::new(
        "node",
        args.hosts,
        day_start + OFFSET,
        args.interval_s * 1000,
        DAY / (args.interval_s * 1000),
        args.seed,
    );
    let archive_start = END - args.archive_days * DAY;
    let mut archive = Workload::new(
        "archive",
        args.archive_hosts,
        archive_start + OFFSET,
        args.archive_interval_s * 1000,
        args.archive_days * DAY / (args.archive_interval_s * 1000),
        args.seed + 1,
    );
    println!(
        "data: job=node {} series every {}s for 24h ({} samples); job=archive {} series every {}s for {} days ({} samples)",
        node.len(),
        args.interval_s,
        node.len() as i64 * node.rounds,
        archive.len(),
        args.archive_interval_s,
        args.archive_days,
        archive.len() as i64 * archive.rounds
    );

    // Telltale: the engine with its default retention (raw 7 d, 1 m 30 d, 1 h 365 d).
    let storage = StorageOptions {
        flush_interval: Duration::from_secs(u64::MAX / 4),
        rollup_windows_per_pass: usize::MAX,
        ..StorageOptions::default()
    };
    // As `telltale standalone` runs it: a one-replica Raft group, written and read in
    // process (`LocalStorage`).
    let replica = start_replica(&args.dir.join("telltale"), storage).await?;
    let local = Arc::new(replica.local_storage());
    let mut blocks = prometheus::BlockWriter::new(&args.promtool, &args.dir.join("prometheus"))?;

    // Both workloads in time order, as scrapes would arrive; the head flushed every 30
    // minutes of data; Prometheus files cut per day before the last day, per 2 hours in
    // it (promtool makes one block per 2 hours either way).
    let t = Instant::now();
    let (mut n_round, mut a_round) = (0, 0);
    let window = |t: i64| {
        if t < day_start {
            t.div_euclid(DAY)
        } else {
            (1 << 40) | t.div_euclid(2 * HOUR)
        }
    };
    let mut current_window = None;
    let mut last_flush = i64::MIN;
    let mut append = Duration::ZERO;
    loop {
        let next_a = (a_round < archive.rounds).then(|| archive.time_of(a_round));
        let next_n = (n_round < node.rounds).then(|| node.time_of(n_round));
        let (ts, scrape) = match (next_a, next_n) {
            (None, None) => break,
            (Some(a), n) if n.is_none_or(|n| a <= n) => {
                a_round += 1;
                (a, archive.scrape(a_round - 1))
            }
            (_, Some(n)) => {
                n_round += 1;
                (n, node.scrape(n_round - 1))
            }
            _ => unreachable!(),
        };
        if current_window.is_some_and(|w| w != window(ts)) {
            blocks.cut()?;
        }
        current_window = Some(window(ts));
        blocks.add(&scrape);
        let w = Instant::now();
        local.write(scrape).await?;
        if ts.div_euclid(30 * MIN) != last_flush {
            if last_flush != i64::MIN {
                replica.engine()?.flush()?;
            }
            last_flush = ts.div_euclid(30 * MIN);
        }
        append += w.elapsed();
    }
    blocks.cut()?;
    let engine = replica.engine()?;
    engine.flush()?;
    let w = Instant::now();
    while engine.rollup_pass()? > 0 {}
    drop(engine);
    println!(
        "loaded in {:.0} s: telltale append {:.0} s + rollups {:.0} s; promtool {:.0} s",
        t.elapsed().as_secs_f64(),
        append.as_secs_f64(),
        w.elapsed().as_secs_f64(),
        blocks.promtool_wall.as_secs_f64()
    );

    // Telltale's query API over the replica, without and with the result cache.
    let reader: Arc<dyn SampleReader> = local.clone();
    let plain = serve_api(reader.clone(), CacheOptions::default()).await?;
    let cached = serve_api(
        reader,
        CacheOptions {
            max_bytes: 256 << 20,
            ..CacheOptions::default()
        },
    )
    .await?;
    let prom = prometheus::Server::start(&args.prometheus, &args.dir.join("prometheus")).await?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    println!(
        "\n| query | range, step | series | Telltale p50 / p99 ms | of which read / eval ms | Prometheus 2.42 p50 / p99 ms | Telltale, result cache warm p50 ms | tier | answers |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut differ = Vec::new();
    for q in queries(args) {
        let telltale = format!("http://{plain}");
        let (ours, tier) = compare::run(&http, &telltale, &q).await?;
        let (theirs, _) = compare::run(&http, &prom.url, &q).await?;
        let d = compare::diff(&ours, &theirs);
        let rollup = tier.as_deref().is_some_and(|t| t != "raw");
        // Where the `[5m]` windows still reach back before the first sample of the
        // series, rate() extrapolates towards the counter's zero point. Prometheus 2.51
        // (#13725) changed the order of that limit and the 1.1-interval threshold;
        // Telltale follows Prometheus 3, so 2.42 may differ there and only there.
        let series_start_only = !d.agrees(1e-9)
            && q.expr.contains("rate(")
            && d.latest
                .is_some_and(|t| t < day_start + 5 * MIN + q.step_ms);
        let verdict = if d.agrees(1e-9) {
            format!("agree ({} points)", d.points)
        } else if series_start_only {
            format!(
                "agree after the series' first 5 min (there: max rel. diff {:.1e}, rate's zero-point limit changed in Prometheus 2.51)",
                d.max_rel
            )
        } else if rollup && d.only_in_one == 0 {
            let at = d.worst.as_ref().map_or(String::new(), |w| {
                format!(
                    ", largest at step {} of {}: {:.4} vs {:.4}",
                    (w.1 - q.start_ms) / q.step_ms,
                    (q.end_ms - q.start_ms) / q.step_ms,
                    w.2,
                    w.3
                )
            });
            format!("max rel. diff {:.1e} (rollup semantics{at})", d.max_rel)
        } else {
            format!(
                "DIFFER: {} series only in one, {} point-count mismatches, max rel. diff {:.1e}",
                d.only_in_one, d.point_count_mismatch, d.max_rel
            )
        };
        let t_ours = compare::time(&http, &telltale, &q, args.runs).await?;
        let (read_ms, eval_ms) = compare::split(&http, &telltale, &q).await?;
        let t_theirs = compare::time(&http, &prom.url, &q, args.runs).await?;
        // The newest hour is never cached (out-of-order window): a 1-hour query gains
        // nothing from the cache.
        let cached_p50 = if q.end_ms - q.start_ms > 2 * HOUR {
            let cached_url = format!("http://{cached}");
            compare::run(&http, &cached_url, &q).await?;
            let t = compare::time(&http, &cached_url, &q, args.runs).await?;
            format!("{:.1}", compare::quantile(&t, 0.5))
        } else {
            "–".to_string()
        };
        let span = q.end_ms - q.start_ms;
        let range = if span >= DAY {
            format!("{} d, {} s", span / DAY, q.step_ms / 1000)
        } else {
            format!("{} h, {} s", span / HOUR, q.step_ms / 1000)
        };
        println!(
            "| `{}` | {range} | {} | {:.1} / {:.1} | {read_ms:.0} / {eval_ms:.0} | {:.1} / {:.1} | {cached_p50} | {} | {verdict} |",
            q.expr,
            ours.len(),
            compare::quantile(&t_ours, 0.5),
            compare::quantile(&t_ours, 0.99),
            compare::quantile(&t_theirs, 0.5),
            compare::quantile(&t_theirs, 0.99),
            tier.unwrap_or_default(),
        );
        if !rollup && !d.agrees(1e-9) && !series_start_only {
            differ.push(format!("{}: {d:?}", q.name));
        }
    }
    drop(prom);
    replica.shutdown().await;
    if !differ.is_empty() {
        return Err(format!("answers differ: {}", differ.join("; ")).into());
    }
    Ok(())
}

/// The query API over `reader` on a free loopback port.
async fn serve_api(
    reader: Arc<dyn SampleReader>,
    cache: CacheOptions,
) -> Result<SocketAddr, Error> {
    let engine = telltale_query::Engine::new(
        reader,
        EngineOptions {
            cache,
            ..EngineOptions::default()
        },
        &::prometheus::Registry::new(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = telltale_query::router(Arc::new(engine));
    // As `telltale query` serves it: without Nagle.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        tcp.set_nodelay(true).ok();
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Dashboard queries over the last hour (15 s step) and the last day (30 s step: raw
/// samples in Telltale too, so answers must agree), and
/// 30-day queries at a 1 h step (Telltale: 1 h rollups).
fn queries(args: &Args) -> Vec<Query> {
    let node = [
        (
            "cpu by mode",
            "sum by (mode) (rate(node_cpu_seconds_total{job=\"node\"}[5m]))",
        ),
        (
            "topk network",
            "topk(5, rate(node_network_receive_bytes_total{job=\"node\"}[5m]))",
        ),
        (
            "p99 latency",
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"node\"}[5m])))",
        ),
        (
            "busy ratio",
            "sum(rate(node_cpu_seconds_total{job=\"node\",mode!=\"idle\"}[5m])) / sum(rate(node_cpu_seconds_total{job=\"node\"}[5m]))",
        ),
        ("load avg", "avg_over_time(node_load1{job=\"node\"}[10m])"),
    ];
    let mut out = Vec::new();
    for (span, step) in [(HOUR, 15_000), (DAY, 30_000)] {
        for (name, expr) in node {
            out.push(Query {
                name,
                expr: expr.to_string(),
                start_ms: END - span,
                end_ms: END,
                step_ms: step,
            });
        }
    }
    let days = args.archive_days.min(30);
    for (name, expr) in [
        (
            "30d cpu by mode",
            "sum by (mode) (rate(node_cpu_seconds_total{job=\"archive\"}[1h]))",
        ),
        (
            "30d load avg",
            "avg_over_time(node_load1{job=\"archive\"}[1h])",
        ),
    ] {
        out.push(Query {
            name,
            expr: expr.to_string(),
            start_ms: END - days * DAY + HOUR,
            end_ms: END,
            step_ms: HOUR,
        });
    }
    out
}

/// A one-replica group in `dir`, leading (standalone's storage).
async fn start_replica(dir: &std::path::Path, engine: StorageOptions) -> Result<Replica, Error> {
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?;
    let config = ReplicaConfig {
        data_dir: dir.to_path_buf(),
        shard: 0,
        id: 1,
        peers: Peers(std::collections::BTreeMap::from([(1, addr.to_string())])),
        initial_voters: None,
        engine,
        raft: RaftOptions::default(),
    };
    let replica = Replica::start(config, &::prometheus::Registry::new()).await?;
    replica
        .raft()
        .wait(Some(Duration::from_secs(30)))
        .current_leader(1, "the bench's replica leads")
        .await?;
    Ok(replica)
}
