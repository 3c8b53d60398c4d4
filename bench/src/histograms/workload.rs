//! The seeded native histogram workload: series shaped like real latency histograms.
//!
//! | family | kind | series |
//! |---|---|---|
//! | `http_server_request_duration_seconds{instance,handler}` | counter histogram | all but the gauges |
//! | `job_queue_wait_seconds{instance,queue}` | gauge histogram | one in 100 (at least one) |
//!
//! Every series is an integer histogram of schema 3 (eight buckets per power of two,
//! buckets ×1.09 wide) with positive buckets only. A counter series observes a varying
//! number of requests per interval (its own base rate, 0.2 to 20 per second, times a
//! load that moves), their latencies log-normal around a median that drifts (and a slow
//! tail of 1 % at twice the median), so 15 to 25 buckets are populated once a few
//! hours have been seen. One series in 20 also counts exact zeros in its zero bucket
//! (cache hits). Now and then (about twice a day) a counter series restarts: its counts
//! begin again from that interval's observations, the sample flagged with the reset
//! hint. A gauge series holds only the waits of the jobs queued in its interval.
//!
//! The observations of an interval go to the buckets in proportion to the distribution
//! (each bucket's expected count rounded up or down at random, so the counts are whole
//! and their expectation exact), which keeps a day of 1,000 series quick to generate.
//! Every value comes from a SplitMix64 stream seeded by (seed, series).

use std::collections::BTreeMap;

use crate::workload::Rng;

/// Eight buckets per power of two: bucket `i` holds (2^((i-1)/8), 2^(i/8)].
pub const SCHEMA: i32 = 3;
/// Prometheus's default zero bucket width (client_golang's `DefBucketsZeroThreshold`).
pub const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;
/// The counter histograms' metric name.
pub const COUNTER_NAME: &str = "http_server_request_duration_seconds";
/// The gauge histograms' metric name.
pub const GAUGE_NAME: &str = "job_queue_wait_seconds";
/// Chance per interval that a counter series restarts (about twice a day at 15 s).
const RESET_CHANCE: f64 = 1.0 / 2880.0;
/// Share of a series' observations in the slow tail, and where the tail sits.
const TAIL_SHARE: f64 = 0.01;
const TAIL_FACTOR: f64 = 2.0;
const TAIL_SIGMA: f64 = 0.15;
const HANDLERS: [&str; 10] = [
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/users",
    "/api/v1/users/{id}",
    "/api/v1/cart",
    "/api/v1/search",
    "/api/v1/login",
    "/api/v1/payments",
    "/healthz",
    "/metrics",
];

/// Whether a series is a counter or a gauge histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Counter,
    Gauge,
}

/// One integer histogram sample: absolute counts of the populated buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub count: u64,
    pub sum: f64,
    pub zero_count: u64,
    /// (bucket index, count) in index order, counts above zero.
    pub buckets: Vec<(i32, u64)>,
    /// The first sample after a restart of a counter series.
    pub reset: bool,
    pub kind: Kind,
}

/// The standard normal CDF, accurate in the tails (erfc by Numerical Recipes'
/// Chebyshev fit, fractional error below 1.2e-7): the tails decide how many buckets a
/// histogram populates.
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * (-z * z + poly).exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// The upper bound of bucket `index` at [`SCHEMA`].
pub fn upper_bound(index: i32) -> f64 {
    (f64::from(index) / f64::from(1 << SCHEMA)).exp2()
}

/// The bucket a positive value falls in at [`SCHEMA`].
pub fn bucket_of(v: f64) -> i32 {
    (v.log2() * f64::from(1 << SCHEMA)).ceil() as i32
}

/// One series: its labels and the state behind its samples.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: &'static str,
    /// Label pairs besides the name, sorted by name.
    pub labels: Vec<(&'static str, String)>,
    pub kind: Kind,
    rng: Rng,
    /// Observations per second before the load factor.
    rate: f64,
    /// ln(median latency in seconds) now and where it returns to.
    log_median: f64,
    home: f64,
    sigma: f64,
    /// Share of observations that are exact zeros (0 for most series).
    zeros: f64,
    /// Load factor (multiplies the rate), wandering around 1.
    load: f64,
    buckets: BTreeMap<i32, u64>,
    zero_count: u64,
    count: u64,
    sum: f64,
    reset: bool,
}

impl Series {
    /// Series `index` of `total` of a workload seeded by `seed`, before its first
    /// interval.
    pub fn new(seed: u64, index: usize, total: usize) -> Series {
        let mut rng = Rng::new(seed ^ (index as u64 + 1).wrapping_mul(0x9FB2_1C65_1E98_DF25));
        let gauges = (total / 100).max(1).min(total);
        // Gauges are spread through the workload: every (total / gauges)-th series.
        let stride = total / gauges;
        let gauge = index % stride == stride - 1 && index / stride < gauges;
        let (name, kind, labels) = if gauge {
            let q = index / stride;
            (
                GAUGE_NAME,
                Kind::Gauge,
                vec![
                    ("instance", format!("worker-{:03}:8080", q / 4)),
                    (
                        "queue",
                        ["email", "export", "thumbnail", "webhook"][q % 4].into(),
                    ),
                ],
            )
        } else {
            (
                COUNTER_NAME,
                Kind::Counter,
                vec![
                    ("handler", HANDLERS[index % HANDLERS.len()].into()),
                    (
                        "instance",
                        format!("api-{:03}:8080", index / HANDLERS.len()),
                    ),
                ],
            )
        };
        // Medians from 3 ms to 400 ms; health checks and metrics fast.
        let home = rng.range((0.003f64).ln(), (0.4f64).ln());
        let rate = rng.range((0.2f64).ln(), (20.0f64).ln()).exp();
        let sigma = rng.range(0.12, 0.2);
        let zeros = if index % 20 == 7 && !gauge {
            rng.range(0.05, 0.3)
        } else {
            0.0
        };
        Series {
            name,
            labels,
            kind,
            rng,
            rate,
            log_median: home,
            home,
            sigma,
            zeros,
            load: 1.0,
            buckets: BTreeMap::new(),
            zero_count: 0,
            count: 0,
            sum: 0.0,
            reset: false,
        }
    }

    /// Moves on by one interval of `dt` seconds and returns the sample at its end.
    pub fn advance(&mut self, dt: f64) -> Sample {
        let rng = &mut self.rng;
        // The median returns to its home slowly and wanders; the load likewise.
        self.log_median += 0.02 * (self.home - self.log_median) + 0.015 * rng.normal();
        self.load = (self.load + 0.05 * (1.0 - self.load) + 0.05 * rng.normal()).clamp(0.3, 2.5);
        self.reset = false;
        let restart = match self.kind {
            Kind::Gauge => true,
            Kind::Counter => self.count > 0 && rng.unit() < RESET_CHANCE,
        };
        if restart {
            self.buckets.clear();
            self.zero_count = 0;
            self.count = 0;
            self.sum = 0.0;
            self.reset = self.kind == Kind::Counter;
        }
        let n = match self.kind {
            Kind::Counter => self.rate * self.load * dt,
            // Jobs queued in the interval: tens to a few hundred.
            Kind::Gauge => 20.0 + 200.0 * self.load * rng.unit(),
        };
        let observed = (n * rng.range(0.8, 1.2)).round().max(0.0);
        let zeros = (observed * self.zeros + rng.unit()).floor();
        self.zero_count += zeros as u64;
        self.count += zeros as u64;
        let spread = observed - zeros;
        self.observe(spread * (1.0 - TAIL_SHARE), self.log_median, self.sigma);
        self.observe(
            spread * TAIL_SHARE,
            self.log_median + TAIL_FACTOR.ln(),
            TAIL_SIGMA,
        );
        self.sample()
    }

    /// Adds about `n` observations log-normal around `e^mu` (in expectation exactly
    /// `n`; each bucket's expected count rounded at random).
    fn observe(&mut self, n: f64, mu: f64, sigma: f64) {
        if n <= 0.0 {
            return;
        }
        let lo = bucket_of((mu - 5.5 * sigma).exp());
        let hi = bucket_of((mu + 5.5 * sigma).exp());
        let mut below = normal_cdf(((upper_bound(lo - 1)).ln() - mu) / sigma);
        for i in lo..=hi {
            let upper = upper_bound(i);
            let cdf = normal_cdf((upper.ln() - mu) / sigma);
            let expected = n * (cdf - below).max(0.0);
            below = cdf;
            let c = (expected + self.rng.unit()).floor() as u64;
            if c > 0 {
                *self.buckets.entry(i).or_insert(0) += c;
                self.count += c;
                // Each observation somewhere in its bucket: about its geometric middle.
                let lower = upper_bound(i - 1);
                let middle = (lower * upper).sqrt() * self.rng.range(0.97, 1.03);
                self.sum += c as f64 * middle.clamp(lower, upper);
            }
        }
    }

    fn sample(&self) -> Sample {
        Sample {
            count: self.count,
            sum: self.sum,
            zero_count: self.zero_count,
            buckets: self.buckets.iter().map(|(i, c)| (*i, *c)).collect(),
            reset: self.reset,
            kind: self.kind,
        }
    }
}

/// The whole workload: `series` histogram series seeded by `seed`.
pub fn series(count: usize, seed: u64) -> Vec<Series> {
    (0..count).map(|i| Series::new(seed, i, count)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_cdf_is_accurate_in_the_tails() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_746).abs() < 1e-7);
        assert!((normal_cdf(-3.0) - 1.349_898e-3).abs() < 1e-8);
        assert!((normal_cdf(-5.0) / 2.866_515_7e-7 - 1.0).abs() < 1e-5);
        let mut last = 0.0;
        for k in -800..=800 {
            let p = normal_cdf(f64::from(k) / 100.0);
            assert!(p >= last, "not monotone at {k}");
            last = p;
        }
    }

    #[test]
    fn buckets_follow_the_schema() {
        assert_eq!(bucket_of(1.0), 0);
        assert_eq!(bucket_of(2.0), 8);
        assert_eq!(bucket_of(1.05), 1);
        assert_eq!(bucket_of(0.5), -8);
        for i in -100..100 {
            let upper = upper_bound(i);
            assert_eq!(bucket_of(upper * 0.999_999), i, "{i}");
            assert_eq!(bucket_of(upper * 1.000_001), i + 1, "{i}");
        }
    }

    /// A day of a small workload, with what every sample of every series must hold.
    fn day(total: usize, seed: u64) -> Vec<Vec<Sample>> {
        let mut all = series(total, seed);
        all.iter_mut()
            .map(|s| (0..5760).map(|_| s.advance(15.0)).collect())
            .collect()
    }

    #[test]
    fn samples_are_valid_integer_histograms() {
        for (k, samples) in day(60, 19).iter().enumerate() {
            let mut prev: Option<&Sample> = None;
            for (t, s) in samples.iter().enumerate() {
                let buckets: u64 = s.buckets.iter().map(|b| b.1).sum();
                assert_eq!(s.count, buckets + s.zero_count, "series {k} at {t}");
                assert!(s.buckets.iter().all(|b| b.1 > 0));
                assert!(s.buckets.windows(2).all(|w| w[0].0 < w[1].0));
                assert!(s.sum.is_finite() && s.sum >= 0.0);
                if s.kind == Kind::Counter
                    && let Some(p) = prev
                    && !s.reset
                {
                    // Counters only grow, bucket by bucket.
                    assert!(s.count >= p.count && s.sum >= p.sum, "series {k} at {t}");
                    let now: BTreeMap<i32, u64> = s.buckets.iter().copied().collect();
                    for (i, c) in &p.buckets {
                        assert!(now.get(i).is_some_and(|n| n >= c), "series {k} at {t}");
                    }
                }
                assert!(!(s.reset && s.kind == Kind::Gauge));
                prev = Some(s);
            }
        }
    }

    #[test]
    fn the_workload_is_shaped_like_latency_histograms() {
        let days = day(100, 3);
        let all = series(100, 3);
        let gauges = all.iter().filter(|s| s.kind == Kind::Gauge).count();
        assert_eq!(gauges, 1);
        let zero_series = days
            .iter()
            .filter(|d| d.last().unwrap().zero_count > 0)
            .count();
        assert!((3..=6).contains(&zero_series), "{zero_series}");
        let resets: usize = days.iter().flatten().filter(|s| s.reset).count();
        assert!((100..=300).contains(&resets), "{resets} resets");
        // Populated buckets of the counters over the day's second half.
        let populated: Vec<usize> = days
            .iter()
            .zip(&all)
            .filter(|(_, s)| s.kind == Kind::Counter)
            .flat_map(|(d, _)| d[2880..].iter().map(|s| s.buckets.len()))
            .collect();
        let mean = populated.iter().sum::<usize>() as f64 / populated.len() as f64;
        assert!(
            (15.0..=25.0).contains(&mean),
            "mean populated buckets {mean}"
        );
        // The counts grow by a varying number of observations per interval.
        let d = &days[0];
        let steps: std::collections::BTreeSet<u64> = d
            .windows(2)
            .filter(|w| !w[1].reset)
            .map(|w| w[1].count - w[0].count)
            .collect();
        assert!(steps.len() > 20, "{steps:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_samples() {
        let mut a = series(30, 5);
        let mut b = series(30, 5);
        let mut c = series(30, 6);
        let step = |all: &mut Vec<Series>| -> Vec<Sample> {
            all.iter_mut().map(|s| s.advance(15.0)).collect()
        };
        for _ in 0..20 {
            let (x, y, z) = (step(&mut a), step(&mut b), step(&mut c));
            assert_eq!(x, y);
            assert_ne!(x, z);
        }
        assert_eq!(a[3].labels, b[3].labels);
        let names: std::collections::BTreeSet<String> = a
            .iter()
            .map(|s| format!("{} {:?}", s.name, s.labels))
            .collect();
        assert_eq!(names.len(), 30, "every series has its own labels");
    }
}
