//! Evaluator benchmark and profiling target (issue 15): 50,000 node_exporter-like series
//! × 1 h at 10 s in the in-memory reader, and the dashboard queries of the Prometheus
//! comparison evaluated as range queries over that hour at step 15 s.
//!
//! ```text
//! cargo run --release -p telltale-query --example eval_profile -- [REPS] [QUERY-INDEX]
//! perf record -g target/release/examples/eval_profile 10
//! ```
//!
//! Prints, per query, the median of `REPS` runs (default 5): the whole query, the read
//! from the reader (`fetch`) and the evaluation (`eval`) in milliseconds, and a checksum
//! of the answer (series, points, sum of values) so two builds can be compared.

use std::sync::Arc;
use std::time::Instant;

use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, QueryRequest, Value};

/// Hosts of 100 series each.
const HOSTS: usize = 500;
const INTERVAL_MS: i64 = 10_000;
const POINTS: i64 = 360;
/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;

/// The four of issue 15's targets first, then the other two of its table and two that
/// read range functions step by step.
const QUERIES: [&str; 8] = [
    r#"sum by (job) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
    "sum(rate(node_network_receive_bytes_total[5m]))",
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "topk(10, go_memstats_heap_alloc_bytes)",
    "avg by (instance) (node_filesystem_avail_bytes)",
    r#"node_load1{instance="host-042:9100"}"#,
    "sum by (instance) (rate(node_network_receive_bytes_total[5m]) * 8)",
    r#"rate(node_cpu_seconds_total{mode="user"}[5m]) > 0.1"#,
];

const MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
];
const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const GO: [&str; 9] = [
    "go_goroutines",
    "go_memstats_alloc_bytes_total",
    "go_memstats_frees_total",
    "go_memstats_heap_alloc_bytes",
    "go_memstats_heap_inuse_bytes",
    "go_memstats_heap_objects",
    "go_memstats_mallocs_total",
    "go_memstats_next_gc_bytes",
    "go_memstats_sys_bytes",
];

/// SplitMix64: the same data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> f64 {
        (self.next() % n) as f64
    }
}

/// One series: its labels, and whether it is a counter (else a wandering gauge).
struct Spec {
    labels: Vec<(String, String)>,
    counter: bool,
    step: u64,
}

/// The 100 series of host `h`: CPU by mode (4 CPUs), network (3 devices each way),
/// 4 filesystems, load, memory, 9 Go runtime series, 3 latency histograms, 3 sensors.
fn host(h: usize) -> Vec<Spec> {
    let instance = format!("host-{h:03}:9100");
    let mk = |name: &str, extra: &[(&str, String)], counter: bool, step: u64| {
        let mut labels = vec![
            ("__name__".to_string(), name.to_string()),
            ("instance".to_string(), instance.clone()),
            ("job".to_string(), "node".to_string()),
        ];
        labels.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
        labels.sort();
        Spec {
            labels,
            counter,
            step,
        }
    };
    let mut out = Vec::with_capacity(100);
    for cpu in 0..4 {
        for mode in MODES {
            let l = [("cpu", cpu.to_string()), ("mode", mode.to_string())];
            out.push(mk("node_cpu_seconds_total", &l, true, 1000));
        }
    }
    for dir in ["receive", "transmit"] {
        for d in 0..3 {
            let name = format!("node_network_{dir}_bytes_total");
            out.push(mk(&name, &[("device", format!("eth{d}"))], true, 5_000_000));
        }
    }
    for fs in ["/", "/var", "/home", "/data"] {
        let l = [("mountpoint", fs.to_string())];
        out.push(mk("node_filesystem_avail_bytes", &l, false, 4096));
    }
    for name in ["node_load1", "node_load5", "node_load15"] {
        out.push(mk(name, &[], false, 10));
    }
    out.push(mk("node_memory_MemAvailable_bytes", &[], false, 1 << 20));
    for name in GO {
        out.push(mk(name, &[], name.ends_with("_total"), 1 << 20));
    }
    for handler in ["/api", "/metrics", "/health"] {
        for le in LE {
            let l = [("handler", handler.to_string()), ("le", le.to_string())];
            out.push(mk("http_request_duration_seconds_bucket", &l, true, 50));
        }
        let l = [("handler", handler.to_string())];
        out.push(mk("http_request_duration_seconds_sum", &l, true, 20));
        out.push(mk("http_request_duration_seconds_count", &l, true, 600));
    }
    for s in 0..3 {
        let l = [("sensor", format!("temp{s}"))];
        out.push(mk("node_hwmon_temp_celsius", &l, false, 2));
    }
    out
}

fn load(reader: &MemoryReader) -> usize {
    let mut rng = Rng(15);
    let mut series = 0;
    for h in 0..HOSTS {
        let specs = host(h);
        // Cumulative buckets: each `le` adds to the ones before within a handler.
        let mut value: Vec<f64> = specs.iter().map(|_| rng.below(1_000_000)).collect();
        let mut points: Vec<Vec<(i64, f64)>> = vec![Vec::new(); specs.len()];
        for round in 0..POINTS {
            let t = START_MS + round * INTERVAL_MS + rng.below(4) as i64;
            let mut bucket = 0.0;
            for (i, s) in specs.iter().enumerate() {
                let is_bucket = s.labels[0].1 == "http_request_duration_seconds_bucket";
                if s.counter {
                    let inc = rng.below(s.step);
                    if is_bucket {
                        bucket += inc;
                        value[i] += bucket;
                    } else {
                        value[i] += inc;
                    }
                } else {
                    value[i] += rng.below(2 * s.step + 1) - s.step as f64;
                }
                if !is_bucket {
                    bucket = 0.0;
                }
                points[i].push((t, value[i]));
            }
        }
        for (s, p) in specs.iter().zip(&points) {
            let labels: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            reader.add(&labels, p);
            series += 1;
        }
    }
    series
}

fn checksum(v: &Value) -> (usize, usize, f64) {
    match v {
        Value::Matrix(m) => (
            m.len(),
            m.iter().map(|s| s.points.len()).sum(),
            m.iter().flat_map(|s| s.points.iter().map(|p| p.1)).sum(),
        ),
        _ => (0, 0, f64::NAN),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let only: Option<usize> = args.get(2).and_then(|a| a.parse().ok());
    let started = Instant::now();
    let reader = Arc::new(MemoryReader::new());
    let n = load(&reader);
    eprintln!(
        "loaded {n} series x {POINTS} points in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let engine = Engine::new(
        reader,
        EngineOptions::default(),
        &prometheus::Registry::new(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let end = START_MS + (POINTS - 1) * INTERVAL_MS;
    println!("| query | total ms | fetch ms | eval ms | series, points, sum |");
    println!("|---|---|---|---|---|");
    for (i, q) in QUERIES.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let (mut total, mut fetch, mut eval, mut sum) = (Vec::new(), Vec::new(), Vec::new(), None);
        for _ in 0..reps {
            let t0 = Instant::now();
            let out = runtime
                .block_on(engine.query(QueryRequest {
                    expr: q.to_string(),
                    start_ms: end - 3_600_000,
                    end_ms: end,
                    step_ms: 15_000,
                    ..Default::default()
                }))
                .expect("query");
            total.push(t0.elapsed().as_secs_f64() * 1e3);
            fetch.push(out.stats.fetch.as_secs_f64() * 1e3);
            eval.push(out.stats.eval.as_secs_f64() * 1e3);
            sum = Some(checksum(&out.value));
        }
        let (series, points, s) = sum.unwrap_or((0, 0, f64::NAN));
        println!(
            "| `{q}` | {:.1} | {:.1} | {:.1} | {series}, {points}, {s:.6e} |",
            median(total),
            median(fetch),
            median(eval)
        );
    }
}
