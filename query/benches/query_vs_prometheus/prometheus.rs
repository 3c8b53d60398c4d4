//! Prometheus 2.42 on the same data: samples written as OpenMetrics files, turned into
//! TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, then served by a real
//! `prometheus` process on a free loopback port (killed when dropped).

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use telltale_storage_api::{Label, TimeSeries};

use crate::Error;

/// Collects samples for one OpenMetrics file (one or more 2-hour block ranges) and
/// hands full files to promtool.
pub struct BlockWriter {
    promtool: PathBuf,
    dir: PathBuf,
    /// Series text by label set, and its samples.
    pending: std::collections::BTreeMap<String, Vec<(i64, f64)>>,
    pub samples: u64,
    pub promtool_wall: Duration,
}

impl BlockWriter {
    pub fn new(promtool: &Path, dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir.join("data"))?;
        Ok(BlockWriter {
            promtool: promtool.to_path_buf(),
            dir: dir.to_path_buf(),
            pending: Default::default(),
            samples: 0,
            promtool_wall: Duration::ZERO,
        })
    }

    pub fn add(&mut self, scrape: &[TimeSeries]) {
        for ts in scrape {
            let key = exposition_name(&ts.labels);
            let v = self.pending.entry(key).or_default();
            v.extend(ts.samples.iter().map(|s| (s.timestamp_ms, s.value)));
            self.samples += ts.samples.len() as u64;
        }
    }

    /// Writes the pending samples as one OpenMetrics file and builds its blocks.
    pub fn cut(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = self.dir.join("cut.om");
        {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
            // Sorted by series text: each metric family is contiguous.
            for (series, samples) in std::mem::take(&mut self.pending) {
                for (t, v) in samples {
                    writeln!(
                        out,
                        "{series} {v} {}.{:03}",
                        t.div_euclid(1000),
                        t.rem_euclid(1000)
                    )?;
                }
            }
            writeln!(out, "# EOF")?;
            out.flush()?;
        }
        let began = Instant::now();
        let status = Command::new(&self.promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
            .arg(&file)
            .arg(self.dir.join("data"))
            .status()
            .map_err(|e| format!("running {}: {e}", self.promtool.display()))?;
        self.promtool_wall += began.elapsed();
        std::fs::remove_file(&file).ok();
        if !status.success() {
            return Err(format!("promtool failed with {status}").into());
        }
        Ok(())
    }
}

/// `name{a="b",...}` for a label list holding `__name__`.
fn exposition_name(labels: &[Label]) -> String {
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

/// A running `prometheus` over the blocks in `dir/data`.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts Prometheus and waits until it is ready and its compactions settled.
    pub async fn start(binary: &Path, dir: &Path) -> Result<Self, Error> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n")?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // The data lies in the past: keep it all.
            .arg("--storage.tsdb.retention.time=3650d")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if Instant::now() > deadline {
                return Err("prometheus did not become ready".into());
            }
            if let Ok(r) = http.get(format!("{}/-/ready", server.url)).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // promtool writes 2-hour blocks; Prometheus compacts them into longer ones, as
        // it would have over time. Its compactor first runs a minute after start: wait
        // for that, then until the block count has been still for 10 s.
        let (mut last, mut stable_since) = (None, Instant::now());
        while Instant::now() < deadline {
            let text = http
                .get(format!("{}/metrics", server.url))
                .send()
                .await?
                .text()
                .await?;
            let triggered = metric(&text, "prometheus_tsdb_compactions_triggered_total");
            let blocks = metric(&text, "prometheus_tsdb_blocks_loaded");
            if blocks != last {
                last = blocks;
                stable_since = Instant::now();
            } else if triggered.unwrap_or(0.0) >= 1.0
                && stable_since.elapsed() > Duration::from_secs(10)
            {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        println!(
            "prometheus: {} blocks after compaction",
            last.unwrap_or(0.0)
        );
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
