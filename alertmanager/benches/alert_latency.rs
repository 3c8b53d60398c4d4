//! Alerting latency: the time from the acknowledgment of a sample that crosses a
//! threshold to the arrival of the webhook request, with a 1s evaluation interval
//! (the design target: p99 under 2s).
//!
//! The query engine reads an in-memory store; each case adds a sample above the
//! threshold to a new series (its own alert group, `groupBy: ['...']`) at a different
//! phase of the evaluation schedule, and waits for the webhook. Cases:
//! `TELLTALE_BENCH_CASES` (default 40).
//!
//! `cargo bench -p telltale-alertmanager --bench alert_latency`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use telltale_alertmanager::{ManagerOptions, RuleManager, now_ms};
use telltale_crds::{
    AlertRule, AlertRuleSpec, AlertingSpec, PromDuration, Receiver, Route, Rule, RuleGroup,
    WebhookConfig,
};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions};

type Arrivals = Arc<Mutex<BTreeMap<String, Instant>>>;

async fn hook(State(arrivals): State<Arrivals>, Json(body): Json<serde_json::Value>) {
    let now = Instant::now();
    let mut arrivals = arrivals.lock().unwrap();
    for alert in body["alerts"].as_array().into_iter().flatten() {
        if let Some(case) = alert["labels"]["case"].as_str() {
            arrivals.entry(case.to_string()).or_insert(now);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let cases: usize = std::env::var("TELLTALE_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let arrivals: Arrivals = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let reader = Arc::new(MemoryReader::new());
    let registry = prometheus::Registry::new();
    let engine = Arc::new(Engine::new(
        reader.clone(),
        EngineOptions::default(),
        &registry,
    ));
    let alerting = AlertingSpec {
        route: Some(Route {
            receiver: Some("bench".into()),
            group_by: Some(vec!["...".into()]),
            ..Route::default()
        }),
        receivers: vec![Receiver {
            name: "bench".into(),
            webhooks: vec![WebhookConfig {
                url: sink,
                send_resolved: false,
                timeout: None,
            }],
            ..Default::default()
        }],
        inhibit_rules: vec![],
    };
    let manager = RuleManager::new(engine, alerting, ManagerOptions::default(), &registry);
    manager.apply(&[AlertRule::new(
        "latency",
        AlertRuleSpec {
            groups: vec![RuleGroup {
                name: "latency".into(),
                interval: PromDuration::from_secs(1),
                rules: vec![Rule::alert("ProbeHigh", "latency_probe > 5")],
            }],
        },
    )]);

    let mut latencies = Vec::with_capacity(cases);
    for i in 0..cases {
        let case = i.to_string();
        let labels = [("__name__", "latency_probe"), ("case", case.as_str())];
        reader.add(&labels, &[(now_ms() - 2_000, 1.0)]);
        // Spread the crossings over the phase of the evaluation schedule.
        tokio::time::sleep(Duration::from_millis((i as u64 * 373) % 1000)).await;
        reader.add(&labels, &[(now_ms(), 10.0)]);
        let acknowledged = Instant::now();
        let deadline = acknowledged + Duration::from_secs(10);
        let arrived = loop {
            if let Some(t) = arrivals.lock().unwrap().get(&case) {
                break *t;
            }
            assert!(Instant::now() < deadline, "case {i}: no webhook within 10s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        latencies.push(arrived.saturating_duration_since(acknowledged));
    }
    manager.shutdown();
    latencies.sort();
    println!(
        "alert latency (sample acknowledged -> webhook received, 1s evaluation interval, {cases} cases): \
         p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies[latencies.len() - 1],
    );
    assert!(
        percentile(&latencies, 99.0) < Duration::from_secs(2),
        "p99 above the 2s target"
    );
}
