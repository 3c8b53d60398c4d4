//! Backups of a running `telltale standalone` under write load, and restores from them,
//! with the real binary: `telltale backup --url … --to file:///…` and `--to s3://…` (a
//! real S3 API server, moto, with the usual `AWS_*` environment and `AWS_ENDPOINT_URL`);
//! `telltale restore --from … --data-dir …` makes a data directory that a new standalone
//! serves with every sample acknowledged before the backup began. Without
//! `--web.enable-admin-api` the backup route is refused, and a bad URL is named.

mod common;
#[path = "../backup/tests/common/moto.rs"]
mod moto;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use common::remote_write::{acknowledged, series};
use common::{Proc, TELLTALE, free_port, now_ms, wait_ready};

const METRIC: &str = "backup_e2e_samples";

/// A standalone on a free port with `extra` flags and `env`, ready.
async fn standalone(
    dir: &Path,
    name: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> (Proc, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(TELLTALE);
    cmd.arg("standalone")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("TELLTALE_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut proc = Proc::spawn(name, &mut cmd, dir.with_extension(format!("{name}.log")));
    wait_ready(&mut proc, &format!("{base}/-/ready")).await;
    (proc, base)
}

fn telltale(args: &[&str], env: &[(String, String)]) -> (bool, String) {
    let mut cmd = Command::new(TELLTALE);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The timestamps of every sample of METRIC the standalone at `base` holds.
async fn stored(base: &str) -> Vec<i64> {
    let got = common::query_at(base, &format!("{METRIC}[1h]")).await;
    let Some(series) = got.first() else {
        return Vec::new();
    };
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].as_f64().unwrap() * 1000.0).round() as i64)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_under_load_restore_everything_acknowledged_before_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let moto = moto::Moto::start().await;
    moto.create_bucket("backups").await;
    let env = moto.env();
    let (_source, base) = standalone(
        &d.join("source"),
        "source",
        &["--web.enable-admin-api"],
        &env,
    )
    .await;

    // A writer that goes on through the backups: one sample a push, the last
    // acknowledged one's index counted.
    let start = (now_ms() - 1_800_000) / 1000 * 1000;
    let acked = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, base) = (acked.clone(), stop.clone(), base.clone());
        tokio::spawn(async move {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                if acknowledged(
                    &base,
                    vec![series(&[("__name__", METRIC)], start + i * 1000, i as f64)],
                )
                .await
                {
                    acked.store(i, Ordering::SeqCst);
                    i += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let file_url = format!("file://{}", d.join("bucket").display());
    let s3_url = "s3://backups/standalone/first".to_string();
    let mut before = Vec::new();
    for to in [&file_url, &s3_url] {
        let acked_before = acked.load(Ordering::SeqCst);
        let (ok, text) = telltale(&["backup", "--url", &base, "--to", to], &[]);
        assert!(ok, "backup to {to}: {text}");
        assert!(text.contains("\"shards\""), "{text}");
        before.push(acked_before);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        acked.load(Ordering::SeqCst) > before[1],
        "writes went on during the backups"
    );

    for (i, from) in [&file_url, &s3_url].into_iter().enumerate() {
        let restored = d.join(format!("restored-{i}"));
        let (ok, text) = telltale(
            &[
                "restore",
                "--from",
                from,
                "--data-dir",
                &restored.display().to_string(),
            ],
            &env,
        );
        assert!(ok, "restore from {from}: {text}");
        let (_p, restored_base) = standalone(&restored, &format!("restored-{i}"), &[], &[]).await;
        let have = stored(&restored_base).await;
        for n in 0..=before[i] {
            assert!(
                have.contains(&(start + n * 1000)),
                "sample {n} acknowledged before the backup to {from} is missing ({} restored)",
                have.len()
            );
        }
    }

    // A bad destination is named; a restore refuses a directory with data.
    let (ok, text) = telltale(&["backup", "--url", &base, "--to", "ftp://nowhere/x"], &[]);
    assert!(!ok && text.contains("ftp://nowhere/x"), "{text}");
    let (ok, text) = telltale(
        &[
            "restore",
            "--from",
            &file_url,
            "--data-dir",
            &d.join("restored-0").display().to_string(),
        ],
        &[],
    );
    assert!(!ok && text.contains("not empty"), "{text}");
    let (ok, text) = telltale(
        &[
            "restore",
            "--from",
            &format!("file://{}", d.join("nothing").display()),
            "--data-dir",
            &d.join("x").display().to_string(),
        ],
        &[],
    );
    assert!(!ok && text.contains("backup.json"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backup_route_needs_the_admin_api() {
    let tmp = tempfile::tempdir().unwrap();
    let (_p, base) = standalone(&tmp.path().join("data"), "plain", &[], &[]).await;
    let to = format!("file://{}", tmp.path().join("bucket").display());
    let (ok, text) = telltale(&["backup", "--url", &base, "--to", &to], &[]);
    assert!(!ok && text.contains("admin APIs disabled"), "{text}");
    assert!(!tmp.path().join("bucket").join("backup.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dev_cluster_backs_up_every_shard_and_each_restores_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let dc =
        common::dev_cluster::DevCluster::start_with(&d.join("dc"), 2, &["--web.enable-admin-api"])
            .await;
    let ts = now_ms() - 60_000;
    for s in 0..40 {
        let labels = [("__name__", METRIC), ("series", &s.to_string())];
        assert!(acknowledged(&dc.base, vec![series(&labels, ts, s as f64)]).await);
    }
    let to = format!("file://{}", d.join("bucket").display());
    let (ok, text) = telltale(&["backup", "--url", &dc.base, "--to", &to], &[]);
    assert!(ok, "{text}");
    let dir = |s: u32| d.join(format!("shard-{s}")).display().to_string();
    let (ok, text) = telltale(&["restore", "--from", &to, "--data-dir", &dir(0)], &[]);
    assert!(
        !ok && text.contains("[0, 1]") && text.contains("--shard"),
        "{text}"
    );
    let mut total = 0;
    for shard in [0u32, 1] {
        let (ok, text) = telltale(
            &[
                "restore",
                "--from",
                &to,
                "--data-dir",
                &dir(shard),
                "--shard",
                &shard.to_string(),
            ],
            &[],
        );
        assert!(ok, "{text}");
        let (_p, base) =
            standalone(Path::new(&dir(shard)), &format!("shard-{shard}"), &[], &[]).await;
        let n = common::query_at(&base, &format!("{METRIC}[10m]"))
            .await
            .len();
        assert!(n > 0, "shard {shard} holds some of the series");
        total += n;
    }
    assert_eq!(total, 40, "every series is in exactly one shard's backup");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_node_backs_up_its_shard() {
    use telltale_storage_api::{GrpcStorage, Label, Sample, SampleWriter, TimeSeries};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let mut node = Proc::spawn(
        "storage",
        Command::new(TELLTALE)
            .arg("storage")
            .arg("--data-dir")
            .arg(d.join("node"))
            .args([
                "--grpc-listen",
                &grpc,
                "--listen",
                &http,
                "--shard",
                "3",
                "--web.enable-admin-api",
            ]),
        d.join("storage.log"),
    );
    wait_ready(&mut node, &format!("http://{http}/-/ready")).await;
    let ts = now_ms() - 60_000;
    let client = GrpcStorage::connect_lazy(&grpc).unwrap();
    // Ready before its group of one has elected itself: written once it leads.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // A native histogram beside the float: backups carry histogram chunks too.
    let mut histogram = telltale_storage_api::FloatHistogram {
        schema: 3,
        count: 5.0,
        sum: 2.5,
        ..Default::default()
    };
    histogram.set_positive([(-2, 2.0), (1, 3.0)]);
    let written = loop {
        let sample = TimeSeries {
            labels: vec![Label::new("__name__", METRIC), Label::new("node", "3")],
            samples: vec![Sample {
                timestamp_ms: ts,
                value: 3.0,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        };
        let h = TimeSeries {
            labels: vec![Label::new("__name__", METRIC), Label::new("node", "3h")],
            histograms: vec![histogram.to_proto(ts)],
            ..TimeSeries::default()
        };
        match client.write(vec![sample, h]).await {
            Ok(n) => break n,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the storage node never took the write: {e}"),
        }
    };
    assert_eq!(written, 2);
    let to = format!("file://{}", d.join("bucket").display());
    let (ok, text) = telltale(
        &["backup", "--url", &format!("http://{http}"), "--to", &to],
        &[],
    );
    assert!(ok && text.contains("\"shard\": 3"), "{text}");
    let restored = d.join("restored").display().to_string();
    let (ok, text) = telltale(
        &[
            "restore",
            "--from",
            &to,
            "--data-dir",
            &restored,
            "--shard",
            "0",
        ],
        &[],
    );
    assert!(!ok && text.contains("no shard 0"), "{text}");
    let (ok, text) = telltale(&["restore", "--from", &to, "--data-dir", &restored], &[]);
    assert!(ok, "{text}");
    let (_p, base) = standalone(Path::new(&restored), "restored", &[], &[]).await;
    let got = common::query_at(&base, &format!("{METRIC}[10m]")).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["metric"]["node"], "3");
    assert_eq!(got[1]["metric"]["node"], "3h");
    let h = &got[1]["histograms"][0][1];
    assert_eq!(
        (h["count"].as_str(), h["sum"].as_str()),
        (Some("5"), Some("2.5")),
        "{got:?}"
    );
    assert_eq!(h["buckets"].as_array().map(Vec::len), Some(2), "{got:?}");
}
