//! Certificates made for each test (`telltale_web::testing::Pki`), a small Router served through
//! `telltale_web::serve` on 127.0.0.1, and real clients (reqwest with rustls, curl).

use std::net::SocketAddr;
use std::path::Path;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use telltale_web::testing::Pki;

/// A bcrypt hash of `password` (cost 4: these tests verify many passwords).
pub fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// A server of `telltale_web::serve` on 127.0.0.1:0, stopped by [`Server::stop`].
pub struct Server {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<telltale_web::Result<()>>,
}

/// The Router the tests serve: `/hello` answers `hello`; `/own-header` sets its own
/// `X-Frame-Options`; `/slow` answers after 500 ms.
fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/own-header",
            get(|| async { ([("X-Frame-Options", "sameorigin")], "own") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                "slow"
            }),
        )
}

pub async fn start(web: Option<&Path>) -> Server {
    let web = web.map(|p| telltale_web::WebConfigFile::load(p).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(telltale_web::serve(listener, app(), web, async move {
        let _ = stopped.await;
    }));
    Server { addr, stop, task }
}

impl Server {
    pub fn https(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    /// Stops the server and checks that it ended without error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// The status of GET `url`, or the error's text when no response came.
pub async fn status(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    client
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

/// Waits past the watcher's once-a-second check after files were rewritten.
pub async fn past_recheck() {
    tokio::time::sleep(
        telltale_web::reload::RECHECK_INTERVAL + std::time::Duration::from_millis(200),
    )
    .await;
}
