//! PromQL functions: rates over range vectors, `*_over_time`, math and a few helpers.

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use telltale_storage_api::METRIC_NAME;

use std::collections::HashSet;

use super::annotations::SeriesNote;
use super::date::{date_field, is_date_function};
use super::histogram_fns;
use super::native_range;
use super::quantile::{BUCKET_LABEL, histogram_fraction, histogram_quantile, parse_le, quantile};
use super::rate::{double_exponential_smoothing, linear_regression};
use super::selector::{RangeView, modified_time, reference_time};
use super::sort;
use super::{Evaluator, StepValue, check_unique};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::plan::RollupSelector;
use crate::value::{FloatHistogram, Sample};

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
            return Ok(StepValue::Vector(vec![sample(Labels::empty(), t, v)]));
        }
        "scalar" => {
            // Histograms do not count: the single float, else NaN.
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            let mut floats = v.iter().filter(|s| s.is_float());
            let value = match (floats.next(), floats.next()) {
                (Some(s), None) => s.value,
                _ => f64::NAN,
            };
            return Ok(StepValue::Scalar(value));
        }
        "rate" | "increase" | "delta" | "irate" | "idelta" => {
            let (range, series, range_end) = range_arg(ev, &args, 0, t)?;
            let mut out = Vec::with_capacity(series.len());
            for s in series {
                let mut notes = Vec::new();
                let (start, end) = (range_end - range, range_end);
                let value = match name {
                    "rate" => native_range::extrapolated(&s, start, end, true, true, &mut notes),
                    "increase" => {
                        native_range::extrapolated(&s, start, end, true, false, &mut notes)
                    }
                    "delta" => native_range::extrapolated(&s, start, end, false, false, &mut notes),
                    _ => native_range::instant_value(&s, name == "irate", &mut notes),
                };
                raise(ev, call, 0, &s, notes);
                if let Some(v) = value {
                    out.push(v.sample(ev.drop_name(&s.metric), t));
                }
            }
            out
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
            let mut out = Vec::with_capacity(series.len());
            for s in series {
                let mut notes = Vec::new();
                let value = native_range::over_time_of(name, &s, &mut notes);
                raise(ev, call, 0, &s, notes);
                let Some(value) = value else { continue };
                let metric = if name == "last_over_time" {
                    s.metric.clone()
                } else {
                    ev.drop_name(&s.metric)
                };
                out.push(value.sample(metric, t));
            }
            out
        }
        "changes" | "resets" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            series
                .into_iter()
                .map(|s| {
                    let n = native_range::changes(&s, name == "resets");
                    sample(ev.drop_name(&s.metric), t, n)
                })
                .collect()
        }
        "deriv" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            let mut out = Vec::new();
            for s in series {
                let mut notes = Vec::new();
                let floats = native_range::floats_for(&s, 2, &mut notes);
                let value = floats.map(|p| linear_regression(p, p[0].0).0);
                raise(ev, call, 0, &s, notes);
                if let Some(v) = value {
                    out.push(sample(ev.drop_name(&s.metric), t, v));
                }
            }
            out
        }
        "predict_linear" => {
            let (_, series, _) = range_arg(ev, &args, 0, t)?;
            let seconds = ev.eval_scalar(arg(&args, 1)?, t)?;
            let mut out = Vec::new();
            for s in series {
                let mut notes = Vec::new();
                let value = native_range::floats_for(&s, 2, &mut notes).map(|p| {
                    let (slope, intercept) = linear_regression(p, t);
                    slope * seconds + intercept
                });
                raise(ev, call, 0, &s, notes);
                if let Some(v) = value {
                    out.push(sample(ev.drop_name(&s.metric), t, v));
                }
            }
            out
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
            let mut out = Vec::new();
            for s in series {
                let mut notes = Vec::new();
                let value = native_range::floats_for(&s, 2, &mut notes)
                    .and_then(|p| double_exponential_smoothing(p, sf, tf));
                raise(ev, call, 0, &s, notes);
                if let Some(v) = value {
                    out.push(sample(ev.drop_name(&s.metric), t, v));
                }
            }
            out
        }
        "label_join" => label_join(ev, &args, t)?,
        "quantile_over_time" => {
            let q = ev.eval_scalar(arg(&args, 0)?, t)?;
            let (_, series, _) = range_arg(ev, &args, 1, t)?;
            if series.iter().any(|s| !s.points.is_empty()) {
                ev.notes.call_quantile(call, q);
            }
            let mut out = Vec::new();
            for s in series {
                if s.points.is_empty() {
                    continue;
                }
                if !s.histograms.is_empty() {
                    // Prometheus places this info at the quantile argument.
                    let name = s.metric.get(METRIC_NAME).unwrap_or("");
                    ev.notes
                        .series_note(call, 0, false, SeriesNote::IgnoredInMixedRange, name);
                }
                let values = s.points.iter().map(|p| p.1).collect();
                out.push(sample(ev.drop_name(&s.metric), t, quantile(q, values)));
            }
            out
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(&args, 0)?, t)?;
            ev.notes.call_quantile(call, q);
            let input = ev.eval_vector(arg(&args, 1)?, t)?;
            let (native, classic) = split_histograms(ev, call, input);
            let mut out =
                native_histogram_values(ev, native, t, |h| histogram_fns::histogram_quantile(q, h));
            let mut forced = Vec::new();
            out.extend(histogram_quantile(
                q,
                classic,
                t,
                ev.delayed_name_removal,
                &mut forced,
            ));
            for name in forced {
                ev.notes.forced_monotonicity(call, &name);
            }
            out
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
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            let f: fn(&FloatHistogram) -> f64 = match name {
                "histogram_count" => |h| h.count,
                "histogram_sum" => |h| h.sum,
                "histogram_avg" => |h| h.sum / h.count,
                "histogram_stddev" => histogram_fns::histogram_stddev,
                _ => histogram_fns::histogram_stdvar,
            };
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            native_histogram_values(ev, v, t, f)
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
            // Histograms have no order: left out.
            v.retain(Sample::is_float);
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
        // Over native histograms and classic ones (series with an `le` label).
        "histogram_fraction" => {
            let lower = ev.eval_scalar(arg(&args, 0)?, t)?;
            let upper = ev.eval_scalar(arg(&args, 1)?, t)?;
            let input = ev.eval_vector(arg(&args, 2)?, t)?;
            let (native, classic) = split_histograms_at(ev, call, 2, input);
            let mut out = native_histogram_values(ev, native, t, |h| {
                histogram_fns::histogram_fraction(lower, upper, h)
            });
            out.extend(histogram_fraction(
                lower,
                upper,
                classic,
                t,
                ev.delayed_name_removal,
            ));
            out
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
    Sample::float(metric, t, value)
}

/// Places the notes a range function raised about series `s` at argument `arg` of
/// `call` (without the parentheses around a range).
fn raise(ev: &Evaluator<'_>, call: &Call, arg: usize, s: &RangeView<'_>, notes: Vec<SeriesNote>) {
    let name = s.metric.get(METRIC_NAME).unwrap_or("");
    for n in notes {
        ev.notes.series_note(call, arg, true, n, name);
    }
}

/// `f` of every histogram sample of `v` (floats are ignored), the name dropped.
fn native_histogram_values(
    ev: &Evaluator<'_>,
    v: Vec<Sample>,
    t: i64,
    f: impl Fn(&FloatHistogram) -> f64,
) -> Vec<Sample> {
    v.into_iter()
        .filter_map(|s| {
            let h = s.histogram.as_deref()?;
            Some(sample(ev.drop_name(&s.metric), t, f(h)))
        })
        .collect()
}

/// The input of `histogram_quantile` split into native histograms and classic buckets
/// (float samples with an `le` label), as Prometheus does: a bucket whose `le` does not
/// parse is dropped with a warning, and a series with both a native histogram and
/// classic buckets at this step gives neither (a warning).
fn split_histograms(
    ev: &Evaluator<'_>,
    call: &Call,
    input: Vec<Sample>,
) -> (Vec<Sample>, Vec<Sample>) {
    split_histograms_at(ev, call, 1, input)
}

/// [`split_histograms`] for the vector argument `arg` of `call`.
fn split_histograms_at(
    ev: &Evaluator<'_>,
    call: &Call,
    arg: usize,
    input: Vec<Sample>,
) -> (Vec<Sample>, Vec<Sample>) {
    let (native, classic): (Vec<Sample>, Vec<Sample>) =
        input.into_iter().partition(|s| !s.is_float());
    let classic: Vec<Sample> = classic
        .into_iter()
        .filter(|s| {
            let le = s.metric.get(BUCKET_LABEL).unwrap_or("");
            let ok = parse_le(le).is_some();
            if !ok {
                ev.notes
                    .bad_bucket_at(call, arg, s.metric.get(METRIC_NAME).unwrap_or(""), le);
            }
            ok
        })
        .collect();
    if native.is_empty() || classic.is_empty() {
        return (native, classic);
    }
    let groups: HashSet<Labels> = classic
        .iter()
        .map(|s| s.metric.without(&[BUCKET_LABEL]))
        .collect();
    let mut conflicting: HashSet<Labels> = HashSet::new();
    let native = native
        .into_iter()
        .filter(|s| {
            let clash = groups.contains(&s.metric);
            if clash {
                let name = s.metric.get(METRIC_NAME).unwrap_or("");
                ev.notes
                    .series_note(call, arg, false, SeriesNote::MixedClassicNative, name);
                conflicting.insert(s.metric.clone());
            }
            !clash
        })
        .collect();
    let classic = classic
        .into_iter()
        .filter(|s| !conflicting.contains(&s.metric.without(&[BUCKET_LABEL])))
        .collect();
    (native, classic)
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

/// `f` of every float sample of `v`, the name dropped; histogram samples are left out,
/// as Prometheus's functions of floats do.
fn map_values(ev: &Evaluator<'_>, v: Vec<Sample>, t: i64, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.into_iter()
        .filter(Sample::is_float)
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
