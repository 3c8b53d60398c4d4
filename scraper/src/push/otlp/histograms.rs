//! The two OTLP histogram kinds in the conversion ([`super::convert`]): explicit-bucket
//! histograms as classic `_bucket`/`_sum`/`_count` series, exponential ones as native
//! histograms ([`super::exponential`]); either, of delta temporality, made cumulative
//! by the running totals ([`super::delta`]).

use telltale_model::STALE_NAN;

use super::attributes::format_bound;
use super::convert::{Builder, PointLabels, nanos_to_ms};
use super::delta::Classic;
use super::exponential::to_native;
use super::proto::{
    AggregationTemporality, ExponentialHistogram, FLAG_NO_RECORDED_VALUE, Histogram,
};

/// How a metric's points are taken: as they are, or added to running totals.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Temporality {
    Cumulative,
    Delta,
}

fn temporality(t: i32) -> Option<Temporality> {
    match AggregationTemporality::try_from(t) {
        Ok(AggregationTemporality::Cumulative) => Some(Temporality::Cumulative),
        Ok(AggregationTemporality::Delta) => Some(Temporality::Delta),
        _ => None,
    }
}

impl Builder<'_> {
    /// An explicit-bucket histogram metric `otlp_name` as the classic series of `name`;
    /// returns the latest timestamp written.
    pub(super) fn explicit_histogram(
        &mut self,
        otlp_name: &str,
        name: &str,
        h: &Histogram,
        labels: PointLabels<'_>,
    ) -> Option<i64> {
        let Some(temporality) = temporality(h.aggregation_temporality) else {
            self.reject_temporality(otlp_name, h.aggregation_temporality, h.data_points.len());
            return None;
        };
        let mut latest = None;
        for p in &h.data_points {
            if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
                self.outcome.reject("invalid_histogram", 1, || {
                    format!(
                        "histogram {otlp_name:?}: {} bucket counts for {} bounds (want bounds + 1)",
                        p.bucket_counts.len(),
                        p.explicit_bounds.len()
                    )
                });
                continue;
            }
            let ts = nanos_to_ms(p.time_unix_nano);
            let stale = p.flags & FLAG_NO_RECORDED_VALUE != 0;
            let base = labels(&p.attributes);
            let mut point = Classic {
                bounds: p.explicit_bounds.clone(),
                bucket_counts: p.bucket_counts.clone(),
                count: p.count,
                sum: p.sum,
            };
            if temporality == Temporality::Delta {
                let key = Builder::series_labels(name, base.clone());
                if stale {
                    self.totals.forget(&key);
                } else {
                    point = self.totals.add_classic(
                        &key,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        &point,
                    );
                }
            }
            self.classic_series(name, base, ts, &point, stale);
            latest = latest.max(Some(ts));
        }
        latest
    }

    /// The `_bucket`, `_sum` and `_count` samples of one point (staleness markers when
    /// `stale`).
    fn classic_series(
        &mut self,
        name: &str,
        base: Vec<(String, String)>,
        ts: i64,
        p: &Classic,
        stale: bool,
    ) {
        let v = |x: f64| if stale { STALE_NAN } else { x };
        let mut cumulative: u64 = 0;
        for (i, c) in p.bucket_counts.iter().enumerate() {
            cumulative = cumulative.saturating_add(*c);
            let le = p
                .bounds
                .get(i)
                .map(|b| format_bound(*b))
                .unwrap_or_else(|| "+Inf".into());
            let mut l = base.clone();
            l.push(("le".into(), le));
            self.push(&format!("{name}_bucket"), l, ts, v(cumulative as f64));
        }
        if p.bucket_counts.is_empty() {
            let mut l = base.clone();
            l.push(("le".into(), "+Inf".into()));
            self.push(&format!("{name}_bucket"), l, ts, v(p.count as f64));
        }
        if let Some(sum) = p.sum {
            self.push(&format!("{name}_sum"), base.clone(), ts, v(sum));
        }
        self.push(&format!("{name}_count"), base, ts, v(p.count as f64));
    }

    /// An exponential histogram metric `otlp_name` as the native histogram series
    /// `name`; returns the latest timestamp written. A point that cannot be a native
    /// histogram is rejected alone (reason `invalid_histogram`).
    pub(super) fn exponential_histogram(
        &mut self,
        otlp_name: &str,
        name: &str,
        h: &ExponentialHistogram,
        labels: PointLabels<'_>,
    ) -> Option<i64> {
        let Some(temporality) = temporality(h.aggregation_temporality) else {
            self.reject_temporality(otlp_name, h.aggregation_temporality, h.data_points.len());
            return None;
        };
        let mut latest = None;
        for p in &h.data_points {
            let native = match to_native(p) {
                Ok(native) => native,
                Err(e) => {
                    self.outcome.reject("invalid_histogram", 1, || {
                        format!("exponential histogram {otlp_name:?}: {e}")
                    });
                    continue;
                }
            };
            let key = Builder::series_labels(name, labels(&p.attributes));
            let native = match temporality {
                Temporality::Cumulative => native,
                Temporality::Delta => {
                    self.totals
                        .add_native(&key, p.start_time_unix_nano, p.time_unix_nano, &native)
                }
            };
            let ts = nanos_to_ms(p.time_unix_nano);
            self.push_histogram(key, ts, &native);
            latest = latest.max(Some(ts));
        }
        latest
    }
}
