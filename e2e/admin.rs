//! The TSDB admin API (`--web.enable-admin-api`) through the real binary:
//! (a) `telltale standalone` beside Prometheus 2.42 fed the same samples: the same
//!     `delete_series` call leaves the same query answers; they survive a SIGKILL and
//!     restart (Raft log replay) and `clean_tombstones`; a snapshot is a directory a
//!     second standalone starts from and answers the same;
//! (b) without the flag every endpoint answers as Prometheus does: `unavailable`,
//!     "admin APIs disabled" (HTTP 500: Prometheus's error type has no status of its own);
//! (c) `telltale dev-cluster`: a delete reaches every replica of every shard (each read
//!     alone), survives every replica being killed, and snapshots go to each shard.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::dev_cluster::DevCluster;
use common::remote_write::{self, Sample, TimeSeries};
use common::{Telltale, start_prometheus_args, start_prometheus_receiver};
use reqwest::StatusCode;
use telltale_storage_api::cluster::{ShardMap, ShardedOptions, ShardedStorage};
use telltale_storage_api::{MatchOp, Matcher, SampleReader, SelectRequest, Selection};

const STEP_MS: i64 = 15_000;
const MIN: i64 = 60_000;

/// One series of metric `name` with `labels`, a sample every 15 s over `[from, to)`.
fn series(name: &str, labels: &[(&str, &str)], from: i64, to: i64) -> TimeSeries {
    let mut all = vec![("__name__", name)];
    all.extend_from_slice(labels);
    let mut ts = remote_write::series(&all, from, 0.0);
    ts.samples = (from..to)
        .step_by(STEP_MS as usize)
        .map(|t| Sample {
            value: ((t - from) / STEP_MS) as f64,
            timestamp: t,
        })
        .collect();
    ts
}

async fn post(url: &str) -> (StatusCode, String) {
    let resp = reqwest::Client::new().post(url).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// `data.result` of a range query.
async fn range(base: &str, expr: &str, start: i64, end: i64) -> serde_json::Value {
    let url = format!(
        "{base}/api/v1/query_range?query={}&start={}&end={}&step=15",
        urlencode(expr),
        secs(start),
        secs(end)
    );
    let body = common::get_json(&url).await;
    assert_eq!(body["status"], "success", "{url}: {body}");
    body["data"]["result"].clone()
}

/// `data.result` of an instant query at `at`.
async fn instant(base: &str, expr: &str, at: i64) -> serde_json::Value {
    serde_json::Value::Array(common::query_at_time(base, expr, at as f64 / 1000.0).await)
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus's snapshot name: `20060102T150405Z-` and 16 hex digits.
fn is_snapshot_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 33
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && &b[15..17] == b"Z-"
        && b[17..]
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// What the comparison reads: raw points over the whole range and some functions. The
/// steps lie 7 s off the samples: no sample sits on a lookback or range boundary, where
/// Prometheus 2.42 (inclusive) and 3 (exclusive, as Telltale) differ.
async fn answers(base: &str, from: i64, to: i64) -> Vec<serde_json::Value> {
    let (from, to) = (from + 7_000, to + 7_000);
    vec![
        range(base, "adm", from, to).await,
        range(base, "rate(adm[5m])", from, to).await,
        instant(base, "count_over_time(adm[1h])", to).await,
        instant(base, "sum_over_time(adm[1h])", to).await,
    ]
}

async fn series_names(base: &str, start: i64, end: i64) -> Vec<String> {
    let url = format!(
        "{base}/api/v1/series?match[]=adm&start={}&end={}",
        secs(start),
        secs(end)
    );
    let body = common::get_json(&url).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instance"].as_str().unwrap().to_string())
        .collect()
}

/// Where two JSON values first differ (for a readable failure).
fn first_diff(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value::{Array, Object};
    match (a, b) {
        (Array(x), Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_diff(p, q, format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: length {} vs {}", x.len(), y.len()))
        }
        (Object(x), Object(y)) => {
            for (k, p) in x {
                match y.get(k) {
                    Some(q) => {
                        if let Some(d) = first_diff(p, q, format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k} missing on the right")),
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: keys differ"))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

fn assert_same(ours: &[serde_json::Value], theirs: &[serde_json::Value], what: &str) {
    let (a, b) = (
        serde_json::Value::Array(ours.to_vec()),
        serde_json::Value::Array(theirs.to_vec()),
    );
    if let Some(d) = first_diff(&a, &b, String::new()) {
        panic!("{what}: Telltale and Prometheus differ at {d}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_deletes_as_prometheus_does_and_snapshots_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let (_prom, prom) = start_prometheus_args(
        dir.path(),
        "scrape_configs: []\n",
        &[
            "--web.enable-remote-write-receiver",
            "--web.enable-admin-api",
        ],
    )
    .await;
    let data = dir.path().join("telltale");
    let mut tt = Telltale::start(&data, &["--web.enable-admin-api"]).await;
    let base = tt.url("");

    let to = common::now_ms() / STEP_MS * STEP_MS;
    let from = to - 40 * MIN;
    let batch = vec![
        series("adm", &[("instance", "a")], from, to),
        series("adm", &[("instance", "b")], from, to),
        series("adm", &[("instance", "c")], from, to),
    ];
    for target in [&prom, &base] {
        assert!(
            remote_write::push(target, batch.clone()).await.is_success(),
            "write to {target}"
        );
    }
    let before = answers(&base, from, to).await;
    assert_same(&before, &answers(&prom, from, to).await, "the same data");

    // Both answer a call without match[] alike.
    let bad = "/api/v1/admin/tsdb/delete_series";
    let (ours, theirs) = (
        post(&format!("{base}{bad}")).await,
        post(&format!("{prom}{bad}")).await,
    );
    assert_eq!(ours.0, StatusCode::BAD_REQUEST);
    assert_eq!(ours.0, theirs.0);
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(parse(&ours.1), parse(&theirs.1));
    assert_eq!(
        reqwest::get(format!("{base}{bad}?match[]=adm"))
            .await
            .unwrap()
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );

    // An empty range (start after end) deletes nothing, on both.
    let empty = format!(
        "/api/v1/admin/tsdb/delete_series?match[]=adm&start={}&end={}",
        secs(to),
        secs(from)
    );
    let (ours, theirs) = (
        post(&format!("{base}{empty}")).await,
        post(&format!("{prom}{empty}")).await,
    );
    assert_eq!(
        (ours.0, theirs.0),
        (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT)
    );
    assert_same(&answers(&base, from, to).await, &before, "an empty delete");

    // Delete instance a over ten minutes, and all of c, on both.
    let (lo, hi) = (from + 10 * MIN, from + 20 * MIN);
    for target in [&prom, &base] {
        for query in [
            format!(
                "match[]={}&start={}&end={}",
                urlencode(r#"adm{instance="a"}"#),
                secs(lo),
                secs(hi)
            ),
            format!("match[]={}", urlencode(r#"{__name__="adm",instance="c"}"#)),
        ] {
            let url = format!("{target}/api/v1/admin/tsdb/delete_series?{query}");
            let (status, body) = post(&url).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{url}: {body}");
            assert_eq!(body, "");
        }
    }
    let deleted = answers(&base, from, to).await;
    assert_same(
        &deleted,
        &answers(&prom, from, to).await,
        "after delete_series",
    );
    assert_ne!(deleted, before);
    let raw = deleted[0].as_array().unwrap();
    assert_eq!(raw.len(), 2, "c is gone: {}", deleted[0]);
    assert_eq!(raw[1], before[0][1], "b is untouched");
    // The series API leaves out a series with nothing left in the range.
    assert_eq!(series_names(&base, lo + MIN, hi - MIN).await, ["b"]);
    assert_eq!(series_names(&base, from, to).await, ["a", "b"]);

    // A crash and restart: the log replays the delete.
    tt.proc.kill9();
    let mut tt = Telltale::start(&data, &["--web.enable-admin-api"]).await;
    let base = tt.url("");
    assert_eq!(answers(&base, from, to).await, deleted, "after a restart");

    for target in [&prom, &base] {
        let (status, body) = post(&format!("{target}/api/v1/admin/tsdb/clean_tombstones")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{target}: {body}");
    }
    assert_eq!(
        answers(&base, from, to).await,
        deleted,
        "after clean_tombstones"
    );
    assert_same(
        &answers(&prom, from, to).await,
        &deleted,
        "after clean_tombstones",
    );

    // A snapshot: Prometheus's name, a directory a standalone starts from.
    let (status, body) = post(&format!("{base}/api/v1/admin/tsdb/snapshot")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = parse(&body);
    assert_eq!(body["status"], "success");
    let name = body["data"]["name"].as_str().unwrap().to_string();
    assert!(is_snapshot_name(&name), "{name}");
    let snap = data.join("snapshots").join(&name);
    assert!(
        snap.join("sm").join("CURRENT").is_file(),
        "{}",
        snap.display()
    );
    let (status, body) = post(&format!("{base}/api/v1/admin/tsdb/snapshot?skip_head=true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(&format!("{base}/api/v1/admin/tsdb/snapshot?skip_head=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    tt.proc.kill9();

    let copy = dir.path().join("from-snapshot");
    copy_dir(&snap, &copy);
    let restored = Telltale::start(&copy, &[]).await;
    assert_eq!(
        answers(&restored.url(""), from, to).await,
        deleted,
        "a standalone started from the snapshot"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_flag_the_admin_api_is_unavailable_as_prometheus_says() {
    let dir = tempfile::tempdir().unwrap();
    let (_prom, prom) = start_prometheus_receiver(dir.path()).await;
    let tt = Telltale::start(&dir.path().join("telltale"), &[]).await;
    for path in [
        "/api/v1/admin/tsdb/delete_series?match[]=up",
        "/api/v1/admin/tsdb/clean_tombstones",
        "/api/v1/admin/tsdb/snapshot",
    ] {
        let ours = post(&tt.url(path)).await;
        let theirs = post(&format!("{prom}{path}")).await;
        // Prometheus's respondError maps `unavailable` to its default, 500.
        assert_eq!(ours.0, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(ours.0, theirs.0, "{path}");
        let want: serde_json::Value = serde_json::from_str(
            r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&ours.1).unwrap(),
            want
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&theirs.1).unwrap(),
            want
        );
    }
}

/// Every (series `i`, timestamp) one replica holds of `adm_c`, read from it alone.
async fn read_replica(address: &str) -> Vec<(String, Vec<i64>)> {
    let reader = ShardedStorage::new(
        ShardMap::parse(&format!("0={address}")).unwrap(),
        ShardedOptions {
            follower_reads: true,
            max_follower_lag: u64::MAX,
            ..ShardedOptions::default()
        },
        &prometheus::Registry::new(),
    )
    .unwrap();
    let got = reader
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "adm_c")],
            start_ms: 0,
            end_ms: i64::MAX,
            resolution: 0,
        }))
        .await
        .expect("read the replica");
    got.iter()
        .map(|s| {
            let ts = s.samples().unwrap().into_iter().map(|p| p.0).collect();
            (s.label("i").unwrap().to_string(), ts)
        })
        .collect()
}

/// Checks that every replica of every shard holds the delete: series `i` ≥ 10 have no
/// sample in `[lo, hi]`, the others all of theirs. Returns the series seen per shard.
async fn check_replicas(cluster: &DevCluster, all: &[i64], (lo, hi): (i64, i64)) -> usize {
    assert!(
        cluster.settled(0, Duration::from_secs(60)).await,
        "not settled: {}",
        cluster.status().await
    );
    let status = cluster.status().await;
    let mut seen = 0;
    for shard in status["shards"].as_array().unwrap() {
        let mut answers = Vec::new();
        for r in shard["replicas"].as_array().unwrap() {
            let got = read_replica(r["address"].as_str().unwrap()).await;
            for (i, ts) in &got {
                let want: Vec<i64> = if i.parse::<u32>().unwrap() >= 10 {
                    all.iter()
                        .copied()
                        .filter(|t| !(lo..=hi).contains(t))
                        .collect()
                } else {
                    all.to_vec()
                };
                assert_eq!(ts, &want, "series {i} on replica {}", r["address"]);
            }
            answers.push(got);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "replicas differ");
        seen += answers[0].len();
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_cluster_deletes_on_every_replica_and_snapshots_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    let cluster = DevCluster::start_with(&root, 2, &["--web.enable-admin-api"]).await;
    assert!(
        cluster.settled(5, Duration::from_secs(60)).await,
        "cluster did not settle: {}",
        cluster.status().await
    );
    let to = common::now_ms() / STEP_MS * STEP_MS;
    let from = to - 30 * MIN;
    let batch: Vec<TimeSeries> = (0..20)
        .map(|i| series("adm_c", &[("i", &i.to_string())], from, to))
        .collect();
    assert!(remote_write::acknowledged(&cluster.base, batch).await);
    let all: Vec<i64> = (from..to).step_by(STEP_MS as usize).collect();

    let (lo, hi) = (from + 10 * MIN, from + 20 * MIN);
    let url = format!(
        "{}/api/v1/admin/tsdb/delete_series?match[]={}&start={}&end={}",
        cluster.base,
        urlencode(r#"adm_c{i=~"1."}"#),
        secs(lo),
        secs(hi)
    );
    let (status, body) = post(&url).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(check_replicas(&cluster, &all, (lo, hi)).await, 20);

    // Every replica killed at once (dev-cluster restarts them): replayed from the log.
    for pid in DevCluster::pids(&cluster.status().await) {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(check_replicas(&cluster, &all, (lo, hi)).await, 20);
    // Through the query API: no point once the lookback passed the last kept sample,
    // until the first sample after the gap.
    let got = range(&cluster.base, r#"adm_c{i="15"}"#, from, to).await;
    let times: Vec<i64> = got[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap() * 1000.0) as i64)
        .collect();
    assert!(
        !times
            .iter()
            .any(|t| (lo + 5 * MIN + STEP_MS..=hi).contains(t)),
        "{got}"
    );
    assert!(times.contains(&(hi + STEP_MS)) && times.contains(&from));

    let (status, body) = post(&format!(
        "{}/api/v1/admin/tsdb/clean_tombstones",
        cluster.base
    ))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(check_replicas(&cluster, &all, (lo, hi)).await, 20);

    let (status, body) = post(&format!("{}/api/v1/admin/tsdb/snapshot", cluster.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let name = body["data"]["name"].as_str().unwrap();
    for shard in 0..2 {
        let held: Vec<_> = (1..=3)
            .filter(|r| {
                root.join(format!(
                    "shard-{shard}/replica-{r}/snapshots/{name}/sm/CURRENT"
                ))
                .is_file()
            })
            .collect();
        assert_eq!(held.len(), 1, "shard {shard}: the leader's snapshot {name}");
    }
}
