//! Headless Chromium (Debian's `chromium` + `chromium-driver`) driven over WebDriver, for
//! the web UI tests. Screenshots go under `CARGO_TARGET_TMPDIR/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use super::{Proc, free_port, wait_ready};

pub struct Browser {
    pub client: Client,
    shots: PathBuf,
    _driver: Proc,
}

impl Browser {
    /// Starts chromedriver on a free port (its log in `dir`) and opens a session.
    pub async fn start(dir: &Path) -> Browser {
        let port = free_port();
        let mut cmd = Command::new("/usr/bin/chromedriver");
        cmd.arg(format!("--port={port}"));
        let mut driver = Proc::spawn("chromedriver", &mut cmd, dir.join("chromedriver.log"));
        wait_ready(&mut driver, &format!("http://127.0.0.1:{port}/status")).await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"],
            }),
        );
        // chromedriver speaks plain HTTP on localhost: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session (Debian packages chromium, chromium-driver)");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            shots,
            _driver: driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Polls `script` (a JS expression) until it is truthy (20 s at most); returns its
    /// value. A page that shows an error note meanwhile fails at once.
    pub async fn wait(&self, what: &str, script: &str) -> Value {
        self.wait_for(what, script, Duration::from_secs(20)).await
    }

    pub async fn wait_for(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        let code = format!("try {{ return ({script}); }} catch (e) {{ return null; }}");
        loop {
            let v = self.client.execute(&code, vec![]).await.unwrap();
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if let Some(error) = self.error_shown().await {
                let shot = self.screenshot(&format!("error-{}", slug(what))).await;
                panic!("waiting for {what}, the page shows an error: {error}; screenshot {shot:?}");
            }
            if Instant::now() > deadline {
                let shot = self.screenshot(&format!("timeout-{}", slug(what))).await;
                panic!("timed out waiting for {what} ({script}); screenshot {shot:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the notes saying a request failed or an API is missing, if any.
    pub async fn error_shown(&self) -> Option<String> {
        let v = self
            .js("[...document.querySelectorAll('.note-error, .note-na')].map(e => e.textContent).join(' | ')")
            .await;
        v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
    }

    /// Fails when the page shows an error note.
    pub async fn assert_no_error(&self, page: &str) {
        if let Some(error) = self.error_shown().await {
            let shot = self.screenshot(&format!("error-{}", slug(page))).await;
            panic!("{page} shows an error: {error}; screenshot {shot:?}");
        }
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(&format!("return ({script});"), vec![])
            .await
            .unwrap()
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.shots.join(format!("{name}.png"));
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
