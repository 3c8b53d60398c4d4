//! The remote_write forwarder against Debian's Prometheus 2.42 (remote-write receiver on)
//! started on 127.0.0.1: samples arrive and are queryable, write_relabel_configs apply,
//! a stopped remote gets everything once it is back, a forwarder reopened on its queue
//! sends what was queued and nothing twice. A stand-in HTTP server is used only for what
//! a real Prometheus cannot be made to answer (429/400/500 sequences) and to read the
//! request headers and credentials.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use prost::Message;
use telltale_crds::prometheus::RemoteWriteConfig;
use telltale_model::now_ms;
use telltale_scraper::push::remote_write::proto;
use telltale_scraper::{ForwarderOptions, RemoteWriteForwarder};
use telltale_storage_api::{Label, Sample, SampleWriter, TimeSeries};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A free 127.0.0.1 port below the ephemeral range (32768 up on Linux), so that no
/// outgoing connection takes it while Prometheus is stopped and the forwarder retries.
fn free_port() -> u16 {
    use std::hash::BuildHasher;
    let seed = std::collections::hash_map::RandomState::new();
    (0..1000u64)
        .map(|i| 20_000 + (seed.hash_one(i) % 12_000) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free loopback port")
}

/// Debian's Prometheus with the remote-write receiver, on a fixed port and data dir so
/// it can be stopped and started again; stopped by PID when dropped.
struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    async fn start(dir: &Path) -> Prometheus {
        let mut p = Prometheus {
            child: None,
            port: free_port(),
            dir: dir.to_path_buf(),
        };
        p.restart().await;
        p
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.base())
    }

    async fn restart(&mut self) {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} missing: install the Debian package prometheus (.ci/run does)"
        );
        let config = self.dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("prometheus.log"))
            .unwrap();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--web.enable-remote-write-receiver")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        self.child = Some(child);
        let ready = format!("{}/-/ready", self.base());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(&ready).await
                && r.status().is_success()
            {
                return;
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().unwrap()) {
                panic!("prometheus exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM by PID and wait for the process to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The instant query's result vector.
    async fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let r: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.base()))
            .query(&[("query", q)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "success", "{q}: {r}");
        r["data"]["result"].as_array().unwrap().clone()
    }

    /// The value of a query answering one sample; 0 when it answers none.
    async fn scalar(&self, q: &str) -> f64 {
        match self.query(q).await.as_slice() {
            [] => 0.0,
            [one] => one["value"][1].as_str().unwrap().parse().unwrap(),
            many => panic!("{q}: {many:?}"),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn config(yaml: &str) -> RemoteWriteConfig {
    let c: RemoteWriteConfig = serde_yaml::from_str(yaml).unwrap();
    c.validate("remote_write[0]").unwrap();
    c
}

/// `n` samples of one series, one per millisecond from `start`.
fn series(labels: &[(&str, &str)], start: i64, n: usize) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(k, v)| Label::new(*k, *v)).collect(),
        samples: (0..n)
            .map(|i| Sample {
                timestamp_ms: start + i as i64,
                value: i as f64,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

/// The value of a forwarder metric (summed over its label sets).
fn metric(registry: &prometheus::Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| {
            let counter = f.get_field_type() == prometheus::proto::MetricType::COUNTER;
            f.get_metric().iter().map(move |m| {
                if counter {
                    m.get_counter().value()
                } else {
                    m.get_gauge().value()
                }
            })
        })
        .sum()
}

async fn eventually(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast_queue() -> &'static str {
    "queue_config: {batch_send_deadline: 100ms, min_backoff: 20ms, max_backoff: 200ms}\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_arrive_in_prometheus_through_write_relabel_configs() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(dir.path()).await;
    let registry = prometheus::Registry::new();
    let c = config(&format!(
        "url: {}\nname: real\n{}write_relabel_configs:\n  \
         - {{source_labels: [__name__], regex: 'kept_.*|dropped_.*', action: keep}}\n  \
         - {{source_labels: [__name__], regex: 'dropped_.*', action: drop}}\n  \
         - {{source_labels: [zone], target_label: region, replacement: 'eu-$1'}}\n",
        prom.write_url(),
        fast_queue()
    ));
    let mut external = std::collections::BTreeMap::new();
    external.insert("cluster".to_string(), "c1".to_string());
    let fwd = RemoteWriteForwarder::open(
        &c,
        dir.path().join("queue"),
        ForwarderOptions {
            external_labels: external,
            ..Default::default()
        },
        &registry,
    )
    .await
    .unwrap();
    assert_eq!(fwd.name(), "real");
    let t0 = now_ms() - 60_000;
    let written = fwd
        .write(vec![
            series(&[("__name__", "kept_a"), ("zone", "west")], t0, 700),
            series(&[("__name__", "kept_b")], t0, 300),
            series(&[("__name__", "dropped_a")], t0, 50),
            series(&[("__name__", "other")], t0, 25),
        ])
        .await
        .unwrap();
    assert_eq!(written, 1000, "relabeled-away samples are not queued");
    eventually("the queue to drain", 30, async || {
        fwd.pending_samples() == 0
            && metric(&registry, "prometheus_remote_storage_samples_total") == 1000.0
    })
    .await;
    assert_eq!(
        prom.scalar(r#"count_over_time(kept_a{region="eu-west",zone="west",cluster="c1"}[10m])"#)
            .await,
        700.0
    );
    assert_eq!(prom.scalar("count_over_time(kept_b[10m])").await, 300.0);
    assert!(prom.query("dropped_a").await.is_empty());
    assert!(prom.query("other").await.is_empty());
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_dropped_total"),
        75.0
    );
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    assert_eq!(
        metric(
            &registry,
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
        ),
        (t0 + 699) as f64 / 1000.0
    );
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_pending"),
        0.0
    );
    let fams = registry.gather();
    let sent = fams
        .iter()
        .find(|f| f.name() == "prometheus_remote_storage_samples_total")
        .unwrap();
    let labels: Vec<(&str, &str)> = sent.get_metric()[0]
        .get_label()
        .iter()
        .map(|l| (l.name(), l.value()))
        .collect();
    let url = prom.write_url();
    assert_eq!(labels, [("remote_name", "real"), ("url", url.as_str())]);
    // 1000 samples at 500 per send (the default): at least two requests.
    let batches = fams
        .iter()
        .find(|f| f.name() == "prometheus_remote_storage_sent_batch_duration_seconds")
        .unwrap();
    assert!(batches.get_metric()[0].get_histogram().get_sample_count() >= 2);

    // Scrapes write samples whose label sets they share.
    let shared = std::sync::Arc::new(telltale_storage_api::SeriesLabels::new(vec![
        Label::new("__name__", "kept_shared"),
        Label::new("job", "scrape"),
    ]));
    let samples: Vec<telltale_storage_api::SharedSample> = (0..3)
        .map(|i| telltale_storage_api::SharedSample {
            series: shared.clone(),
            timestamp_ms: t0 + i,
            value: i as f64,
        })
        .collect();
    assert_eq!(fwd.write_shared(&samples).await.unwrap(), 3);
    eventually("the shared samples", 30, async || {
        metric(&registry, "prometheus_remote_storage_samples_total") == 1003.0
    })
    .await;
    assert_eq!(
        prom.scalar(r#"count_over_time(kept_shared{job="scrape",cluster="c1"}[10m])"#)
            .await,
        3.0
    );
    drop(fwd);
    assert!(
        registry.gather().is_empty(),
        "the metrics leave with the forwarder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_succeed_while_the_remote_is_down_and_arrive_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut prom = Prometheus::start(dir.path()).await;
    prom.stop();
    let registry = prometheus::Registry::new();
    let c = config(&format!("url: {}\n{}", prom.write_url(), fast_queue()));
    let fwd = RemoteWriteForwarder::open(
        &c,
        dir.path().join("queue"),
        ForwarderOptions::default(),
        &registry,
    )
    .await
    .unwrap();
    let t0 = now_ms() - 60_000;
    for i in 0..20 {
        let n = fwd
            .write(vec![series(
                &[("__name__", "while_down")],
                t0 + i * 100,
                50,
            )])
            .await
            .unwrap();
        assert_eq!(n, 50);
    }
    eventually("retries against the stopped remote", 10, async || {
        metric(&registry, "prometheus_remote_storage_samples_retried_total") > 0.0
    })
    .await;
    assert_eq!(fwd.pending_samples(), 1000);
    prom.restart().await;
    eventually("the queue to drain", 30, async || {
        fwd.pending_samples() == 0
    })
    .await;
    assert_eq!(
        prom.scalar("count_over_time(while_down[10m])").await,
        1000.0
    );
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_total"),
        1000.0
    );
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    fwd.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_forwarder_sends_what_was_queued_and_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue");
    let mut prom = Prometheus::start(dir.path()).await;
    let url = prom.write_url();
    let t0 = now_ms() - 60_000;

    // Batches of 300 and a deadline that never comes: of 750 samples, 600 are sent and
    // 150 wait in the same segment as the sent ones, behind the cursor.
    let c = config(&format!(
        "url: {url}
queue_config: {{max_samples_per_send: 300, batch_send_deadline: 1h, min_backoff: 20ms, max_backoff: 200ms}}
"
    ));
    let first = prometheus::Registry::new();
    let fwd = RemoteWriteForwarder::open(&c, &queue, ForwarderOptions::default(), &first)
        .await
        .unwrap();
    fwd.write(vec![series(&[("__name__", "restarted")], t0, 300)])
        .await
        .unwrap();
    fwd.write(vec![series(&[("__name__", "restarted")], t0 + 300, 450)])
        .await
        .unwrap();
    eventually("two full batches to be sent", 30, async || {
        metric(&first, "prometheus_remote_storage_samples_total") == 600.0
    })
    .await;
    assert_eq!(fwd.pending_samples(), 150);
    prom.stop();
    fwd.write(vec![series(&[("__name__", "restarted")], t0 + 750, 250)])
        .await
        .unwrap();
    eventually("a failed attempt", 10, async || {
        metric(&first, "prometheus_remote_storage_samples_retried_total") > 0.0
    })
    .await;
    assert_eq!(fwd.pending_samples(), 400);
    drop(fwd);

    prom.restart().await;
    let c = config(&format!("url: {url}\n{}", fast_queue()));
    let second = prometheus::Registry::new();
    let fwd = RemoteWriteForwarder::open(&c, &queue, ForwarderOptions::default(), &second)
        .await
        .unwrap();
    assert_eq!(
        fwd.pending_samples(),
        400,
        "the queue survives the forwarder"
    );
    eventually("the queue to drain", 30, async || {
        fwd.pending_samples() == 0
    })
    .await;
    assert_eq!(
        metric(&second, "prometheus_remote_storage_samples_total"),
        400.0,
        "what was sent before is not sent again"
    );
    assert_eq!(prom.scalar("count_over_time(restarted[10m])").await, 1000.0);
    fwd.close().await;
    assert_eq!(
        std::fs::read_dir(&queue)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("seg".as_ref()))
            .count(),
        0,
        "sent segments are deleted"
    );
}

/// One request the stand-in saw.
#[derive(Clone, Debug)]
struct Seen {
    headers: HeaderMap,
    samples: Vec<i64>,
}

/// Answers remote_write requests with scripted statuses (then 204), recording them.
#[derive(Clone, Default)]
struct StandIn {
    script: Arc<Mutex<Vec<StatusCode>>>,
    seen: Arc<Mutex<Vec<(StatusCode, Seen)>>>,
}

impl StandIn {
    async fn start(script: &[StatusCode]) -> (StandIn, String) {
        let s = StandIn {
            script: Arc::new(Mutex::new(script.iter().rev().copied().collect())),
            ..Default::default()
        };
        let app = axum::Router::new()
            .route("/write", post(stand_in_write))
            .with_state(s.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/write", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (s, url)
    }

    fn push(&self, statuses: &[StatusCode]) {
        let mut s = self.script.lock().unwrap();
        for st in statuses.iter().rev() {
            s.insert(0, *st);
        }
    }

    fn seen(&self) -> Vec<(StatusCode, Seen)> {
        self.seen.lock().unwrap().clone()
    }

    /// Timestamps of the samples answered with 2xx, in arrival order.
    fn accepted(&self) -> Vec<i64> {
        self.seen()
            .into_iter()
            .filter(|(st, _)| st.is_success())
            .flat_map(|(_, s)| s.samples)
            .collect()
    }
}

async fn stand_in_write(
    State(s): State<StandIn>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let req = proto::WriteRequest::decode(raw.as_slice()).unwrap();
    let samples = req
        .timeseries
        .iter()
        .flat_map(|t| t.samples.iter().map(|x| x.timestamp))
        .collect();
    let status = s
        .script
        .lock()
        .unwrap()
        .pop()
        .unwrap_or(StatusCode::NO_CONTENT);
    s.seen
        .lock()
        .unwrap()
        .push((status, Seen { headers, samples }));
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_and_429_when_asked_drops_other_4xx_and_sends_the_headers() {
    use StatusCode as S;
    let dir = tempfile::tempdir().unwrap();
    let (stand_in, url) = StandIn::start(&[S::INTERNAL_SERVER_ERROR, S::TOO_MANY_REQUESTS]).await;
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let c = config(&format!(
        "url: {url}\nheaders: {{X-Scope-OrgID: tenant-1}}\n\
         authorization: {{credentials_file: {}}}\n\
         queue_config: {{batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 40ms, retry_on_http_429: true}}\n",
        token.display()
    ));
    let registry = prometheus::Registry::new();
    let fwd = RemoteWriteForwarder::open(
        &c,
        dir.path().join("q"),
        ForwarderOptions::default(),
        &registry,
    )
    .await
    .unwrap();
    fwd.write(vec![series(&[("__name__", "m")], 1_000, 10)])
        .await
        .unwrap();
    eventually("the batch after two retries", 10, async || {
        stand_in.accepted().len() == 10
    })
    .await;
    let seen = stand_in.seen();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        [
            S::INTERNAL_SERVER_ERROR,
            S::TOO_MANY_REQUESTS,
            S::NO_CONTENT
        ]
    );
    assert!(seen.iter().all(|s| s.1.samples == seen[0].1.samples));
    let h = &seen[2].1.headers;
    assert_eq!(h["content-encoding"], "snappy");
    assert_eq!(h["content-type"], "application/x-protobuf");
    assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
    assert!(h["user-agent"].to_str().unwrap().starts_with("telltale/"));
    assert_eq!(h["x-scope-orgid"], "tenant-1");
    assert_eq!(h["authorization"], "Bearer t0ken");
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_retried_total"),
        20.0
    );

    // A refusal drops the batch (counted) and the next one goes on; the credentials
    // file is read again for each request.
    std::fs::write(&token, "rotated").unwrap();
    stand_in.push(&[S::BAD_REQUEST]);
    fwd.write(vec![series(&[("__name__", "m")], 2_000, 5)])
        .await
        .unwrap();
    eventually("the refused batch", 10, async || {
        metric(&registry, "prometheus_remote_storage_samples_failed_total") == 5.0
    })
    .await;
    fwd.write(vec![series(&[("__name__", "m")], 3_000, 5)])
        .await
        .unwrap();
    eventually("the batch after the refused one", 10, async || {
        stand_in.accepted().len() == 15
    })
    .await;
    assert_eq!(
        &stand_in.accepted()[10..],
        &[3_000, 3_001, 3_002, 3_003, 3_004]
    );
    let last = stand_in.seen().pop().unwrap();
    assert_eq!(last.1.headers["authorization"], "Bearer rotated");
    // Sent counts the refused batch, as Prometheus; the sender counts a batch once its
    // answer is back, which may be after the stand-in recorded it.
    eventually("sent to count 20 samples", 10, async || {
        metric(&registry, "prometheus_remote_storage_samples_total") == 20.0
    })
    .await;
    fwd.close().await;

    // Without retry_on_http_429 (Prometheus 2.42's default) a 429 drops the batch; basic
    // auth with a password file.
    let password = dir.path().join("password");
    std::fs::write(&password, "pass\n").unwrap();
    let c = config(&format!(
        "url: {url}\nbasic_auth: {{username: user, password_file: {}}}\n{}",
        password.display(),
        fast_queue()
    ));
    let registry = prometheus::Registry::new();
    let fwd = RemoteWriteForwarder::open(
        &c,
        dir.path().join("q2"),
        ForwarderOptions::default(),
        &registry,
    )
    .await
    .unwrap();
    stand_in.push(&[S::TOO_MANY_REQUESTS]);
    fwd.write(vec![series(&[("__name__", "m")], 4_000, 3)])
        .await
        .unwrap();
    eventually("the 429 to drop the batch", 10, async || {
        metric(&registry, "prometheus_remote_storage_samples_failed_total") == 3.0
    })
    .await;
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_retried_total"),
        0.0
    );
    let last = stand_in.seen().pop().unwrap();
    assert_eq!(last.0, S::TOO_MANY_REQUESTS);
    // base64("user:pass")
    assert_eq!(last.1.headers["authorization"], "Basic dXNlcjpwYXNz");
    fwd.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_hold_max_samples_per_send_or_leave_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (stand_in, url) = StandIn::start(&[]).await;
    let c = config(&format!(
        "url: {url}\nqueue_config: {{max_samples_per_send: 10, batch_send_deadline: 1h}}\n"
    ));
    let registry = prometheus::Registry::new();
    let fwd = RemoteWriteForwarder::open(
        &c,
        dir.path().join("q"),
        ForwarderOptions::default(),
        &registry,
    )
    .await
    .unwrap();
    for i in 0..25 {
        fwd.write(vec![series(&[("__name__", "one")], i, 1)])
            .await
            .unwrap();
    }
    eventually("two full batches", 10, async || stand_in.seen().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sizes: Vec<usize> = stand_in.seen().iter().map(|s| s.1.samples.len()).collect();
    assert_eq!(sizes, [10, 10], "the last 5 wait for the deadline");
    assert_eq!(fwd.pending_samples(), 5);
    assert_eq!(stand_in.accepted(), (0..20).collect::<Vec<_>>());
    fwd.close().await;

    // The same queue with a short deadline: the 5 leave together, on time.
    let c = config(&format!(
        "url: {url}\nqueue_config: {{max_samples_per_send: 10, batch_send_deadline: 300ms}}\n"
    ));
    let started = Instant::now();
    let fwd = RemoteWriteForwarder::open(
        &c,
        dir.path().join("q"),
        ForwarderOptions::default(),
        &registry,
    )
    .await
    .unwrap();
    eventually("the partial batch", 10, async || stand_in.seen().len() == 3).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(stand_in.accepted(), (0..25).collect::<Vec<_>>());
    fwd.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_evicts_the_oldest_and_never_refuses_a_write() {
    use StatusCode as S;
    let dir = tempfile::tempdir().unwrap();
    // The remote answers 503 until the script runs out.
    let (stand_in, url) = StandIn::start(&[S::SERVICE_UNAVAILABLE; 40]).await;
    let c = config(&format!(
        "url: {url}\nqueue_config: {{max_samples_per_send: 100, batch_send_deadline: 10ms, min_backoff: 5ms, max_backoff: 5ms}}\n"
    ));
    let registry = prometheus::Registry::new();
    let options = ForwarderOptions {
        max_bytes: 16 << 10,
        segment_bytes: 4 << 10,
        ..Default::default()
    };
    let fwd = RemoteWriteForwarder::open(&c, dir.path().join("q"), options, &registry)
        .await
        .unwrap();
    let mut written = 0u64;
    for i in 0..100 {
        written += fwd
            .write(vec![series(&[("__name__", "full")], i * 100, 100)])
            .await
            .expect("a full queue never refuses a write");
        assert!(fwd.pending_bytes() <= 16 << 10);
    }
    assert_eq!(written, 10_000);
    let evicted = metric(&registry, "telltale_remote_storage_samples_evicted_total");
    assert!(evicted > 0.0, "the oldest were evicted");
    assert_eq!(
        metric(&registry, "prometheus_remote_storage_samples_dropped_total"),
        evicted
    );
    eventually("the queue to drain", 20, async || {
        fwd.pending_samples() == 0
    })
    .await;
    let accepted = stand_in.accepted();
    // What arrived is the newest data, in order, each sample at most once.
    assert!(
        accepted.windows(2).all(|w| w[0] < w[1]),
        "in order, no repeats"
    );
    assert_eq!(*accepted.last().unwrap(), 9_999);
    assert!(
        accepted.len() as f64 + evicted >= 10_000.0,
        "every sample was sent or evicted: {} + {evicted}",
        accepted.len()
    );
    fwd.close().await;
}
