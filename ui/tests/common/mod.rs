//! A real server for the UI router tests: the UI router merged with the query API over a
//! `MemoryReader` loaded with known series. The UI in a browser against the real binary
//! is the e2e test `e2e/ui.rs`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions};
use telltale_ui::{LiveOptions, UiConfig};
use tokio::net::TcpListener;

pub use telltale_model::now_ms;

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

/// The server under test.
pub struct Stack {
    pub addr: SocketAddr,
    pub reader: Arc<MemoryReader>,
    pub registry: prometheus::Registry,
    server: tokio::task::JoinHandle<()>,
}

impl Stack {
    /// Starts the UI + query API.
    pub async fn start() -> Stack {
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
        let app = telltale_ui::router(cfg).merge(telltale_query::router(engine));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Stack {
            addr,
            reader,
            registry,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
    }
}
