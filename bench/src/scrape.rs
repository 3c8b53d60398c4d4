//! Part 3: scraping. Synthetic exporters, one 127.0.0.1 port each, served by this
//! process in text format 0.0.4, each a host of `--scrape-series` series whose values
//! move with every scrape. `telltale standalone -f targets.yaml` (a ScrapeTarget with
//! static targets) and Prometheus (`prometheus.yml`) scrape them, one after the other;
//! after a warm-up, a window measures each server's whole-process CPU and memory. The
//! samples are counted by the exporters: pages served in the window × (series + the 5
//! series a scrape reports about itself, `up` and friends).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::Setup;
use crate::error::{Error, Result};
use crate::ingest::{self, Side};
use crate::measure::{self, Sampler};
use crate::servers::Server;
use crate::workload::{Instance, Shape};

/// Series a scrape adds about itself: `up`, `scrape_duration_seconds`,
/// `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`,
/// `scrape_series_added`.
pub const REPORT_SERIES: u64 = 5;
const JOB: &str = "bench";

/// One synthetic exporter: a host whose values move one interval per page served.
struct Exporter {
    host: std::sync::Mutex<Instance>,
    /// `# HELP`/`# TYPE` lines before series i (where a family starts) and the text
    /// before each value.
    headers: Vec<Option<String>>,
    prefixes: Vec<String>,
    interval_s: f64,
    hits: Arc<AtomicU64>,
}

impl Exporter {
    fn new(host: Instance, interval_s: f64, hits: Arc<AtomicU64>) -> Exporter {
        let mut headers = Vec::new();
        let mut prefixes = Vec::new();
        let mut family = "";
        for s in host.specs() {
            if s.family != family {
                family = s.family;
                headers.push(Some(format!(
                    "# HELP {family} Synthetic {} of the benchmark.\n# TYPE {family} {}\n",
                    s.kind.as_str(),
                    s.kind.as_str()
                )));
            } else {
                headers.push(None);
            }
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(n, v)| format!("{n}=\"{v}\""))
                .collect();
            prefixes.push(if labels.is_empty() {
                format!("{} ", s.name)
            } else {
                format!("{}{{{}}} ", s.name, labels.join(","))
            });
        }
        Exporter {
            host: std::sync::Mutex::new(host),
            headers,
            prefixes,
            interval_s,
            hits,
        }
    }

    fn page(&self) -> String {
        let mut host = self
            .host
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        host.advance(self.interval_s);
        let mut out = String::with_capacity(self.prefixes.len() * 72);
        for ((header, prefix), v) in self.headers.iter().zip(&self.prefixes).zip(host.values()) {
            if let Some(h) = header {
                out.push_str(h);
            }
            out.push_str(prefix);
            let _ = writeln!(out, "{v}");
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        out
    }
}

async fn serve_page(State(e): State<Arc<Exporter>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        e.page(),
    )
}

/// The exporters of one run, stopped when dropped.
pub struct Exporters {
    pub addrs: Vec<SocketAddr>,
    pub hits: Arc<AtomicU64>,
    tasks: tokio::task::JoinSet<()>,
}

impl Drop for Exporters {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl Exporters {
    pub async fn start(
        targets: usize,
        series: usize,
        interval_s: f64,
        seed: u64,
    ) -> Result<Exporters> {
        let shape = Shape::for_series(series)?;
        let hits = Arc::new(AtomicU64::new(0));
        let mut addrs = Vec::with_capacity(targets);
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..targets {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(Error::io("cannot bind", "127.0.0.1:0"))?;
            addrs.push(
                listener
                    .local_addr()
                    .map_err(Error::io("cannot read the address of", "127.0.0.1:0"))?,
            );
            let exporter = Arc::new(Exporter::new(
                Instance::new(seed ^ 0x5C4A, t, shape),
                interval_s,
                hits.clone(),
            ));
            let app = axum::Router::new()
                .route("/metrics", axum::routing::get(serve_page))
                .with_state(exporter);
            tasks.spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        Ok(Exporters { addrs, hits, tasks })
    }

    fn target_list(&self) -> String {
        self.addrs
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The ScrapeTarget document for `telltale -f`.
    pub fn scrape_target_yaml(&self, interval_s: u64) -> String {
        let timeout = interval_s.min(10);
        format!(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata:\n  name: {JOB}\n\
             spec:\n  job: {JOB}\n  interval: {interval_s}s\n  scrapeTimeout: {timeout}s\n  \
             static:\n    - targets: [{}]\n",
            self.target_list()
        )
    }

    /// The same targets as a `prometheus.yml`.
    pub fn prometheus_yaml(&self, interval_s: u64) -> String {
        let timeout = interval_s.min(10);
        format!(
            "global:\n  scrape_interval: {interval_s}s\n  scrape_timeout: {timeout}s\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{}]\n",
            self.target_list()
        )
    }
}

/// Targets of the benchmark's job that are up, and all of them, from a Prometheus-style
/// `/api/v1/targets`.
async fn targets_up(setup: &Setup, base: &str) -> Result<(usize, usize)> {
    let url = format!("{base}/api/v1/targets");
    let body: serde_json::Value = setup
        .client
        .get(&url)
        .send()
        .await
        .map_err(Error::http(&url))?
        .json()
        .await
        .map_err(Error::http(&url))?;
    let active = body["data"]["activeTargets"]
        .as_array()
        .ok_or_else(|| Error::Invalid {
            what: "targets answer",
            detail: format!("{url}: no data.activeTargets"),
        })?;
    let ours: Vec<_> = active
        .iter()
        .filter(|t| t["labels"]["job"] == JOB)
        .collect();
    Ok((
        ours.iter().filter(|t| t["health"] == "up").count(),
        ours.len(),
    ))
}

/// Part 3's figures for one server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScrapeFigures {
    pub server: Side,
    pub targets: usize,
    pub series_per_target: usize,
    pub interval_s: u64,
    pub window_s: f64,
    pub scrapes: u64,
    pub samples: u64,
    pub cpu_s: f64,
    pub cpu_s_per_million: f64,
    pub vm_hwm_bytes: u64,
    pub rss_max_bytes: u64,
    /// (up, total) of the benchmark's targets after the warm-up and after the window.
    pub up_before: (usize, usize),
    pub up_after: (usize, usize),
    /// This process's CPU in the window (the exporters), for reference.
    pub exporters_cpu_s: f64,
    /// Cores other processes of the machine kept busy in the window, on average.
    pub other_cores: f64,
}

async fn one_server(
    setup: &Setup,
    side: Side,
    tag: &str,
    exporters: &Exporters,
) -> Result<ScrapeFigures> {
    let sizes = &setup.sizes;
    let dir = ingest::fresh_dir(setup, &format!("{tag}-{}", side.name()))?;
    let mut server = match side {
        Side::Telltale => {
            let file = dir.with_extension("targets.yaml");
            std::fs::write(&file, exporters.scrape_target_yaml(sizes.scrape_interval_s))
                .map_err(Error::io("cannot write", &file))?;
            let mut s = Server::telltale_standalone(
                &setup.telltale,
                &dir,
                &["-f".to_string(), file.display().to_string()],
            )?;
            s.wait_ready(&setup.client, setup.ready_timeout).await?;
            s
        }
        Side::Prometheus => {
            let mut s = Server::prometheus(
                &setup.prometheus,
                &dir,
                &exporters.prometheus_yaml(sizes.scrape_interval_s),
            )?;
            s.wait_ready(&setup.client, setup.ready_timeout).await?;
            s
        }
    };
    tokio::time::sleep(Duration::from_secs(sizes.scrape_warmup_s)).await;
    let up_before = targets_up(setup, &server.url).await?;
    let (pid, me) = (server.pid(), std::process::id());
    let sampler = Sampler::start(vec![pid], None);
    let (cpu0, me0) = (
        measure::cpu_seconds(pid, setup.ticks)?,
        measure::cpu_seconds(me, setup.ticks)?,
    );
    let other = measure::OtherLoad::start(&[pid], setup.ticks)?;
    let hits0 = exporters.hits.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(sizes.scrape_window_s)).await;
    let hits1 = exporters.hits.load(Ordering::Relaxed);
    let window_s = started.elapsed().as_secs_f64();
    let (cpu1, me1) = (
        measure::cpu_seconds(pid, setup.ticks)?,
        measure::cpu_seconds(me, setup.ticks)?,
    );
    let other_cores = other.cores(&[pid], setup.ticks)?;
    let peaks = sampler.finish();
    let hwm = measure::memory(pid)?.hwm;
    let up_after = targets_up(setup, &server.url).await?;
    server.check_alive()?;
    server.stop(setup.stop_timeout).await?;
    ingest::discard(setup, &dir);
    let scrapes = hits1 - hits0;
    let samples = scrapes * (sizes.scrape_series as u64 + REPORT_SERIES);
    Ok(ScrapeFigures {
        server: side,
        targets: sizes.scrape_targets,
        series_per_target: sizes.scrape_series,
        interval_s: sizes.scrape_interval_s,
        window_s,
        scrapes,
        samples,
        cpu_s: cpu1 - cpu0,
        cpu_s_per_million: (cpu1 - cpu0) / (samples as f64 / 1e6),
        vm_hwm_bytes: hwm,
        rss_max_bytes: peaks.rss[0],
        up_before,
        up_after,
        exporters_cpu_s: me1 - me0,
        other_cores,
    })
}

/// Both servers, in `order`, against one set of exporters.
pub async fn run(setup: &Setup, tag: &str, order: [Side; 2]) -> Result<Vec<ScrapeFigures>> {
    let sizes = &setup.sizes;
    let exporters = Exporters::start(
        sizes.scrape_targets,
        sizes.scrape_series,
        sizes.scrape_interval_s as f64,
        sizes.seed,
    )
    .await?;
    let mut out = Vec::new();
    for side in order {
        out.push(one_server(setup, side, tag, &exporters).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_are_text_format_and_move() {
        let hits = Arc::new(AtomicU64::new(0));
        let e = Exporter::new(
            Instance::new(1, 0, Shape::for_series(100).unwrap()),
            5.0,
            hits.clone(),
        );
        let (a, b) = (e.page(), e.page());
        assert_eq!(hits.load(Ordering::Relaxed), 2);
        assert_ne!(a, b);
        let samples: Vec<&str> = a.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 100);
        assert!(a.contains("# TYPE http_request_duration_seconds histogram\n"));
        assert!(a.contains(
            "http_request_duration_seconds_bucket{handler=\"/api/v1/resource0\",le=\"+Inf\"} "
        ));
        assert!(a.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} "));
        for line in samples {
            let value = line.rsplit_once(' ').unwrap().1;
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        let types = a.lines().filter(|l| l.starts_with("# TYPE")).count();
        assert_eq!(types, a.lines().filter(|l| l.starts_with("# HELP")).count());
    }
}
