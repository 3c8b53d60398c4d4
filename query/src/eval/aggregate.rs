//! Aggregation operators: sum, avg, min, max, count, group, stddev, stdvar, quantile,
//! topk, bottomk, and the experimental limitk and limit_ratio.

use promql_parser::parser::{AggregateExpr, LabelModifier};
use rustc_hash::FxHashMap;
use telltale_storage_api::METRIC_NAME;

use std::sync::Arc;

use super::annotations::SeriesNote;
use super::{Evaluator, StepValue};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::value::{FloatHistogram, Sample};

/// Kahan-Babuska compensated summation, as Prometheus' `kahanSumInc`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KahanSum {
    sum: f64,
    c: f64,
}

impl KahanSum {
    pub(crate) fn add(&mut self, inc: f64) {
        let t = self.sum + inc;
        if t.is_infinite() {
            self.c = 0.0;
        } else if self.sum.abs() >= inc.abs() {
            self.c += (self.sum - t) + inc;
        } else {
            self.c += (inc - t) + self.sum;
        }
        self.sum = t;
    }

    pub(crate) fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// Prometheus' mean: a Kahan-compensated sum divided by the count, switching to an
/// incremental mean once the sum would overflow.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mean {
    count: f64,
    sum: f64,
    c: f64,
    mean: f64,
    incremental: bool,
}

impl Mean {
    pub(crate) fn add(&mut self, v: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            self.sum = v;
            return;
        }
        if !self.incremental {
            let mut k = KahanSum {
                sum: self.sum,
                c: self.c,
            };
            k.add(v);
            if !k.sum.is_infinite() {
                (self.sum, self.c) = (k.sum, k.c);
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        let mut k = KahanSum {
            sum: q * self.mean,
            c: q * self.c,
        };
        k.add(v / self.count);
        (self.mean, self.c) = (k.sum, k.c);
    }

    pub(crate) fn value(&self) -> f64 {
        if self.incremental {
            self.mean + self.c
        } else {
            self.sum / self.count + self.c / self.count
        }
    }
}

impl FromIterator<f64> for Mean {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut m = Mean::default();
        iter.into_iter().for_each(|v| m.add(v));
        m
    }
}

impl FromIterator<f64> for KahanSum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut k = KahanSum::default();
        iter.into_iter().for_each(|v| k.add(v));
        k
    }
}

/// The output labels of the group `metric` falls into.
pub(crate) fn group_labels(metric: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::empty(),
        Some(LabelModifier::Include(ls)) => {
            let names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
            metric.keep(&names)
        }
        Some(LabelModifier::Exclude(ls)) => {
            let mut names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            metric.without(&names)
        }
    }
}

/// Evaluates the aggregation `agg` at time `t`.
pub(crate) fn eval(ev: &Evaluator<'_>, agg: &AggregateExpr, t: i64) -> Result<StepValue> {
    let op = agg.op.to_string();
    let param = match &agg.param {
        Some(p) => Some(ev.param(p)?),
        None => None,
    };
    let input = ev.eval_vector(&agg.expr, t)?;
    if op == "count_values" {
        let label = match &param {
            Some(StepValue::String(l)) => l,
            _ => {
                return Err(Error::execution(
                    "count_values() expects a string parameter",
                ));
            }
        };
        return count_values(label, input, &agg.modifier, t).map(StepValue::Vector);
    }

    // Groups in order of first appearance.
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut groups: Vec<(Labels, Vec<Sample>)> = Vec::new();
    for s in input {
        let key = match &agg.modifier {
            None => Labels::empty(),
            Some(modifier) => ev.memo.derive(modifier, &s.metric, || {
                group_labels(&s.metric, &agg.modifier)
            }),
        };
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(s);
    }

    let mut out = Vec::with_capacity(groups.len());
    for (labels, mut samples) in groups {
        // Operations of floats ignore histograms, with an info; a group of none but
        // histograms has no result.
        if matches!(
            op.as_str(),
            "min" | "max" | "stddev" | "stdvar" | "quantile" | "topk" | "bottomk"
        ) && samples.iter().any(|s| !s.is_float())
        {
            ev.notes.histogram_ignored(agg, &op);
            samples.retain(Sample::is_float);
            if samples.is_empty() {
                continue;
            }
        }
        let values = || samples.iter().map(|s| s.value);
        let value = match op.as_str() {
            "sum" | "avg" if samples.iter().any(|s| !s.is_float()) => {
                if let Some(h) = histogram_group(ev, agg, &samples, op == "avg") {
                    let metric = group_metric(labels, &samples);
                    out.push(Sample::histogram(metric, t, Arc::new(h)));
                }
                continue;
            }
            "sum" => values().collect::<KahanSum>().value(),
            "avg" => values().collect::<Mean>().value(),
            "count" => samples.len() as f64,
            "group" => 1.0,
            "min" => values().fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
            "max" => values().fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
            "stddev" | "stdvar" => {
                let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
                for v in values() {
                    n += 1.0;
                    let d = v - mean;
                    mean += d / n;
                    m2 += d * (v - mean);
                }
                if op == "stddev" {
                    (m2 / n).sqrt()
                } else {
                    m2 / n
                }
            }
            "quantile" => {
                let q = match &param {
                    Some(StepValue::Scalar(q)) => *q,
                    _ => return Err(Error::execution("quantile() expects a scalar parameter")),
                };
                ev.notes.aggregate_quantile(agg, q);
                super::quantile::quantile(q, values().collect())
            }
            "limitk" => {
                let k = scalar_param(&param, &op)?;
                let k = check_k(k)?;
                out.extend(samples.into_iter().take(k).map(|s| Sample { t_ms: t, ..s }));
                continue;
            }
            "limit_ratio" => {
                let r = scalar_param(&param, &op)?;
                if r.is_nan() {
                    return Err(Error::execution("Ratio value is NaN"));
                }
                let capped = r.clamp(-1.0, 1.0);
                if capped != r {
                    ev.notes.ratio(agg, r, capped);
                }
                let r = capped;
                out.extend(
                    samples
                        .into_iter()
                        .filter(|s| r != 0.0 && in_ratio(r, &s.metric))
                        .map(|s| Sample { t_ms: t, ..s }),
                );
                continue;
            }
            "topk" | "bottomk" => {
                let k = match &param {
                    Some(StepValue::Scalar(k)) => *k,
                    _ => {
                        return Err(Error::execution(format!(
                            "{op}() expects a scalar parameter"
                        )));
                    }
                };
                out.extend(top_k(samples, k, op == "bottomk", t)?);
                continue;
            }
            other => {
                return Err(Error::execution(format!(
                    "aggregation {other} is not supported yet"
                )));
            }
        };
        out.push(Sample::float(group_metric(labels, &samples), t, value));
    }
    Ok(StepValue::Vector(out))
}

/// A group's output labels: grouped by `__name__`, a group loses it when any member's
/// is marked for removal (delayed name removal).
fn group_metric(labels: Labels, samples: &[Sample]) -> Labels {
    if samples.iter().any(|s| s.metric.drops_name()) {
        labels.name_to_drop()
    } else {
        labels
    }
}

/// `sum` (or `avg` when `mean`) of a group holding histograms, as Prometheus's
/// `aggregation`: None (with a warning) when the group also holds floats or its
/// histograms cannot be combined. The mean is incremental, each step adding
/// `h / n - mean / n`.
fn histogram_group(
    ev: &Evaluator<'_>,
    agg: &AggregateExpr,
    samples: &[Sample],
    mean: bool,
) -> Option<FloatHistogram> {
    if samples.iter().any(Sample::is_float) {
        ev.notes.mixed_aggregation(agg);
        return None;
    }
    let mut acc: Option<FloatHistogram> = None;
    for (i, s) in samples.iter().enumerate() {
        let h = s.histogram.as_deref()?;
        let Some(acc) = acc.as_mut() else {
            acc = Some(h.clone());
            continue;
        };
        let combined = if mean {
            let n = (i + 1) as f64;
            let mut step = h.clone();
            step.div(n);
            let mut part = acc.clone();
            part.div(n);
            step.sub(&part).and_then(|()| acc.add(&step))
        } else {
            acc.add(h)
        };
        if let Err(e) = combined {
            let name = s.metric.get(METRIC_NAME).unwrap_or("");
            ev.notes
                .aggregation_series_note(agg, SeriesNote::of_error(&e), name);
            return None;
        }
    }
    let mut h = acc?;
    h.compact();
    Some(h)
}

/// `count_values(label, v)`: how many samples of each group have each value, the value
/// (formatted as Prometheus formats sample values) in `label`.
fn count_values(
    label: &str,
    input: Vec<Sample>,
    modifier: &Option<LabelModifier>,
    t: i64,
) -> Result<Vec<Sample>> {
    if label.is_empty() {
        return Err(Error::execution(format!("invalid label name {label:?}")));
    }
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut out: Vec<Sample> = Vec::new();
    for s in input {
        let mut metric = s.metric;
        let value = match &s.histogram {
            Some(h) => h.prometheus_string(),
            None => crate::api::response::format_value(s.value),
        };
        metric.set(label, &value);
        let key = match modifier {
            Some(LabelModifier::Include(ls)) => {
                let mut names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
                names.push(label);
                metric.keep(&names)
            }
            None => metric.keep(&[label]),
            Some(LabelModifier::Exclude(_)) => group_labels(&metric, modifier),
        };
        match index.get(&key) {
            Some(&i) => out[i].value += 1.0,
            None => {
                index.insert(key.clone(), out.len());
                out.push(Sample::float(key, t, 1.0));
            }
        }
    }
    Ok(out)
}

/// The scalar parameter of aggregation `op`.
fn scalar_param(param: &Option<StepValue>, op: &str) -> Result<f64> {
    match param {
        Some(StepValue::Scalar(v)) => Ok(*v),
        _ => Err(Error::execution(format!(
            "{op}() expects a scalar parameter"
        ))),
    }
}

/// The count parameter of topk, bottomk and limitk (0 when below 1).
fn check_k(k: f64) -> Result<usize> {
    if k.is_nan() {
        return Err(Error::execution("Parameter value is NaN"));
    }
    if k >= i64::MAX as f64 {
        return Err(Error::execution(format!(
            "Scalar value {k} overflows int64"
        )));
    }
    Ok(if k < 1.0 { 0 } else { k as usize })
}

/// Whether limit_ratio(`ratio`, ...) keeps the series `metric`, as Prometheus's
/// `AddRatioSample`: the series' label hash (xxHash64 of `name\xffvalue\xff...`, as
/// `labels.Hash`) as a fraction of the u64 range is below `ratio`, or for a negative
/// ratio at or above `1 + ratio`, so `r` and `r - 1` pick complementary series.
pub(crate) fn in_ratio(ratio: f64, metric: &Labels) -> bool {
    let mut bytes = Vec::with_capacity(256);
    for (n, v) in metric.iter() {
        bytes.extend_from_slice(n.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0xff);
    }
    let offset = xxhash_rust::xxh64::xxh64(&bytes, 0) as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

/// The `k` largest (or smallest) samples of one group, labels kept, NaN last.
fn top_k(mut samples: Vec<Sample>, k: f64, bottom: bool, t: i64) -> Result<Vec<Sample>> {
    let k = check_k(k)?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let k = k.min(samples.len());
    samples.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ if bottom => a.value.total_cmp(&b.value),
        _ => b.value.total_cmp(&a.value),
    });
    samples.truncate(k);
    samples.iter_mut().for_each(|s| s.t_ms = t);
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_survives_overflow_and_keeps_exactness() {
        let big = f64::MAX / 1.5;
        assert_eq!([big, big].into_iter().collect::<Mean>().value(), big);
        assert_eq!([-big, big].into_iter().collect::<Mean>().value(), 0.0);
        assert_eq!([52.0; 13].into_iter().collect::<Mean>().value(), 52.0);
        let inf = f64::INFINITY;
        assert_eq!([inf, 0.0, inf].into_iter().collect::<Mean>().value(), inf);
        assert!(
            [inf, inf, inf, -inf]
                .into_iter()
                .collect::<Mean>()
                .value()
                .is_nan()
        );
        assert_eq!(
            [1.0, 1e100, 1.0, -1e100]
                .into_iter()
                .collect::<Mean>()
                .value(),
            0.5
        );
    }

    #[test]
    fn ratio_halves_are_complements() {
        let series: Vec<Labels> = (0..200)
            .map(|i| Labels::from(vec![("i".to_string(), i.to_string())]))
            .collect();
        let low = series.iter().filter(|m| in_ratio(0.3, m)).count();
        let high = series.iter().filter(|m| in_ratio(-0.7, m)).count();
        assert_eq!(low + high, 200);
        assert!(series.iter().all(|m| in_ratio(0.3, m) != in_ratio(-0.7, m)));
        assert!(series.iter().all(|m| in_ratio(1.0, m) && in_ratio(-1.0, m)));
        assert!((40..80).contains(&low), "{low} of 200 at 0.3");
    }

    #[test]
    fn kahan_sum_compensates() {
        let k: KahanSum = [1.0, 1e100, 1.0, -1e100].into_iter().collect();
        assert_eq!(k.value(), 2.0);
    }

    #[test]
    fn grouping_by_and_without() {
        let m = Labels::from(vec![
            ("__name__".to_string(), "x".to_string()),
            ("job".to_string(), "a".to_string()),
            ("instance".to_string(), "i".to_string()),
        ]);
        let by = Some(LabelModifier::include(vec!["job"]));
        assert_eq!(group_labels(&m, &by).to_string(), r#"{job="a"}"#);
        let without = Some(LabelModifier::exclude(vec!["instance"]));
        assert_eq!(group_labels(&m, &without).to_string(), r#"{job="a"}"#);
        assert!(group_labels(&m, &None).is_empty());
    }
}
