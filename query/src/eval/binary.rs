//! Binary operators: arithmetic, comparisons (filtering or `bool`), set operators, and
//! vector matching (one-to-one, group_left, group_right, on, ignoring).

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use rustc_hash::{FxHashMap, FxHashSet};
use telltale_storage_api::METRIC_NAME;

use std::sync::Arc;

use super::annotations::BinopNote;
use super::{Evaluator, LabelMemo, StepValue, check_unique, drop_name};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::value::{FloatHistogram, Sample};

/// Evaluates the binary expression `b` at time `t`.
pub(crate) fn eval(ev: &Evaluator<'_>, b: &BinaryExpr, t: i64) -> Result<StepValue> {
    let op = b.op.to_string();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (StepValue::Scalar(l), StepValue::Scalar(r)) => {
            let (value, keep) = elem_op(&op, l, r)?;
            let value = if is_comparison(&op) {
                bool_value(keep)
            } else {
                value
            };
            Ok(StepValue::Scalar(value))
        }
        (StepValue::Vector(l), StepValue::Scalar(r)) => {
            let mut note = None;
            let out = vector_scalar(
                ev.delayed_name_removal,
                &op,
                l,
                r,
                false,
                return_bool,
                t,
                &mut note,
            );
            raise(ev, b, note);
            out.map(StepValue::Vector)
        }
        (StepValue::Scalar(l), StepValue::Vector(r)) => {
            let mut note = None;
            let out = vector_scalar(
                ev.delayed_name_removal,
                &op,
                r,
                l,
                true,
                return_bool,
                t,
                &mut note,
            );
            raise(ev, b, note);
            out.map(StepValue::Vector)
        }
        (StepValue::Vector(l), StepValue::Vector(r)) => {
            let matching = Matching {
                modifier: b.modifier.as_ref().and_then(|m| m.matching.as_ref()),
                memo: &ev.memo,
            };
            let out = match op.as_str() {
                "and" | "or" | "unless" => set_op(&op, l, r, &matching, t),
                _ => {
                    let card = b
                        .modifier
                        .as_ref()
                        .map(|m| m.card.clone())
                        .unwrap_or(VectorMatchCardinality::OneToOne);
                    let mut note = None;
                    let out = vector_vector(
                        ev.delayed_name_removal,
                        &op,
                        l,
                        r,
                        &matching,
                        &card,
                        return_bool,
                        t,
                        &mut note,
                    );
                    raise(ev, b, note);
                    let out = out?;
                    check_unique(&out)?;
                    out
                }
            };
            Ok(StepValue::Vector(out))
        }
        (l, r) => Err(Error::execution(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

/// Raises the note of the last pair of samples that gave no result, as Prometheus
/// reports the last error of a binary operation at a step.
fn raise(ev: &Evaluator<'_>, b: &BinaryExpr, note: Option<BinopNote>) {
    if let Some(note) = note {
        ev.notes.binop_note(b, note);
    }
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Arithmetic drops the metric name; comparisons and set operators keep it.
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^" | "atan2")
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Applies `op` to two values: the result, and whether a comparison holds (always true
/// for arithmetic). Comparisons return the left value.
fn elem_op(op: &str, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => {
            return Err(Error::execution(format!(
                "operator {other:?} not allowed for this operation"
            )));
        }
    })
}

/// The result of `op` between two samples, each a float or a histogram (Prometheus's
/// `vectorElemBinop`): the float value, the histogram value, and whether a comparison
/// holds (always true for arithmetic); or why the pair gives no result.
type ElemResult = std::result::Result<(f64, Option<Arc<FloatHistogram>>, bool), BinopNote>;

fn elem_binop(
    op: &str,
    l: f64,
    lh: Option<&Arc<FloatHistogram>>,
    r: f64,
    rh: Option<&Arc<FloatHistogram>>,
) -> Result<ElemResult> {
    let scaled = |h: &FloatHistogram, f: &dyn Fn(&mut FloatHistogram)| {
        let mut h = h.clone();
        f(&mut h);
        h.compact();
        Some(Arc::new(h))
    };
    let types = |lhs, rhs| Err(BinopNote::IncompatibleTypes { lhs, rhs });
    Ok(match (lh, rh) {
        (None, None) => {
            let (v, keep) = elem_op(op, l, r)?;
            Ok((v, None, keep))
        }
        (None, Some(h)) => match op {
            "*" => Ok((0.0, scaled(h, &|h| h.mul(l)), true)),
            _ => types("float", "histogram"),
        },
        (Some(h), None) => match op {
            "*" => Ok((0.0, scaled(h, &|h| h.mul(r)), true)),
            "/" => Ok((0.0, scaled(h, &|h| h.div(r)), true)),
            _ => types("histogram", "float"),
        },
        (Some(a), Some(b)) => match op {
            "+" | "-" => {
                let mut h = FloatHistogram::clone(a);
                let combined = if op == "+" { h.add(b) } else { h.sub(b) };
                match combined {
                    Ok(()) => {
                        h.compact();
                        Ok((0.0, Some(Arc::new(h)), true))
                    }
                    Err(_) => Err(BinopNote::IncompatibleLayout),
                }
            }
            "==" => Ok((0.0, Some(a.clone()), a.equals(b))),
            "!=" => Ok((0.0, Some(a.clone()), !a.equals(b))),
            _ => types("histogram", "histogram"),
        },
    })
}

/// Vector-scalar operation; `swap` when the scalar is on the left. `note` gets why the
/// last sample that gave no result did not.
#[allow(clippy::too_many_arguments)]
fn vector_scalar(
    delayed_name_removal: bool,
    op: &str,
    vector: Vec<Sample>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
    t: i64,
    note: &mut Option<BinopNote>,
) -> Result<Vec<Sample>> {
    let mut out = Vec::with_capacity(vector.len());
    // The input's label sets are distinct (every vector's are); only dropping names can
    // make two equal.
    let mut renamed = false;
    for s in vector {
        let (l, r, lh, rh) = if swap {
            (scalar, s.value, None, s.histogram.as_ref())
        } else {
            (s.value, scalar, s.histogram.as_ref(), None)
        };
        let (mut value, mut histogram, mut keep) = if lh.is_none() && rh.is_none() {
            // Floats (nearly always): no histogram to look at.
            let (v, keep) = elem_op(op, l, r)?;
            (v, None, keep)
        } else {
            match elem_binop(op, l, lh, r, rh)? {
                Ok(v) => v,
                Err(n) => {
                    *note = Some(n);
                    continue;
                }
            }
        };
        if is_comparison(op) && swap {
            // The vector's value is the output even when it is on the right.
            value = r;
            histogram = rh.cloned();
        }
        if return_bool {
            value = bool_value(keep);
            keep = true;
        }
        if keep {
            let metric = if drops_name(op) || return_bool {
                let without = drop_name(&s.metric, delayed_name_removal);
                // The same set (shared, compared by address) when it had no name; a
                // name only marked for removal keeps the sets apart.
                renamed |= !without.drops_name() && without != s.metric;
                without
            } else {
                s.metric
            };
            out.push(Sample {
                metric,
                t_ms: t,
                value,
                histogram,
            });
        }
    }
    if renamed {
        check_unique(&out)?;
    }
    Ok(out)
}

/// How a binary expression matches series (`on`/`ignoring`), with the match labels of
/// each series derived once per query rather than once per step.
pub(crate) struct Matching<'a> {
    pub modifier: Option<&'a LabelModifier>,
    pub memo: &'a LabelMemo,
}

impl Matching<'_> {
    /// The labels `metric` is matched by.
    fn key(&self, metric: &Labels) -> Labels {
        match self.modifier {
            // Cached in the label set itself.
            None => metric.without_name(),
            Some(modifier) => self
                .memo
                .derive(modifier, metric, || match_labels(metric, Some(modifier))),
        }
    }
}

fn match_labels(metric: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(ls)) => {
            let names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
            metric.keep(&names)
        }
        Some(LabelModifier::Exclude(ls)) => {
            let mut names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            metric.without(&names)
        }
        None => metric.without_name(),
    }
}

/// `and`, `or`, `unless`.
fn set_op(op: &str, lhs: Vec<Sample>, rhs: Vec<Sample>, m: &Matching<'_>, t: i64) -> Vec<Sample> {
    let rhs_sigs: FxHashSet<Labels> = rhs.iter().map(|s| m.key(&s.metric)).collect();
    let mut out: Vec<Sample> = match op {
        "and" => lhs
            .into_iter()
            .filter(|s| rhs_sigs.contains(&m.key(&s.metric)))
            .collect(),
        "unless" => lhs
            .into_iter()
            .filter(|s| !rhs_sigs.contains(&m.key(&s.metric)))
            .collect(),
        _ => {
            let lhs_sigs: FxHashSet<Labels> = lhs.iter().map(|s| m.key(&s.metric)).collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|s| !lhs_sigs.contains(&m.key(&s.metric))),
            );
            out
        }
    };
    out.iter_mut().for_each(|s| s.t_ms = t);
    out
}

/// Arithmetic and comparisons between two vectors, with Prometheus' vector matching.
#[allow(clippy::too_many_arguments)]
fn vector_vector(
    delayed_name_removal: bool,
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &Matching<'_>,
    card: &VectorMatchCardinality,
    return_bool: bool,
    t: i64,
    note: &mut Option<BinopNote>,
) -> Result<Vec<Sample>> {
    if lhs.is_empty() || rhs.is_empty() {
        // Nothing can match (and no duplicate check applies), as in Prometheus.
        return Ok(Vec::new());
    }
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    // `many` is matched against the unique `one` side.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let one_side = if one_to_many { "left" } else { "right" };

    let mut one_by_sig: FxHashMap<Labels, &Sample> =
        FxHashMap::with_capacity_and_hasher(one.len(), Default::default());
    for s in &one {
        if let Some(prev) = one_by_sig.insert(m.key(&s.metric), s) {
            return Err(Error::execution(format!(
                "found duplicate series for the match group {} on the {one_side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                match_labels(&s.metric, m.modifier),
                s.metric,
                prev.metric
            )));
        }
    }

    let include: Vec<&str> = card
        .labels()
        .map(|ls| ls.labels.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut matched: FxHashSet<Labels> = FxHashSet::default();
    let mut inserted: FxHashSet<Labels> = FxHashSet::default();
    let mut out = Vec::new();
    for ms in &many {
        let sig = m.key(&ms.metric);
        let Some(os) = one_by_sig.get(&sig) else {
            continue;
        };
        let (l, r) = if one_to_many { (*os, ms) } else { (ms, *os) };
        let (mut value, mut histogram, keep) = if l.is_float() && r.is_float() {
            let (v, keep) = elem_op(op, l.value, r.value)?;
            (v, None, keep)
        } else {
            match elem_binop(
                op,
                l.value,
                l.histogram.as_ref(),
                r.value,
                r.histogram.as_ref(),
            )? {
                Ok(v) => v,
                Err(n) => {
                    *note = Some(n);
                    continue;
                }
            }
        };
        if return_bool {
            value = bool_value(keep);
            histogram = None;
        } else if !keep {
            continue;
        }
        let mut metric = ms.metric.clone();
        if drops_name(op) || return_bool {
            metric = drop_name(&metric, delayed_name_removal);
        }
        // Matching labels are never marked: the mark goes back on at the end.
        let marked = metric.drops_name();
        if matches!(card, VectorMatchCardinality::OneToOne) {
            match m.modifier {
                Some(LabelModifier::Include(ls)) => {
                    let names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
                    metric = metric.keep(&names);
                }
                Some(LabelModifier::Exclude(ls)) => {
                    let names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
                    metric = metric.without(&names);
                }
                None => {}
            }
            if !matched.insert(sig) {
                return Err(Error::execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
        } else {
            for name in &include {
                metric.set(name, os.metric.get(name).unwrap_or(""));
            }
            if !inserted.insert(metric.clone()) {
                return Err(Error::execution(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
        }
        if marked {
            metric = metric.name_to_drop();
        }
        out.push(Sample {
            metric,
            t_ms: t,
            value,
            histogram,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(modifier: Option<&LabelModifier>) -> Matching<'_> {
        Matching {
            modifier,
            memo: Box::leak(Box::default()),
        }
    }

    fn s(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample::float(
            Labels::from(
                pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            ),
            0,
            value,
        )
    }

    #[test]
    fn comparison_filters_or_returns_bool() {
        let v = vec![
            s(&[("__name__", "x"), ("a", "1")], 1.0),
            s(&[("__name__", "x"), ("a", "2")], 5.0),
        ];
        let filtered =
            vector_scalar(false, ">", v.clone(), 2.0, false, false, 0, &mut None).unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].metric.get("__name__"), Some("x"));
        let b = vector_scalar(false, ">", v.clone(), 2.0, false, true, 0, &mut None).unwrap();
        assert_eq!(
            b.iter().map(|s| s.value).collect::<Vec<_>>(),
            vec![0.0, 1.0]
        );
        assert_eq!(b[0].metric.get("__name__"), None);
        // scalar on the left keeps the vector's value
        let swapped = vector_scalar(false, "<", v, 2.0, true, false, 0, &mut None).unwrap();
        assert_eq!(swapped[0].value, 5.0);
    }

    #[test]
    fn one_to_one_matching_ignores_name() {
        let l = vec![s(&[("__name__", "a"), ("i", "1")], 10.0)];
        let r = vec![
            s(&[("__name__", "b"), ("i", "1")], 2.0),
            s(&[("__name__", "b"), ("i", "2")], 3.0),
        ];
        let out = vector_vector(
            false,
            "/",
            l,
            r,
            &plain(None),
            &VectorMatchCardinality::OneToOne,
            false,
            0,
            &mut None,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, 5.0);
        assert_eq!(out[0].metric.to_string(), r#"{i="1"}"#);
    }

    #[test]
    fn many_to_one_requires_group_left() {
        let l = vec![
            s(&[("i", "1"), ("m", "a")], 1.0),
            s(&[("i", "1"), ("m", "b")], 2.0),
        ];
        let r = vec![s(&[("i", "1"), ("v", "x")], 10.0)];
        let on = Some(LabelModifier::include(vec!["i"]));
        let err = vector_vector(
            false,
            "*",
            l.clone(),
            r.clone(),
            &plain(on.as_ref()),
            &VectorMatchCardinality::OneToOne,
            false,
            0,
            &mut None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("many-to-one matching must be explicit")
        );
        let card = VectorMatchCardinality::many_to_one(vec!["v"]);
        let out = vector_vector(
            false,
            "*",
            l,
            r,
            &plain(on.as_ref()),
            &card,
            false,
            0,
            &mut None,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].metric.to_string(), r#"{i="1", m="b", v="x"}"#);
        assert_eq!(out[1].value, 20.0);
    }

    #[test]
    fn duplicate_on_one_side_is_an_error() {
        let l = vec![s(&[("i", "1")], 1.0)];
        let r = vec![
            s(&[("i", "1"), ("x", "a")], 1.0),
            s(&[("i", "1"), ("x", "b")], 1.0),
        ];
        let on = Some(LabelModifier::include(vec!["i"]));
        let err = vector_vector(
            false,
            "+",
            l,
            r,
            &plain(on.as_ref()),
            &VectorMatchCardinality::OneToOne,
            false,
            0,
            &mut None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("found duplicate series for the match group {i=\"1\"} on the right")
        );
    }

    #[test]
    fn set_operators() {
        let l = vec![s(&[("i", "1")], 1.0), s(&[("i", "2")], 2.0)];
        let r = vec![s(&[("i", "2")], 20.0), s(&[("i", "3")], 30.0)];
        let and = set_op("and", l.clone(), r.clone(), &plain(None), 0);
        assert_eq!(and.iter().map(|s| s.value).collect::<Vec<_>>(), vec![2.0]);
        let or = set_op("or", l.clone(), r.clone(), &plain(None), 0);
        assert_eq!(
            or.iter().map(|s| s.value).collect::<Vec<_>>(),
            vec![1.0, 2.0, 30.0]
        );
        let unless = set_op("unless", l, r, &plain(None), 0);
        assert_eq!(
            unless.iter().map(|s| s.value).collect::<Vec<_>>(),
            vec![1.0]
        );
    }
}
