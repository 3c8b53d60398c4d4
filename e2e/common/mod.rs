//! Shared pieces of the whole-system tests: starting the real `telltale` binary and the
//! real peers (node_exporter, promtool), pushing samples, querying.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use telltale_model::now_ms;

pub mod browser;
pub mod dev_cluster;
pub mod load;
pub mod remote_write;

/// The binary under test, built by cargo for this test target.
pub const TELLTALE: &str = env!("CARGO_BIN_EXE_telltale");

/// A free 127.0.0.1 port for a process we are about to start, outside the ephemeral
/// range so that no outgoing connection takes it before the process binds it, or while a
/// replica that keeps its address is down.
pub fn free_port() -> u16 {
    telltale_replica::loopback::stable_port().unwrap()
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.into(),
            log,
        }
    }

    /// SIGKILL and wait, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A running `telltale standalone`.
pub struct Telltale {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
}

impl Telltale {
    /// Starts `telltale standalone` on a free port with `extra` arguments and waits until
    /// it is ready.
    pub async fn start(data_dir: &Path, extra: &[&str]) -> Telltale {
        Telltale::start_env(data_dir, extra, &[]).await
    }

    /// [`Telltale::start`] with environment variables `env` set.
    pub async fn start_env(data_dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Telltale {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = data_dir.with_extension(format!("{}.log", addr.port()));
        let mut cmd = Command::new(TELLTALE);
        cmd.arg("standalone")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(addr.to_string())
            .args(extra)
            .env("TELLTALE_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let proc = Proc::spawn("telltale", &mut cmd, log);
        let mut t = Telltale {
            proc,
            addr,
            data_dir: data_dir.to_path_buf(),
        };
        t.wait_ready().await;
        t
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn wait_ready(&mut self) {
        wait_ready(&mut self.proc, &format!("http://{}/-/ready", self.addr)).await;
    }

    /// Runs an instant query through the HTTP API and returns `data.result`.
    pub async fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        query_at(&self.url(""), expr).await
    }
}

/// GETs `url` and returns the body as text.
pub async fn get_text(url: &str) -> String {
    let resp = reqwest::get(url).await.unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.text().await.unwrap()
}

/// GETs `url` and returns the body as JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    serde_json::from_str(&get_text(url).await).unwrap()
}

/// Polls `ready_url` until it answers 200, failing with the process log if the process
/// exits or 30 s pass.
pub async fn wait_ready(proc: &mut Proc, ready_url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("{} exited with {status}:\n{}", proc.name, proc.log_text());
        }
        if let Ok(r) = client.get(ready_url).send().await
            && r.status().is_success()
        {
            return;
        }
        if Instant::now() > deadline {
            panic!("{} not ready after 30s:\n{}", proc.name, proc.log_text());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `data.result` of an instant query against the Prometheus API at `base`.
pub async fn query_at(base: &str, expr: &str) -> Vec<serde_json::Value> {
    query_params(base, &[("query", expr.to_string())]).await
}

/// `data.result` of an instant query evaluated at `time` (Unix seconds).
pub async fn query_at_time(base: &str, expr: &str, time: f64) -> Vec<serde_json::Value> {
    query_params(
        base,
        &[("query", expr.to_string()), ("time", time.to_string())],
    )
    .await
}

async fn query_params(base: &str, params: &[(&str, String)]) -> Vec<serde_json::Value> {
    let expr = &params[0].1;
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(params)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(status.is_success(), "query {expr:?} failed: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `expr` until it returns at least one sample (or panics after `within`).
pub async fn eventually(base: &str, expr: &str, within: Duration) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + within;
    loop {
        let result = query_at(base, expr).await;
        if !result.is_empty() {
            return result;
        }
        if Instant::now() > deadline {
            panic!("{expr:?} returned nothing within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The float value of an instant-vector sample in the API's JSON.
pub fn value_of(sample: &serde_json::Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

/// Starts Debian's node_exporter on a free loopback port.
pub async fn start_node_exporter(dir: &Path) -> (Proc, SocketAddr) {
    let bin = "/usr/bin/prometheus-node-exporter";
    assert!(
        Path::new(bin).exists(),
        "{bin} missing: install the Debian package prometheus-node-exporter (.ci/run does)"
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--web.listen-address={addr}"));
    let mut proc = Proc::spawn("node_exporter", &mut cmd, dir.join("node_exporter.log"));
    wait_ready(&mut proc, &format!("http://{addr}/metrics")).await;
    (proc, addr)
}

/// Starts Debian's Prometheus scraping `target` every second as job `node`; its base URL.
pub async fn start_prometheus_scraping(dir: &Path, target: SocketAddr) -> (Proc, String) {
    start_prometheus_with(
        dir,
        &format!(
            "  - job_name: node\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .await
}

/// Starts Debian's Prometheus with `scrape_configs` (the YAML list's items); its base URL.
pub async fn start_prometheus_with(dir: &Path, scrape_configs: &str) -> (Proc, String) {
    start_prometheus_config(dir, &format!("scrape_configs:\n{scrape_configs}")).await
}

/// Starts Debian's Prometheus with the configuration file `config`; its base URL.
pub async fn start_prometheus_config(dir: &Path, config: &str) -> (Proc, String) {
    start_prometheus_args(dir, config, &[]).await
}

/// Starts Debian's Prometheus as a remote_write receiver (and nothing to scrape); its
/// base URL (it receives at `/api/v1/write`).
pub async fn start_prometheus_receiver(dir: &Path) -> (Proc, String) {
    start_prometheus_args(
        dir,
        "scrape_configs: []\n",
        &["--web.enable-remote-write-receiver"],
    )
    .await
}

/// Starts Debian's Prometheus with the configuration file `config` and `extra` flags.
pub async fn start_prometheus_args(dir: &Path, config: &str, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let config = write_file(dir, "prometheus-scrape.yml", config);
    let mut cmd = Command::new("/usr/bin/prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-scrape-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra);
    let mut proc = Proc::spawn("prometheus", &mut cmd, dir.join("prometheus-scrape.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&mut proc, &format!("{base}/-/ready")).await;
    (proc, base)
}

/// The Raft status of the replica at `address` (`None` when it does not answer within a
/// second), over mutual TLS when the test installed an identity
/// (`telltale_storage_api::tls::client::global`).
pub async fn raft_status(address: &str) -> Option<telltale_storage_api::raft_pb::StatusResponse> {
    telltale_storage_api::cluster::reconcile::status(address, Duration::from_millis(800)).await
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts Debian's Alertmanager on a free loopback port (no clustering); its `host:port`.
pub async fn start_alertmanager(dir: &Path) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let config = write_file(
        dir,
        "alertmanager.yml",
        "route: {receiver: none}\nreceivers: [{name: none}]\n",
    );
    let mut cmd = Command::new("/usr/bin/prometheus-alertmanager");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=");
    let mut proc = Proc::spawn("alertmanager", &mut cmd, dir.join("alertmanager.log"));
    wait_ready(&mut proc, &format!("http://{addr}/-/ready")).await;
    (proc, addr)
}

/// Polls the Alertmanager at `am` until it holds an alert named `name`.
pub async fn wait_for_alert(am: &str, name: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let alerts = get_json(&format!("http://{am}/api/v2/alerts")).await;
        if let Some(a) = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
        {
            return a.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {name} in {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
