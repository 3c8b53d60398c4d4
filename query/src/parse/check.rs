//! Type checking of a parsed expression, as Prometheus's `checkAST`: the same checks in
//! the same order, each error at the position Prometheus gives it.

use super::functions::Type;
use super::lex::Aggr;
use super::literals::compile_regex;
use super::syntax::{Node, NodeKind, ParseError};

/// The type of `node`.
pub(crate) fn type_of(node: &Node) -> Type {
    match &node.kind {
        NodeKind::Number(_) => Type::Scalar,
        NodeKind::Str => Type::String,
        NodeKind::Vector(_) | NodeKind::Aggregate { .. } => Type::Vector,
        NodeKind::Matrix { .. } | NodeKind::Subquery { .. } => Type::Matrix,
        NodeKind::Call { sig, .. } => sig.returns,
        NodeKind::Binary { lhs, rhs, .. } => {
            if type_of(lhs) == Type::Scalar && type_of(rhs) == Type::Scalar {
                Type::Scalar
            } else {
                Type::Vector
            }
        }
        NodeKind::Unary { expr } | NodeKind::Paren(expr) => type_of(expr),
    }
}

/// The type of `node`, or its first error as Prometheus reports it.
pub(crate) fn check(node: &Node) -> Result<Type, ParseError> {
    let typ = type_of(node);
    match &node.kind {
        NodeKind::Aggregate { op, param, expr } => {
            expect(expr, Type::Vector, "aggregation expression")?;
            match op {
                Aggr::Topk | Aggr::Bottomk | Aggr::Quantile | Aggr::Limitk | Aggr::LimitRatio => {
                    if let Some(p) = param {
                        expect(p, Type::Scalar, "aggregation parameter")?;
                    }
                }
                Aggr::CountValues => {
                    if let Some(p) = param {
                        expect(p, Type::String, "aggregation parameter")?;
                    }
                }
                _ => {}
            }
        }
        NodeKind::Binary {
            op,
            op_pos,
            return_bool,
            matching,
            lhs,
            rhs,
        } => {
            let lt = check(lhs)?;
            let rt = check(rhs)?;
            if *return_bool && !op.is_comparison() {
                return Err((
                    *op_pos,
                    "bool modifier can only be used on comparison operators".into(),
                ));
            }
            if op.is_comparison() && !return_bool && lt == Type::Scalar && rt == Type::Scalar {
                return Err((
                    *op_pos,
                    "comparisons between scalars must use BOOL modifier".into(),
                ));
            }
            if matching.on
                && let Some(l) = matching
                    .labels
                    .iter()
                    .find(|l| matching.include.contains(l))
            {
                return Err((
                    *op_pos,
                    format!(
                        "label {} must not occur in ON and GROUP clause at once",
                        super::lex::go_quote(l)
                    ),
                ));
            }
            if lt != Type::Scalar && lt != Type::Vector {
                return Err((
                    lhs.pos,
                    "binary expression must contain only scalar and instant vector types".into(),
                ));
            }
            if rt != Type::Scalar && rt != Type::Vector {
                return Err((
                    rhs.pos,
                    "binary expression must contain only scalar and instant vector types".into(),
                ));
            }
            if lt != Type::Vector || rt != Type::Vector {
                if !matching.labels.is_empty() {
                    return Err((
                        node.pos,
                        "vector matching only allowed between instant vectors".into(),
                    ));
                }
            } else if op.is_set() && matching.grouping.is_some() {
                return Err((
                    node.pos,
                    format!(
                        "no grouping allowed for {} operation",
                        super::lex::go_quote(op.text())
                    ),
                ));
            }
            if (lt == Type::Scalar || rt == Type::Scalar) && op.is_set() {
                return Err((
                    node.pos,
                    format!(
                        "set operator {} not allowed in binary scalar expression",
                        super::lex::go_quote(op.text())
                    ),
                ));
            }
        }
        NodeKind::Call { sig, args } => {
            let nargs = sig.args.len();
            let got = args.len();
            let name = super::lex::go_quote(sig.name);
            if sig.variadic == 0 {
                if nargs != got {
                    return Err((
                        node.pos,
                        format!("expected {nargs} argument(s) in call to {name}, got {got}"),
                    ));
                }
            } else {
                let na = nargs - 1;
                if na > got {
                    return Err((
                        node.pos,
                        format!("expected at least {na} argument(s) in call to {name}, got {got}"),
                    ));
                }
                let max = na as i64 + sig.variadic as i64;
                if sig.variadic > 0 && max < got as i64 {
                    return Err((
                        node.pos,
                        format!("expected at most {max} argument(s) in call to {name}, got {got}"),
                    ));
                }
            }
            for (i, arg) in args.iter().enumerate() {
                let i = if i >= nargs {
                    if sig.variadic == 0 {
                        break;
                    }
                    nargs - 1
                } else {
                    i
                };
                let t = check(arg)?;
                if t != sig.args[i] {
                    return Err((
                        arg.pos,
                        format!(
                            "expected type {} in call to function {name}, got {}",
                            sig.args[i].documented(),
                            t.documented()
                        ),
                    ));
                }
            }
        }
        NodeKind::Paren(e) => {
            check(e)?;
        }
        NodeKind::Unary { expr } => {
            let t = check(expr)?;
            if t != Type::Scalar && t != Type::Vector {
                return Err((
                    node.pos,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                        super::lex::go_quote(t.documented())
                    ),
                ));
            }
        }
        NodeKind::Subquery { expr, .. } => {
            let t = check(expr)?;
            if t != Type::Vector {
                return Err((
                    node.pos,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        t.name()
                    ),
                ));
            }
        }
        NodeKind::Matrix { vs } => {
            check(vs)?;
        }
        NodeKind::Vector(sel) => {
            if let Some(name) = &sel.name {
                if let Some((_, _, v)) = sel.matchers.iter().find(|(n, _, _)| n == "__name__") {
                    return Err((
                        node.pos,
                        format!(
                            "metric name must not be set twice: {} or {}",
                            super::lex::go_quote(name),
                            super::lex::go_quote(v)
                        ),
                    ));
                }
            } else if sel.matchers.iter().all(|(_, op, v)| matches_empty(op, v)) {
                return Err((
                    node.pos,
                    "vector selector must contain at least one non-empty matcher".into(),
                ));
            }
        }
        NodeKind::Number(_) | NodeKind::Str => {}
    }
    Ok(typ)
}

fn expect(node: &Node, want: Type, context: &str) -> Result<(), ParseError> {
    let t = check(node)?;
    if t != want {
        return Err((
            node.pos,
            format!(
                "expected type {} in {context}, got {}",
                want.documented(),
                t.documented()
            ),
        ));
    }
    Ok(())
}

/// Whether a matcher accepts the empty value (a selector of only those selects all).
fn matches_empty(op: &str, value: &str) -> bool {
    match op {
        "=" => value.is_empty(),
        "!=" => !value.is_empty(),
        _ => {
            let m = compile_regex(value).is_ok_and(|r| r.is_match(""));
            if op == "=~" { m } else { !m }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_matchers() {
        assert!(matches_empty("=~", ".*"));
        assert!(!matches_empty("=~", ".+"));
        assert!(matches_empty("!=", "a"));
        assert!(!matches_empty("=", "a"));
    }
}
