//! Durations: Prometheus's duration literals (`1h30m`, read by `telltale_model`) and, behind
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

/// Prometheus's duration syntax ([`telltale_model::parse_duration`]), in seconds, with
/// Prometheus's error texts.
pub(crate) fn parse_duration(text: &str) -> Result<f64, String> {
    telltale_model::parse_duration(text)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .map_err(|e| e.to_string())
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
