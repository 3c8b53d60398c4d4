//! The seeded workload: node_exporter-like instances whose values move like a busy host's.
//!
//! One [`Instance`] exposes, in this order:
//!
//! | family | series |
//! |---|---|
//! | `node_cpu_seconds_total{cpu,mode}` (8 modes, `idle` included) | cpus × 8 |
//! | `node_network_receive_bytes_total{device}`, `..._transmit_...` | devices × 2 |
//! | `node_filesystem_avail_bytes{device,mountpoint,fstype}` | filesystems |
//! | `node_load1`, `node_load5`, `node_load15`, `node_memory_MemAvailable_bytes` | 4 |
//! | `go_goroutines` and 8 `go_memstats_*` (`go_memstats_heap_alloc_bytes` included) | 9 |
//! | `http_request_duration_seconds{handler}`: 12 `le` buckets (`+Inf` included), `_sum`, `_count` | handlers × 14 |
//! | `node_hwmon_temp_celsius{chip,sensor}` (fills the instance to its exact size) | sensors |
//!
//! Counters grow by varying amounts (CPU time in hundredths of a second, bytes as
//! integers, latency sums as floats), gauges wander; every value comes from a SplitMix64
//! stream seeded by (seed, instance), so two runs and two servers see the same numbers.

use crate::error::{Error, Result};

/// The upper bounds of the latency histogram's buckets (the last is `+Inf`).
pub const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const LE_SECONDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
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
/// Series per instance besides the scaled families: load ×3, memory, Go runtime ×9.
const FIXED: usize = 4 + GO.len();
const PER_HANDLER: usize = LE.len() + 2;

/// A small deterministic generator (SplitMix64): the same seed gives the same values on
/// every machine and build.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// How many of each family one instance has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shape {
    pub cpus: usize,
    pub devices: usize,
    pub filesystems: usize,
    pub handlers: usize,
    pub sensors: usize,
}

impl Shape {
    pub fn series(&self) -> usize {
        self.cpus * MODES.len()
            + self.devices * 2
            + self.filesystems
            + FIXED
            + self.handlers * PER_HANDLER
            + self.sensors
    }

    /// A host of `n` series: a small, node-sized (100) or large (1,000) base, filled up
    /// with temperature sensors to exactly `n`.
    pub fn for_series(n: usize) -> Result<Shape> {
        let base = if n >= 1000 {
            Shape {
                cpus: 32,
                devices: 16,
                filesystems: 20,
                handlers: 40,
                sensors: 0,
            }
        } else if n >= 100 {
            Shape {
                cpus: 4,
                devices: 3,
                filesystems: 4,
                handlers: 3,
                sensors: 0,
            }
        } else {
            Shape {
                cpus: 1,
                devices: 1,
                filesystems: 1,
                handlers: 1,
                sensors: 0,
            }
        };
        let fixed = base.series();
        if n < fixed {
            return Err(Error::Invalid {
                what: "series per instance",
                detail: format!("{n} is fewer than the smallest host ({fixed})"),
            });
        }
        Ok(Shape {
            sensors: n - fixed,
            ..base
        })
    }
}

/// The metric type of a family, as the text format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One series of an instance: its metric name and labels (sorted by name), without
/// `job` and `instance`, which the scraper or the pusher adds.
#[derive(Clone, Debug)]
pub struct SeriesSpec {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    /// The family for `# TYPE` lines (a histogram's name without its suffix).
    pub family: &'static str,
    pub kind: Kind,
}

fn spec(name: &'static str, kind: Kind, labels: Vec<(&'static str, String)>) -> SeriesSpec {
    SeriesSpec {
        name,
        labels,
        family: name,
        kind,
    }
}

fn series_specs(shape: &Shape) -> Vec<SeriesSpec> {
    let mut out = Vec::with_capacity(shape.series());
    for cpu in 0..shape.cpus {
        for mode in MODES {
            out.push(spec(
                "node_cpu_seconds_total",
                Kind::Counter,
                vec![("cpu", cpu.to_string()), ("mode", mode.to_string())],
            ));
        }
    }
    for name in [
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
    ] {
        for d in 0..shape.devices {
            out.push(spec(
                name,
                Kind::Counter,
                vec![("device", format!("eth{d}"))],
            ));
        }
    }
    for f in 0..shape.filesystems {
        let mountpoint = if f == 0 {
            "/".to_string()
        } else {
            format!("/mnt/data{f}")
        };
        out.push(spec(
            "node_filesystem_avail_bytes",
            Kind::Gauge,
            vec![
                ("device", format!("/dev/vd{}", f + 1)),
                ("fstype", ["ext4", "xfs", "btrfs"][f % 3].to_string()),
                ("mountpoint", mountpoint),
            ],
        ));
    }
    for name in [
        "node_load1",
        "node_load5",
        "node_load15",
        "node_memory_MemAvailable_bytes",
    ] {
        out.push(spec(name, Kind::Gauge, vec![]));
    }
    for name in GO {
        let kind = if name.ends_with("_total") {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        out.push(spec(name, kind, vec![]));
    }
    for h in 0..shape.handlers {
        let handler = format!("/api/v1/resource{h}");
        let mut histogram = |name, mut labels: Vec<(&'static str, String)>| {
            labels.insert(0, ("handler", handler.clone()));
            out.push(SeriesSpec {
                name,
                labels,
                family: "http_request_duration_seconds",
                kind: Kind::Histogram,
            });
        };
        for le in LE {
            histogram(
                "http_request_duration_seconds_bucket",
                vec![("le", le.to_string())],
            );
        }
        histogram("http_request_duration_seconds_sum", vec![]);
        histogram("http_request_duration_seconds_count", vec![]);
    }
    for s in 0..shape.sensors {
        out.push(spec(
            "node_hwmon_temp_celsius",
            Kind::Gauge,
            vec![
                ("chip", format!("platform_coretemp_{}", s / 16)),
                ("sensor", format!("temp{}", s % 16 + 1)),
            ],
        ));
    }
    out
}

/// Hidden state behind an instance's values.
#[derive(Clone, Debug)]
struct Hidden {
    busy: Vec<f64>,
    /// CPU seconds in hundredths, per (cpu, mode).
    cpu_cs: Vec<u64>,
    /// Bytes per second per receive then transmit device.
    net_rate: Vec<f64>,
    alloc_rate: f64,
    object_size: f64,
    /// Per handler: requests per second and median latency.
    req_rate: Vec<f64>,
    median: Vec<f64>,
}

/// One host: its series and their current values, moved one interval at a time.
#[derive(Clone, Debug)]
pub struct Instance {
    shape: Shape,
    specs: Vec<SeriesSpec>,
    values: Vec<f64>,
    hidden: Hidden,
    rng: Rng,
}

/// Rounds to `decimals` places the way a decimal exposition would print them.
fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// The standard normal CDF (logistic approximation; good to 1 % and monotone).
fn phi(x: f64) -> f64 {
    1.0 / (1.0 + (-1.702 * x).exp())
}

impl Instance {
    /// Instance `index` of a workload seeded by `seed`, at its starting values.
    pub fn new(seed: u64, index: usize, shape: Shape) -> Instance {
        let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let specs = series_specs(&shape);
        let uptime = rng.range(1e5, 3e6);
        let mut hidden = Hidden {
            busy: (0..shape.cpus).map(|_| rng.range(0.05, 0.6)).collect(),
            cpu_cs: Vec::with_capacity(shape.cpus * MODES.len()),
            net_rate: (0..shape.devices * 2)
                .map(|_| rng.range(1e4f64.ln(), 1e7f64.ln()).exp())
                .collect(),
            alloc_rate: rng.range(1e5, 1e7),
            object_size: rng.range(48.0, 160.0),
            req_rate: (0..shape.handlers).map(|_| rng.range(1.0, 200.0)).collect(),
            median: (0..shape.handlers).map(|_| rng.range(0.01, 0.2)).collect(),
        };
        let share = [0.7, 0.01, 0.002, 0.003, 0.008, 0.001, 0.07, 0.2];
        let mut values = Vec::with_capacity(specs.len());
        for _ in 0..shape.cpus {
            for s in share {
                let cs = (uptime * s * rng.range(0.8, 1.2) * 100.0).round() as u64;
                hidden.cpu_cs.push(cs);
                values.push(cs as f64 / 100.0);
            }
        }
        for _ in 0..shape.devices * 2 {
            values.push(rng.range(1e9, 1e12).round());
        }
        for _ in 0..shape.filesystems {
            values.push((rng.range(1e9, 5e11) / 4096.0).round() * 4096.0);
        }
        let load = round_to(rng.range(0.0, shape.cpus as f64), 2);
        values.extend([load, load, load]);
        values.push((rng.range(5e8, 6e10) / 4096.0).round() * 4096.0);
        // Go runtime: goroutines, alloc total, frees, heap alloc, heap inuse, heap
        // objects, mallocs, next GC, sys.
        let heap = rng.range(2e7, 2e8).round();
        let allocated = (heap * rng.range(100.0, 10_000.0)).round();
        let mallocs = (allocated / hidden.object_size).round();
        let live_objects = (heap / hidden.object_size).round();
        values.extend([
            rng.range(20.0, 200.0).round(),
            allocated,
            mallocs - live_objects,
            heap,
            (heap / 8192.0).ceil() * 8192.0,
            live_objects,
            mallocs,
            (heap * 2.0).round(),
            (heap * rng.range(2.5, 4.0) / 65536.0).round() * 65536.0,
        ]);
        for h in 0..shape.handlers {
            let total = (hidden.req_rate[h] * uptime * 0.5).round();
            let m = hidden.median[h];
            for le in LE_SECONDS {
                values.push((total * phi((le / m).ln() / 0.7)).round());
            }
            values.push(total);
            values.push(total * m * 1.28);
            values.push(total);
        }
        for _ in 0..shape.sensors {
            values.push(round_to(rng.range(30.0, 70.0), 1));
        }
        debug_assert_eq!(values.len(), specs.len());
        Instance {
            shape,
            specs,
            values,
            hidden,
            rng,
        }
    }

    pub fn specs(&self) -> &[SeriesSpec] {
        &self.specs
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Moves every value on by one interval of `dt` seconds.
    pub fn advance(&mut self, dt: f64) {
        let Instance {
            shape,
            values,
            hidden: h,
            rng,
            ..
        } = self;
        let mut i = 0;
        let ticks = (dt * 100.0).round();
        for cpu in 0..shape.cpus {
            let b = (h.busy[cpu] + 0.05 * rng.normal()).clamp(0.02, 0.98);
            h.busy[cpu] = b;
            let mut used = 0.0;
            let mut inc = [0.0; 8];
            for (m, w) in [(6, 0.25), (7, 0.62), (1, 0.04), (2, 0.01), (4, 0.03)] {
                inc[m] = (ticks * b * w * rng.range(0.5, 1.5)).round();
                used += inc[m];
            }
            inc[3] = if rng.unit() < 0.1 {
                (ticks * b * 0.05 * rng.unit()).round()
            } else {
                0.0
            };
            inc[5] = (ticks * 0.003 * rng.unit()).round();
            used += inc[3] + inc[5];
            inc[0] = (ticks - used).max(0.0);
            for inc in inc {
                h.cpu_cs[i] += inc as u64;
                values[i] = h.cpu_cs[i] as f64 / 100.0;
                i += 1;
            }
        }
        for rate in h.net_rate.iter_mut() {
            *rate = (*rate * (0.1 * rng.normal()).exp()).clamp(1e3, 1e8);
            values[i] += (*rate * dt * rng.range(0.7, 1.3)).round();
            i += 1;
        }
        for _ in 0..shape.filesystems {
            values[i] = (values[i] + 4096.0 * (500.0 * rng.normal()).round()).clamp(1e8, 1e12);
            i += 1;
        }
        let cores = shape.cpus as f64;
        let load1 = round_to(
            (values[i] + 0.1 * cores.sqrt() * rng.normal()).clamp(0.0, 2.0 * cores),
            2,
        );
        values[i] = load1;
        values[i + 1] = round_to(values[i + 1] + (load1 - values[i + 1]) * 0.2, 2);
        values[i + 2] = round_to(values[i + 2] + (load1 - values[i + 2]) * 0.07, 2);
        values[i + 3] = (values[i + 3] + 4096.0 * (3000.0 * rng.normal()).round()).max(1e8);
        i += 4;
        let go = &mut values[i..i + GO.len()];
        let [
            goroutines,
            alloc_total,
            frees,
            heap,
            inuse,
            objects,
            mallocs,
            next_gc,
            sys,
        ] = go
        else {
            unreachable!("GO has nine series")
        };
        *goroutines = (*goroutines + (2.0 * rng.normal()).round()).max(5.0);
        let grown = (h.alloc_rate * dt * rng.range(0.5, 1.5)).round();
        *heap += grown;
        *alloc_total += grown;
        *mallocs += (grown / h.object_size).round();
        if *heap >= *next_gc {
            let live = (*heap * rng.range(0.3, 0.6)).round();
            *frees += ((*heap - live) / h.object_size).round();
            *heap = live;
            *next_gc = live * 2.0;
        }
        *objects = (*mallocs - *frees).max(0.0);
        *inuse = (*heap / 8192.0).ceil() * 8192.0 + 8192.0 * (rng.unit() * 64.0).floor();
        if rng.unit() < 0.02 {
            *sys += 1_048_576.0;
        }
        i += GO.len();
        for hd in 0..shape.handlers {
            h.req_rate[hd] = (h.req_rate[hd] * (0.05 * rng.normal()).exp()).clamp(0.1, 1000.0);
            h.median[hd] = (h.median[hd] * (0.05 * rng.normal()).exp()).clamp(0.002, 2.0);
            let n = (h.req_rate[hd] * dt * rng.range(0.8, 1.2)).round();
            let m = h.median[hd];
            for le in LE_SECONDS {
                values[i] += (n * phi((le / m).ln() / 0.7)).round();
                i += 1;
            }
            values[i] += n; // +Inf
            values[i + 1] += n * m * 1.28 * rng.range(0.9, 1.1);
            values[i + 2] += n;
            i += 3;
        }
        for _ in 0..shape.sensors {
            values[i] = round_to((values[i] + 0.3 * rng.normal()).clamp(20.0, 95.0), 1);
            i += 1;
        }
        debug_assert_eq!(i, values.len());
    }
}

/// The hosts of a pushed workload: `series` in all, as hosts of up to 100 series each
/// (`instance="host-NNNN:9100"`, `job="node"`).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Fleet {
    pub instances: usize,
    pub shape: Shape,
    pub seed: u64,
}

impl Fleet {
    pub fn new(series: usize, seed: u64) -> Result<Fleet> {
        let per_instance = series.min(100);
        let shape = Shape::for_series(per_instance)?;
        Ok(Fleet {
            instances: series / per_instance,
            shape,
            seed,
        })
    }

    pub fn series(&self) -> usize {
        self.instances * self.shape.series()
    }

    pub fn instance_label(index: usize) -> String {
        format!("host-{index:04}:9100")
    }

    pub fn instances(&self) -> Vec<Instance> {
        (0..self.instances)
            .map(|i| Instance::new(self.seed, i, self.shape))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest instance: one of each scaled family.
    const MIN_SERIES: usize = 8 + 2 + 1 + FIXED + PER_HANDLER;

    #[test]
    fn shapes_have_the_asked_size() {
        for n in [MIN_SERIES, 50, 100, 250, 1000, 1500] {
            assert_eq!(Shape::for_series(n).unwrap().series(), n);
        }
        assert!(Shape::for_series(MIN_SERIES - 1).is_err());
        let node = Shape::for_series(100).unwrap();
        assert_eq!(node.sensors, 3);
    }

    #[test]
    fn values_are_seeded_and_counters_only_grow() {
        let shape = Shape::for_series(100).unwrap();
        let mut a = Instance::new(7, 3, shape);
        let mut b = Instance::new(7, 3, shape);
        let c = Instance::new(7, 4, shape);
        assert_eq!(a.values(), b.values());
        assert_ne!(a.values(), c.values());
        let before = a.values().to_vec();
        a.advance(10.0);
        b.advance(10.0);
        assert_eq!(a.values(), b.values());
        let mut changed = 0;
        for ((s, old), new) in a.specs().iter().zip(&before).zip(a.values()) {
            assert!(new.is_finite(), "{} {:?}", s.name, s.labels);
            if s.kind == Kind::Counter || s.name.ends_with("_bucket") || s.name.ends_with("_count")
            {
                assert!(new >= old, "{} {:?} went down", s.name, s.labels);
            }
            changed += usize::from(new != old);
        }
        assert!(changed > 80, "only {changed} of 100 values moved");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut inst = Instance::new(1, 0, Shape::for_series(100).unwrap());
        for _ in 0..50 {
            inst.advance(10.0);
        }
        let buckets: Vec<f64> = inst
            .specs()
            .iter()
            .zip(inst.values())
            .filter(|(s, _)| {
                s.name == "http_request_duration_seconds_bucket"
                    && s.labels[0].1 == "/api/v1/resource0"
            })
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(buckets.len(), 12);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    }

    #[test]
    fn cpu_seconds_print_as_hundredths() {
        let mut inst = Instance::new(2, 0, Shape::for_series(100).unwrap());
        inst.advance(10.0);
        let v = inst.values()[0];
        assert_eq!(format!("{v}").parse::<f64>().unwrap(), v);
        assert!(
            format!("{v}")
                .split('.')
                .nth(1)
                .is_none_or(|d| d.len() <= 2)
        );
    }
}
