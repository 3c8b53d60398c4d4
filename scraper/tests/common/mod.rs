//! Test helpers: an in-memory SampleWriter recording batches and a metrics endpoint.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use telltale_crds::ScrapeTarget;
use telltale_storage_api::{SampleWriter, TimeSeries};

/// Records every batch written; can be told to fail.
#[derive(Default)]
pub struct MemoryWriter {
    batches: Mutex<Vec<Vec<TimeSeries>>>,
    fail: AtomicBool,
}

impl MemoryWriter {
    pub fn new() -> Arc<Self> {
        Arc::new(MemoryWriter::default())
    }

    pub fn batches(&self) -> Vec<Vec<TimeSeries>> {
        self.batches.lock().unwrap().clone()
    }

    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    /// Waits until `pred` holds over the recorded batches.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Vec<TimeSeries>]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if pred(&self.batches()) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait::async_trait]
impl SampleWriter for MemoryWriter {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(telltale_storage_api::Error::Status {
                code: tonic::Code::Unavailable,
                message: "storage is down".into(),
            });
        }
        let n = series.iter().map(|s| s.samples.len() as u64).sum();
        self.batches.lock().unwrap().push(series);
        Ok(n)
    }
}

/// One request the metrics endpoint saw.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub at: Instant,
    pub uri: Uri,
    pub headers: HeaderMap,
}

/// What the metrics endpoint answers, and what it was asked.
pub struct Exporter {
    pub addr: SocketAddr,
    state: Arc<ExporterState>,
}

struct ExporterState {
    body: Mutex<String>,
    status: Mutex<StatusCode>,
    content_type: Mutex<String>,
    gzip: AtomicBool,
    seen: Mutex<Vec<SeenRequest>>,
}

impl Exporter {
    /// Serves `body` at any path on 127.0.0.1:<free port>.
    pub async fn start(body: &str) -> Exporter {
        let state = Arc::new(ExporterState {
            body: Mutex::new(body.to_string()),
            status: Mutex::new(StatusCode::OK),
            content_type: Mutex::new(TEXT_CONTENT_TYPE.to_string()),
            gzip: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(get(serve)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Exporter { addr, state }
    }

    pub fn set_body(&self, body: &str) {
        *self.state.body.lock().unwrap() = body.to_string();
    }

    pub fn set_status(&self, status: StatusCode) {
        *self.state.status.lock().unwrap() = status;
    }

    /// Answers with this `Content-Type` from now on.
    pub fn set_content_type(&self, content_type: &str) {
        *self.state.content_type.lock().unwrap() = content_type.to_string();
    }

    /// Compresses answers with gzip (`Content-Encoding: gzip`) from now on.
    pub fn set_gzip(&self, gzip: bool) {
        self.state.gzip.store(gzip, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn serve(
    State(state): State<Arc<ExporterState>>,
    uri: Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    state.seen.lock().unwrap().push(SeenRequest {
        at: Instant::now(),
        uri,
        headers,
    });
    let status = *state.status.lock().unwrap();
    let body = state.body.lock().unwrap().clone();
    let content_type = state.content_type.lock().unwrap().clone();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", content_type.parse().unwrap());
    if state.gzip.load(Ordering::SeqCst) {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(body.as_bytes()).unwrap();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        return (status, headers, enc.finish().unwrap());
    }
    (status, headers, body.into_bytes())
}

/// The Content-Type of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The Content-Type of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// ScrapeTarget resources from YAML, as `telltale standalone -f` reads them.
pub fn scrape_targets(yaml: &str) -> Vec<ScrapeTarget> {
    telltale_crds::load_str(std::path::Path::new("test.yaml"), yaml)
        .unwrap()
        .into_iter()
        .filter_map(|d| match d.resource {
            telltale_crds::Resource::ScrapeTarget(t) => Some(*t),
            _ => None,
        })
        .collect()
}

/// Every series named `name` over all batches, in write order.
pub fn series_named<'a>(batches: &'a [Vec<TimeSeries>], name: &str) -> Vec<&'a TimeSeries> {
    batches
        .iter()
        .flatten()
        .filter(|s| s.label("__name__") == Some(name))
        .collect()
}

/// Starts `app` on 127.0.0.1:<free port> and returns its base URL.
pub async fn serve_app(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// An exporter over real TLS (`telltale_web::serve` with the PKI's `server.pem`, for
/// 127.0.0.1 and localhost), answering `/metrics` only to `Authorization: Bearer
/// <token>` (401 otherwise), and — with `client_certs` — only to clients presenting a
/// certificate of the PKI's CA.
pub async fn secured_exporter(
    pki: &telltale_web::testing::Pki,
    token: &'static str,
    client_certs: bool,
) -> SocketAddr {
    let app = Router::new().route(
        "/metrics",
        get(move |h: HeaderMap| async move {
            let expected = format!("Bearer {token}");
            match h.get("authorization").and_then(|v| v.to_str().ok()) {
                Some(v) if v == expected => (StatusCode::OK, "secured_up 1\n"),
                _ => (StatusCode::UNAUTHORIZED, "unauthorized\n"),
            }
        }),
    );
    let mut web =
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n".to_string();
    if client_certs {
        web.push_str("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n");
    }
    let web = telltale_web::WebConfigFile::load(pki.web_config(&web)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(telltale_web::serve(
        listener,
        app,
        Some(web),
        std::future::pending(),
    ));
    addr
}
