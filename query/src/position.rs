//! Positions in the expression text, as Prometheus reports them (`line:column`, both
//! counted from 1, the column in bytes): the start of each call's and aggregation's
//! arguments, for the annotations that point at an argument.
//!
//! `promql-parser`'s tree carries no positions, so the text is scanned for the tokens
//! that open calls (`name(`) and aggregations (`op(` or `op by (...) (`), skipping
//! strings, comments, label matchers and ranges; the k-th call of a function in the text
//! is the k-th call of that function in a pre-order walk of the tree (children are in
//! text order).

use promql_parser::parser::Expr;
use rustc_hash::FxHashMap;

use crate::plan::RollupCall;

/// Prometheus's `PositionRange.StartPosInput`: `line:column` of byte offset `pos`.
pub fn line_col(query: &str, pos: usize) -> String {
    if query.is_empty() {
        return "unknown position".to_string();
    }
    if pos > query.len() {
        return "invalid position".to_string();
    }
    let before = &query.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let last_break = before.iter().rposition(|b| *b == b'\n');
    let col = match last_break {
        Some(i) => pos - i,
        None => pos + 1,
    };
    format!("{line}:{col}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Open,
    Close,
    Comma,
    Other,
}

/// The tokens of `q` that matter for finding arguments, with their byte offsets.
fn tokens(q: &str) -> Vec<(usize, Tok<'_>)> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' | b'`' => {
                out.push((i, Tok::Other));
                i = skip_string(b, i);
            }
            b'{' | b'[' => {
                out.push((i, Tok::Other));
                let close = if c == b'{' { b'}' } else { b']' };
                i += 1;
                while i < b.len() && b[i] != close {
                    if matches!(b[i], b'"' | b'\'' | b'`') {
                        i = skip_string(b, i);
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            b'(' => {
                out.push((i, Tok::Open));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::Close));
                i += 1;
            }
            b',' => {
                out.push((i, Tok::Comma));
                i += 1;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                out.push((start, Tok::Ident(&q[start..i])));
            }
            _ => {
                out.push((i, Tok::Other));
                i += 1;
            }
        }
    }
    out
}

/// The offset after the string literal starting at `i`.
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() && b[j] != quote {
        if b[j] == b'\\' && quote != b'`' {
            j += 1;
        }
        j += 1;
    }
    j + 1
}

/// Where one argument starts: at its first token, and inside any parentheses around it
/// (Prometheus points at a range argument without them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArgPos {
    pub start: usize,
    pub inner: usize,
}

/// The argument positions of every call and aggregation of an expression, by node
/// address (see [`Sites::of`]).
#[derive(Debug, Default)]
pub(crate) struct Sites {
    args: FxHashMap<usize, Vec<ArgPos>>,
    /// Where a node's text starts: calls and aggregations (their name), selectors with
    /// a metric name, and binary expressions (their left operand, parentheses and a
    /// leading `-` included).
    starts: FxHashMap<usize, usize>,
}

impl Sites {
    /// The sites of `expr`, parsed (and possibly planned) from `query`. Nodes whose text
    /// cannot be found get none.
    pub(crate) fn of(query: &str, expr: &Expr) -> Sites {
        let toks = tokens(query);
        let mut sites = Sites::default();
        let mut seen: FxHashMap<String, usize> = FxHashMap::default();
        sites.walk(expr, &toks, &mut seen);
        // The whole expression starts at the first token, whatever its left operand.
        if let (Expr::Binary(b), Some(first)) = (expr, toks.first()) {
            sites.starts.insert(b as *const _ as usize, first.0);
        }
        sites
    }

    /// The position of argument `i` of the node at `node`.
    pub(crate) fn arg(&self, node: usize, i: usize) -> Option<ArgPos> {
        self.args.get(&node)?.get(i).copied()
    }

    /// Where the node at `node` starts, when it was found.
    pub(crate) fn start(&self, node: usize) -> Option<usize> {
        self.starts.get(&node).copied()
    }

    /// Where `expr` starts in the text, when that was found.
    fn start_of(&self, expr: &Expr, toks: &[(usize, Tok<'_>)]) -> Option<usize> {
        let before = |pos: usize| {
            let k = toks.iter().position(|t| t.0 == pos)?;
            k.checked_sub(1).map(|k| toks[k])
        };
        match expr {
            Expr::Call(c) => self.start(c as *const _ as usize),
            Expr::Aggregate(a) => self.start(a as *const _ as usize),
            Expr::VectorSelector(vs) => self.start(vs as *const _ as usize),
            Expr::MatrixSelector(ms) => self.start(&ms.vs as *const _ as usize),
            Expr::Binary(b) => self.start(b as *const _ as usize),
            Expr::Subquery(sq) => self.start_of(&sq.expr, toks),
            Expr::Paren(p) => {
                let inner = self.start_of(&p.expr, toks)?;
                match before(inner) {
                    Some((pos, Tok::Open)) => Some(pos),
                    _ => Some(inner),
                }
            }
            Expr::Unary(u) => {
                let inner = self.start_of(&u.expr, toks)?;
                Some(before(inner).map_or(inner, |t| t.0))
            }
            _ => None,
        }
    }

    fn record(
        &mut self,
        node: usize,
        name: &str,
        aggregation: bool,
        toks: &[(usize, Tok<'_>)],
        seen: &mut FxHashMap<String, usize>,
    ) {
        let k = seen.entry(name.to_string()).or_default();
        let nth = *k;
        *k += 1;
        if let Some((start, args)) = nth_call_args(toks, name, aggregation, nth) {
            self.starts.insert(node, start);
            self.args.insert(node, args);
        }
    }

    /// The start of a selector's metric name: its k-th use as a name (not a call).
    fn record_selector(
        &mut self,
        node: usize,
        name: &str,
        toks: &[(usize, Tok<'_>)],
        seen: &mut FxHashMap<String, usize>,
    ) {
        let k = seen.entry(format!("{name}\u{0}selector")).or_default();
        let nth = *k;
        *k += 1;
        let found = toks
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                t.1 == Tok::Ident(name) && toks.get(i + 1).map(|t| t.1) != Some(Tok::Open)
            })
            .nth(nth);
        if let Some((_, t)) = found {
            self.starts.insert(node, t.0);
        }
    }

    fn walk(
        &mut self,
        expr: &Expr,
        toks: &[(usize, Tok<'_>)],
        seen: &mut FxHashMap<String, usize>,
    ) {
        match expr {
            Expr::Call(c) => {
                self.record(c as *const _ as usize, c.func.name, false, toks, seen);
                for a in &c.args.args {
                    self.walk(a, toks, seen);
                }
            }
            Expr::Aggregate(a) => {
                self.record(a as *const _ as usize, &a.op.to_string(), true, toks, seen);
                if let Some(p) = &a.param {
                    self.walk(p, toks, seen);
                }
                self.walk(&a.expr, toks, seen);
            }
            Expr::Extension(ext) => {
                if let Some(c) = ext.expr.as_any().downcast_ref::<RollupCall>() {
                    self.record(c as *const _ as usize, c.func, false, toks, seen);
                }
            }
            Expr::Paren(p) => self.walk(&p.expr, toks, seen),
            Expr::Unary(u) => self.walk(&u.expr, toks, seen),
            Expr::Binary(b) => {
                self.walk(&b.lhs, toks, seen);
                if let Some(start) = self.start_of(&b.lhs, toks) {
                    self.starts.insert(b as *const _ as usize, start);
                }
                self.walk(&b.rhs, toks, seen);
            }
            Expr::Subquery(s) => self.walk(&s.expr, toks, seen),
            Expr::VectorSelector(vs) => {
                if let Some(name) = &vs.name {
                    self.record_selector(vs as *const _ as usize, name, toks, seen);
                }
            }
            Expr::MatrixSelector(ms) => {
                if let Some(name) = &ms.vs.name {
                    self.record_selector(&ms.vs as *const _ as usize, name, toks, seen);
                }
            }
            _ => {}
        }
    }
}

/// Where the `nth` call of `name` starts in the text, and its argument positions.
fn nth_call_args(
    toks: &[(usize, Tok<'_>)],
    name: &str,
    aggregation: bool,
    nth: usize,
) -> Option<(usize, Vec<ArgPos>)> {
    let mut found = 0;
    for i in 0..toks.len() {
        let Tok::Ident(id) = toks[i].1 else { continue };
        if !id.eq_ignore_ascii_case(name) || (!aggregation && id != name) {
            continue;
        }
        let mut j = i + 1;
        if aggregation
            && let Some((_, Tok::Ident(m))) = toks.get(j)
            && (m.eq_ignore_ascii_case("by") || m.eq_ignore_ascii_case("without"))
        {
            j = skip_group(toks, j + 1)?;
        }
        if toks.get(j).map(|t| t.1) != Some(Tok::Open) {
            continue;
        }
        if found < nth {
            found += 1;
            continue;
        }
        return Some((toks[i].0, args_after(toks, j)));
    }
    None
}

/// The index after the parenthesised group opening at `i`.
fn skip_group(toks: &[(usize, Tok<'_>)], i: usize) -> Option<usize> {
    if toks.get(i)?.1 != Tok::Open {
        return None;
    }
    let mut depth = 0;
    for (k, t) in toks.iter().enumerate().skip(i) {
        match t.1 {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(k + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The arguments of the call whose `(` is token `open`.
fn args_after(toks: &[(usize, Tok<'_>)], open: usize) -> Vec<ArgPos> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut at_start = true;
    for k in open + 1..toks.len() {
        let (pos, t) = toks[k];
        if at_start && !(t == Tok::Close && depth == 0) {
            let mut inner = k;
            while toks.get(inner).map(|t| t.1) == Some(Tok::Open) {
                inner += 1;
            }
            out.push(ArgPos {
                start: pos,
                inner: toks.get(inner).map_or(pos, |t| t.0),
            });
            at_start = false;
        }
        match t {
            Tok::Open => depth += 1,
            Tok::Close if depth == 0 => break,
            Tok::Close => depth -= 1,
            Tok::Comma if depth == 0 => at_start = true,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_as_prometheus() {
        assert_eq!(line_col("rate(x[5m])", 5), "1:6");
        assert_eq!(line_col("sum(\n  rate(x[5m]))", 7), "2:3");
        assert_eq!(line_col("sum(\n  rate(x[5m]))", 11), "2:7");
        assert_eq!(line_col("x", 1), "1:2");
        assert_eq!(line_col("", 0), "unknown position");
        assert_eq!(line_col("x", 5), "invalid position");
    }

    fn sites(q: &str) -> (Expr, Vec<Vec<usize>>) {
        let e = promql_parser::parser::parse(q).unwrap();
        let s = Sites::of(q, &e);
        let mut all: Vec<Vec<usize>> = s
            .args
            .values()
            .map(|v| v.iter().map(|a| a.start).collect())
            .collect();
        all.sort();
        (e, all)
    }

    #[test]
    fn arguments_of_calls_and_aggregations() {
        let q = r#"sum by (job) (rate(x{a="rate("}[5m])) + quantile(0.9, rate((y[1m])))"#;
        let (e, all) = sites(q);
        let Expr::Binary(b) = &e else { panic!() };
        let Expr::Aggregate(sum) = b.lhs.as_ref() else {
            panic!()
        };
        let s = Sites::of(q, &e);
        let at = |node: usize, i: usize| s.arg(node, i).map(|a| &q[a.start..a.start + 4]);
        assert_eq!(at(sum as *const _ as usize, 0), Some("rate"));
        let Expr::Aggregate(quant) = b.rhs.as_ref() else {
            panic!()
        };
        assert_eq!(at(quant as *const _ as usize, 0), Some("0.9,"));
        assert_eq!(at(quant as *const _ as usize, 1), Some("rate"));
        let Expr::Call(rate2) = quant.expr.as_ref() else {
            panic!()
        };
        let arg = s.arg(rate2 as *const _ as usize, 0).unwrap();
        assert_eq!(
            (&q[arg.start..arg.start + 2], &q[arg.inner..arg.inner + 1]),
            ("(y", "y")
        );
        assert_eq!(all.len(), 4);
    }
}
