//! Checking an eval's answer against its block, as Prometheus's `promqltest` does:
//! `checkExpectedFailure`, `checkAnnotations` and `compareResult`.

use telltale_query::QueryOutput;

use crate::compare::{self, Outcome};
use crate::script::{Eval, ExpectKind};
use crate::series::Point;

pub fn check_failure(ev: &Eval, err: &str) -> Result<(), String> {
    if let Some(m) = ev.fail_message.as_deref().filter(|m| !m.is_empty())
        && m != err
    {
        return Err(format!("expected error {m:?}, got: {err}"));
    }
    if let Some(r) = &ev.fail_regex
        && !r.is_match(err)
    {
        return Err(format!(
            "expected error matching {:?}, got: {err}",
            r.as_str()
        ));
    }
    if let Some(e) = ev.of(ExpectKind::Fail).next()
        && !e.matches(err)
    {
        return Err(format!(
            "expected error matching {}, got: {err}",
            e.describe()
        ));
    }
    Ok(())
}

/// An annotation without the engine's `(line:col)` suffix (Prometheus's test
/// annotations carry no position).
fn bare(annotation: &str) -> &str {
    match annotation.rfind(" (") {
        Some(i)
            if annotation.ends_with(')')
                && annotation[i + 2..annotation.len() - 1]
                    .split(':')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            &annotation[..i]
        }
        _ => annotation,
    }
}

pub fn check_annotations(ev: &Eval, out: &QueryOutput) -> Result<(), String> {
    let warnings: Vec<&str> = out.warnings.iter().map(|w| bare(w)).collect();
    let infos: Vec<&str> = out.infos.iter().map(|w| bare(w)).collect();
    if ev.warn && warnings.is_empty() {
        return Err("expected warnings but got none".to_string());
    }
    if ev.info && infos.is_empty() {
        return Err("expected info annotations but got none".to_string());
    }
    for (kind, got, what) in [
        (ExpectKind::Warn, &warnings, "warn"),
        (ExpectKind::Info, &infos, "info"),
    ] {
        let want: Vec<_> = ev.of(kind).collect();
        if want.is_empty() {
            continue;
        }
        if got.is_empty() {
            return Err(format!("expected {what} annotations but none were found"));
        }
        if let Some(e) = want.iter().find(|e| !got.iter().any(|g| e.matches(g))) {
            return Err(format!(
                "expected {what} annotation matching {}, found: {got:?}",
                e.describe()
            ));
        }
        if let Some(g) = got.iter().find(|g| !want.iter().any(|e| e.matches(g))) {
            return Err(format!("unexpected {what} annotation {g:?}"));
        }
    }
    if ev.has(ExpectKind::NoWarn) && !warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {warnings:?}"));
    }
    if ev.has(ExpectKind::NoInfo) && !infos.is_empty() {
        return Err(format!("unexpected info annotations: {infos:?}"));
    }
    Ok(())
}

/// Prometheus's `compareResult`; expected positions are `start + i * step`, up to `end`.
pub fn compare_result(
    ev: &Eval,
    got: Outcome,
    start: i64,
    step: i64,
    end: i64,
) -> Result<(), String> {
    let expected = |k: &str| ev.series.iter().find(|s| compare::key(&s.labels) == k);
    let unseen = |seen: &[&str]| {
        ev.series
            .iter()
            .map(|s| compare::key(&s.labels))
            .find(|k| !seen.contains(&k.as_str()))
    };
    match got {
        Outcome::Matrix(series) => {
            if ev.is_ordered() {
                return Err("expected ordered result, but query returned a matrix".to_string());
            }
            if ev.scalar.is_some() {
                return Err("expected scalar result, but got a matrix".to_string());
            }
            let mut seen = Vec::new();
            for (k, pts) in &series {
                let exp = expected(k).ok_or_else(|| format!("unexpected metric {k} in result"))?;
                seen.push(k.as_str());
                let mut want = Vec::new();
                for (i, v) in exp.values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected {} points for {k}, more than the range holds",
                            exp.values.len()
                        ));
                    }
                    if !matches!(v, Point::Omitted) {
                        want.push((t, v));
                    }
                }
                let same = want.len() == pts.len()
                    && want
                        .iter()
                        .zip(pts)
                        .all(|((wt, wv), (gt, gv))| wt == gt && compare::same_point(wv, gv));
                if !same {
                    let show = |v: &mut dyn Iterator<Item = (i64, &Point)>| {
                        v.map(|(t, p)| format!("{} @{t}", compare::show(p)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(format!(
                        "{k}: expected [{}], got [{}]",
                        show(&mut want.iter().map(|(t, p)| (*t, *p))),
                        show(&mut pts.iter().map(|(t, p)| (*t, p)))
                    ));
                }
            }
            match unseen(&seen) {
                Some(k) => Err(format!("expected metric {k} not found")),
                None => Ok(()),
            }
        }
        Outcome::Vector(samples) => {
            if ev.scalar.is_some() {
                return Err("expected scalar result, but got a vector".to_string());
            }
            let mut seen = Vec::new();
            for (i, (k, p)) in samples.iter().enumerate() {
                let exp = expected(k).ok_or_else(|| {
                    format!(
                        "unexpected metric {k} in result, has value {}",
                        compare::show(p)
                    )
                })?;
                if ev.is_ordered() && exp.pos != i + 1 {
                    return Err(format!(
                        "expected metric {k} at position {} but was at {}",
                        exp.pos,
                        i + 1
                    ));
                }
                let want = match exp.values.first() {
                    Some(Point::Omitted) | None => Point::Float(0.0),
                    Some(w) => w.clone(),
                };
                if !compare::same_point(&want, p) {
                    return Err(format!(
                        "expected {} for {k} but got {}",
                        compare::show(&want),
                        compare::show(p)
                    ));
                }
                seen.push(k.as_str());
            }
            match unseen(&seen) {
                Some(k) => Err(format!("expected metric {k} not found")),
                None => Ok(()),
            }
        }
        Outcome::Scalar(v) => {
            let Some(want) = &ev.scalar else {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {v}"
                ));
            };
            match compare::same_point(want, &Point::Float(v)) {
                true => Ok(()),
                false => Err(format!(
                    "expected scalar {} but got {v}",
                    compare::show(want)
                )),
            }
        }
        Outcome::String(s) => match ev.string.as_deref().unwrap_or("") == s {
            true => Ok(()),
            false => Err(format!(
                "expected string {:?} but got {s:?}",
                ev.string.as_deref().unwrap_or("")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{Command, parse};
    use crate::series::histogram_literal;

    fn eval_of(text: &str) -> Eval {
        match parse(text).into_iter().next() {
            Some(Command::Eval(e)) => *e,
            _ => panic!("no eval in {text:?}"),
        }
    }

    fn h(s: &str) -> Point {
        Point::Histogram(histogram_literal(s).unwrap().0)
    }

    #[test]
    fn histogram_vectors_compare_compacted_within_tolerance() {
        let ev = eval_of(
            "eval instant at 1m x\n  x{a=\"b\"} {{schema:0 count:4 sum:5 buckets:[1 2 1]}}\n",
        );
        let key = r#"{__name__="x", a="b"}"#.to_string();
        let got = |p: Point| Outcome::Vector(vec![(key.clone(), p)]);
        // Empty buckets and a tiny relative difference do not matter.
        let same = h("{{schema:0 count:4.000000001 sum:5 buckets:[1 2 1 0 0]}}");
        assert_eq!(compare_result(&ev, got(same), 60_000, 0, 60_000), Ok(()));
        for other in [
            h("{{schema:1 count:4 sum:5 buckets:[1 2 1]}}"),
            h("{{schema:0 count:4 sum:5 offset:1 buckets:[1 2 1]}}"),
            h("{{schema:0 count:4 sum:5 z_bucket_w:0.1 buckets:[1 2 1]}}"),
            Point::Float(4.0),
        ] {
            assert!(compare_result(&ev, got(other), 60_000, 0, 60_000).is_err());
        }
        let missing = Outcome::Vector(Vec::new());
        assert!(compare_result(&ev, missing, 60_000, 0, 60_000).is_err());
    }

    #[test]
    fn matrices_compare_floats_and_histograms_in_time_order() {
        let ev = eval_of("eval range from 0 to 2m step 1m x\n  x 1 _ {{count:1}}\n");
        let key = r#"{__name__="x"}"#.to_string();
        let ok = vec![(0, Point::Float(1.0)), (120_000, h("{{count:1}}"))];
        assert_eq!(
            compare_result(
                &ev,
                Outcome::Matrix(vec![(key.clone(), ok)]),
                0,
                60_000,
                120_000
            ),
            Ok(())
        );
        let extra = vec![
            (0, Point::Float(1.0)),
            (60_000, Point::Float(1.0)),
            (120_000, h("{{count:1}}")),
        ];
        assert!(
            compare_result(&ev, Outcome::Matrix(vec![(key, extra)]), 0, 60_000, 120_000).is_err()
        );
    }

    #[test]
    fn annotation_positions_are_ignored() {
        assert_eq!(bare("PromQL warning: x (1:5)"), "PromQL warning: x");
        assert_eq!(bare("PromQL info: y (see z)"), "PromQL info: y (see z)");
    }
}
