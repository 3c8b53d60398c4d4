//! Series descriptions of Prometheus's `promqltest` (its `parser.ParseSeriesDesc`):
//! `metric{a="b"} 1 2+3x4 _ _x2 stale {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2`,
//! and histogram literals with their expansions `{{..}}+{{..}}xN` / `{{..}}-{{..}}xN`.

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::{ResetHint, Span};

/// A label set, sorted by name.
pub type Labels = Vec<(String, String)>;

/// One position of a series description.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    /// `_`: no sample at this position.
    Omitted,
    Float(f64),
    Histogram(FloatHistogram),
}

/// Splits `metric{a="b"} 1 2+3x4` into its label set and its values.
pub fn parse_series(line: &str) -> Result<(Labels, Vec<Point>), String> {
    let split = selector_end(line).ok_or_else(|| format!("bad series {line:?}"))?;
    let (selector, values) = line.split_at(split);
    Ok((parse_labels(selector.trim())?, parse_values(values)?))
}

/// Where the metric part of a series line ends: after its closing `}`, or at the first
/// blank when it has no braces.
fn selector_end(line: &str) -> Option<usize> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            '}' => return Some(i + 1),
            c if c.is_whitespace() && !line[..i].contains('{') => return Some(i),
            _ => {}
        }
    }
    (!line.contains('{')).then_some(line.len())
}

/// `metric{a="b"}`, `{__name__="m"}`, `{}` -> sorted labels.
pub fn parse_labels(selector: &str) -> Result<Labels, String> {
    if selector == "{}" {
        return Ok(Vec::new());
    }
    let mut labels = match parser::parse(selector) {
        Ok(Expr::VectorSelector(vs)) => {
            let mut l: Labels = Vec::new();
            for m in &vs.matchers.matchers {
                if m.op != MatchOp::Equal {
                    return Err(format!(
                        "series {selector:?}: only `=` matchers describe a series"
                    ));
                }
                l.push((m.name.clone(), m.value.clone()));
            }
            if let Some(name) = vs.name {
                l.push(("__name__".to_string(), name));
            }
            l
        }
        Ok(other) => return Err(format!("bad series {selector:?}: {other:?}")),
        Err(e) => return Err(format!("bad series {selector:?}: {e}")),
    };
    labels.retain(|(_, v)| !v.is_empty());
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    Ok(labels)
}

/// The values of a series description, expanded.
pub fn parse_values(s: &str) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            rest = histogram_item(rest, &mut out)?;
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            float_item(&rest[..end], &mut out)?;
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

/// `_`, `_xN`, `stale`, `a`, `axN`, `a+bxN`, `a-bxN`.
fn float_item(tok: &str, out: &mut Vec<Point>) -> Result<(), String> {
    let bad = || format!("bad value {tok:?}");
    match tok {
        "_" => out.push(Point::Omitted),
        "stale" => out.push(Point::Float(telltale_model::STALE_NAN)),
        _ => {
            if let Some(n) = tok.strip_prefix("_x") {
                let n: usize = n.parse().map_err(|_| bad())?;
                out.extend(std::iter::repeat_n(Point::Omitted, n));
                return Ok(());
            }
            let Some((start_inc, times)) = tok
                .rsplit_once('x')
                .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            else {
                out.push(Point::Float(parse_number(tok).ok_or_else(bad)?));
                return Ok(());
            };
            let times: usize = times.parse().map_err(|_| bad())?;
            let (start, inc) = match sign_split(start_inc) {
                Some(at) => (
                    parse_number(&start_inc[..at]).ok_or_else(bad)?,
                    parse_number(&start_inc[at..]).ok_or_else(bad)?,
                ),
                None => (parse_number(start_inc).ok_or_else(bad)?, 0.0),
            };
            // As Prometheus: n+1 values, each the previous plus the increment.
            let mut v = start;
            for _ in 0..=times {
                out.push(Point::Float(v));
                v += inc;
            }
        }
    }
    Ok(())
}

/// Where `a+b` / `a-b` splits (the sign of `b`), skipping a leading sign and exponents.
fn sign_split(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (1..b.len()).find(|&i| {
        (b[i] == b'+' || b[i] == b'-')
            && !(matches!(b[i - 1], b'e' | b'E') && i >= 2 && b[i - 2].is_ascii_digit())
    })
}

/// A number as promqltest writes it: decimal, `Inf`, `NaN`, signed.
pub fn parse_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match body.to_ascii_lowercase().as_str() {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        b if b.starts_with("0x") => i64::from_str_radix(&b[2..], 16).ok()? as f64,
        _ => body
            .parse::<f64>()
            .ok()
            .filter(|_| body.starts_with(|c: char| c.is_ascii_digit() || c == '.'))?,
    };
    Some(if neg { -v } else { v })
}

/// `{{..}}`, `{{..}}xN`, `{{..}}+{{..}}xN`, `{{..}}-{{..}}xN`; returns the rest.
fn histogram_item<'a>(s: &'a str, out: &mut Vec<Point>) -> Result<&'a str, String> {
    let (base, rest) = histogram_literal(s)?;
    let times = |rest: &'a str| -> Result<(usize, &'a str), String> {
        let digits = rest
            .strip_prefix('x')
            .ok_or_else(|| format!("expected xN after {s:?}"))?;
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let n = digits[..end]
            .parse()
            .map_err(|_| format!("bad repetition in {s:?}"))?;
        Ok((n, &digits[end..]))
    };
    let op = rest.chars().next();
    match op {
        Some('x') => {
            let (n, rest) = times(rest)?;
            out.extend(std::iter::repeat_n(Point::Histogram(base), n + 1));
            Ok(rest)
        }
        Some(sign @ ('+' | '-')) if rest[1..].starts_with("{{") => {
            let (inc, rest) = histogram_literal(&rest[1..])?;
            let (n, rest) = times(rest)?;
            out.push(Point::Histogram(base.clone()));
            let mut cur = base;
            for _ in 0..n {
                if cur.schema > inc.schema {
                    return Err(format!(
                        "error combining histograms: cannot merge from schema {} to {}",
                        inc.schema, cur.schema
                    ));
                }
                let r = if sign == '+' {
                    cur.add(&inc)
                } else {
                    cur.sub(&inc)
                };
                r.map_err(|e| format!("error combining histograms: {e}"))?;
                out.push(Point::Histogram(cur.clone()));
            }
            Ok(rest)
        }
        _ => {
            out.push(Point::Histogram(base));
            Ok(rest)
        }
    }
}

/// One `{{key:value ...}}` literal (Prometheus's `buildHistogramFromMap`); returns it and
/// the text after its `}}`.
pub fn histogram_literal(s: &str) -> Result<(FloatHistogram, &str), String> {
    let body_start = s
        .strip_prefix("{{")
        .ok_or_else(|| format!("expected {{{{ in {s:?}"))?;
    let end = body_start
        .find("}}")
        .ok_or_else(|| format!("unterminated histogram {s:?}"))?;
    let (body, rest) = (&body_start[..end], &body_start[end + 2..]);
    let mut h = FloatHistogram::default();
    let mut seen: Vec<&str> = Vec::new();
    let (mut buckets, mut offset, mut n_buckets, mut n_offset) =
        (Vec::new(), 0i32, Vec::new(), 0i32);
    let mut b = body.trim_start();
    while !b.is_empty() {
        let colon = b
            .find(':')
            .ok_or_else(|| format!("bad histogram item in {body:?}"))?;
        let key = b[..colon].trim();
        if seen.contains(&key) {
            return Err(format!("duplicate key \"{key}\" in histogram"));
        }
        seen.push(key);
        let after = b[colon + 1..].trim_start();
        let (value, next) = if let Some(list) = after.strip_prefix('[') {
            let close = list
                .find(']')
                .ok_or_else(|| format!("unterminated list in {body:?}"))?;
            (&list[..close], &list[close + 1..])
        } else {
            let e = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..e], &after[e..])
        };
        let num = || parse_number(value).ok_or_else(|| format!("bad {key} {value:?}"));
        let int = || {
            value
                .parse::<i32>()
                .map_err(|_| format!("bad {key} {value:?}"))
        };
        let list = || -> Result<Vec<f64>, String> {
            value
                .split_whitespace()
                .map(|v| parse_number(v).ok_or_else(|| format!("bad {key} value {v:?}")))
                .collect()
        };
        match key {
            "schema" => h.schema = int()?,
            "sum" => h.sum = num()?,
            "count" => h.count = num()?,
            "z_bucket" => h.zero_count = num()?,
            "z_bucket_w" => h.zero_threshold = num()?,
            "custom_values" => h.custom_values = list()?,
            "buckets" => buckets = list()?,
            "offset" => offset = int()?,
            "n_buckets" => n_buckets = list()?,
            "n_offset" => n_offset = int()?,
            "counter_reset_hint" => {
                h.reset_hint = match value {
                    "unknown" => ResetHint::Unknown,
                    "reset" => ResetHint::CounterReset,
                    "not_reset" => ResetHint::NotCounterReset,
                    "gauge" => ResetHint::Gauge,
                    _ => return Err(format!("bad counter_reset_hint {value:?}")),
                }
            }
            _ => return Err(format!("unknown histogram key {key:?}")),
        }
        b = next.trim_start();
    }
    let span = |offset: i32, n: usize| match n {
        0 => Vec::new(),
        n => vec![Span {
            offset,
            length: n as u32,
        }],
    };
    h.positive_spans = span(offset, buckets.len());
    h.positive_buckets = buckets;
    h.negative_spans = span(n_offset, n_buckets.len());
    h.negative_buckets = n_buckets;
    Ok((h, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(p: &Point) -> &FloatHistogram {
        match p {
            Point::Histogram(h) => h,
            other => panic!("not a histogram: {other:?}"),
        }
    }

    #[test]
    fn every_histogram_key_is_read() {
        let (h, rest) = histogram_literal(
            "{{schema:1 sum:-5.5 count:4 z_bucket:1 z_bucket_w:0.001 offset:-2 buckets:[1 2 1 ] \
             n_offset:3 n_buckets:[1] counter_reset_hint:gauge}} 7",
        )
        .unwrap();
        assert_eq!(rest, " 7");
        assert_eq!((h.schema, h.sum, h.count), (1, -5.5, 4.0));
        assert_eq!((h.zero_count, h.zero_threshold), (1.0, 0.001));
        assert_eq!(
            h.positive_spans,
            vec![Span {
                offset: -2,
                length: 3
            }]
        );
        assert_eq!(h.positive_buckets, vec![1.0, 2.0, 1.0]);
        assert_eq!(
            h.negative_spans,
            vec![Span {
                offset: 3,
                length: 1
            }]
        );
        assert_eq!(h.negative_buckets, vec![1.0]);
        assert_eq!(h.reset_hint, ResetHint::Gauge);
        let (nhcb, _) =
            histogram_literal("{{schema:-53 sum:1 count:1 custom_values:[5 10] buckets:[1] counter_reset_hint:not_reset}}")
                .unwrap();
        assert!(nhcb.uses_custom_buckets());
        assert_eq!(nhcb.custom_values, vec![5.0, 10.0]);
        assert_eq!(nhcb.reset_hint, ResetHint::NotCounterReset);
        let (empty, _) = histogram_literal("{{}}").unwrap();
        assert_eq!(empty, FloatHistogram::default());
        let (inf, _) = histogram_literal("{{count:Inf sum:NaN z_bucket:-Inf}}").unwrap();
        assert!(inf.count.is_infinite() && inf.sum.is_nan() && inf.zero_count == f64::NEG_INFINITY);
    }

    #[test]
    fn bad_histograms_are_errors() {
        for bad in [
            "{{schema:0 schema:1}}",
            "{{nope:1}}",
            "{{sum:x}}",
            "{{buckets:[1 2}}",
            "{{counter_reset_hint:maybe}}",
            "{{schema:0",
        ] {
            assert!(parse_values(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn histogram_series_expand() {
        let v = parse_values(
            "{{schema:0 sum:4 count:4 buckets:[1 2 1]}}+{{sum:2 count:1 buckets:[1] offset:1}}x2",
        )
        .unwrap();
        assert_eq!(v.len(), 3);
        let last = hist(&v[2]);
        assert_eq!((last.count, last.sum), (6.0, 8.0));
        let counts: Vec<(i32, f64)> = last.positive().collect();
        assert_eq!(counts, vec![(0, 1.0), (1, 4.0), (2, 1.0)]);
        let v =
            parse_values("{{count:5 sum:5 buckets:[5]}}-{{count:1 sum:1 buckets:[1]}}x2").unwrap();
        assert_eq!(hist(&v[2]).count, 3.0);
        let v = parse_values("{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}+{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}x1").unwrap();
        assert_eq!(hist(&v[1]).schema, -1);
        // A finer base than increment cannot be merged, as in Prometheus.
        assert!(parse_values("{{schema:1 count:1}}+{{schema:0 count:1}}x1").is_err());
        let v = parse_values("{{count:1}}x2 _ stale 1").unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0], v[2]);
        assert_eq!(v[3], Point::Omitted);
        assert!(matches!(v[4], Point::Float(s) if telltale_model::is_stale_nan(s)));
    }

    #[test]
    fn float_series_expand() {
        let f = |s: &str| -> Vec<Option<f64>> {
            parse_values(s)
                .unwrap()
                .into_iter()
                .map(|p| match p {
                    Point::Float(v) => Some(v),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            f("0+10x3"),
            vec![Some(0.0), Some(10.0), Some(20.0), Some(30.0)]
        );
        assert_eq!(f("-1-1x2"), vec![Some(-1.0), Some(-2.0), Some(-3.0)]);
        assert_eq!(f("1e-3+1e-3x1"), vec![Some(0.001), Some(0.002)]);
        assert_eq!(
            f("5x2 _x2 -Inf"),
            vec![
                Some(5.0),
                Some(5.0),
                Some(5.0),
                None,
                None,
                Some(f64::NEG_INFINITY)
            ]
        );
        assert!(parse_values("1+x3").is_err());
    }

    #[test]
    fn series_lines() {
        let (l, v) = parse_series(r#"metric{a="b}", c="d"} 1 {{count:1}}"#).unwrap();
        assert_eq!(
            l,
            vec![
                ("__name__".to_string(), "metric".to_string()),
                ("a".to_string(), "b}".to_string()),
                ("c".to_string(), "d".to_string())
            ]
        );
        assert_eq!(v.len(), 2);
        let (l, v) = parse_series("{} {{schema:0 count:1}}x1").unwrap();
        assert!(l.is_empty());
        assert_eq!(v.len(), 2);
        let (l, _) = parse_series("plain 1").unwrap();
        assert_eq!(l, vec![("__name__".to_string(), "plain".to_string())]);
    }
}
