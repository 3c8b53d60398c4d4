//! The fixed, seeded workload: node_exporter-like series scraped every interval.
//!
//! 100 series per node: 8 CPUs x 8 modes of `node_cpu_seconds_total` (counters with
//! centisecond steps), 10 interfaces x 2 directions of network byte counters, 12 memory
//! and filesystem gauges (large integers that move slowly), `node_load1/5/15` and a
//! `node_context_switches_total` counter. Scrape timestamps carry a few milliseconds of
//! jitter, as real scrapes do.

use telltale_storage_api::{Label, Sample, TimeSeries};

/// A small deterministic generator (xorshift64*): the same seed gives the same data.
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

#[derive(Clone, Copy)]
enum Kind {
    /// Counter of centiseconds as seconds, increasing by up to `max` per scrape.
    CpuSeconds { max: u64 },
    /// Integer counter increasing by up to `max` per scrape.
    Bytes { max: u64 },
    /// Gauge around `base`, moving by up to `step` per scrape.
    Gauge { base: u64, step: u64 },
    /// Load average: two decimals.
    Load,
}

struct Series {
    labels: Vec<Label>,
    kind: Kind,
    value: f64,
}

/// Every series of the workload and their current values.
pub struct Workload {
    series: Vec<Series>,
    rng: Rng,
    pub interval_ms: i64,
}

pub const SERIES_PER_NODE: usize = 100;

fn labels(name: &str, node: usize, extra: &[(&str, String)]) -> Vec<Label> {
    let mut l = vec![
        Label::new("__name__", name),
        Label::new("instance", format!("node-{node:03}:9100")),
        Label::new("job", "node"),
    ];
    l.extend(extra.iter().map(|(n, v)| Label::new(*n, v.clone())));
    l
}

impl Workload {
    pub fn new(nodes: usize, interval_ms: i64, seed: u64) -> Self {
        let mut series = Vec::with_capacity(nodes * SERIES_PER_NODE);
        let modes = [
            "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
        ];
        for node in 0..nodes {
            for cpu in 0..8 {
                for (i, mode) in modes.iter().enumerate() {
                    let max = if i == 0 { 1000 } else { 200 / (i as u64) };
                    series.push(Series {
                        labels: labels(
                            "node_cpu_seconds_total",
                            node,
                            &[("cpu", cpu.to_string()), ("mode", mode.to_string())],
                        ),
                        kind: Kind::CpuSeconds { max },
                        value: 0.0,
                    });
                }
            }
            for dev in 0..10 {
                for dir in ["receive", "transmit"] {
                    series.push(Series {
                        labels: labels(
                            &format!("node_network_{dir}_bytes_total"),
                            node,
                            &[("device", format!("eth{dev}"))],
                        ),
                        kind: Kind::Bytes { max: 2_000_000 },
                        value: 0.0,
                    });
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
                series.push(Series {
                    labels: labels(name, node, &[]),
                    kind: Kind::Gauge {
                        base: 4_000_000_000 + i as u64 * 123_456_789,
                        step: 4096 * 50,
                    },
                    value: 0.0,
                });
            }
            for fs in ["/", "/var", "/home", "/data", "/boot", "/tmp"] {
                series.push(Series {
                    labels: labels(
                        "node_filesystem_avail_bytes",
                        node,
                        &[("mountpoint", fs.to_string())],
                    ),
                    kind: Kind::Gauge {
                        base: 50_000_000_000,
                        step: 4096 * 4,
                    },
                    value: 0.0,
                });
            }
            for name in ["node_load1", "node_load5", "node_load15"] {
                series.push(Series {
                    labels: labels(name, node, &[]),
                    kind: Kind::Load,
                    value: 1.0,
                });
            }
            series.push(Series {
                labels: labels("node_context_switches_total", node, &[]),
                kind: Kind::Bytes { max: 50_000 },
                value: 0.0,
            });
        }
        let mut rng = Rng::new(seed);
        for s in &mut series {
            s.value = match s.kind {
                Kind::Gauge { base, .. } => (base + rng.below(1_000_000) * 4096) as f64,
                _ => s.value,
            };
        }
        debug_assert_eq!(series.len(), nodes * SERIES_PER_NODE);
        Workload {
            series,
            rng,
            interval_ms,
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The labels of every series, in order.
    pub fn labels(&self) -> impl Iterator<Item = &[Label]> {
        self.series.iter().map(|s| s.labels.as_slice())
    }

    /// One scrape of every series at scrape number `round` from `start`: one sample
    /// each, as one write request.
    pub fn scrape(&mut self, start: i64, round: i64) -> Vec<TimeSeries> {
        let base = start + round * self.interval_ms;
        let rng = &mut self.rng;
        let mut out = Vec::with_capacity(self.series.len());
        let mut node_ts = base;
        for (i, s) in self.series.iter_mut().enumerate() {
            if i % SERIES_PER_NODE == 0 {
                node_ts = base + rng.below(4) as i64;
            }
            s.value = match s.kind {
                Kind::CpuSeconds { max } => {
                    ((s.value * 100.0).round() + rng.below(max) as f64) / 100.0
                }
                Kind::Bytes { max } => s.value + rng.below(max) as f64,
                Kind::Gauge { step, .. } => {
                    if rng.below(4) == 0 {
                        s.value
                            + (rng.below(2 * step / 4096 + 1) as f64 - (step / 4096) as f64)
                                * 4096.0
                    } else {
                        s.value
                    }
                }
                Kind::Load => {
                    ((s.value * 100.0 + rng.below(21) as f64 - 10.0).max(0.0)).round() / 100.0
                }
            };
            out.push(TimeSeries {
                labels: s.labels.clone(),
                samples: vec![Sample {
                    timestamp_ms: node_ts,
                    value: s.value,
                }],
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
        }
        out
    }
}
