//! Exemplars through the real binary: remote_write 1.0 and 2.0 and an OpenMetrics scrape
//! into `telltale standalone`, read back through `/api/v1/query_exemplars` before and
//! after a crash (the Raft log replays them) and a clean restart (the flushed ring);
//! Prometheus 2.42 with `--enable-feature=exemplar-storage` scraping the same target
//! answers the same JSON; `telltale dev-cluster` answers the exemplars of both shards.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::remote_write::{self, series, with_exemplar};
use common::{Proc, TELLTALE, Telltale, free_port, get_json, wait_ready, write_file};
use serde_json::{Value, json};
use telltale_storage_api::{
    ExemplarsRequest, GrpcStorage, MatchOp, Matcher, MatcherSet, SampleReader,
};

/// An OpenMetrics exposition whose exemplars carry their own timestamps (2020), so any
/// two scrapers store exactly the same ones.
const EXPOSITION: &str = "# TYPE requests counter\n\
# HELP requests Requests served.\n\
requests_total{path=\"/a\"} 10 # {trace_id=\"abc\"} 1.5 1600000000.123\n\
requests_total{path=\"/b\"} 20 # {span_id=\"9\",trace_id=\"def\"} 2.5 1600000001.5\n\
# TYPE latency_seconds histogram\n\
latency_seconds_bucket{le=\"0.1\"} 3 # {trace_id=\"ghi\"} 0.05 1600000002\n\
latency_seconds_bucket{le=\"+Inf\"} 5 # {trace_id=\"jkl\"} 0.7 1600000003.001\n\
latency_seconds_sum 1.2\n\
latency_seconds_count 5\n\
# TYPE live counter\n\
live_total 1 # {trace_id=\"now\"} 1\n\
# EOF\n";

/// Serves `EXPOSITION` as OpenMetrics at `/metrics` on a free port.
async fn openmetrics_target() -> SocketAddr {
    use axum::http::header;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                EXPOSITION,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn scrape_config(target: SocketAddr) -> String {
    format!(
        "scrape_configs:\n  - job_name: om\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
}

/// `data` of `/api/v1/query_exemplars` at `base`.
async fn exemplars(base: &str, query: &str, start: &str, end: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/query_exemplars"))
        .query(&[("query", query), ("start", start), ("end", end)])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body["data"].clone()
}

/// Polls until `query` answers `want` series (or panics after 30 s).
async fn exemplars_of(base: &str, query: &str, start: &str, end: &str, want: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = exemplars(base, query, start, end).await;
        if data.as_array().is_some_and(|a| a.len() >= want) {
            return data;
        }
        assert!(Instant::now() < deadline, "{query}: {data}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

const SCRAPED: &str = "requests_total or latency_seconds_bucket";
const PUSHED: &str = "rw1_total or rw2_total";
const FROM: &str = "1600000000";
const TO: &str = "1600000010";

/// SIGTERM and wait: a clean stop (the replica snapshots first).
fn stop(t: &mut Telltale) {
    let pid = t.proc.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.proc.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no clean stop within 30s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_keeps_exemplars_across_restarts_and_answers_as_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let target = openmetrics_target().await;
    let config = write_file(dir.path(), "prometheus.yml", &scrape_config(target));
    let config = config.display().to_string();
    let data = dir.path().join("data");
    let args = ["--config.file", config.as_str()];
    let mut t = Telltale::start(&data, &args).await;
    let base = t.url("");

    // remote_write 1.0: a good exemplar, and one whose labels pass 128 characters,
    // dropped alone (its sample is kept).
    let now = common::now_ms();
    let long = "x".repeat(121);
    let s = with_exemplar(
        series(&[("__name__", "rw1_total"), ("src", "v1")], now, 7.0),
        &[("trace_id", "v1a")],
        3.5,
        1_600_000_004_000,
    );
    let s = with_exemplar(s, &[("trace_id", &long)], 1.0, 1_600_000_004_500);
    let (status, samples, written) = remote_write::push_counted(&base, vec![s]).await;
    assert_eq!((status.as_u16(), samples, written), (204, 1, 1));
    // An exemplar older than the series' newest one: refused by storage, not counted
    // as written (its sample is); a repeat of the newest is a no-op, counted as
    // Prometheus counts it.
    let s = with_exemplar(
        series(&[("__name__", "rw1_total"), ("src", "v1")], now + 1, 8.0),
        &[("trace_id", "older")],
        9.0,
        1_600_000_003_000,
    );
    let (status, samples, written) = remote_write::push_counted(&base, vec![s]).await;
    assert_eq!((status.as_u16(), samples, written), (204, 1, 0));
    let s = with_exemplar(
        series(&[("__name__", "rw1_total"), ("src", "v1")], now + 2, 8.0),
        &[("trace_id", "v1a")],
        3.5,
        1_600_000_004_000,
    );
    let (status, samples, written) = remote_write::push_counted(&base, vec![s]).await;
    assert_eq!((status.as_u16(), samples, written), (204, 1, 1));
    // remote_write 2.0, its exemplar's labels by reference.
    let mut v2 = remote_write::v2::Builder::default();
    v2.series(
        &[("__name__", "rw2_total"), ("src", "v2")],
        now,
        1.0,
        Some((&[("trace_id", "v2a")], 4.5, 1_600_000_005_000)),
    );
    let (status, samples, written) = remote_write::v2::push(&base, v2.request).await;
    assert_eq!((status.as_u16(), samples, written), (204, 1, 1));
    let instance = target.to_string();
    let pushed = json!([
        {"seriesLabels": {"__name__": "rw1_total", "src": "v1"},
         "exemplars": [{"labels": {"trace_id": "v1a"}, "value": "3.5", "timestamp": 1600000004}]},
        {"seriesLabels": {"__name__": "rw2_total", "src": "v2"},
         "exemplars": [{"labels": {"trace_id": "v2a"}, "value": "4.5", "timestamp": 1600000005}]},
    ]);
    assert_eq!(exemplars(&base, PUSHED, FROM, TO).await, pushed);
    let scraped = json!([
        {"seriesLabels": {"__name__": "latency_seconds_bucket", "instance": instance, "job": "om", "le": "+Inf"},
         "exemplars": [{"labels": {"trace_id": "jkl"}, "value": "0.7", "timestamp": 1600000003.001}]},
        {"seriesLabels": {"__name__": "latency_seconds_bucket", "instance": instance, "job": "om", "le": "0.1"},
         "exemplars": [{"labels": {"trace_id": "ghi"}, "value": "0.05", "timestamp": 1600000002}]},
        {"seriesLabels": {"__name__": "requests_total", "instance": instance, "job": "om", "path": "/a"},
         "exemplars": [{"labels": {"trace_id": "abc"}, "value": "1.5", "timestamp": 1600000000.123}]},
        {"seriesLabels": {"__name__": "requests_total", "instance": instance, "job": "om", "path": "/b"},
         "exemplars": [{"labels": {"span_id": "9", "trace_id": "def"}, "value": "2.5", "timestamp": 1600000001.5}]},
    ]);
    // Scraped many times: each exemplar once (a repeat of the newest is a duplicate).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(exemplars_of(&base, SCRAPED, FROM, TO, 4).await, scraped);
    // An exemplar without a timestamp takes its scrape's.
    let live = exemplars_of(
        &base,
        "live_total",
        &(now / 1000 - 5).to_string(),
        "4000000000",
        1,
    )
    .await;
    let first = &live[0]["exemplars"][0];
    assert_eq!(first["labels"], json!({"trace_id": "now"}));
    let ts = first["timestamp"].as_f64().unwrap();
    assert!(
        ts * 1000.0 >= (now - 5_000) as f64 && ts * 1000.0 <= common::now_ms() as f64,
        "{ts}"
    );

    // Crash: what was not flushed comes back from the Raft log.
    t.proc.kill9();
    let mut t = Telltale::start(&data, &args).await;
    let base = t.url("");
    assert_eq!(exemplars(&base, PUSHED, FROM, TO).await, pushed);
    assert_eq!(exemplars(&base, SCRAPED, FROM, TO).await, scraped);

    // Clean stop: the replica snapshots (the ring is written with the flush) and its
    // log is purged; the ring comes back from the engine.
    stop(&mut t);
    let t = Telltale::start(&data, &args).await;
    let base = t.url("");
    assert_eq!(exemplars(&base, PUSHED, FROM, TO).await, pushed);
    assert_eq!(exemplars(&base, SCRAPED, FROM, TO).await, scraped);

    // Prometheus 2.42 with exemplar storage, scraping the same target: the same answer.
    let (_prom, prom) = common::start_prometheus_args(
        dir.path(),
        &scrape_config(target),
        &["--enable-feature=exemplar-storage"],
    )
    .await;
    let theirs = exemplars_of(&prom, SCRAPED, FROM, TO, 4).await;
    assert_eq!(theirs, scraped, "Prometheus answered {theirs}");
    assert_eq!(exemplars(&base, SCRAPED, FROM, TO).await, theirs);
    // And the same for a query without selectors (no content), and for a time range
    // without any.
    for base in [&prom, &base] {
        let r = reqwest::get(format!("{base}/api/v1/query_exemplars?query=1"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204, "{base}");
        assert_eq!(r.text().await.unwrap(), "");
    }
    assert_eq!(
        exemplars(&prom, SCRAPED, "1500000000", "1500000001").await,
        exemplars(&base, SCRAPED, "1500000000", "1500000001").await
    );
}

/// `telltale dev-cluster` with two shards of three replicas each.
struct DevCluster {
    _proc: Proc,
    base: String,
}

impl DevCluster {
    async fn start(dir: &std::path::Path) -> DevCluster {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(TELLTALE);
        cmd.args(["dev-cluster", "--shards", "2", "--replicas", "3"])
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("TELLTALE_LOG", "info");
        let mut proc = Proc::spawn("dev-cluster", &mut cmd, dir.with_extension("log"));
        wait_ready(&mut proc, &format!("{base}/-/ready")).await;
        DevCluster { _proc: proc, base }
    }

    /// Each shard's leader: (replica id, address, pid), once every shard has one (and
    /// shard `not.0`'s is not replica `not.1`).
    async fn leaders(&self, not: Option<(usize, u64)>) -> Vec<(u64, String, u64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = get_json(&format!("{}/api/v1/status/cluster", self.base)).await;
            let leaders: Option<Vec<(u64, String, u64)>> = s["data"]["shards"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(shard, sh)| {
                    let id = sh["leader_id"]
                        .as_u64()
                        .filter(|id| Some((shard, *id)) != not)?;
                    let r = sh["replicas"]
                        .as_array()?
                        .iter()
                        .find(|r| r["id"].as_u64() == Some(id))?;
                    Some((id, r["address"].as_str()?.to_string(), r["pid"].as_u64()?))
                })
                .collect();
            if let Some(l) = leaders {
                return l;
            }
            assert!(Instant::now() < deadline, "no leaders: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_cluster_answers_the_exemplars_of_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(&dir.path().join("cluster")).await;
    let now = common::now_ms();
    let batch: Vec<_> = (0..20)
        .map(|i| {
            let id = i.to_string();
            with_exemplar(
                series(&[("__name__", "spread_total"), ("id", &id)], now, i as f64),
                &[("trace_id", &format!("t{i}"))],
                i as f64,
                1_600_000_000_000 + i,
            )
        })
        .collect();
    let (status, samples, written) = remote_write::push_counted(&cluster.base, batch).await;
    assert_eq!((status.as_u16(), samples, written), (204, 20, 20));

    let data = exemplars(&cluster.base, "spread_total", FROM, TO).await;
    let series = data.as_array().unwrap();
    assert_eq!(series.len(), 20, "{data}");
    // In label order, each with its own exemplar.
    let ids: Vec<&str> = series
        .iter()
        .map(|s| s["seriesLabels"]["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    for s in series {
        let id = s["seriesLabels"]["id"].as_str().unwrap();
        assert_eq!(s["exemplars"][0]["labels"]["trace_id"], format!("t{id}"));
    }

    // Both shards hold some of them, and the query's answer is their union.
    let request = ExemplarsRequest {
        match_sets: vec![MatcherSet {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "spread_total")],
        }],
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    };
    let leaders = cluster.leaders(None).await;
    let mut per_shard = Vec::new();
    for (_, address, _) in &leaders {
        let replica = GrpcStorage::connect_lazy(address).unwrap();
        per_shard.push(replica.exemplars(request.clone()).await.unwrap().len());
    }
    assert_eq!(per_shard.len(), 2);
    assert!(per_shard.iter().all(|n| *n > 0), "{per_shard:?}");
    assert_eq!(per_shard.iter().sum::<usize>(), 20);

    // The followers applied them too: with shard 0's leader killed, its new leader
    // answers the same.
    let (old, _, pid) = &leaders[0];
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (new, address, _) = cluster.leaders(Some((0, *old))).await[0].clone();
    assert_ne!(new, *old);
    let replica = GrpcStorage::connect_lazy(&address).unwrap();
    assert_eq!(
        replica.exemplars(request.clone()).await.unwrap().len(),
        per_shard[0]
    );
    assert_eq!(
        exemplars(&cluster.base, "spread_total", FROM, TO).await,
        data
    );
}
