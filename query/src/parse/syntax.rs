//! The PromQL grammar, as Prometheus's yacc parser reads it: the same precedence, the
//! same errors at the same tokens (`unexpected <token> in <context>, expected ...`), and
//! the errors its grammar actions raise while building the tree (unknown functions,
//! ranges on non-selectors, repeated modifiers, aggregation arguments).
//!
//! The tree ([`Node`]) keeps what checking and position reporting need: each node's
//! start offset and type-relevant structure. The engine's own tree is built by
//! `promql-parser` from the same text once this parser accepts it.

use super::duration::DurationExpr;
use super::functions::{Signature, signature};
use super::lex::{Aggr, Item, Keyword, Kind, Op};
use super::literals::{compile_regex, duration_literal, go_float, number, unquote};
use crate::features::Features;

/// A parse error: byte offset and message.
pub(crate) type ParseError = (usize, String);

/// Prometheus's "expected" list for a duration (3.5 wording).
const EXPECTED_DURATION: &str = "number, duration, or step()";

/// An expression with its start offset.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: usize,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Number(f64),
    Str,
    Vector(Selector),
    /// A range selector; `bracket` is the offset of its `[`.
    Matrix {
        vs: Box<Node>,
    },
    Subquery {
        expr: Box<Node>,
        offset: bool,
        at: bool,
    },
    Call {
        sig: &'static Signature,
        args: Vec<Node>,
    },
    Aggregate {
        op: Aggr,
        param: Option<Box<Node>>,
        expr: Box<Node>,
    },
    Binary {
        op: Op,
        op_pos: usize,
        return_bool: bool,
        matching: Matching,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Unary {
        expr: Box<Node>,
    },
    Paren(Box<Node>),
}

/// A vector selector.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    /// The metric name written before the braces.
    pub name: Option<String>,
    /// Label matchers: name, operator (`=`, `!=`, `=~`, `!~`), value.
    pub matchers: Vec<(String, &'static str, String)>,
    pub offset: bool,
    pub at: bool,
}

/// Vector matching of a binary operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Matching {
    pub on: bool,
    pub labels: Vec<String>,
    /// `group_left` / `group_right`.
    pub grouping: Option<bool>,
    pub include: Vec<String>,
}

/// Where a duration was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationUse {
    Range,
    SubqueryStep,
    Offset,
}

/// A duration expression and where its text is, for evaluation and rewriting.
#[derive(Debug, Clone)]
pub(crate) struct DurationSite {
    pub start: usize,
    pub end: usize,
    pub expr: DurationExpr,
    pub used: DurationUse,
    /// More than one literal token (arithmetic, parentheses, `step()`, signs).
    pub computed: bool,
}

/// A parsed expression and its duration sites.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub root: Node,
    pub durations: Vec<DurationSite>,
}

/// Parses the tokens of an expression (from [`super::lex::lex`]).
pub(crate) fn parse(items: Vec<Item>, features: &Features) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        items,
        i: 0,
        duration_start: 0,
        features,
        durations: Vec::new(),
    };
    if p.peek().kind == Kind::Eof {
        return Err((0, "no expression found in input".into()));
    }
    let root = p.expr(0)?;
    if p.peek().kind != Kind::Eof {
        return Err(p.unexpected("", ""));
    }
    Ok(Parsed {
        root,
        durations: p.durations,
    })
}

struct Parser<'a> {
    items: Vec<Item>,
    /// Where the duration expression last parsed starts.
    duration_start: usize,
    i: usize,
    features: &'a Features,
    durations: Vec<DurationSite>,
}

/// Binary operator precedence (higher binds tighter) and right associativity.
fn precedence(kind: Kind) -> Option<(u8, bool)> {
    let Kind::Op(op) = kind else { return None };
    Some(match op {
        Op::Lor => (1, false),
        Op::Land | Op::Lunless => (2, false),
        Op::Eqlc | Op::Neq | Op::Lte | Op::Lss | Op::Gte | Op::Gtr => (3, false),
        Op::Add | Op::Sub => (4, false),
        Op::Mul | Op::Div | Op::Mod | Op::Atan2 => (5, false),
        Op::Pow => (6, true),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Item {
        &self.items[self.i.min(self.items.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Item {
        &self.items[(self.i + n).min(self.items.len() - 1)]
    }

    fn bump(&mut self) -> Item {
        let item = self.peek().clone();
        if self.i < self.items.len() - 1 {
            self.i += 1;
        }
        item
    }

    /// Prometheus's `unexpected`: the current token, in context, with what was expected
    /// (a lexer error is reported as itself).
    fn unexpected(&self, context: &str, expected: &str) -> ParseError {
        let item = self.peek();
        if item.kind == Kind::Error {
            return (item.pos, item.val.clone());
        }
        let mut msg = format!("unexpected {}", item.desc());
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        (item.pos, msg)
    }

    fn expr(&mut self, min_prec: u8) -> Result<Node, ParseError> {
        let mut lhs = self.unary()?;
        while let Some((prec, right)) = precedence(self.peek().kind) {
            if prec < min_prec {
                break;
            }
            let op_item = self.bump();
            let Kind::Op(op) = op_item.kind else {
                unreachable!("precedence() takes operators only")
            };
            let (return_bool, matching) = self.bin_modifiers()?;
            let rhs = self.expr(if right { prec } else { prec + 1 })?;
            lhs = Node {
                pos: lhs.pos,
                kind: NodeKind::Binary {
                    op,
                    op_pos: op_item.pos,
                    return_bool,
                    matching,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if let Kind::Op(op @ (Op::Add | Op::Sub)) = self.peek().kind {
            let pos = self.bump().pos;
            // `unary_op expr %prec MUL`: only `^` binds tighter.
            let inner = self.expr(6)?;
            return Ok(match inner.kind {
                NodeKind::Number(v) => Node {
                    pos,
                    kind: NodeKind::Number(if op == Op::Sub { -v } else { v }),
                },
                _ => Node {
                    pos,
                    kind: NodeKind::Unary {
                        expr: Box::new(inner),
                    },
                },
            });
        }
        let primary = self.primary()?;
        self.postfix(primary)
    }

    fn bin_modifiers(&mut self) -> Result<(bool, Matching), ParseError> {
        let mut matching = Matching::default();
        let return_bool = self.peek().kind == Kind::Keyword(Keyword::Bool);
        if return_bool {
            self.bump();
        }
        if let Kind::Keyword(k @ (Keyword::On | Keyword::Ignoring)) = self.peek().kind {
            self.bump();
            matching.on = k == Keyword::On;
            matching.labels = self.grouping_labels()?;
            if let Kind::Keyword(g @ (Keyword::GroupLeft | Keyword::GroupRight)) = self.peek().kind
            {
                self.bump();
                matching.grouping = Some(g == Keyword::GroupLeft);
                if self.peek().kind == Kind::LeftParen {
                    matching.include = self.grouping_labels()?;
                }
            }
        }
        Ok((return_bool, matching))
    }

    /// `( label, ... )` after `by`, `without`, `on`, `ignoring`, `group_*`.
    fn grouping_labels(&mut self) -> Result<Vec<String>, ParseError> {
        if self.peek().kind != Kind::LeftParen {
            return Err(self.unexpected("grouping opts", "\"(\""));
        }
        self.bump();
        let mut labels = Vec::new();
        if self.peek().kind == Kind::RightParen {
            self.bump();
            return Ok(labels);
        }
        loop {
            let item = self.peek().clone();
            let label = match item.kind {
                Kind::String => unquote(&item.val),
                Kind::Identifier
                | Kind::MetricIdentifier
                | Kind::Aggr(_)
                | Kind::Keyword(_)
                | Kind::Op(Op::Land | Op::Lor | Op::Lunless | Op::Atan2)
                    if telltale_model::is_valid_label_name(&item.val) =>
                {
                    item.val.clone()
                }
                _ => return Err(self.unexpected("grouping opts", "label")),
            };
            self.bump();
            labels.push(label);
            match self.peek().kind {
                Kind::RightParen => {
                    self.bump();
                    return Ok(labels);
                }
                Kind::Comma => {
                    self.bump();
                    if self.peek().kind == Kind::RightParen {
                        self.bump();
                        return Ok(labels);
                    }
                }
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let item = self.peek().clone();
        match item.kind {
            Kind::Number | Kind::Duration => {
                self.bump();
                Ok(Node {
                    pos: item.pos,
                    kind: NodeKind::Number(number(&item)?),
                })
            }
            Kind::String => {
                self.bump();
                Ok(Node {
                    pos: item.pos,
                    kind: NodeKind::Str,
                })
            }
            Kind::LeftParen => {
                self.bump();
                let inner = self.expr(0)?;
                if self.peek().kind != Kind::RightParen {
                    return Err(self.unexpected("", ""));
                }
                self.bump();
                Ok(Node {
                    pos: item.pos,
                    kind: NodeKind::Paren(Box::new(inner)),
                })
            }
            Kind::LeftBrace => self.selector(None, item.pos),
            Kind::Identifier if self.peek_at(1).kind == Kind::LeftParen => self.call(),
            Kind::Aggr(op)
                if matches!(
                    self.peek_at(1).kind,
                    Kind::LeftParen | Kind::Keyword(Keyword::By | Keyword::Without)
                ) =>
            {
                self.aggregation(op)
            }
            Kind::Identifier
            | Kind::MetricIdentifier
            | Kind::Aggr(_)
            | Kind::Op(Op::Land | Op::Lor | Op::Lunless)
            | Kind::Keyword(
                Keyword::By
                | Keyword::Without
                | Keyword::Offset
                | Keyword::Start
                | Keyword::End
                | Keyword::Step,
            ) => {
                self.bump();
                self.selector(Some(item.val.clone()), item.pos)
            }
            _ => Err(self.unexpected("", "")),
        }
    }

    fn call(&mut self) -> Result<Node, ParseError> {
        let name = self.bump();
        let args = self.call_body()?;
        let Some(sig) = signature(&name.val) else {
            return Err((
                name.pos,
                format!(
                    "unknown function with name {}",
                    super::lex::go_quote(&name.val)
                ),
            ));
        };
        if sig.experimental && !self.features.experimental_functions {
            return Err((
                name.pos,
                format!(
                    "function {} is not enabled",
                    super::lex::go_quote(&name.val)
                ),
            ));
        }
        Ok(Node {
            pos: name.pos,
            kind: NodeKind::Call { sig, args },
        })
    }

    /// `( expr, ... )`.
    fn call_body(&mut self) -> Result<Vec<Node>, ParseError> {
        // The caller checked for `(`.
        self.bump();
        let mut args = Vec::new();
        if self.peek().kind == Kind::RightParen {
            self.bump();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            match self.peek().kind {
                Kind::RightParen => {
                    self.bump();
                    return Ok(args);
                }
                Kind::Comma => {
                    let comma = self.bump();
                    if self.peek().kind == Kind::RightParen {
                        return Err((
                            comma.pos,
                            "trailing commas not allowed in function call args".into(),
                        ));
                    }
                }
                _ => return Err(self.unexpected("", "")),
            }
        }
    }

    fn aggregation(&mut self, op: Aggr) -> Result<Node, ParseError> {
        let pos = self.bump().pos;
        let mut grouped = false;
        if let Kind::Keyword(Keyword::By | Keyword::Without) = self.peek().kind {
            self.bump();
            self.grouping_labels()?;
            grouped = true;
        }
        if self.peek().kind != Kind::LeftParen {
            return Err(self.unexpected("aggregation", ""));
        }
        let mut args = self.call_body()?;
        if !grouped && let Kind::Keyword(Keyword::By | Keyword::Without) = self.peek().kind {
            self.bump();
            self.grouping_labels()?;
        }
        if args.is_empty() {
            return Err((pos, "no arguments for aggregate expression provided".into()));
        }
        let mut want = 1;
        if op.has_param() {
            if matches!(op, Aggr::Limitk | Aggr::LimitRatio)
                && !self.features.experimental_functions
            {
                return Err((
                    pos,
                    "limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions"
                        .into(),
                ));
            }
            want = 2;
        }
        if args.len() != want {
            return Err((
                pos,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let expr = Box::new(args.pop().expect("one argument at least"));
        let param = args.pop().map(Box::new);
        Ok(Node {
            pos,
            kind: NodeKind::Aggregate { op, param, expr },
        })
    }

    /// A vector selector: optional name (already read), optional `{matchers}`.
    fn selector(&mut self, name: Option<String>, pos: usize) -> Result<Node, ParseError> {
        let mut sel = Selector {
            name,
            ..Selector::default()
        };
        if self.peek().kind == Kind::LeftBrace {
            self.bump();
            self.matchers(&mut sel)?;
        }
        Ok(Node {
            pos,
            kind: NodeKind::Vector(sel),
        })
    }

    fn matchers(&mut self, sel: &mut Selector) -> Result<(), ParseError> {
        if self.peek().kind == Kind::RightBrace {
            self.bump();
            return Ok(());
        }
        loop {
            let label = self.peek().clone();
            let name = match label.kind {
                Kind::Identifier => label.val.clone(),
                Kind::String => unquote(&label.val),
                _ => {
                    return Err(self.unexpected("label matching", "identifier or \"}\""));
                }
            };
            self.bump();
            let op = match self.peek().kind {
                Kind::Eql => Some("="),
                Kind::Op(Op::Neq) => Some("!="),
                Kind::Op(Op::EqlRegex) => Some("=~"),
                Kind::Op(Op::NeqRegex) => Some("!~"),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.bump();
                    if self.peek().kind != Kind::String {
                        return Err(self.unexpected("label matching", "string"));
                    }
                    let value = unquote(&self.bump().val);
                    if op.ends_with('~')
                        && let Err(e) = compile_regex(&value)
                    {
                        return Err((label.pos, e));
                    }
                    sel.matchers.push((name, op, value));
                }
                // `{"metric_name"}`.
                None if label.kind == Kind::String => {
                    sel.matchers.push(("__name__".into(), "=", name));
                }
                None => {
                    return Err(self.unexpected("label matching", "label matching operator"));
                }
            }
            match self.peek().kind {
                Kind::RightBrace => {
                    self.bump();
                    return Ok(());
                }
                Kind::Comma => {
                    self.bump();
                    if self.peek().kind == Kind::RightBrace {
                        self.bump();
                        return Ok(());
                    }
                }
                _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
            }
        }
    }

    /// Ranges, subqueries, `offset` and `@` after an expression.
    fn postfix(&mut self, mut node: Node) -> Result<Node, ParseError> {
        loop {
            match self.peek().kind {
                Kind::LeftBracket => node = self.range(node)?,
                Kind::Keyword(Keyword::Offset) => {
                    self.bump();
                    self.offset_duration()?;
                    set_offset(&mut node)?;
                }
                Kind::Op(Op::At) => {
                    self.bump();
                    let ts = self.at_timestamp()?;
                    set_at(&mut node, ts)?;
                }
                _ => return Ok(node),
            }
        }
    }

    fn range(&mut self, node: Node) -> Result<Node, ParseError> {
        let bracket = self.bump().pos;
        if !self.starts_duration() {
            return Err(self.unexpected("subquery or range selector", EXPECTED_DURATION));
        }
        self.duration_site(DurationUse::Range)?;
        match self.peek().kind {
            Kind::RightBracket => {
                self.bump();
                let message = match &node.kind {
                    NodeKind::Vector(s) if s.offset => {
                        Some("no offset modifiers allowed before range")
                    }
                    NodeKind::Vector(s) if s.at => Some("no @ modifiers allowed before range"),
                    NodeKind::Vector(_) => None,
                    _ => Some("ranges only allowed for vector selectors"),
                };
                if let Some(m) = message {
                    return Err((bracket, m.into()));
                }
                Ok(Node {
                    pos: node.pos,
                    kind: NodeKind::Matrix { vs: Box::new(node) },
                })
            }
            Kind::Colon => {
                self.bump();
                if self.peek().kind != Kind::RightBracket {
                    if !self.starts_duration() {
                        return Err(self.unexpected("subquery selector", "duration or \"]\""));
                    }
                    self.duration_site(DurationUse::SubqueryStep)?;
                    if self.peek().kind != Kind::RightBracket {
                        return Err(self.unexpected("subquery selector", "\"]\""));
                    }
                }
                self.bump();
                Ok(Node {
                    pos: node.pos,
                    kind: NodeKind::Subquery {
                        expr: Box::new(node),
                        offset: false,
                        at: false,
                    },
                })
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    fn starts_duration(&self) -> bool {
        matches!(
            self.peek().kind,
            Kind::Number
                | Kind::Duration
                | Kind::LeftParen
                | Kind::Op(Op::Add | Op::Sub)
                | Kind::Keyword(Keyword::Step)
                | Kind::Aggr(Aggr::Min | Aggr::Max)
        )
    }

    /// A duration in a range or subquery: full arithmetic.
    fn duration_site(&mut self, used: DurationUse) -> Result<(), ParseError> {
        let start = self.peek().pos;
        let first = self.i;
        let expr = self.duration_expr(0)?;
        self.record(start, first, expr, used)
    }

    /// An offset: a literal, or a signed or parenthesised duration expression (an
    /// unparenthesised `offset 5m + 1m` offsets by 5m and adds 1m).
    fn offset_duration(&mut self) -> Result<(), ParseError> {
        if !self.starts_duration() {
            return Err(self.unexpected("offset", EXPECTED_DURATION));
        }
        let start = self.peek().pos;
        let first = self.i;
        let expr = self.duration_unary()?;
        self.record(start, first, expr, DurationUse::Offset)
    }

    fn record(
        &mut self,
        start: usize,
        first: usize,
        expr: DurationExpr,
        used: DurationUse,
    ) -> Result<(), ParseError> {
        let last = &self.items[self.i - 1];
        let end = last.pos + last.val.len();
        let tokens = self.i - first;
        let signed_literal = tokens == 2
            && matches!(self.items[first].kind, Kind::Op(Op::Add | Op::Sub))
            && matches!(self.items[first + 1].kind, Kind::Number | Kind::Duration);
        let computed = tokens > 1 && !(used == DurationUse::Offset && signed_literal);
        if let DurationExpr::Literal(v) = expr
            && (tokens == 1 || signed_literal)
            && used != DurationUse::Offset
            && v <= 0.0
        {
            return Err((start, "duration must be greater than 0".into()));
        }
        self.durations.push(DurationSite {
            start,
            end,
            expr,
            used,
            computed,
        });
        Ok(())
    }

    fn duration_expr(&mut self, min_prec: u8) -> Result<DurationExpr, ParseError> {
        let mut lhs = self.duration_unary()?;
        loop {
            let (prec, right) = match self.peek().kind {
                Kind::Op(Op::Add | Op::Sub) => (4, false),
                Kind::Op(Op::Mul | Op::Div | Op::Mod) => (5, false),
                Kind::Op(Op::Pow) => (6, true),
                _ => return Ok(lhs),
            };
            if prec < min_prec {
                return Ok(lhs);
            }
            let lhs_pos = self.duration_start;
            let Kind::Op(op) = self.bump().kind else {
                unreachable!("matched an operator")
            };
            let rhs = self.duration_expr(if right { prec } else { prec + 1 })?;
            self.experimental(lhs_pos)?;
            self.duration_start = lhs_pos;
            lhs = DurationExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn duration_unary(&mut self) -> Result<DurationExpr, ParseError> {
        let item = self.peek().clone();
        self.duration_start = item.pos;
        match item.kind {
            Kind::Op(op @ (Op::Add | Op::Sub)) => {
                self.bump();
                // A sign binds looser than `^`, as in PromQL: `-2 ^ 2` is `-(2 ^ 2)`.
                let inner = self.duration_expr(6)?;
                self.duration_start = item.pos;
                Ok(if op == Op::Sub {
                    match inner {
                        DurationExpr::Literal(v) => DurationExpr::Literal(-v),
                        e => DurationExpr::Neg(Box::new(e)),
                    }
                } else {
                    inner
                })
            }
            Kind::Number | Kind::Duration => {
                self.bump();
                Ok(DurationExpr::Literal(duration_literal(&item)?))
            }
            Kind::LeftParen => {
                self.bump();
                let inner = self.duration_expr(0)?;
                if self.peek().kind != Kind::RightParen {
                    return Err(self.unexpected("", ""));
                }
                self.bump();
                self.duration_start = item.pos;
                Ok(inner)
            }
            Kind::Keyword(Keyword::Step) => {
                self.bump();
                self.expect(Kind::LeftParen)?;
                self.expect(Kind::RightParen)?;
                self.experimental(item.pos)?;
                self.duration_start = item.pos;
                Ok(DurationExpr::Step)
            }
            Kind::Aggr(m @ (Aggr::Min | Aggr::Max)) => {
                self.bump();
                self.expect(Kind::LeftParen)?;
                let a = self.duration_expr(0)?;
                self.expect(Kind::Comma)?;
                let b = self.duration_expr(0)?;
                self.expect(Kind::RightParen)?;
                self.experimental(item.pos)?;
                self.duration_start = item.pos;
                let (a, b) = (Box::new(a), Box::new(b));
                Ok(if m == Aggr::Min {
                    DurationExpr::Min(a, b)
                } else {
                    DurationExpr::Max(a, b)
                })
            }
            _ => Err(self.unexpected("", "")),
        }
    }

    fn expect(&mut self, kind: Kind) -> Result<(), ParseError> {
        if self.peek().kind != kind {
            return Err(self.unexpected("", ""));
        }
        self.bump();
        Ok(())
    }

    /// Refuses a duration expression when `promql-duration-expr` is off.
    fn experimental(&self, pos: usize) -> Result<(), ParseError> {
        if self.features.duration_expr {
            Ok(())
        } else {
            Err((
                pos,
                "experimental duration expression is not enabled".into(),
            ))
        }
    }

    /// The timestamp after `@`: a signed number, or `start()` / `end()`; None for those.
    fn at_timestamp(&mut self) -> Result<Option<f64>, ParseError> {
        let item = self.peek().clone();
        match item.kind {
            Kind::Keyword(Keyword::Start | Keyword::End)
                if self.peek_at(1).kind == Kind::LeftParen =>
            {
                self.bump();
                self.bump();
                self.expect(Kind::RightParen)?;
                Ok(None)
            }
            Kind::Op(op @ (Op::Add | Op::Sub))
                if matches!(self.peek_at(1).kind, Kind::Number | Kind::Duration) =>
            {
                self.bump();
                let v = number(&self.bump())?;
                Ok(Some(if op == Op::Sub { -v } else { v }))
            }
            Kind::Number | Kind::Duration => {
                self.bump();
                Ok(Some(number(&item)?))
            }
            _ => Err(self.unexpected("@", "timestamp")),
        }
    }
}

/// `offset` on `node`, with Prometheus's refusals.
fn set_offset(node: &mut Node) -> Result<(), ParseError> {
    let pos = node.pos;
    let flag = match &mut node.kind {
        NodeKind::Vector(s) => &mut s.offset,
        NodeKind::Matrix { vs } => match &mut vs.kind {
            NodeKind::Vector(s) => &mut s.offset,
            _ => return Err((pos, "ranges only allowed for vector selectors".into())),
        },
        NodeKind::Subquery { offset, .. } => offset,
        _ => {
            return Err((
                pos,
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"
                    .into(),
            ));
        }
    };
    if *flag {
        return Err((pos, "offset may not be set multiple times".into()));
    }
    *flag = true;
    Ok(())
}

/// `@` on `node`, with Prometheus's refusals.
fn set_at(node: &mut Node, ts: Option<f64>) -> Result<(), ParseError> {
    let pos = node.pos;
    if let Some(ts) = ts
        && (!ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64)
    {
        return Err((
            pos,
            format!("timestamp out of bounds for @ modifier: {}", go_float(ts)),
        ));
    }
    let flag = match &mut node.kind {
        NodeKind::Vector(s) => &mut s.at,
        NodeKind::Matrix { vs } => match &mut vs.kind {
            NodeKind::Vector(s) => &mut s.at,
            _ => return Err((pos, "ranges only allowed for vector selectors".into())),
        },
        NodeKind::Subquery { at, .. } => at,
        _ => {
            return Err((
                pos,
                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"
                    .into(),
            ));
        }
    };
    if *flag {
        return Err((pos, "@ <timestamp> may not be set multiple times".into()));
    }
    *flag = true;
    Ok(())
}
