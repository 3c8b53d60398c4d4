//! The servers under test as child processes on free 127.0.0.1 ports: `telltale
//! standalone`, `telltale dev-cluster` and Debian's `prometheus`. Each is waited for on
//! `/-/ready`, stopped cleanly with SIGTERM, and killed by PID (its own and, for a
//! dev-cluster, its replicas') when dropped, a panic included.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(Error::io("cannot bind", "127.0.0.1:0"))?;
    Ok(l.local_addr()
        .map_err(Error::io("cannot read the address of", "127.0.0.1:0"))?
        .port())
}

/// One server process.
pub struct Server {
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub log: PathBuf,
    child: Option<Child>,
    pid: u32,
    /// Processes that go with this one (a dev-cluster's replicas, by PID and start
    /// time), killed with it.
    companions: Vec<(u32, u64)>,
}

/// Sends a signal to a PID with kill(1) (the workspace forbids `unsafe`, so no libc).
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Server {
    fn spawn(name: &str, bin: &Path, args: &[String], data_dir: &Path, port: u16) -> Result<Self> {
        Self::spawn_env(name, bin, args, data_dir, port, &[])
    }

    fn spawn_env(
        name: &str,
        bin: &Path,
        args: &[String],
        data_dir: &Path,
        port: u16,
        env: &[(String, String)],
    ) -> Result<Self> {
        let log = data_dir.with_extension("log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(Error::io("cannot create", &log))?;
        let err = out.try_clone().map_err(Error::io("cannot open", &log))?;
        let child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| Error::Spawn {
                name: name.to_string(),
                bin: bin.to_path_buf(),
                source,
            })?;
        Ok(Server {
            name: name.to_string(),
            url: format!("http://127.0.0.1:{port}"),
            log,
            pid: child.id(),
            child: Some(child),
            companions: Vec::new(),
        })
    }

    /// `telltale standalone --data-dir DATA --listen 127.0.0.1:PORT EXTRA...`.
    pub fn telltale_standalone(bin: &Path, data_dir: &Path, extra: &[String]) -> Result<Self> {
        Self::telltale_standalone_env(bin, data_dir, extra, &[])
    }

    /// The same with `env` added to the environment (e.g. `AWS_*` for object storage).
    pub fn telltale_standalone_env(
        bin: &Path,
        data_dir: &Path,
        extra: &[String],
        env: &[(String, String)],
    ) -> Result<Self> {
        let port = free_port()?;
        let mut args = vec![
            "standalone".to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        args.extend_from_slice(extra);
        Self::spawn_env("telltale standalone", bin, &args, data_dir, port, env)
    }

    /// moto's S3 API server (`moto_server -H 127.0.0.1 -p PORT`), its log at
    /// `LOG_BASE.log`; wait for it with [`Server::wait_http`] on `/`.
    pub fn moto(bin: &Path, log_base: &Path) -> Result<Self> {
        let port = free_port()?;
        let args = vec![
            "-H".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        Self::spawn("moto", bin, &args, log_base, port)
    }

    /// `telltale dev-cluster --shards S --replicas R --data-dir DATA --listen ... EXTRA`.
    pub fn telltale_dev_cluster(
        bin: &Path,
        data_dir: &Path,
        shards: u32,
        replicas: u32,
        extra: &[String],
    ) -> Result<Self> {
        let port = free_port()?;
        let mut args = vec![
            "dev-cluster".to_string(),
            "--shards".into(),
            shards.to_string(),
            "--replicas".into(),
            replicas.to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        args.extend_from_slice(extra);
        Self::spawn("telltale dev-cluster", bin, &args, data_dir, port)
    }

    /// Prometheus 2.42 on `config` (written next to the data directory), with the
    /// remote_write receiver on.
    pub fn prometheus(bin: &Path, data_dir: &Path, config: &str) -> Result<Self> {
        Self::prometheus_with(bin, data_dir, config, &[])
    }

    /// The same with `extra` flags (e.g. `--enable-feature=native-histograms`).
    pub fn prometheus_with(
        bin: &Path,
        data_dir: &Path,
        config: &str,
        extra: &[String],
    ) -> Result<Self> {
        let port = free_port()?;
        let file = data_dir.with_extension("yml");
        std::fs::write(&file, config).map_err(Error::io("cannot write", &file))?;
        let mut args = vec![
            format!("--config.file={}", file.display()),
            format!("--storage.tsdb.path={}", data_dir.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".to_string(),
        ];
        args.extend_from_slice(extra);
        Self::spawn("prometheus", bin, &args, data_dir, port)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Adds a process that belongs to this server (killed with it when dropped).
    pub fn add_companion(&mut self, pid: u32) {
        if let Some(started) = crate::measure::start_ticks(pid) {
            self.companions.push((pid, started));
        }
    }

    fn companions_alive(&self) -> impl Iterator<Item = u32> + '_ {
        self.companions
            .iter()
            .filter(|(pid, started)| crate::measure::start_ticks(*pid) == Some(*started))
            .map(|(pid, _)| *pid)
    }

    /// The process's exit, if it has exited, as an error naming its log.
    fn exited(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.child = None;
            return Err(Error::Exited {
                name: self.name.clone(),
                status: status.to_string(),
                log: self.log.clone(),
                tail: tail(&self.log, 20),
            });
        }
        Ok(())
    }

    /// Waits until `GET /-/ready` answers 200.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, within: Duration) -> Result<()> {
        self.wait_http(client, "/-/ready", within).await
    }

    /// Waits until `GET PATH` answers 2xx.
    pub async fn wait_http(
        &mut self,
        client: &reqwest::Client,
        path: &str,
        within: Duration,
    ) -> Result<()> {
        let url = format!("{}{path}", self.url);
        let deadline = Instant::now() + within;
        loop {
            self.exited()?;
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    name: self.name.clone(),
                    url,
                    seconds: within.as_secs(),
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Checks the process is still running (after a measurement, before trusting it).
    pub fn check_alive(&mut self) -> Result<()> {
        self.exited()
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `within`). Returns how long the
    /// clean stop took; an error when it had to be killed.
    pub async fn stop(mut self, within: Duration) -> Result<Duration> {
        let started = Instant::now();
        self.exited()?;
        signal(self.pid, "-TERM");
        let deadline = started + within;
        while let Some(child) = self.child.as_mut() {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Invalid {
                    what: "clean stop",
                    detail: format!(
                        "{} (pid {}) did not exit within {} s of SIGTERM; killed",
                        self.name,
                        self.pid,
                        within.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Companions stop with their parent; wait until they are gone too.
        while self.companions_alive().next().is_some() {
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(started.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for pid in self.companions_alive().collect::<Vec<_>>() {
            signal(pid, "-KILL");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
