//! `telltale-storage-bench`: storage under a fixed, seeded, node_exporter-like workload,
//! through the path `telltale standalone` runs — a one-replica Raft group (the Raft log,
//! the engine as state machine, snapshots bounding the log) written and read in process
//! (`LocalStorage`) — compared in the same run with Prometheus's TSDB (via `promtool`).
//!
//! ```text
//! cargo run --release -p telltale-replica --bin telltale-storage-bench -- --prometheus
//! ```
//! Flags: `--nodes N` (100 series each; default 100), `--hours H` (24), `--interval S`
//! (10), `--seed N` (42), `--dir PATH` (/tmp/telltale-bench), `--prometheus`,
//! `--promtool PATH` (/usr/bin/promtool).
//! Prints append throughput (samples per CPU-second of the whole process, background
//! work included), bytes per sample of the whole data directory after a clean stop (and
//! of the engine alone after compaction), the largest the Raft log grew, head memory per
//! active series, select latencies, and rollup cost; with `--prometheus`, Prometheus's
//! bytes per sample and samples per CPU-second for the same data.

// The allocator the telltale binary uses: the write path allocates per series.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cpu;
mod prometheus;
mod workload;

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage::{EngineOptions, Retention};
use telltale_storage_api::{
    MatchOp, Matcher, Resolution, SampleReader, SampleWriter, SelectRequest, Selection,
};
use workload::Workload;

type Error = Box<dyn std::error::Error>;

#[derive(Debug)]
struct Args {
    nodes: usize,
    hours: i64,
    interval: i64,
    seed: u64,
    dir: PathBuf,
    prometheus: bool,
    promtool: PathBuf,
}

impl Args {
    fn parse() -> Result<Self, Error> {
        let mut args = Args {
            nodes: 100,
            hours: 24,
            interval: 10,
            seed: 42,
            dir: PathBuf::from("/tmp/telltale-bench"),
            prometheus: false,
            promtool: PathBuf::from("/usr/bin/promtool"),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--nodes" => args.nodes = value()?.parse()?,
                "--hours" => args.hours = value()?.parse()?,
                "--interval" => args.interval = value()?.parse()?,
                "--seed" => args.seed = value()?.parse()?,
                "--dir" => args.dir = value()?.into(),
                "--promtool" => args.promtool = value()?.into(),
                "--prometheus" => args.prometheus = true,
                other => return Err(format!("unknown flag {other} (see the file's header)").into()),
            }
        }
        Ok(args)
    }
}

/// 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600_000;

fn main() -> Result<(), Error> {
    let args = Args::parse()?;
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    let interval_ms = args.interval * 1000;
    let rounds = args.hours * 3_600_000 / interval_ms;
    let series = args.nodes * workload::SERIES_PER_NODE;
    println!(
        "workload: {series} series ({} nodes), one sample every {}s for {}h = {} samples, seed {}",
        args.nodes,
        args.interval,
        args.hours,
        rounds * series as i64,
        args.seed
    );

    let opts = EngineOptions {
        retention: Retention::unlimited(),
        rollup_windows_per_pass: usize::MAX,
        ..EngineOptions::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    let data = args.dir.join("telltale");
    let replica = rt.block_on(start_replica(&data, opts))?;
    let storage = replica.local_storage();
    let mut load = Workload::new(args.nodes, interval_ms, args.seed);

    // Append: every scrape is one write, proposed through the replica's Raft log and
    // applied to the engine, as standalone's scraper and push receivers write.
    let (mut gen_cpu, mut head_per_series, mut rss_at_half, mut log_max) =
        (Duration::ZERO, 0.0, 0, 0u64);
    let cpu_before = cpu::process();
    let began = Instant::now();
    for round in 0..rounds {
        let t = cpu::thread();
        let scrape = load.scrape(START, round);
        gen_cpu += cpu::thread().saturating_sub(t);
        rt.block_on(storage.write(scrape))?;
        if round % 100 == 0 {
            log_max = log_max.max(replica.log_size().bytes);
        }
        if round == rounds / 2 {
            head_per_series = replica.engine()?.head_bytes() as f64 / series as f64;
            rss_at_half = cpu::rss_bytes();
        }
    }
    let append_wall = began.elapsed();
    let append_cpu = cpu::process()
        .saturating_sub(cpu_before)
        .saturating_sub(gen_cpu);
    let samples = rounds as u64 * series as u64;
    let during = du(&data);

    // Selects: one series over the whole range, 1000 series over the last hour.
    let end = START + rounds * interval_ms;
    let one = Selection {
        matchers: vec![
            Matcher::new(MatchOp::Equal, "__name__", "node_cpu_seconds_total"),
            Matcher::new(MatchOp::Equal, "instance", "node-000:9100"),
            Matcher::new(MatchOp::Equal, "cpu", "0"),
            Matcher::new(MatchOp::Equal, "mode", "user"),
        ],
        start_ms: START,
        end_ms: end,
        resolution: Resolution::Raw as i32,
    };
    let thousand = Selection {
        matchers: vec![
            Matcher::new(MatchOp::Regex, "__name__", "node_network_.+_bytes_total"),
            Matcher::new(MatchOp::Regex, "device", "eth[0-4]"),
        ],
        start_ms: end - 3_600_000,
        end_ms: end,
        resolution: Resolution::Raw as i32,
    };
    let read = |sel: &Selection| -> Result<(usize, usize), Error> {
        let series = rt.block_on(storage.select(SelectRequest::one(sel.clone())))?;
        let mut n = 0;
        for s in &series {
            n += s.samples()?.len();
        }
        Ok((series.len(), n))
    };
    let (one_ms, (_, one_n)) = median_ms(21, || read(&one))?;
    let (k_ms, (k_n, _)) = median_ms(11, || read(&thousand))?;

    // Rollups of what is left of the whole range (most were computed while writing).
    let engine = replica.engine()?;
    let t = Instant::now();
    let cpu_r = cpu::process();
    while engine.rollup_pass()? > 0 {}
    let rollup_wall = t.elapsed();
    let rollup_cpu = cpu::process().saturating_sub(cpu_r);
    let tiers = engine.info()?;
    drop(engine);

    // A clean stop: a last snapshot flushes the engine and purges the log.
    rt.block_on(replica.shutdown());
    let stopped = du(&data);
    drop(storage);
    drop(replica);
    drop(rt);
    let engine = telltale_storage::Engine::open(
        &current_engine_dir(&data)?,
        EngineOptions::default(),
        &::prometheus::Registry::new(),
    )?;
    let compacted = engine.disk_usage_after_compaction()?;
    drop(engine);

    println!("\n== telltale (a one-replica group, written in process) ==");
    println!(
        "append: {samples} samples in {:.1}s wall, {:.1}s CPU -> {:.0} samples per CPU-second",
        append_wall.as_secs_f64(),
        append_cpu.as_secs_f64(),
        samples as f64 / append_cpu.as_secs_f64()
    );
    println!(
        "data directory: {:.3} bytes/sample at the end of the writes, {:.3} after a clean stop \
         (engine alone after compaction {:.3}); the Raft log held at most {} MiB",
        during as f64 / samples as f64,
        stopped as f64 / samples as f64,
        compacted as f64 / samples as f64,
        log_max >> 20
    );
    println!(
        "head memory per active series half way: {head_per_series:.0} bytes; process RSS then {} MiB",
        rss_at_half / (1 << 20)
    );
    println!(
        "select 1 series x {}h: {one_ms:.2} ms ({one_n} samples)",
        args.hours
    );
    println!("select {k_n} series x 1h: {k_ms:.2} ms");
    println!(
        "rollups left after the writes: {:.1}s wall, {:.1}s CPU; 1m tier {} bytes, 1h tier {} bytes",
        rollup_wall.as_secs_f64(),
        rollup_cpu.as_secs_f64(),
        tiers[1].disk_bytes,
        tiers[2].disk_bytes
    );

    if args.prometheus {
        let fresh = Workload::new(args.nodes, interval_ms, args.seed);
        let p = prometheus::run(
            fresh,
            START,
            rounds,
            &args.promtool,
            &args.dir.join("prometheus"),
        )?;
        println!("\n== prometheus (promtool tsdb create-blocks-from openmetrics, 2h blocks) ==");
        println!(
            "append: {} samples in {:.1}s wall, {:.1}s CPU -> {:.0} samples per CPU-second (includes parsing text)",
            p.samples,
            p.wall.as_secs_f64(),
            p.cpu.as_secs_f64(),
            p.samples as f64 / p.cpu.as_secs_f64()
        );
        println!(
            "disk: {} bytes = {:.3} bytes/sample (chunks alone {:.3})",
            p.bytes,
            p.bytes as f64 / p.samples as f64,
            p.chunk_bytes as f64 / p.samples as f64
        );
    }
    Ok(())
}

/// A one-replica group in `dir`, leading (standalone's storage).
async fn start_replica(dir: &Path, engine: EngineOptions) -> Result<Replica, Error> {
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?;
    let config = ReplicaConfig {
        data_dir: dir.to_path_buf(),
        shard: 0,
        id: 1,
        peers: Peers(BTreeMap::from([(1, addr.to_string())])),
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

/// The engine directory a replica's data directory uses (`sm/<generation>`).
fn current_engine_dir(data: &Path) -> Result<PathBuf, Error> {
    let generation = std::fs::read_to_string(data.join("sm/CURRENT"))?;
    Ok(data.join("sm").join(generation.trim()))
}

/// Bytes on disk under `dir`, each file once (as `du` counts hard links).
fn du(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut HashSet<(u64, u64)>, total: &mut u64) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                walk(&entry.path(), seen, total);
            } else if seen.insert((meta.dev(), meta.ino())) {
                *total += meta.blocks() * 512;
            }
        }
    }
    let (mut seen, mut total) = (HashSet::new(), 0);
    walk(dir, &mut seen, &mut total);
    total
}

/// Median wall time in ms of `n` runs of `f`, and what the last run returned.
fn median_ms<T>(n: usize, mut f: impl FnMut() -> Result<T, Error>) -> Result<(f64, T), Error> {
    let mut times = Vec::with_capacity(n);
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        last = Some(f()?);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[n / 2], last.expect("n > 0")))
}
