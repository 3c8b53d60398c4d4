//! promtool's input series: a series selector (`up{job="node"}`) and values in the
//! expanding notation — `1 2 3`, `a+bxn` (n+1 values: a, a+b, ..., a+nb), `a-bxn`,
//! `axn` (n+1 times a), `_` (no sample), `_xn` (n missing samples), `stale`.

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use telltale_model::STALE_NAN;

use crate::labels::LabelSet;

/// One value of a series: a sample, or none at that step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeriesValue {
    Sample(f64),
    Omitted,
}

/// The labels of a series selector with only equality matchers (its metric name as
/// `__name__`).
pub fn parse_series(text: &str) -> Result<LabelSet, String> {
    let expr = parser::parse(text).map_err(|e| format!("bad series {text:?}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("bad series {text:?}: not a series selector"));
    };
    let mut labels = LabelSet::new();
    if let Some(name) = &vs.name {
        labels.insert("__name__".to_string(), name.clone());
    }
    for m in &vs.matchers.matchers {
        if m.op != MatchOp::Equal {
            return Err(format!(
                "bad series {text:?}: only = matchers describe a series"
            ));
        }
        labels.insert(m.name.clone(), m.value.clone());
    }
    Ok(labels)
}

fn number(word: &str) -> Result<f64, String> {
    match word {
        "Inf" | "+Inf" | "inf" | "+inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        "stale" => Ok(STALE_NAN),
        w => w.parse::<f64>().map_err(|_| format!("bad value {w:?}")),
    }
}

/// Splits `a+b`, `a-b` (not a sign or an exponent's sign) into (a, ±b).
fn split_step(s: &str) -> Option<(&str, &str, bool)> {
    let b = s.as_bytes();
    for i in (1..b.len()).rev() {
        if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
            return Some((&s[..i], &s[i + 1..], b[i] == b'-'));
        }
    }
    None
}

/// The values of the expanding notation.
pub fn parse_values(text: &str) -> Result<Vec<SeriesValue>, String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        if word == "_" {
            out.push(SeriesValue::Omitted);
            continue;
        }
        let Some((head, times)) = word.rsplit_once('x') else {
            out.push(SeriesValue::Sample(number(word)?));
            continue;
        };
        let n: u64 = times.parse().map_err(|_| format!("bad value {word:?}"))?;
        if n > 1_000_000 {
            return Err(format!("too many values in {word:?}"));
        }
        if head == "_" {
            out.extend(std::iter::repeat_n(SeriesValue::Omitted, n as usize));
            continue;
        }
        let (start, step) = match split_step(head) {
            Some((a, b, negative)) => {
                let b = number(b)?;
                (number(a)?, if negative { -b } else { b })
            }
            None => (number(head)?, 0.0),
        };
        let mut v = start;
        out.push(SeriesValue::Sample(v));
        for _ in 0..n {
            v += step;
            out.push(SeriesValue::Sample(v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeriesValue::{Omitted, Sample};

    #[test]
    fn expanding_notation() {
        assert_eq!(
            parse_values("1+2x3").unwrap(),
            vec![Sample(1.0), Sample(3.0), Sample(5.0), Sample(7.0)]
        );
        assert_eq!(
            parse_values("10-1x2 _ _x2 4").unwrap(),
            vec![
                Sample(10.0),
                Sample(9.0),
                Sample(8.0),
                Omitted,
                Omitted,
                Omitted,
                Sample(4.0)
            ]
        );
        assert_eq!(parse_values("0x2").unwrap(), vec![Sample(0.0); 3]);
        assert_eq!(
            parse_values("-2+1x1").unwrap(),
            vec![Sample(-2.0), Sample(-1.0)]
        );
        assert_eq!(
            parse_values("1e3 1e-1+1e-1x1").unwrap(),
            vec![Sample(1000.0), Sample(0.1), Sample(0.2)]
        );
        let stale = parse_values("stale").unwrap();
        assert!(matches!(stale[0], Sample(v) if telltale_model::is_stale_nan(v)));
        assert!(parse_values("1+x3").is_err());
    }

    #[test]
    fn series_selectors() {
        let l = parse_series(r#"up{job="node", instance="a:9100"}"#).unwrap();
        assert_eq!(l["__name__"], "up");
        assert_eq!(l["job"], "node");
        assert!(parse_series(r#"up{job=~"x"}"#).is_err());
    }
}
