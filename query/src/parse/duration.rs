//! Durations: Prometheus's duration literals (`1h30m`) and, behind
//! `promql-duration-expr`, arithmetic on them (`x[5m * 2]`, `x offset (1h + step())`).

use super::lex::Op;

/// A duration written in a range, a subquery or an offset, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DurationExpr {
    /// A number (seconds) or duration literal.
    Literal(f64),
    /// `step()`: the query's step (0 for an instant query).
    Step,
    Neg(Box<DurationExpr>),
    Binary(Op, Box<DurationExpr>, Box<DurationExpr>),
    Min(Box<DurationExpr>, Box<DurationExpr>),
    Max(Box<DurationExpr>, Box<DurationExpr>),
}

impl DurationExpr {
    /// The value in seconds, with `step()` the given step.
    pub(crate) fn seconds(&self, step_seconds: f64) -> Result<f64, String> {
        let v = |e: &DurationExpr| e.seconds(step_seconds);
        Ok(match self {
            DurationExpr::Literal(s) => *s,
            DurationExpr::Step => step_seconds,
            DurationExpr::Neg(e) => -v(e)?,
            DurationExpr::Min(a, b) => v(a)?.min(v(b)?),
            DurationExpr::Max(a, b) => v(a)?.max(v(b)?),
            DurationExpr::Binary(op, a, b) => {
                let (a, b) = (v(a)?, v(b)?);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div if b == 0.0 => return Err("division by zero".into()),
                    Op::Div => a / b,
                    Op::Mod if b == 0.0 => return Err("modulo by zero".into()),
                    Op::Mod => a % b,
                    Op::Pow => a.powf(b),
                    _ => return Err(format!("unexpected operator {:?} in duration", op.text())),
                }
            }
        })
    }
}

/// Prometheus's duration syntax (`model.ParseDuration`): units `y w d h m s ms`, each at
/// most once and from the largest down, or `0`. The value in seconds.
pub(crate) fn parse_duration(text: &str) -> Result<f64, String> {
    if text == "0" {
        return Ok(0.0);
    }
    const UNITS: &[(&str, f64)] = &[
        ("y", 365.0 * 86400.0),
        ("w", 7.0 * 86400.0),
        ("d", 86400.0),
        ("h", 3600.0),
        ("m", 60.0),
        ("s", 1.0),
        ("ms", 0.001),
    ];
    let invalid = || {
        format!(
            "not a valid duration string: {}",
            super::lex::go_quote(text)
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let b = text.as_bytes();
    let (mut i, mut last_unit, mut total_ms) = (0, None::<usize>, 0u128);
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(invalid());
        }
        let n: u128 = text[start..i].parse().map_err(|_| invalid())?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[ustart..i];
        let Some(k) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                super::lex::go_quote(unit),
                super::lex::go_quote(text)
            ));
        };
        if last_unit.is_some_and(|l| k <= l) {
            return Err(invalid());
        }
        last_unit = Some(k);
        total_ms += n * (UNITS[k].1 * 1000.0) as u128;
        if total_ms > i64::MAX as u128 / 1_000_000 {
            return Err("duration out of range".into());
        }
    }
    Ok(total_ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_duration_syntax() {
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration("1m30ms"), Ok(60.03));
        assert_eq!(parse_duration("5y"), Ok(5.0 * 365.0 * 86400.0));
        assert_eq!(
            parse_duration("5m1h"),
            Err("not a valid duration string: \"5m1h\"".into())
        );
        assert_eq!(
            parse_duration("5y1hs"),
            Err("unknown unit \"hs\" in duration \"5y1hs\"".into())
        );
    }

    #[test]
    fn arithmetic_with_step() {
        let e = DurationExpr::Binary(
            Op::Add,
            Box::new(DurationExpr::Literal(300.0)),
            Box::new(DurationExpr::Binary(
                Op::Mul,
                Box::new(DurationExpr::Step),
                Box::new(DurationExpr::Literal(2.0)),
            )),
        );
        assert_eq!(e.seconds(15.0), Ok(330.0));
        let m = DurationExpr::Max(
            Box::new(DurationExpr::Literal(60.0)),
            Box::new(DurationExpr::Step),
        );
        assert_eq!(m.seconds(120.0), Ok(120.0));
        assert!(
            DurationExpr::Binary(
                Op::Div,
                Box::new(DurationExpr::Literal(1.0)),
                Box::new(DurationExpr::Literal(0.0))
            )
            .seconds(0.0)
            .is_err()
        );
    }
}
