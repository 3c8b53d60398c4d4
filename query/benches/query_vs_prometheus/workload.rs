//! The seeded, deterministic workload: node_exporter-like hosts, 100 series each.
//!
//! Per host: `node_cpu_seconds_total` (8 CPUs x 8 modes), network receive/transmit byte
//! counters (4 devices), 6 memory gauges, 4 filesystem gauges, `node_load1/5/15`,
//! `node_context_switches_total`, and a request-latency histogram
//! (`http_request_duration_seconds`: 12 buckets, `_sum`, `_count`). Scrapes of one host
//! share a timestamp with a few milliseconds of jitter.

use telltale_storage_api::{Label, Sample, TimeSeries};

/// xorshift64*: the same seed gives the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const SERIES_PER_HOST: usize = 100;

const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// Share of requests (in 1/1000) falling in each bucket (non-cumulative).
const SHARES: [u64; 12] = [50, 120, 200, 230, 150, 110, 70, 40, 20, 6, 3, 1];

#[derive(Clone, Copy)]
enum Kind {
    /// Centisecond counter exposed in seconds, up to `max` centiseconds per scrape.
    Cpu {
        max: u64,
    },
    /// Integer counter, up to `max` per scrape.
    Counter {
        max: u64,
    },
    /// Gauge moving by up to `step` pages of 4 KiB per scrape.
    Gauge {
        step: u64,
    },
    /// Load average with two decimals.
    Load,
    /// Cumulative bucket `i` of the host's histogram.
    Bucket(usize),
    HistogramSum,
    HistogramCount,
}

struct Series {
    labels: Vec<Label>,
    kind: Kind,
    value: f64,
}

/// Every series of one job and their current values.
pub struct Workload {
    series: Vec<Series>,
    rng: Rng,
    pub start_ms: i64,
    pub interval_ms: i64,
    pub rounds: i64,
}

fn labels(name: &str, job: &str, host: usize, extra: &[(&str, &str)]) -> Vec<Label> {
    let mut l = vec![
        Label::new("__name__", name),
        Label::new("instance", format!("host-{host:03}:9100")),
        Label::new("job", job),
    ];
    l.extend(extra.iter().map(|(n, v)| Label::new(*n, *v)));
    l.sort_by(|a, b| a.name.cmp(&b.name));
    l
}

impl Workload {
    /// `hosts` hosts of job `job`, scraped every `interval_ms` from `start_ms`,
    /// `rounds` times.
    pub fn new(
        job: &str,
        hosts: usize,
        start_ms: i64,
        interval_ms: i64,
        rounds: i64,
        seed: u64,
    ) -> Self {
        let mut rng = Rng::new(seed);
        let mut series = Vec::with_capacity(hosts * SERIES_PER_HOST);
        let modes = [
            "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
        ];
        let cpus = ["0", "1", "2", "3", "4", "5", "6", "7"];
        for host in 0..hosts {
            let mut push = |labels: Vec<Label>, kind: Kind, value: f64| {
                series.push(Series {
                    labels,
                    kind,
                    value,
                })
            };
            for cpu in cpus {
                for (i, mode) in modes.iter().enumerate() {
                    let max = if i == 0 { 3000 } else { 600 / (i as u64 + 1) };
                    let l = labels(
                        "node_cpu_seconds_total",
                        job,
                        host,
                        &[("cpu", cpu), ("mode", mode)],
                    );
                    push(l, Kind::Cpu { max }, 0.0);
                }
            }
            for dev in ["eth0", "eth1", "eth2", "eth3"] {
                for dir in ["receive", "transmit"] {
                    let name = format!("node_network_{dir}_bytes_total");
                    let l = labels(&name, job, host, &[("device", dev)]);
                    push(l, Kind::Counter { max: 5_000_000 }, 0.0);
                }
            }
            for (i, name) in [
                "node_memory_MemAvailable_bytes",
                "node_memory_MemFree_bytes",
                "node_memory_Cached_bytes",
                "node_memory_Buffers_bytes",
                "node_memory_Active_bytes",
                "node_memory_Inactive_bytes",
            ]
            .iter()
            .enumerate()
            {
                let base = 4_000_000_000 + i as u64 * 123_456_789 + rng.below(1_000_000) * 4096;
                push(
                    labels(name, job, host, &[]),
                    Kind::Gauge { step: 50 },
                    base as f64,
                );
            }
            for fs in ["/", "/var", "/home", "/data"] {
                let base = 50_000_000_000 + rng.below(1_000_000) * 4096;
                let l = labels(
                    "node_filesystem_avail_bytes",
                    job,
                    host,
                    &[("mountpoint", fs)],
                );
                push(l, Kind::Gauge { step: 4 }, base as f64);
            }
            for name in ["node_load1", "node_load5", "node_load15"] {
                push(labels(name, job, host, &[]), Kind::Load, 1.0);
            }
            push(
                labels("node_context_switches_total", job, host, &[]),
                Kind::Counter { max: 50_000 },
                0.0,
            );
            for (i, le) in BUCKETS.iter().enumerate() {
                let l = labels(
                    "http_request_duration_seconds_bucket",
                    job,
                    host,
                    &[("le", le)],
                );
                push(l, Kind::Bucket(i), 0.0);
            }
            push(
                labels("http_request_duration_seconds_sum", job, host, &[]),
                Kind::HistogramSum,
                0.0,
            );
            push(
                labels("http_request_duration_seconds_count", job, host, &[]),
                Kind::HistogramCount,
                0.0,
            );
        }
        debug_assert_eq!(series.len(), hosts * SERIES_PER_HOST);
        Workload {
            series,
            rng,
            start_ms,
            interval_ms,
            rounds,
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The time of scrape `round` (before jitter).
    pub fn time_of(&self, round: i64) -> i64 {
        self.start_ms + round * self.interval_ms
    }

    /// Scrape number `round` (rounds must be taken in order): one sample per series.
    pub fn scrape(&mut self, round: i64) -> Vec<TimeSeries> {
        let base = self.time_of(round);
        let rng = &mut self.rng;
        let mut out = Vec::with_capacity(self.series.len());
        let (mut ts, mut in_bucket) = (base, [0u64; 12]);
        for (i, s) in self.series.iter_mut().enumerate() {
            if i % SERIES_PER_HOST == 0 {
                ts = base + rng.below(4) as i64;
                let requests = 200 + rng.below(400);
                for (b, share) in SHARES.iter().enumerate() {
                    in_bucket[b] = requests * share / 1000 + rng.below(3);
                }
            }
            s.value = match s.kind {
                Kind::Cpu { max } => ((s.value * 100.0).round() + rng.below(max) as f64) / 100.0,
                Kind::Counter { max } => s.value + rng.below(max) as f64,
                Kind::Gauge { step } => {
                    if rng.below(4) == 0 {
                        s.value + (rng.below(2 * step + 1) as f64 - step as f64) * 4096.0
                    } else {
                        s.value
                    }
                }
                Kind::Load => {
                    ((s.value * 100.0 + rng.below(21) as f64 - 10.0).max(0.0)).round() / 100.0
                }
                Kind::Bucket(b) => s.value + in_bucket[..=b].iter().sum::<u64>() as f64,
                Kind::HistogramSum => {
                    let ms: u64 = in_bucket
                        .iter()
                        .enumerate()
                        .map(|(b, n)| n * (b as u64 * 40 + 3))
                        .sum();
                    s.value + ms as f64 / 1000.0
                }
                Kind::HistogramCount => s.value + in_bucket.iter().sum::<u64>() as f64,
            };
            out.push(TimeSeries {
                labels: s.labels.clone(),
                samples: vec![Sample {
                    timestamp_ms: ts,
                    value: s.value,
                }],
                exemplars: Vec::new(),
            });
        }
        out
    }
}
