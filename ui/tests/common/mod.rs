//! A real server for the UI tests: the UI router merged with the query API over a
//! `MemoryReader` loaded with known series (and, when asked, the scraper's API over a
//! real node_exporter whose samples land in the same reader).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::IntoResponse;
use serde_json::Value;
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions};
use telltale_storage_api::{SampleWriter, TimeSeries};
use telltale_ui::{LiveOptions, UiConfig};
use tokio::net::TcpListener;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Known data: `demo_requests_total{job="demo",instance=a|b|c}` every 15 s over the last
/// hour (a: 1/s, b: 2/s, c: 3/s), and `demo_live{job="live"}` = 1 every second over the
/// last 10 minutes.
pub fn load_demo(reader: &MemoryReader, now: i64) {
    for (i, inst) in ["a", "b", "c"].iter().enumerate() {
        let samples: Vec<(i64, f64)> = (0..=240)
            .map(|k| {
                let t = now - 3_600_000 + k * 15_000;
                (t, (k * 15) as f64 * (i + 1) as f64)
            })
            .collect();
        reader.add(
            &[
                ("__name__", "demo_requests_total"),
                ("job", "demo"),
                ("instance", inst),
            ],
            &samples,
        );
    }
    let live: Vec<(i64, f64)> = (0..600).map(|k| (now - 600_000 + k * 1_000, 1.0)).collect();
    reader.add(&[("__name__", "demo_live"), ("job", "live")], &live);
}

/// Writes scraped samples into the reader the engine queries.
pub struct IntoReader(pub Arc<MemoryReader>);

#[async_trait::async_trait]
impl SampleWriter for IntoReader {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let mut n = 0;
        for ts in series {
            let labels: Vec<(&str, &str)> = ts
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            let samples: Vec<(i64, f64)> = ts
                .samples
                .iter()
                .map(|s| (s.timestamp_ms, s.value))
                .collect();
            n += samples.len() as u64;
            self.0.add(&labels, &samples);
        }
        Ok(n)
    }
}

/// Endpoints other components serve (the alertmanager, `telltale dev-cluster`), faked
/// with their documented JSON shapes; 404 until [`Stack::fake`] sets a body.
pub const FAKE_PATHS: [&str; 4] = [
    "/api/v1/status/cluster",
    "/api/v1/alerts",
    "/api/v1/rules",
    "/api/v2/silences",
];

/// The server under test.
pub struct Stack {
    pub addr: SocketAddr,
    /// What the fake endpoints of [`FAKE_PATHS`] answer (404 while absent).
    fakes: Arc<Mutex<HashMap<&'static str, Value>>>,
    pub reader: Arc<MemoryReader>,
    pub registry: prometheus::Registry,
    pub manager: Option<Arc<telltale_scraper::ScrapeManager>>,
    server: tokio::task::JoinHandle<()>,
}

impl Stack {
    /// Starts the UI + query API (+ the scraper API scraping `scrape`, when given).
    pub async fn start(scrape: Option<&str>) -> Stack {
        let reader = Arc::new(MemoryReader::new());
        load_demo(&reader, now_ms());
        let registry = prometheus::Registry::new();
        let engine = Arc::new(Engine::new(
            reader.clone(),
            EngineOptions::default(),
            &registry,
        ));
        let cfg = UiConfig::new(engine.clone(), &registry)
            .unwrap()
            .with_live_options(LiveOptions {
                max_connections: 4,
                delay: Duration::from_millis(100),
                ..LiveOptions::default()
            });
        let mut app = telltale_ui::router(cfg).merge(telltale_query::router(engine));
        let mut manager = None;
        if let Some(target) = scrape {
            let writer: Arc<dyn SampleWriter> = Arc::new(IntoReader(reader.clone()));
            let m = telltale_scraper::ScrapeManager::new(writer.clone(), &registry);
            let yaml = format!(
                "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\n\
                 metadata: {{name: node, namespace: mon}}\n\
                 spec:\n  interval: 1s\n  scrapeTimeout: 900ms\n  \
                 static: [{{targets: [\"{target}\"], labels: {{env: test}}}}]\n"
            );
            let targets: Vec<_> = telltale_crds::load_str(std::path::Path::new("node.yaml"), &yaml)
                .unwrap()
                .into_iter()
                .filter_map(|d| match d.resource {
                    telltale_crds::Resource::ScrapeTarget(t) => Some(*t),
                    _ => None,
                })
                .collect();
            assert_eq!(targets.len(), 1);
            m.apply(&targets);
            app = app.merge(telltale_scraper::router(
                m.clone(),
                writer,
                telltale_scraper::PushOptions::default(),
            ));
            manager = Some(m);
        }
        let fakes: Arc<Mutex<HashMap<&'static str, Value>>> = Arc::default();
        for path in FAKE_PATHS {
            let fakes = fakes.clone();
            app = app.route(
                path,
                axum::routing::get(move || {
                    let v = fakes.lock().unwrap().get(path).cloned();
                    async move {
                        match v {
                            Some(v) => axum::Json(v).into_response(),
                            None => axum::http::StatusCode::NOT_FOUND.into_response(),
                        }
                    }
                }),
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Stack {
            addr,
            fakes,
            reader,
            registry,
            manager,
            server,
        }
    }

    /// Makes the fake endpoint `path` (one of [`FAKE_PATHS`]) answer `body`.
    pub fn fake(&self, path: &'static str, body: Value) {
        assert!(FAKE_PATHS.contains(&path), "{path} is not faked");
        self.fakes.lock().unwrap().insert(path, body);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(m) = &self.manager {
            m.shutdown();
        }
        self.server.abort();
    }
}

/// A child process killed when dropped.
pub struct Process(pub Child, pub &'static str);

impl Process {
    pub fn spawn(program: &'static str, args: &[String]) -> Process {
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program}: {e} (run scripts/install-deps.sh)")
            });
        Process(child, program)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `url` until it answers 200 (panics after `within`).
pub async fn wait_http_ok(url: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(r) = reqwest::get(url).await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
