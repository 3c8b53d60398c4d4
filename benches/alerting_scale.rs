//! Alerting at scale, through `telltale standalone` as users run it: 100,000 firing alerts
//! in 20,000 aggregation groups (`group_by: [alertname, namespace, pod]`), an inhibition
//! rule (critical mutes warning in the same namespace) and 100 active silences, notified
//! to a webhook sink. Reported: the time until every group was notified, the dispatcher's
//! time per group flush (its own histogram), memory per alert (the process's RSS), the
//! rule group's evaluation time, and the latency of `/-/ready` and of a simple
//! `/api/v1/query` measured every 20 ms throughout (p50, p99, max).
//!
//! `cargo bench --bench alerting_scale` (`TELLTALE_BENCH_ALERTS`, default 100000;
//! `TELLTALE_BIN` runs another `telltale` binary than the one cargo built with the bench,
//! e.g. the release binary under a debug-built driver).

#[path = "../e2e/common/remote_write.rs"]
#[allow(dead_code)]
mod remote_write;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use remote_write::{Label, Sample, TimeSeries, push};
use telltale_model::{format_rfc3339, now_ms};

const TELLTALE: &str = env!("CARGO_BIN_EXE_telltale");
const PER_GROUP: usize = 5;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

type Groups = Arc<Mutex<(BTreeSet<String>, u64)>>;

/// `/-/ready` and `/api/v1/query` latencies, and the number of failed probes.
type Probes = (Vec<Duration>, Vec<Duration>, usize);

async fn hook(State(groups): State<Groups>, Json(body): Json<serde_json::Value>) {
    let mut g = groups.lock().unwrap();
    g.0.insert(body["groupKey"].as_str().unwrap_or_default().to_string());
    g.1 += body["alerts"].as_array().map_or(0, |a| a.len() as u64);
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The series of alert `i`: pod `i / 5` (20,000 pods), namespace `pod % 1000`.
fn series(i: usize, t: i64) -> TimeSeries {
    let pod = i / PER_GROUP;
    let ns = pod % 1000;
    let severity = if is_critical(pod) {
        "critical"
    } else {
        "warning"
    };
    let labels = [
        ("__name__", "bench_load".to_string()),
        ("container", format!("c{}", i % PER_GROUP)),
        ("namespace", format!("ns-{ns}")),
        ("pod", format!("pod-{pod}")),
        ("severity", severity.to_string()),
    ];
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.clone(),
            })
            .collect(),
        samples: vec![Sample {
            value: 1.0 + (i % 7) as f64,
            timestamp: t,
        }],
        exemplars: Vec::new(),
    }
}

/// Pods 0, 10, ..., 990 are critical: each mutes the warnings of the 19 other pods of its
/// namespace (ns-0, ns-10, ..., ns-990).
fn is_critical(pod: usize) -> bool {
    pod < 1000 && pod.is_multiple_of(10)
}

async fn push_all(base: &str, alerts: usize) {
    let t = now_ms();
    for chunk in (0..alerts).collect::<Vec<_>>().chunks(10_000) {
        let batch = chunk.iter().map(|&i| series(i, t)).collect();
        assert!(push(base, batch).await.is_success());
    }
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() {
    let alerts: usize = std::env::var("TELLTALE_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let groups_total = alerts / PER_GROUP;
    let dir = tempfile::tempdir().unwrap();

    let groups: Groups = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(groups.clone());
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_url = format!("http://{}/hook", sink.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(sink, app).await.unwrap() });

    let config = dir.path().join("alerting.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: telltale.dev/v1alpha1
kind: MetricCluster
metadata:
  name: bench
spec:
  alerting:
    route:
      receiver: sink
      groupBy: [alertname, namespace, pod]
      groupWait: 1s
      groupInterval: 30s
      repeatInterval: 1h
    receivers:
      - name: sink
        webhooks:
          - url: {sink_url}
    inhibitRules:
      - sourceMatchers: ['severity=critical']
        targetMatchers: ['severity=warning']
        equal: [namespace]
---
apiVersion: telltale.dev/v1alpha1
kind: AlertRule
metadata:
  name: bench
spec:
  groups:
    - name: load
      interval: 15s
      rules:
        - alert: PodLoadHigh
          expr: bench_load > 0
          annotations:
            summary: '{{{{ $labels.pod }}}} in {{{{ $labels.namespace }}}} has load {{{{ printf \"%.2f\" $value }}}}'
            description: '{{{{ with $labels.container }}}}container {{{{ . }}}}{{{{ end }}}} at {{{{ $value | humanize }}}}'
"
        ),
    )
    .unwrap();

    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let base = format!("http://{addr}");
    let telltale = std::env::var("TELLTALE_BIN").unwrap_or_else(|_| TELLTALE.to_string());
    println!("telltale: {telltale}");
    let mut child = Command::new(&telltale)
        .args(["standalone", "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--listen",
            &addr.to_string(),
            "--self-scrape-interval",
            "1h",
            "-f",
        ])
        .arg(&config)
        .env("TELLTALE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start telltale");
    let pid = child.id();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/-/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "telltale not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_bytes(pid);

    // 100 silences: the warnings of namespaces ns-900 .. ns-999.
    let now = rfc3339_seconds(now_ms());
    let later = rfc3339_seconds(now_ms() + 3_600_000);
    for ns in 900..1000 {
        let body = serde_json::json!({
            "matchers": [{"name": "namespace", "value": format!("ns-{ns}"), "isRegex": false, "isEqual": true}],
            "startsAt": now, "endsAt": later, "createdBy": "bench", "comment": "maintenance",
        });
        let r = client
            .post(format!("{base}/api/v2/silences"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "silence: {}",
            r.text().await.unwrap()
        );
    }

    // Probe /-/ready and a simple query every 20 ms for the whole run.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Latencies of every probe, failed ones (error or 30 s timeout) included, and the
    // number of failures.
    let probes: Arc<Mutex<Probes>> = Arc::default();
    let prober = {
        let (stop, probes, base, client) =
            (stop.clone(), probes.clone(), base.clone(), client.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                let ok = client
                    .get(format!("{base}/-/ready"))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                let ready = t.elapsed();
                let t = Instant::now();
                let q = client
                    .get(format!("{base}/api/v1/query?query=vector(1)"))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                let query = t.elapsed();
                {
                    let mut p = probes.lock().unwrap();
                    p.0.push(ready);
                    p.1.push(query);
                    p.2 += usize::from(!ok) + usize::from(!q);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let started = Instant::now();
    push_all(&base, alerts).await;
    let pushed = started.elapsed();
    // Muted groups get no notification: warnings in a namespace with a critical pod
    // (namespaces ns-0, ns-10, ...: inhibition), everything in ns-900 .. ns-999 (silences).
    let expected_groups = (0..groups_total)
        .filter(|p| {
            let ns = p % 1000;
            let critical = is_critical(*p);
            let silenced = ns >= 900;
            let inhibited = !critical && ns % 10 == 0;
            !silenced && !inhibited
        })
        .count();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut refreshed = Instant::now();
    loop {
        let notified = groups.lock().unwrap().0.len();
        if notified >= expected_groups {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {notified} of {expected_groups} groups notified after 600 s"
        );
        if refreshed.elapsed() > Duration::from_secs(60) {
            push_all(&base, alerts).await;
            refreshed = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_notified = started.elapsed();
    // Keep probing through two more evaluations and a group interval.
    tokio::time::sleep(Duration::from_secs(35)).await;
    let rss_after = rss_bytes(pid);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = prober.await;

    let flush_sum = metric(&base, "telltale_dispatcher_flush_duration_seconds_sum").await;
    let flush_count = metric(&base, "telltale_dispatcher_flush_duration_seconds_count").await;
    let agg_groups = metric(&base, "telltale_dispatcher_aggregation_groups").await;
    let eval = metric(&base, "telltale_rule_group_last_duration_seconds").await;
    let firing = metric(&base, "telltale_alerts{state=\"firing\"}").await;
    let (mut ready, mut query, failed_probes) = probes.lock().unwrap().clone();
    ready.sort();
    query.sort();
    let _ = child.kill();
    let _ = child.wait();
    let (notified_groups, notified_alerts) = {
        let g = groups.lock().unwrap();
        (g.0.len(), g.1)
    };

    println!(
        "alerting at scale: {alerts} firing alerts in {groups_total} groups, 1 inhibition rule, 100 silences"
    );
    println!("| | |");
    println!("|---|---|");
    println!("| samples pushed (remote_write) | {pushed:.1?} |");
    println!("| firing alerts (telltale_alerts) | {firing} |");
    println!("| aggregation groups | {agg_groups} |");
    println!(
        "| groups notified (not muted) / alerts in them | {notified_groups} / {notified_alerts} |"
    );
    println!("| time until every unmuted group was notified | {all_notified:.1?} |");
    println!("| rule group evaluation (last) | {eval:.2} s |");
    println!(
        "| flush time per group (mean of {flush_count} flushes) | {:.3} ms |",
        flush_sum / flush_count.max(1.0) * 1000.0
    );
    println!(
        "| memory per alert (RSS growth / alerts) | {:.0} bytes |",
        (rss_after.saturating_sub(rss_before)) as f64 / alerts as f64
    );
    println!(
        "| `/-/ready` p50 / p99 / max ({} probes) | {:.1?} / {:.1?} / {:.1?} |",
        ready.len(),
        percentile(&ready, 50.0),
        percentile(&ready, 99.0),
        ready.last().copied().unwrap_or_default()
    );
    println!(
        "| `/api/v1/query` p50 / p99 / max | {:.1?} / {:.1?} / {:.1?} |",
        percentile(&query, 50.0),
        percentile(&query, 99.0),
        query.last().copied().unwrap_or_default()
    );
    println!("| failed probes (error or 30 s timeout) | {failed_probes} |");
    let target = Duration::from_millis(100);
    println!(
        "| p99 within 100 ms (`/-/ready`, `/api/v1/query`) | {} / {} |",
        percentile(&ready, 99.0) <= target,
        percentile(&query, 99.0) <= target
    );
}

/// RFC 3339 of `ms` (UTC, whole seconds).
fn rfc3339_seconds(ms: i64) -> String {
    format_rfc3339(ms.div_euclid(1000) * 1000)
}
