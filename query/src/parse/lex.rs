//! The PromQL lexer, behaving as Prometheus's: the same tokens, the same error texts and
//! the same positions (the byte offset where the failing token started), so a bad query
//! is refused with Prometheus's `line:col: parse error: ...`.
//!
//! Lexing stops at the first error: the error is the last item, and the parser reports
//! it when it reaches it (an earlier syntax error wins, as in Prometheus, whose parser
//! pulls tokens one at a time).

pub(crate) use telltale_model::{go_quote, go_quote_rune};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Eof,
    /// A lexer error; the item's text is the message.
    Error,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    /// `=` (label matching only).
    Eql,
    Colon,
    Op(Op),
    Aggr(Aggr),
    Keyword(Keyword),
}

/// Operators (Prometheus's `IsOperator` set: the arithmetic, comparison and set
/// operators, `@` and `atan2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    EqlRegex,
    NeqRegex,
    Land,
    Lor,
    Lunless,
    Atan2,
    At,
}

impl Op {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::Pow => "^",
            Op::Eqlc => "==",
            Op::Neq => "!=",
            Op::Lte => "<=",
            Op::Lss => "<",
            Op::Gte => ">=",
            Op::Gtr => ">",
            Op::EqlRegex => "=~",
            Op::NeqRegex => "!~",
            Op::Land => "and",
            Op::Lor => "or",
            Op::Lunless => "unless",
            Op::Atan2 => "atan2",
            Op::At => "@",
        }
    }

    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            Op::Eqlc | Op::Neq | Op::Lte | Op::Lss | Op::Gte | Op::Gtr
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, Op::Land | Op::Lor | Op::Lunless)
    }
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggr {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

impl Aggr {
    /// Whether the aggregation takes a parameter before the expression.
    pub(crate) fn has_param(self) -> bool {
        matches!(
            self,
            Aggr::Topk
                | Aggr::Bottomk
                | Aggr::CountValues
                | Aggr::Quantile
                | Aggr::Limitk
                | Aggr::LimitRatio
        )
    }
}

/// Keywords; `start`, `end` and `step` are Prometheus's "preprocessors", which it does
/// not count as keywords when describing a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Bool,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Offset,
    Start,
    End,
    Step,
}

impl Keyword {
    fn is_preprocessor(self) -> bool {
        matches!(self, Keyword::Start | Keyword::End | Keyword::Step)
    }
}

/// One token: its kind, its byte offset and its text (for errors, the message).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub kind: Kind,
    pub pos: usize,
    pub val: String,
}

impl Item {
    /// How Prometheus names the token in `unexpected ...` errors.
    pub(crate) fn desc(&self) -> String {
        match self.kind {
            Kind::Eof => "end of input".into(),
            Kind::Error => format!("error {}", self.val),
            Kind::Identifier => format!("identifier {}", go_quote(&self.val)),
            Kind::MetricIdentifier => format!("metric identifier {}", go_quote(&self.val)),
            Kind::Number => format!("number {}", self.shown()),
            Kind::Duration => format!("duration {}", self.shown()),
            Kind::String => format!("string {}", self.shown()),
            Kind::Op(_) => format!("<op:{}>", self.val),
            Kind::Aggr(_) => format!("<aggr:{}>", self.val),
            Kind::Keyword(k) if !k.is_preprocessor() => format!("<{}>", self.val),
            _ => self.shown(),
        }
    }

    /// Go's `%q` of the text, cut to ten characters (`%.10q...`) when longer.
    fn shown(&self) -> String {
        if self.val.chars().count() > 10 {
            let cut: String = self.val.chars().take(10).collect();
            format!("{}...", go_quote(&cut))
        } else {
            go_quote(&self.val)
        }
    }
}

fn keyword(word: &str) -> Option<Kind> {
    Some(match word.to_ascii_lowercase().as_str() {
        "and" => Kind::Op(Op::Land),
        "or" => Kind::Op(Op::Lor),
        "unless" => Kind::Op(Op::Lunless),
        "atan2" => Kind::Op(Op::Atan2),
        "sum" => Kind::Aggr(Aggr::Sum),
        "avg" => Kind::Aggr(Aggr::Avg),
        "count" => Kind::Aggr(Aggr::Count),
        "min" => Kind::Aggr(Aggr::Min),
        "max" => Kind::Aggr(Aggr::Max),
        "group" => Kind::Aggr(Aggr::Group),
        "stddev" => Kind::Aggr(Aggr::Stddev),
        "stdvar" => Kind::Aggr(Aggr::Stdvar),
        "topk" => Kind::Aggr(Aggr::Topk),
        "bottomk" => Kind::Aggr(Aggr::Bottomk),
        "count_values" => Kind::Aggr(Aggr::CountValues),
        "quantile" => Kind::Aggr(Aggr::Quantile),
        "limitk" => Kind::Aggr(Aggr::Limitk),
        "limit_ratio" => Kind::Aggr(Aggr::LimitRatio),
        "offset" => Kind::Keyword(Keyword::Offset),
        "by" => Kind::Keyword(Keyword::By),
        "without" => Kind::Keyword(Keyword::Without),
        "on" => Kind::Keyword(Keyword::On),
        "ignoring" => Kind::Keyword(Keyword::Ignoring),
        "group_left" => Kind::Keyword(Keyword::GroupLeft),
        "group_right" => Kind::Keyword(Keyword::GroupRight),
        "bool" => Kind::Keyword(Keyword::Bool),
        "start" => Kind::Keyword(Keyword::Start),
        "end" => Kind::Keyword(Keyword::End),
        "step" => Kind::Keyword(Keyword::Step),
        "inf" | "nan" => Kind::Number,
        _ => return None,
    })
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Where the lexer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Statements,
    /// Just after `[` (or `:` / `(` inside a duration expression).
    DurationExpr,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    state: State,
    items: Vec<Item>,
}

/// The tokens of `input`, comments left out, ending with `Eof` or the first `Error`.
pub(crate) fn lex(input: &str) -> Vec<Item> {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        got_colon: false,
        got_duration: false,
        state: State::Statements,
        items: Vec::new(),
    };
    while l.step() {}
    l.items
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
        }
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn emit(&mut self, kind: Kind) {
        self.items.push(Item {
            kind,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
        });
        self.start = self.pos;
    }

    /// Ends lexing with an error item (replacing an item emitted in the same step, as
    /// Prometheus's lexer overwrites it).
    fn error(&mut self, message: String, replaces_last: bool) -> bool {
        if replaces_last {
            self.items.pop();
        }
        self.items.push(Item {
            kind: Kind::Error,
            pos: self.start,
            val: message,
        });
        false
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.next();
        }
        self.start = self.pos;
    }

    /// Lexes one step; false once done.
    fn step(&mut self) -> bool {
        if self.brace_open {
            return self.inside_braces();
        }
        if self.state == State::DurationExpr {
            return self.duration_expr();
        }
        if self.input[self.pos..].starts_with('#') {
            self.line_comment();
            return true;
        }
        let Some(c) = self.next() else {
            if self.paren_depth != 0 {
                return self.error("unclosed left parenthesis".into(), false);
            }
            if self.bracket_open {
                return self.error("unclosed left bracket".into(), false);
            }
            self.emit(Kind::Eof);
            return false;
        };
        match c {
            ',' => self.emit(Kind::Comma),
            c if is_space(c) => self.skip_spaces(),
            '*' => self.emit(Kind::Op(Op::Mul)),
            '/' => self.emit(Kind::Op(Op::Div)),
            '%' => self.emit(Kind::Op(Op::Mod)),
            '+' => self.emit(Kind::Op(Op::Add)),
            '-' => self.emit(Kind::Op(Op::Sub)),
            '^' => self.emit(Kind::Op(Op::Pow)),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Kind::Op(Op::Eqlc));
                }
                Some('~') => {
                    return self.error(
                        format!("unexpected character after '=': {}", go_quote_rune('~')),
                        false,
                    );
                }
                _ => self.emit(Kind::Eql),
            },
            '!' => match self.next() {
                Some('=') => self.emit(Kind::Op(Op::Neq)),
                t => {
                    return self.error(
                        format!("unexpected character after '!': {}", rune_or_eof(t)),
                        false,
                    );
                }
            },
            '<' => {
                if self.accept("=") {
                    self.emit(Kind::Op(Op::Lte));
                } else {
                    self.emit(Kind::Op(Op::Lss));
                }
            }
            '>' => {
                if self.accept("=") {
                    self.emit(Kind::Op(Op::Gte));
                } else {
                    self.emit(Kind::Op(Op::Gtr));
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|n| n.is_ascii_digit())) =>
            {
                self.backup(Some(c));
                return self.number_or_duration();
            }
            '"' | '\'' => return self.string(c),
            '`' => return self.raw_string(),
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup(Some(c));
                    self.keyword_or_identifier();
                    return true;
                }
                if c == ':' {
                    if self.got_colon {
                        return self
                            .error(format!("unexpected colon {}", go_quote_rune(':')), false);
                    }
                    self.emit(Kind::Colon);
                    self.got_colon = true;
                    return true;
                }
                if matches!(c, 's' | 'S' | 'm' | 'M') && self.duration_keyword() {
                    return true;
                }
                return self.error(
                    format!(
                        "unexpected character: {}, expected {}",
                        go_quote_rune(c),
                        go_quote_rune(':')
                    ),
                    false,
                );
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(
                        format!("unexpected right parenthesis {}", go_quote_rune(')')),
                        true,
                    );
                }
            }
            '{' => {
                self.emit(Kind::LeftBrace);
                self.brace_open = true;
            }
            '[' => {
                if self.bracket_open {
                    return self.error(
                        format!("unexpected left bracket {}", go_quote_rune('[')),
                        false,
                    );
                }
                self.got_colon = false;
                self.emit(Kind::LeftBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.state = State::DurationExpr;
            }
            ']' => {
                if !self.bracket_open {
                    return self.error(
                        format!("unexpected right bracket {}", go_quote_rune(']')),
                        false,
                    );
                }
                self.emit(Kind::RightBracket);
                self.bracket_open = false;
            }
            '@' => self.emit(Kind::Op(Op::At)),
            c => {
                return self.error(format!("unexpected character: {}", go_quote_rune(c)), false);
            }
        }
        true
    }

    /// The first token after `[`, `:` or `(` inside brackets.
    fn duration_expr(&mut self) -> bool {
        let Some(c) = self.next() else {
            return self.error(
                "unexpected end of input in duration expression".into(),
                false,
            );
        };
        match c {
            ']' => {
                self.emit(Kind::RightBracket);
                self.bracket_open = false;
                self.got_colon = false;
                self.state = State::Statements;
            }
            ':' => {
                self.emit(Kind::Colon);
                if !self.got_duration {
                    return self.error(
                        "unexpected colon before duration in duration expression".into(),
                        true,
                    );
                }
                if self.got_colon {
                    return self.error(
                        "unexpected repeated colon in duration expression".into(),
                        true,
                    );
                }
                self.got_colon = true;
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(
                        format!("unexpected right parenthesis {}", go_quote_rune(')')),
                        true,
                    );
                }
            }
            c if is_space(c) => self.skip_spaces(),
            '+' => self.emit(Kind::Op(Op::Add)),
            '-' => self.emit(Kind::Op(Op::Sub)),
            '*' => self.emit(Kind::Op(Op::Mul)),
            '/' => self.emit(Kind::Op(Op::Div)),
            '%' => self.emit(Kind::Op(Op::Mod)),
            '^' => self.emit(Kind::Op(Op::Pow)),
            ',' => self.emit(Kind::Comma),
            's' | 'S' | 'm' | 'M' if self.duration_keyword() => {}
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|n| n.is_ascii_digit())) =>
            {
                self.backup(Some(c));
                self.got_duration = true;
                self.state = State::Statements;
                return self.number_or_duration();
            }
            c => {
                return self.error(
                    format!(
                        "unexpected character in duration expression: {}",
                        go_quote_rune(c)
                    ),
                    false,
                );
            }
        }
        true
    }

    /// `step`, `min` or `max` inside brackets (the first letter already read).
    fn duration_keyword(&mut self) -> bool {
        let save = self.pos;
        while self.peek().is_some_and(is_alpha) {
            self.next();
        }
        let kind = match self.input[self.start..self.pos]
            .to_ascii_lowercase()
            .as_str()
        {
            "step" => Kind::Keyword(Keyword::Step),
            "min" => Kind::Aggr(Aggr::Min),
            "max" => Kind::Aggr(Aggr::Max),
            _ => {
                self.pos = save;
                return false;
            }
        };
        self.emit(kind);
        true
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.next();
        }
        // Comments are not passed on.
        self.start = self.pos;
    }

    fn inside_braces(&mut self) -> bool {
        if self.input[self.pos..].starts_with('#') {
            self.line_comment();
            return true;
        }
        let Some(c) = self.next() else {
            return self.error("unexpected end of input inside braces".into(), false);
        };
        match c {
            c if is_space(c) => self.skip_spaces(),
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.next();
                }
                self.emit(Kind::Identifier);
            }
            ',' => self.emit(Kind::Comma),
            '"' | '\'' => return self.string(c),
            '`' => return self.raw_string(),
            '=' => {
                if self.accept("~") {
                    self.emit(Kind::Op(Op::EqlRegex));
                } else {
                    self.emit(Kind::Eql);
                }
            }
            '!' => match self.next() {
                Some('~') => self.emit(Kind::Op(Op::NeqRegex)),
                Some('=') => self.emit(Kind::Op(Op::Neq)),
                t => {
                    return self.error(
                        format!(
                            "unexpected character after '!' inside braces: {}",
                            rune_or_eof(t)
                        ),
                        false,
                    );
                }
            },
            '{' => {
                return self.error(
                    format!("unexpected left brace {}", go_quote_rune('{')),
                    false,
                );
            }
            '}' => {
                self.emit(Kind::RightBrace);
                self.brace_open = false;
            }
            c => {
                return self.error(
                    format!("unexpected character inside braces: {}", go_quote_rune(c)),
                    false,
                );
            }
        }
        true
    }

    fn string(&mut self, quote: char) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Err(message) = self.escape(quote) {
                        return self.error(message, false);
                    }
                }
                Some('\u{FFFD}') => return self.error("invalid UTF-8 rune".into(), false),
                None | Some('\n') => {
                    return self.error("unterminated quoted string".into(), false);
                }
                Some(c) if c == quote => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String);
        true
    }

    fn raw_string(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\u{FFFD}') => return self.error("invalid UTF-8 rune".into(), false),
                None => return self.error("unterminated raw string".into(), false),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String);
        true
    }

    /// An escape sequence after `\` in a quoted string.
    fn escape(&mut self, quote: char) -> Result<(), String> {
        let c = self.next();
        let (mut n, base, max) = match c {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c == quote => return Ok(()),
            Some('0'..='7') => {
                self.backup(c);
                (3, 8, 255)
            }
            Some('x') => (2, 16, 255),
            Some('u') => (4, 16, 0x10FFFF),
            Some('U') => (8, 16, 0x10FFFF),
            None => return Err("escape sequence not terminated".into()),
            Some(c) => return Err(format!("unknown escape sequence {}", go_unicode(c))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let c = self.next();
            let d = c.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                return Err(match c {
                    None => "escape sequence not terminated".into(),
                    Some(c) => format!("illegal character {} in escape sequence", go_unicode(c)),
                });
            }
            x = x * base + d;
            n -= 1;
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    fn number_or_duration(&mut self) -> bool {
        if self.scan_number() {
            self.emit(Kind::Number);
            return true;
        }
        if self.remaining_duration() {
            self.emit(Kind::Duration);
            return true;
        }
        let text = self.input[self.start..self.pos].to_string();
        self.error(
            format!("bad number or duration syntax: {}", go_quote(&text)),
            false,
        )
    }

    /// The units of a duration after its first number; true when a duration ends here.
    fn remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        match self.peek() {
            Some(c) if is_alnum(c) => {
                self.next();
                false
            }
            _ => true,
        }
    }

    /// Scans a number of any format; true when what follows cannot continue it.
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        self.accept(".");
        self.accept(digits);
        let (mut dot, mut exp) = (false, false);
        let all = format!("{digits}._eE");
        while self.peek().is_some_and(|c| all.contains(c)) {
            let c = self.peek();
            if c == Some('.') && dot {
                self.accept(".");
                return false;
            }
            if matches!(c, Some('e' | 'E')) && exp && digits.len() == 10 {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if digits.len() == 10 && self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    fn keyword_or_identifier(&mut self) {
        while self.peek().is_some_and(|c| is_alnum(c) || c == ':') {
            self.next();
        }
        let word = &self.input[self.start..self.pos];
        let kind = match keyword(word) {
            Some(k) => k,
            None if word.contains(':') => Kind::MetricIdentifier,
            None => Kind::Identifier,
        };
        self.emit(kind);
    }
}

/// Go's `%q` of the rune read, or of Go's `eof` (-1) when there was none.
fn rune_or_eof(c: Option<char>) -> String {
    match c {
        Some(c) => go_quote_rune(c),
        None => "%!q(int32=-1)".into(),
    }
}

/// Go's `%#U`: `U+0071 'q'`.
fn go_unicode(c: char) -> String {
    format!("U+{:04X} {}", c as u32, go_quote_rune(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<(Kind, usize, String)> {
        lex(q).into_iter().map(|i| (i.kind, i.pos, i.val)).collect()
    }

    fn error(q: &str) -> (usize, String) {
        let last = lex(q).pop().unwrap();
        assert_eq!(last.kind, Kind::Error, "{q:?}: {last:?}");
        (last.pos, last.val)
    }

    #[test]
    fn tokens_with_positions() {
        assert_eq!(
            kinds("sum(rate(x{a=\"b\"}[5m]))"),
            vec![
                (Kind::Aggr(Aggr::Sum), 0, "sum".into()),
                (Kind::LeftParen, 3, "(".into()),
                (Kind::Identifier, 4, "rate".into()),
                (Kind::LeftParen, 8, "(".into()),
                (Kind::Identifier, 9, "x".into()),
                (Kind::LeftBrace, 10, "{".into()),
                (Kind::Identifier, 11, "a".into()),
                (Kind::Eql, 12, "=".into()),
                (Kind::String, 13, "\"b\"".into()),
                (Kind::RightBrace, 16, "}".into()),
                (Kind::LeftBracket, 17, "[".into()),
                (Kind::Duration, 18, "5m".into()),
                (Kind::RightBracket, 20, "]".into()),
                (Kind::RightParen, 21, ")".into()),
                (Kind::RightParen, 22, ")".into()),
                (Kind::Eof, 23, "".into()),
            ]
        );
        assert_eq!(kinds("1.5e3 # c\n")[0], (Kind::Number, 0, "1.5e3".into()));
        assert_eq!(kinds("0x1F")[0], (Kind::Number, 0, "0x1F".into()));
        assert_eq!(kinds("a:b")[0], (Kind::MetricIdentifier, 0, "a:b".into()));
    }

    #[test]
    fn errors_as_prometheus() {
        assert_eq!(error("(x"), (2, "unclosed left parenthesis".into()));
        assert_eq!(error("x[5m"), (4, "unclosed left bracket".into()));
        assert_eq!(error("x)"), (2, "unexpected right parenthesis ')'".into()));
        assert_eq!(error("x}"), (1, "unexpected character: '}'".into()));
        assert_eq!(error("x]"), (1, "unexpected right bracket ']'".into()));
        assert_eq!(
            error("2.5."),
            (0, "bad number or duration syntax: \"2.5.\"".into())
        );
        assert_eq!(
            error("0deadbeef"),
            (0, "bad number or duration syntax: \"0de\"".into())
        );
        assert_eq!(
            error("x[5x]"),
            (2, "bad number or duration syntax: \"5\"".into())
        );
        assert_eq!(error("x[5m:1m:1m]"), (7, "unexpected colon ':'".into()));
        assert_eq!(
            error("x{a=\"\\q\"}"),
            (4, "unknown escape sequence U+0071 'q'".into())
        );
        assert_eq!(error("\"abc"), (0, "unterminated quoted string".into()));
        assert_eq!(
            error("x{a~\"b\"}"),
            (3, "unexpected character inside braces: '~'".into())
        );
        assert_eq!(
            error("1 !~ 1"),
            (2, "unexpected character after '!': '~'".into())
        );
        assert_eq!(
            error("x[\"5m\"]"),
            (
                2,
                "unexpected character in duration expression: '\"'".into()
            )
        );
        assert_eq!(
            error("x{"),
            (2, "unexpected end of input inside braces".into())
        );
        assert_eq!(error("."), (0, "unexpected character: '.'".into()));
    }
}
