//! The collection benchmark of the README.
//!
//! 1. Parse throughput: the node_exporter 1.5 page of the tests (text 0.0.4) and the same
//!    page written as OpenMetrics 1.0, parsed over and over for a fixed time.
//! 2. Scrape capacity: synthetic exporters (`--targets` ports on 127.0.0.1, each serving
//!    `--series` series whose values move every scrape) served by this process; one
//!    scraper replica (writing to a real `telltale storage`) and Debian's Prometheus
//!    scrape all of them every 15 s in the same run; the CPU time of each process is read
//!    from `/proc/PID/stat` over a fixed window after a warm-up. The scraper replica is
//!    this binary re-run as `--scraper-child`: the pipeline of `telltale scraper` (scrape
//!    manager -> series limits -> disk queue -> gRPC storage client, the targets API,
//!    mimalloc) built from this checkout; `--real-scraper` runs `telltale scraper` of
//!    `--telltale` instead.
//!
//! ```sh
//! cargo build --release --bin telltale
//! cargo run --release -p telltale-scraper --bin telltale-scrape-bench -- \
//!     --telltale target/release/telltale [--prometheus /usr/bin/prometheus]
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use telltale_storage_api::SampleWriter;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const FIXTURE: &str = include_str!("../../tests/fixtures/node_exporter.txt");
const INTERVAL_S: u64 = 15;

struct Args {
    telltale: PathBuf,
    prometheus: Option<PathBuf>,
    targets: usize,
    series: usize,
    warmup: Duration,
    window: Duration,
    parse_seconds: f64,
    parse_only: bool,
    real_scraper: bool,
    /// `--scraper-child STORAGE FILE QUEUE_DIR LISTEN`.
    child: Option<[String; 4]>,
}

fn parse_args() -> BenchResult<Args> {
    let exe = std::env::current_exe()?;
    let mut args = Args {
        telltale: exe.with_file_name("telltale"),
        prometheus: Some(PathBuf::from("/usr/bin/prometheus")).filter(|p| p.exists()),
        targets: 200,
        series: 1000,
        warmup: Duration::from_secs(35),
        window: Duration::from_secs(120),
        parse_seconds: 3.0,
        parse_only: false,
        real_scraper: false,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--telltale" => args.telltale = PathBuf::from(value()?),
            "--prometheus" => args.prometheus = Some(PathBuf::from(value()?)),
            "--no-prometheus" => args.prometheus = None,
            "--targets" => args.targets = value()?.parse()?,
            "--series" => args.series = value()?.parse()?,
            "--warmup" => args.warmup = Duration::from_secs(value()?.parse()?),
            "--window" => args.window = Duration::from_secs(value()?.parse()?),
            "--parse-seconds" => args.parse_seconds = value()?.parse()?,
            "--parse-only" => args.parse_only = true,
            "--real-scraper" => args.real_scraper = true,
            "--scraper-child" => args.child = Some([value()?, value()?, value()?, value()?]),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

/// The text page rewritten as OpenMetrics 1.0: counter families named without `_total`,
/// `untyped` as `unknown`, `# EOF` at the end.
fn to_openmetrics(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let mut parts = line.splitn(4, ' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("#"), Some(kind @ ("HELP" | "TYPE")), Some(name), rest) => {
                let counter = text.contains(&format!("# TYPE {name} counter"));
                let family = match name.strip_suffix("_total") {
                    Some(base) if counter => base,
                    _ => name,
                };
                let rest = match rest {
                    Some("untyped") => "unknown",
                    Some(r) => r,
                    None => "",
                };
                let _ = writeln!(out, "# {kind} {family} {rest}");
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn parse_throughput(name: &str, page: &str, seconds: f64, parse: fn(&str) -> usize) {
    let samples = parse(page);
    let started = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        std::hint::black_box(parse(std::hint::black_box(page)));
        rounds += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mb = page.len() as f64 * rounds as f64 / 1e6;
    println!(
        "parse {name:<13} {:>6} bytes {samples:>5} samples: {:>7.1} MB/s {:>12.0} samples/s ({rounds} pages in {elapsed:.1} s)",
        page.len(),
        mb / elapsed,
        (samples as u64 * rounds) as f64 / elapsed,
    );
}

/// One synthetic exporter page: `series` series in 10 families, values that move with
/// every scrape.
fn page(target: usize, series: usize, scrape: u64) -> String {
    let mut out = String::with_capacity(series * 80);
    let per_family = series.div_ceil(10);
    for f in 0..10 {
        let name = format!("bench_family_{f}_total");
        let _ = writeln!(out, "# HELP {name} Synthetic counter family {f}.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for s in 0..per_family.min(series.saturating_sub(f * per_family)) {
            let value = (scrape * (s as u64 + 1) + target as u64) as f64 * 1.5;
            let _ = writeln!(
                out,
                "{name}{{instance_id=\"{target}\",path=\"/api/v1/item/{s}\",code=\"200\"}} {value}"
            );
        }
    }
    out
}

#[derive(Clone)]
struct Exporter {
    target: usize,
    series: usize,
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

async fn serve_page(State(e): State<Exporter>) -> impl IntoResponse {
    let n = e.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        page(e.target, e.series, n),
    )
}

async fn start_exporters(targets: usize, series: usize) -> BenchResult<Vec<SocketAddr>> {
    let mut addrs = Vec::with_capacity(targets);
    for target in 0..targets {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addrs.push(listener.local_addr()?);
        let app = Router::new()
            .route("/metrics", get(serve_page))
            .with_state(Exporter {
                target,
                series,
                hits: Default::default(),
            });
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    Ok(addrs)
}

fn free_port() -> BenchResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// CPU seconds (user + system) the process has used, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32, ticks: f64) -> BenchResult<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').ok_or("unexpected /proc/PID/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, man proc).
    let utime: f64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: f64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) / ticks)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A child process killed when dropped.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> BenchResult<Proc> {
    let out = std::fs::File::create(log)?;
    let child = cmd
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    Ok(Proc { name, child })
}

async fn wait_http(url: &str, within: Duration) -> BenchResult<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = reqwest::get(url).await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not come up").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Targets up / total in a Prometheus-style `/api/v1/targets` answer.
async fn targets_up(url: &str) -> BenchResult<(usize, usize)> {
    let v: serde_json::Value = reqwest::get(url).await?.json().await?;
    let active = v["data"]["activeTargets"]
        .as_array()
        .ok_or("no activeTargets")?;
    let up = active.iter().filter(|t| t["health"] == "up").count();
    Ok((up, active.len()))
}

async fn capacity(args: &Args) -> BenchResult<()> {
    let work = std::env::temp_dir().join(format!("telltale-scrape-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = capacity_in(args, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn capacity_in(args: &Args, work: &Path) -> BenchResult<()> {
    let addrs = start_exporters(args.targets, args.series).await?;
    let list = addrs
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let interval = format!("{INTERVAL_S}s");
    std::fs::write(
        work.join("targets.yaml"),
        format!(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: bench}}\n\
             spec:\n  interval: {interval}\n  scrapeTimeout: 10s\n  static: [{{targets: [{list}]}}]\n"
        ),
    )?;
    std::fs::write(
        work.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: {interval}, scrape_timeout: 10s}}\n\
             scrape_configs:\n  - job_name: bench\n    static_configs: [{{targets: [{list}]}}]\n"
        ),
    )?;
    let (grpc, storage_http, scraper_http, prom_http) =
        (free_port()?, free_port()?, free_port()?, free_port()?);
    let storage = spawn(
        "telltale storage",
        Command::new(&args.telltale).args([
            "storage",
            "--data-dir",
            &work.join("storage").to_string_lossy(),
            "--grpc-listen",
            &format!("127.0.0.1:{grpc}"),
            "--listen",
            &format!("127.0.0.1:{storage_http}"),
        ]),
        &work.join("storage.log"),
    )?;
    wait_http(
        &format!("http://127.0.0.1:{storage_http}/metrics"),
        Duration::from_secs(30),
    )
    .await?;
    let (storage_addr, file, queue, listen) = (
        format!("127.0.0.1:{grpc}"),
        work.join("targets.yaml").to_string_lossy().into_owned(),
        work.join("queue").to_string_lossy().into_owned(),
        format!("127.0.0.1:{scraper_http}"),
    );
    let scraper = if args.real_scraper {
        spawn(
            "telltale scraper",
            Command::new(&args.telltale).args([
                "scraper",
                "--storage",
                &storage_addr,
                "--listen",
                &listen,
                "--queue-dir",
                &queue,
                "-f",
                &file,
            ]),
            &work.join("scraper.log"),
        )?
    } else {
        spawn(
            "scraper replica",
            Command::new(std::env::current_exe()?).args([
                "--scraper-child",
                &storage_addr,
                &file,
                &queue,
                &listen,
            ]),
            &work.join("scraper.log"),
        )?
    };
    let prometheus = match &args.prometheus {
        Some(bin) => Some(spawn(
            "prometheus",
            Command::new(bin).args([
                &format!("--config.file={}", work.join("prometheus.yml").display()),
                &format!("--storage.tsdb.path={}", work.join("prom").display()),
                &format!("--web.listen-address=127.0.0.1:{prom_http}"),
            ]),
            &work.join("prometheus.log"),
        )?),
        None => None,
    };
    wait_http(
        &format!("http://127.0.0.1:{scraper_http}/api/v1/targets"),
        Duration::from_secs(30),
    )
    .await?;
    if prometheus.is_some() {
        wait_http(
            &format!("http://127.0.0.1:{prom_http}/-/ready"),
            Duration::from_secs(30),
        )
        .await?;
    }
    println!(
        "capacity: {} targets x {} series every {INTERVAL_S} s; warm-up {} s, window {} s",
        args.targets,
        args.series,
        args.warmup.as_secs(),
        args.window.as_secs()
    );
    tokio::time::sleep(args.warmup).await;
    let ticks = clock_ticks();
    let mut procs: Vec<&Proc> = vec![&scraper, &storage];
    procs.extend(prometheus.as_ref());
    let start: Vec<f64> = procs
        .iter()
        .map(|p| cpu_seconds(p.child.id(), ticks))
        .collect::<BenchResult<_>>()?;
    let started = Instant::now();
    tokio::time::sleep(args.window).await;
    let elapsed = started.elapsed().as_secs_f64();
    let end: Vec<f64> = procs
        .iter()
        .map(|p| cpu_seconds(p.child.id(), ticks))
        .collect::<BenchResult<_>>()?;
    // Every target's series plus Prometheus's 5 report series, per scrape.
    let samples = (args.targets * (args.series + 5)) as f64 * elapsed / INTERVAL_S as f64;
    let tt_up = targets_up(&format!("http://127.0.0.1:{scraper_http}/api/v1/targets")).await?;
    println!(
        "samples scraped in the window (each): {:.0} ({:.0}/s)",
        samples,
        samples / elapsed
    );
    for (i, p) in procs.iter().enumerate() {
        let cpu = end[i] - start[i];
        println!(
            "{:<17} CPU {cpu:>6.2} s = {:>5.1} % of a core; {:>6.2} CPU-s per million samples; one core: {:>9.0} series at {INTERVAL_S} s",
            p.name,
            100.0 * cpu / elapsed,
            cpu / (samples / 1e6),
            samples / cpu * INTERVAL_S as f64,
        );
    }
    println!("telltale targets up: {} of {}", tt_up.0, tt_up.1);
    if prometheus.is_some() {
        let up = targets_up(&format!("http://127.0.0.1:{prom_http}/api/v1/targets")).await?;
        println!("prometheus targets up: {} of {}", up.0, up.1);
    }
    Ok(())
}

/// The scraper replica: the pipeline `telltale scraper` composes, on `-f`-style files.
async fn scraper_child([storage, file, queue, listen]: [String; 4]) -> BenchResult<()> {
    let registry = prometheus::Registry::new();
    let storage = Arc::new(telltale_storage_api::GrpcStorage::connect_lazy(&storage)?);
    let queue = telltale_scraper::DiskQueue::open(
        queue,
        storage,
        telltale_scraper::QueueOptions::default(),
        &registry,
    )
    .await?;
    let limited = telltale_scraper::CardinalityWriter::new(
        Arc::new(queue),
        telltale_scraper::CardinalityLimits::default(),
        &registry,
    );
    let writer: Arc<dyn SampleWriter> = limited.clone();
    let manager = telltale_scraper::ScrapeManager::new(writer.clone(), &registry);
    let resources: Vec<telltale_crds::ScrapeTarget> = telltale_crds::load_file(Path::new(&file))?
        .into_iter()
        .filter_map(|d| match d.resource {
            telltale_crds::Resource::ScrapeTarget(st) => Some(*st),
            _ => None,
        })
        .collect();
    manager.apply(&resources);
    let app = telltale_scraper::router(
        manager.clone(),
        writer,
        telltale_scraper::PushOptions::default(),
    )
    .merge(limited.router());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() -> BenchResult<()> {
    let args = parse_args()?;
    if let Some(child) = args.child.clone() {
        return tokio::runtime::Runtime::new()?.block_on(scraper_child(child));
    }
    let text_samples = |t: &str| {
        telltale_scraper::pull::text::parse(t)
            .map(|e| e.samples.len())
            .unwrap_or(0)
    };
    let om_samples = |t: &str| {
        telltale_scraper::pull::openmetrics::parse(t)
            .map(|e| e.samples.len())
            .unwrap_or(0)
    };
    let om = to_openmetrics(FIXTURE);
    if let Err(e) = telltale_scraper::pull::openmetrics::parse(&om) {
        return Err(format!("the OpenMetrics rewrite does not parse: {e}").into());
    }
    println!("node_exporter 1.5 page (scraper/tests/fixtures/node_exporter.txt)");
    parse_throughput("text 0.0.4", FIXTURE, args.parse_seconds, text_samples);
    parse_throughput("OpenMetrics", &om, args.parse_seconds, om_samples);
    if args.parse_only {
        return Ok(());
    }
    if !args.telltale.exists() {
        return Err(format!(
            "{} not found: build it (cargo build --release --bin telltale) or pass --telltale",
            args.telltale.display()
        )
        .into());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(capacity(&args))
}
