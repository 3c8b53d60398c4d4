//! `telltale-storage-bench`: the storage engine under a fixed, seeded,
//! node_exporter-like workload, compared in the same run with Prometheus's TSDB (via
//! `promtool`).
//!
//! ```text
//! cargo run --release -p telltale-storage --bin telltale-storage-bench -- --prometheus
//! ```
//! Flags: `--nodes N` (100 series each; default 100), `--hours H` (24), `--interval S`
//! (10), `--seed N` (42), `--dir PATH` (/tmp/telltale-bench), `--prometheus`,
//! `--promtool PATH` (/usr/bin/promtool).
//! Prints append throughput (samples per CPU-second), bytes per sample on disk after
//! flushing and compacting, head memory per active series, select latencies, and
//! rollup cost; with `--prometheus`, Prometheus's bytes per sample and samples per
//! CPU-second for the same data.

// The allocator the telltale binary uses: the write path allocates per series.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cpu;
mod prometheus;
mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use prost::Message;
use telltale_storage::{Engine, EngineOptions, Retention};
use telltale_storage_api::pb::WriteRequest;
use telltale_storage_api::{MatchOp, Matcher, Resolution, SelectRequest};
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
        retention: Retention {
            raw: None,
            minute: None,
            hour: None,
        },
        flush_interval: Duration::from_secs(u64::MAX / 4),
        rollups: true,
        rollup_windows_per_pass: usize::MAX,
        ..EngineOptions::default()
    };
    let engine = Engine::open(
        &args.dir.join("telltale"),
        opts,
        &::prometheus::Registry::new(),
    )?;
    let mut load = Workload::new(args.nodes, interval_ms, args.seed);

    // Append: every scrape is one write request, decoded from protobuf as the gRPC
    // server would; the head is flushed every 30 minutes of data, as by default.
    let flush_every = (1_800_000 / interval_ms).max(1);
    let (mut gen_cpu, mut head_per_series, mut rss_at_flush) = (Duration::ZERO, 0.0, 0);
    let cpu_before = cpu::process();
    let began = Instant::now();
    for round in 0..rounds {
        let t = cpu::thread();
        let request = WriteRequest {
            series: load.scrape(START, round),
        }
        .encode_to_vec();
        gen_cpu += cpu::thread().saturating_sub(t);
        let decoded = WriteRequest::decode(request.as_slice())?;
        engine.write(decoded.series)?;
        if (round + 1) % flush_every == 0 {
            if head_per_series == 0.0 {
                head_per_series = engine.head_bytes() as f64 / series as f64;
                rss_at_flush = cpu::rss_bytes();
            }
            engine.flush()?;
        }
    }
    engine.flush()?;
    let append_wall = began.elapsed();
    let append_cpu = cpu::process()
        .saturating_sub(cpu_before)
        .saturating_sub(gen_cpu);
    let samples = rounds as u64 * series as u64;

    let disk = engine.disk_usage_after_compaction()?;
    let tiers = engine.info()?;
    let raw_bytes = tiers[0].disk_bytes;

    // Selects: one series over the whole range, 1000 series over the last hour.
    let end = START + rounds * interval_ms;
    let one = SelectRequest {
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
    let thousand = SelectRequest {
        matchers: vec![
            Matcher::new(MatchOp::Regex, "__name__", "node_network_.+_bytes_total"),
            Matcher::new(MatchOp::Regex, "device", "eth[0-4]"),
        ],
        start_ms: end - 3_600_000,
        end_ms: end,
        resolution: Resolution::Raw as i32,
    };
    let (one_ms, one_n) = median_ms(21, || {
        engine
            .select(&one)
            .map(|s| s.iter().map(|x| x.samples.len()).sum::<usize>())
    })?;
    let (k_ms, k_n) = median_ms(11, || engine.select(&thousand).map(|s| s.len()))?;

    // Rollups of the whole range.
    let t = Instant::now();
    let cpu_r = cpu::process();
    while engine.rollup_pass()? > 0 {}
    let rollup_wall = t.elapsed();
    let rollup_cpu = cpu::process().saturating_sub(cpu_r);
    engine.disk_usage_after_compaction()?;
    let tiers = engine.info()?;

    println!("\n== telltale ==");
    println!(
        "append: {samples} samples in {:.1}s wall, {:.1}s CPU -> {:.0} samples per CPU-second",
        append_wall.as_secs_f64(),
        append_cpu.as_secs_f64(),
        samples as f64 / append_cpu.as_secs_f64()
    );
    println!(
        "disk after flush + compaction: {disk} bytes = {:.3} bytes/sample (raw chunks alone {:.3})",
        disk as f64 / samples as f64,
        raw_bytes as f64 / samples as f64
    );
    println!(
        "head memory per active series (30 min of samples): {head_per_series:.0} bytes; process RSS then {} MiB",
        rss_at_flush / (1 << 20)
    );
    println!(
        "select 1 series x {}h: {one_ms:.2} ms ({one_n} samples)",
        args.hours
    );
    println!("select {k_n} series x 1h: {k_ms:.2} ms");
    println!(
        "rollups (1m + 1h) of {}h: {:.1}s wall, {:.1}s CPU; 1m tier {} bytes, 1h tier {} bytes",
        args.hours,
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

/// Median wall time in ms of `n` runs of `f`, and what the last run returned.
fn median_ms<T>(
    n: usize,
    mut f: impl FnMut() -> telltale_storage::Result<T>,
) -> Result<(f64, T), Error> {
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
