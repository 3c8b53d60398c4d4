//! Helpers shared by the integration tests: a fake querier, local HTTP sinks that record
//! every request, waiting, metrics.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::any;
use telltale_alertmanager::{QueriedSample, RuleQuerier};
use telltale_crds::{AlertRule, AlertRuleSpec, PromDuration, Rule, RuleGroup};

/// Returns, per expression, whatever the test last set (nothing by default).
#[derive(Default)]
pub struct FakeQuerier {
    results: Mutex<BTreeMap<String, Result<Vec<QueriedSample>, String>>>,
}

impl FakeQuerier {
    pub fn set(&self, expr: &str, result: Result<Vec<QueriedSample>, String>) {
        self.results
            .lock()
            .unwrap()
            .insert(expr.to_string(), result);
    }
}

#[async_trait::async_trait]
impl RuleQuerier for FakeQuerier {
    async fn query(&self, expr: &str, _time_ms: i64) -> Result<Vec<QueriedSample>, String> {
        self.results
            .lock()
            .unwrap()
            .get(expr)
            .cloned()
            .unwrap_or(Ok(Vec::new()))
    }
}

pub fn sample(pairs: &[(&str, &str)], value: f64) -> QueriedSample {
    QueriedSample {
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
        histogram: None,
    }
}

/// One request a sink received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("body is JSON")
    }
}

/// Records every request; answers 500 to the first `failures` of them.
#[derive(Default)]
pub struct Sink {
    pub received: Mutex<Vec<Received>>,
    pub failures: AtomicUsize,
}

impl Sink {
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.all().iter().map(Received::json).collect()
    }
}

async fn record(State(sink): State<Arc<Sink>>, request: Request) -> StatusCode {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let failing = sink
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    sink.received.lock().unwrap().push(Received {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    StatusCode::ACCEPTED
}

/// Serves `app` on a free local port; returns `http://127.0.0.1:PORT`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A sink answering every path; returns it and its base URL.
pub async fn start_sink(failures: usize) -> (Arc<Sink>, String) {
    let sink = Arc::new(Sink::default());
    sink.failures.store(failures, Ordering::SeqCst);
    let app = Router::new()
        .route("/{*path}", any(record))
        .with_state(sink.clone());
    let url = serve(app).await;
    (sink, url)
}

pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An `AlertRule` with one group evaluated every 100ms.
pub fn rules(name: &str, rules: Vec<Rule>) -> AlertRule {
    AlertRule::new(
        name,
        AlertRuleSpec {
            groups: vec![RuleGroup {
                name: "g".into(),
                interval: PromDuration(Duration::from_millis(100)),
                rules,
            }],
        },
    )
}

pub fn alerting_rule(name: &str, expr: &str, for_: Duration, labels: &[(&str, &str)]) -> Rule {
    let mut r = Rule::alert(name, expr);
    r.for_ = PromDuration(for_);
    r.labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    r
}

pub fn metric(registry: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    for family in registry.gather() {
        if family.name() != name {
            continue;
        }
        for m in family.get_metric() {
            let matches = labels.iter().all(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == *k && l.value() == *v)
            });
            if matches {
                if m.get_counter().has_value() {
                    return m.get_counter().value();
                }
                if m.get_histogram().has_sample_count() {
                    return m.get_histogram().get_sample_count() as f64;
                }
                return m.get_gauge().value();
            }
        }
    }
    panic!("no metric {name} {labels:?}");
}
