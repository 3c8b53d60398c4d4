//! Aggregation operators: sum, avg, min, max, count, group, stddev, stdvar, quantile,
//! topk, bottomk.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};
use telltale_storage_api::METRIC_NAME;

use super::{Evaluator, StepValue};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::value::Sample;

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
        Some(p) => Some(ev.eval(p, t)?),
        None => None,
    };
    let input = ev.eval_vector(&agg.expr, t)?;

    // Groups in order of first appearance.
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<Sample>)> = Vec::new();
    for s in input {
        let key = group_labels(&s.metric, &agg.modifier);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(s);
    }

    let mut out = Vec::with_capacity(groups.len());
    for (labels, samples) in groups {
        let values = || samples.iter().map(|s| s.value);
        let value = match op.as_str() {
            "sum" => values().collect::<KahanSum>().value(),
            "avg" => values().collect::<KahanSum>().value() / samples.len() as f64,
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
                    _ => return Err(Error::bad_data("quantile() expects a scalar parameter")),
                };
                super::quantile::quantile(q, values().collect())
            }
            "topk" | "bottomk" => {
                let k = match &param {
                    Some(StepValue::Scalar(k)) => *k,
                    _ => {
                        return Err(Error::bad_data(format!(
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
        out.push(Sample {
            metric: labels,
            t_ms: t,
            value,
        });
    }
    Ok(StepValue::Vector(out))
}

/// The `k` largest (or smallest) samples of one group, labels kept, NaN last.
fn top_k(mut samples: Vec<Sample>, k: f64, bottom: bool, t: i64) -> Result<Vec<Sample>> {
    if k.is_nan() {
        return Err(Error::execution("Parameter value is NaN"));
    }
    if k < 1.0 {
        return Ok(Vec::new());
    }
    let k = k.min(samples.len() as f64) as usize;
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
