//! PromQL functions: rates over range vectors, `*_over_time`, math and a few helpers.

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use telltale_storage_api::METRIC_NAME;

use super::date::{date_field, is_date_function};
use super::quantile::{BUCKET_LABEL, histogram_fraction, histogram_quantile, parse_le, quantile};
use super::rate::{
    count_changes, double_exponential_smoothing, extrapolated_rate, instant_delta,
    linear_regression, over_time,
};
use super::selector::{RangeView, modified_time, reference_time};
use super::sort;
use super::{Evaluator, StepValue, check_unique};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::plan::RollupSelector;
use crate::value::Sample;

/// Evaluates the call `call` at time `t`.
pub(crate) fn eval(ev: &Evaluator<'_>, call: &Call, t: i64) -> Result<StepValue> {
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let name = call.func.name;
    let out = match name {
        "time" => return Ok(StepValue::Scalar(t as f64 / 1000.0)),
        "pi" => return Ok(StepValue::Scalar(std::f64::consts::PI)),
        _ if is_date_function(name) => match args.first() {
            None => vec![sample(
                Labels::empty(),
                t,
                date_field(name, t as f64 / 1000.0),
            )],
            Some(e) => map_values(ev, ev.eval_vector(e, t)?, t, |v| date_field(name, v)),
        },
        "vector" => {
            let v = ev.eval_scalar(arg(&args, 0)?, t)?;
            return Ok(StepValue::Vector(vec![Sample {
                metric: Labels::empty(),
                t_ms: t,
                value: v,
            }]));
        }
        "scalar" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            let value = if v.len() == 1 { v[0].value } else { f64::NAN };
            return Ok(StepValue::Scalar(value));
        }
        "rate" | "increase" | "delta" | "irate" | "idelta" => {
            let (range, series, range_end) = range_arg(ev, &args, 0, t)?;
            series
                .into_iter()
                .filter_map(|s| {
                    let value = match name {
                        "rate" => {
                            extrapolated_rate(&s.points, range_end - range, range_end, true, true)
                        }
                        "increase" => {
                            extrapolated_rate(&s.points, range_end - range, range_end, true, false)
                        }
                        "delta" => {
                            extrapolated_rate(&s.points, range_end - range, range_end, false, false)
                        }
                        "irate" => instant_delta(&s.points, true),
                        _ => instant_delta(&s.points, false),
                    }?;
                    Some(sample(ev.drop_name(&s.metric), t, value))
                })
                .collect()
        }
        "avg_over_time"
        | "min_over_time"
        | "max_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "last_over_time"
        | "present_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "mad_over_time"
        | "ts_of_min_over_time"
        | "ts_of_max_over_time"
        | "ts_of_last_over_time" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            series
                .into_iter()
                .map(|s| {
                    let metric = if name == "last_over_time" {
                        s.metric.clone()
                    } else {
                        ev.drop_name(&s.metric)
                    };
                    sample(metric, t, over_time(name, &s.points))
                })
                .collect()
        }
        "changes" | "resets" | "deriv" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            series
                .into_iter()
                .filter_map(|s| {
                    let value = match name {
                        "deriv" if s.points.len() < 2 => return None,
                        "deriv" => linear_regression(&s.points, s.points[0].0).0,
                        _ => count_changes(&s.points, name == "resets"),
                    };
                    Some(sample(ev.drop_name(&s.metric), t, value))
                })
                .collect()
        }
        "predict_linear" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            let seconds = ev.eval_scalar(arg(&args, 1)?, t)?;
            series
                .into_iter()
                .filter(|s| s.points.len() >= 2)
                .map(|s| {
                    let (slope, intercept) = linear_regression(&s.points, t);
                    sample(ev.drop_name(&s.metric), t, slope * seconds + intercept)
                })
                .collect()
        }
        "double_exponential_smoothing" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            let sf = ev.eval_scalar(arg(&args, 1)?, t)?;
            let tf = ev.eval_scalar(arg(&args, 2)?, t)?;
            if !series.is_empty() {
                // Go's %f: six decimals.
                if sf <= 0.0 || sf >= 1.0 {
                    return Err(Error::execution(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                    )));
                }
                if tf <= 0.0 || tf >= 1.0 {
                    return Err(Error::execution(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                    )));
                }
            }
            series
                .into_iter()
                .filter_map(|s| {
                    let v = double_exponential_smoothing(&s.points, sf, tf)?;
                    Some(sample(ev.drop_name(&s.metric), t, v))
                })
                .collect()
        }
        "label_join" => label_join(ev, &args, t)?,
        "quantile_over_time" => {
            let q = ev.eval_scalar(arg(&args, 0)?, t)?;
            let (_, series, _) = range_arg(ev, &args, 1, t)?;
            if !series.is_empty() {
                ev.notes.call_quantile(call, q);
            }
            series
                .into_iter()
                .map(|s| {
                    let values = s.points.iter().map(|p| p.1).collect();
                    sample(ev.drop_name(&s.metric), t, quantile(q, values))
                })
                .collect()
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(&args, 0)?, t)?;
            ev.notes.call_quantile(call, q);
            let buckets = ev.eval_vector(arg(&args, 1)?, t)?;
            for s in &buckets {
                let le = s.metric.get(BUCKET_LABEL).unwrap_or("");
                if parse_le(le).is_none() {
                    ev.notes
                        .bad_bucket(call, s.metric.get(METRIC_NAME).unwrap_or(""), le);
                }
            }
            histogram_quantile(q, buckets, t, ev.delayed_name_removal)
        }
        "absent" | "absent_over_time" => {
            let present = match ev.eval(arg(&args, 0)?, t)? {
                StepValue::Vector(v) => !v.is_empty(),
                StepValue::Matrix(m) => !m.is_empty(),
                _ => {
                    return Err(Error::execution(format!(
                        "{name}() expects a vector argument"
                    )));
                }
            };
            if present {
                Vec::new()
            } else {
                vec![sample(absent_labels(arg(&args, 0)?), t, 1.0)]
            }
        }
        "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sgn" | "acos"
        | "acosh" | "asin" | "asinh" | "atan" | "atanh" | "cos" | "cosh" | "sin" | "sinh"
        | "tan" | "tanh" | "deg" | "rad" => {
            let f: fn(f64) -> f64 = match name {
                "acos" => f64::acos,
                "acosh" => f64::acosh,
                "asin" => f64::asin,
                "asinh" => f64::asinh,
                "atan" => f64::atan,
                "atanh" => f64::atanh,
                "cos" => f64::cos,
                "cosh" => f64::cosh,
                "sin" => f64::sin,
                "sinh" => f64::sinh,
                "tan" => f64::tan,
                "tanh" => f64::tanh,
                "deg" => |v| v * 180.0 / std::f64::consts::PI,
                "rad" => |v| v * std::f64::consts::PI / 180.0,
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "sqrt" => f64::sqrt,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                _ => sgn,
            };
            map_values(ev, ev.eval_vector(arg(&args, 0)?, t)?, t, f)
        }
        "round" => {
            let to_nearest = match args.get(1) {
                Some(e) => ev.eval_scalar(e, t)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            map_values(ev, ev.eval_vector(arg(&args, 0)?, t)?, t, |v| {
                (v * inverse + 0.5).floor() / inverse
            })
        }
        "clamp_min" | "clamp_max" => {
            let bound = ev.eval_scalar(arg(&args, 1)?, t)?;
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            if name == "clamp_min" {
                map_values(ev, v, t, |x| go_max(bound, x))
            } else {
                map_values(ev, v, t, |x| go_min(bound, x))
            }
        }
        "clamp" => {
            let lo = ev.eval_scalar(arg(&args, 1)?, t)?;
            let hi = ev.eval_scalar(arg(&args, 2)?, t)?;
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            if hi < lo {
                Vec::new()
            } else {
                map_values(ev, v, t, |x| go_max(lo, go_min(hi, x)))
            }
        }
        "timestamp" => ev
            .eval_vector(arg(&args, 0)?, t)?
            .into_iter()
            .map(|s| sample(ev.drop_name(&s.metric), t, s.t_ms as f64 / 1000.0))
            .collect(),
        "sort" | "sort_desc" => {
            let mut v = ev.eval_vector(arg(&args, 0)?, t)?;
            sort::by_value(&mut v, name == "sort_desc");
            return Ok(StepValue::Vector(v));
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = ev.eval_vector(arg(&args, 0)?, t)?;
            let names = string_args(ev, &args[1..], t, 2)?;
            sort::by_labels(&mut v, &names, name == "sort_by_label_desc");
            return Ok(StepValue::Vector(v));
        }
        "label_replace" => label_replace(ev, &args, t)?,
        // Over classic histograms (series with an `le` label), like histogram_quantile.
        "histogram_fraction" => {
            let lower = ev.eval_scalar(arg(&args, 0)?, t)?;
            let upper = ev.eval_scalar(arg(&args, 1)?, t)?;
            histogram_fraction(
                lower,
                upper,
                ev.eval_vector(arg(&args, 2)?, t)?,
                t,
                ev.delayed_name_removal,
            )
        }
        // Native-histogram functions: float samples are ignored, as in Prometheus.
        "histogram_avg" | "histogram_count" | "histogram_stddev" | "histogram_stdvar"
        | "histogram_sum" => {
            for a in &args {
                ev.eval(a, t)?;
            }
            Vec::new()
        }
        other => {
            return Err(Error::execution(format!(
                "function {other}() is not supported yet"
            )));
        }
    };
    check_unique(&out)?;
    Ok(StepValue::Vector(out))
}

fn arg<'e>(args: &[&'e Expr], i: usize) -> Result<&'e Expr> {
    args.get(i)
        .copied()
        .ok_or_else(|| Error::execution(format!("missing argument {}", i + 1)))
}

fn sample(metric: Labels, t: i64, value: f64) -> Sample {
    Sample {
        metric,
        t_ms: t,
        value,
    }
}

/// The range argument (matrix selector or subquery): its range, its series at `t`, and
/// the end of its range.
fn range_arg<'a>(
    ev: &Evaluator<'a>,
    args: &[&Expr],
    index: usize,
    t: i64,
) -> Result<(i64, Vec<RangeView<'a>>, i64)> {
    let (range, range_end) = match arg(args, index)? {
        Expr::MatrixSelector(ms) => (
            ms.range.as_millis() as i64,
            reference_time(&ms.vs, t, ev.start, ev.end),
        ),
        Expr::Subquery(sq) => (
            sq.range.as_millis() as i64,
            modified_time(&sq.at, &sq.offset, t, ev.start, ev.end),
        ),
        Expr::Extension(ext) => match ext.expr.as_any().downcast_ref::<RollupSelector>() {
            Some(RollupSelector {
                vs,
                range_ms: Some(range),
                ..
            }) => (*range, reference_time(vs, t, ev.start, ev.end)),
            _ => return Err(Error::execution("expected a range vector argument")),
        },
        _ => return Err(Error::execution("expected a range vector argument")),
    };
    if let Expr::MatrixSelector(ms) = args[index] {
        return Ok((range, ev.range_views(ms, t)?, range_end));
    }
    match ev.eval(args[index], t)? {
        StepValue::Matrix(m) => Ok((
            range,
            m.into_iter().map(RangeView::from).collect(),
            range_end,
        )),
        _ => Err(Error::internal(
            "range argument did not yield a range vector",
        )),
    }
}

fn map_values(ev: &Evaluator<'_>, v: Vec<Sample>, t: i64, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.into_iter()
        .map(|s| sample(ev.drop_name(&s.metric), t, f(s.value)))
        .collect()
}

fn sgn(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    }
}

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Labels of `absent()`'s output: the argument selector's equality matchers.
fn absent_labels(expr: &Expr) -> Labels {
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        Expr::Extension(ext) => match ext.expr.as_any().downcast_ref::<RollupSelector>() {
            Some(r) => &r.vs,
            None => return Labels::empty(),
        },
        _ => return Labels::empty(),
    };
    let mut labels = Labels::empty();
    let mut has = std::collections::HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !has.contains(&m.name) {
            labels.set(&m.name, &m.value);
            has.insert(m.name.clone());
        } else {
            labels.set(&m.name, "");
        }
    }
    labels
}

/// The string arguments `args`, evaluated (`first` is the 1-based position of the first
/// one, for error messages).
fn string_args(ev: &Evaluator<'_>, args: &[&Expr], t: i64, first: usize) -> Result<Vec<String>> {
    args.iter()
        .enumerate()
        .map(|(i, e)| match ev.eval(e, t)? {
            StepValue::String(s) => Ok(s),
            other => Err(Error::execution(format!(
                "expected string argument {}, got {}",
                i + first,
                other.type_name()
            ))),
        })
        .collect()
}

/// `label_replace(v, dst, replacement, src, regex)`: where the regex (anchored, `.`
/// matching newlines) matches the source label's value, `dst` becomes the expansion of
/// `replacement`; other samples pass unchanged.
fn label_replace(ev: &Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Vec<Sample>> {
    let strings = string_args(ev, args.get(1..5).unwrap_or(&[]), t, 2)?;
    let [dst, replacement, src, pattern] = strings.as_slice() else {
        return Err(Error::execution("label_replace() needs 5 arguments"));
    };
    let re = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|_| {
        Error::execution(format!(
            "invalid regular expression in label_replace(): {pattern}"
        ))
    })?;
    if dst.is_empty() {
        return Err(Error::execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let v = ev.eval_vector(arg(args, 0)?, t)?;
    Ok(v.into_iter()
        .map(|mut s| {
            let src_value = s.metric.get(src).unwrap_or("").to_string();
            if let Some(caps) = re.captures(&src_value) {
                let mut value = String::new();
                caps.expand(replacement, &mut value);
                s.metric.set(dst, &value);
                if dst == METRIC_NAME {
                    // A name written explicitly is kept (delayed name removal).
                    s.metric = s.metric.name_kept();
                }
            }
            s.t_ms = t;
            s
        })
        .collect())
}

/// `label_join(v, dst, separator, src...)`.
fn label_join(ev: &Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Vec<Sample>> {
    let strings = string_args(ev, args.get(1..).unwrap_or(&[]), t, 2)?;
    let [dst, sep, src @ ..] = strings.as_slice() else {
        return Err(Error::execution(
            "label_join() needs a destination and a separator",
        ));
    };
    if dst.is_empty() {
        return Err(Error::execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    if let Some(bad) = src.iter().find(|l| l.is_empty()) {
        return Err(Error::execution(format!(
            "invalid source label name in label_join(): {bad}"
        )));
    }
    let v = ev.eval_vector(arg(args, 0)?, t)?;
    Ok(v.into_iter()
        .map(|mut s| {
            let joined: Vec<&str> = src.iter().map(|l| s.metric.get(l).unwrap_or("")).collect();
            let value = joined.join(sep);
            s.metric.set(dst, &value);
            if dst == METRIC_NAME {
                s.metric = s.metric.name_kept();
            }
            s.t_ms = t;
            s
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_min_max_propagate_nan() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(go_min(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(1.0, 2.0), 2.0);
    }
}
