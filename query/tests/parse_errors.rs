//! Bad expressions answered by a real Prometheus 2.42 (Debian's `/usr/bin/prometheus`,
//! started on a free 127.0.0.1 port with a temporary TSDB, stopped by PID) and by this
//! crate's API: both refuse every one with HTTP 400 and `errorType` `bad_data`, with the
//! same `line:col: parse error:` position for every one, and the same whole message for
//! all but [`WORDED_AS_3_5`], where Prometheus 3.5 (this crate's reference) words the
//! error differently from 2.42; both wordings are listed there.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, router};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Expressions Prometheus refuses: unclosed and stray brackets, bad durations, unknown
/// functions, wrong argument types and counts, bad matchers, offsets and `@`, trailing
/// input, bad operators and modifiers.
const BAD: &[&str] = &[
    "sum(rate(x[5m])",
    "rate(x[5m]))",
    "(x",
    "x{a=\"b\"",
    "x[5m",
    "x}",
    "x]",
    "rate(x[5])",
    "rate(x[5x])",
    "rate(x[])",
    "x[5m:1m:1m]",
    "foo_bar(x)",
    "rate(x)",
    "rate(x[5m], 1)",
    "rate()",
    "abs(x[5m])",
    "histogram_quantile(x, y)",
    "label_replace(x, \"a\", \"b\", \"c\")",
    "round(x, \"a\")",
    "sum(x[5m])",
    "topk(x)",
    "topk(\"a\", x)",
    "count_values(1, x)",
    "x{a~\"b\"}",
    "x{a=~\"(\"}",
    "x{=\"b\"}",
    "{}",
    "{a=~\".*\"}",
    "x{a=\"b\"",
    "x offset",
    "x offset 5",
    "x offset 5m offset 1m",
    "x @",
    "x @ foo",
    "x @ 100 @ 200",
    "x y",
    "1 +",
    "x + + ",
    "x == bool y{a=\"b\"} on(",
    "x and 1",
    "1 and x",
    "x unless on(a) group_left y",
    "sum without x",
    "sum by (a x)",
    "\"unterminated",
    "x{a=\"\\q\"}",
    "x[5m] offset 1m[2m]",
    "(x[5m])[10m:1m]",
    "-\"a\"",
    "x !~ y",
    "rate(x[5m:1m:1m])",
    "1 < bool",
];

/// What Prometheus 2.42 refuses and Prometheus 3 accepts: a duration without a unit is
/// a number of seconds.
const ACCEPTED_SINCE_3: &[&str] = &["rate(x[5])", "x offset 5"];

/// Where Prometheus 3.5 differs from 2.42: the query, 2.42's message, 3.5's (ours).
const WORDED_AS_3_5: &[(&str, &str, &str)] = &[
    // 3.x lexes the first token in brackets as part of a duration expression.
    (
        "rate(x[5x])",
        "1:8: parse error: bad duration syntax: \"5\"",
        "1:8: parse error: bad number or duration syntax: \"5\"",
    ),
    // 3.x reads an empty range as a missing duration expression.
    (
        "rate(x[])",
        "1:8: parse error: missing unit character in duration",
        "1:8: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, or step()",
    ),
    // 3.x parses the regular expression itself, not `^(?:...)$` around it.
    (
        "x{a=~\"(\"}",
        "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`",
        "1:3: parse error: error parsing regexp: missing closing ): `(`",
    ),
    // 3.x offsets take numbers and step() too.
    (
        "x offset",
        "1:9: parse error: unexpected end of input in offset, expected duration",
        "1:9: parse error: unexpected end of input in offset, expected number, duration, or step()",
    ),
];

/// The `line:col` an error message starts with.
fn position(message: &str) -> &str {
    let m = message
        .strip_prefix("invalid parameter \"query\": ")
        .unwrap_or(message);
    m.split(": parse error:").next().unwrap_or("")
}

/// Prometheus 2.42 on a free port with a temporary TSDB; stopped by PID when dropped.
struct Prometheus {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Prometheus {
    async fn start() -> Prometheus {
        assert!(
            std::path::Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} missing: install the Debian package prometheus (.ci/run does)"
        );
        let dir = std::env::temp_dir().join(format!(
            "telltale-parse-errors-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let mut p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/-/ready", p.base)).await
                && r.status().is_success()
            {
                return p;
            }
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("prometheus exited ({status}): {}", p.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready: {}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve() -> String {
    let engine = Engine::new(
        Arc::new(MemoryReader::new()),
        EngineOptions::default(),
        &prometheus::Registry::new(),
    );
    let app = router(Arc::new(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn ask(base: &str, q: &str) -> (u16, Json) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/query"))
        .form(&[("query", q), ("time", "100")])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn bad_expressions_are_bad_data_in_both() {
    assert!(BAD.len() >= 40);
    let prometheus = Prometheus::start().await;
    let ours = serve().await;
    let mut same = 0;
    for q in BAD {
        let (p_status, p) = ask(&prometheus.base, q).await;
        let (t_status, t) = ask(&ours, q).await;
        assert_eq!(
            (p_status, p["errorType"].as_str()),
            (400, Some("bad_data")),
            "Prometheus on {q:?}: {p}"
        );
        if ACCEPTED_SINCE_3.contains(q) {
            assert_eq!(t_status, 200, "{q:?}: {t}");
            continue;
        }
        assert_eq!(
            (t_status, t["errorType"].as_str()),
            (400, Some("bad_data")),
            "{q:?}: {t}"
        );
        let (p_error, t_error) = (p["error"].as_str().unwrap(), t["error"].as_str().unwrap());
        assert_eq!(
            position(p_error),
            position(t_error),
            "{q:?}: {p_error} / {t_error}"
        );
        assert!(!position(t_error).is_empty(), "{q:?}: {t_error}");
        if let Some((_, old, new)) = WORDED_AS_3_5.iter().find(|(w, _, _)| w == q) {
            assert_eq!(
                p_error,
                format!("invalid parameter \"query\": {old}"),
                "{q:?}"
            );
            assert_eq!(
                t_error,
                format!("invalid parameter \"query\": {new}"),
                "{q:?}"
            );
            continue;
        }
        assert_eq!(t_error, p_error, "{q:?}");
        same += 1;
    }
    let accepted = ACCEPTED_SINCE_3.len();
    assert_eq!(same, BAD.len() - accepted - WORDED_AS_3_5.len());
    assert!(same >= 40, "{same} of {} messages equal", BAD.len());
}
