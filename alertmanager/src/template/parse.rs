//! The parser: tokens into [`Tree`]s, with Go's parse-time checks (functions must be
//! defined, variables declared before use, `break`/`continue` only inside `range`) and
//! Go's error messages, `template: NAME:LINE: message`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::template::ast::{Arg, ArgKind, Branch, Command, Node, Number, Pipe};
use crate::template::lex::{Keyword, Tok, Token, lex};

/// The templates of one parse: the main one and those it `define`s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trees {
    pub trees: BTreeMap<String, Tree>,
}

/// One named template.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    pub root: Vec<Node>,
    /// The name of the template whose text defined it (errors name it).
    pub parse_name: String,
    /// That text (errors count lines and columns in it).
    pub text: Arc<str>,
}

/// A parse error, with the line it was found on.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}:{}: {}", self.name, self.line, self.message)
    }
}

/// Parses `text` as the template `name` (and the templates it defines). `is_func` says
/// which function names exist besides Go's built-in ones.
pub fn parse(name: &str, text: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Trees, ParseError> {
    let tokens = lex(text);
    let mut p = Parser {
        name,
        text: Arc::from(text),
        tokens,
        i: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        furthest: Cell::new(0),
        action_line: None,
        is_func,
        trees: Trees::default(),
    };
    let root = p.parse_root()?;
    p.add_tree(name.to_string(), root)?;
    Ok(p.trees)
}

/// Whether a body is only whitespace (Go's `IsEmptyTree`).
pub fn is_empty(list: &[Node]) -> bool {
    list.iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

/// Go's built-in function names.
pub const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

/// The end of an item list.
enum Stop {
    End,
    /// `{{else}}`; `Some(keyword)` for `{{else if ...}}` / `{{else with ...}}` (the
    /// keyword not consumed).
    Else(Option<Keyword>),
}

struct Parser<'a> {
    name: &'a str,
    text: Arc<str>,
    tokens: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// The furthest token read, lookahead included: Go reports errors at its line.
    furthest: Cell<usize>,
    /// The line of the `{{` of the action being parsed (Go's `actionLine`).
    action_line: Option<usize>,
    is_func: &'a dyn Fn(&str) -> bool,
    trees: Trees,
}

/// Go's `item.String()` for "unexpected" messages.
fn describe(t: &Tok) -> String {
    fn quote(s: &str) -> String {
        if s.chars().count() > 10 {
            let head: String = s.chars().take(10).collect();
            format!("{head:?}...")
        } else {
            format!("{s:?}")
        }
    }
    match t {
        Tok::Eof => "EOF".into(),
        Tok::Keyword(k) => format!("<{}>", keyword_name(*k)),
        Tok::Text(s)
        | Tok::Ident(s)
        | Tok::Field(s)
        | Tok::Variable(s)
        | Tok::Str(s)
        | Tok::Char(s)
        | Tok::Number(s) => quote(s),
        Tok::RawStr(s) => quote(&format!("`{s}`")),
        Tok::LeftDelim => quote("{{"),
        Tok::RightDelim => quote("}}"),
        Tok::Comment => quote("/* */"),
        // Go lists `.` and `nil` among its keywords.
        Tok::Dot => "<.>".into(),
        Tok::Bool(b) => quote(&b.to_string()),
        Tok::Nil => "<nil>".into(),
        Tok::Pipe => quote("|"),
        Tok::LeftParen => quote("("),
        Tok::RightParen => quote(")"),
        Tok::Declare => quote(":="),
        Tok::Assign => quote("="),
        Tok::Punct(c) => quote(&c.to_string()),
        Tok::Error(message) => message.clone(),
        Tok::Space => quote(" "),
    }
}

fn keyword_name(k: Keyword) -> &'static str {
    match k {
        Keyword::Block => "block",
        Keyword::Break => "break",
        Keyword::Continue => "continue",
        Keyword::Define => "define",
        Keyword::Else => "else",
        Keyword::End => "end",
        Keyword::If => "if",
        Keyword::Range => "range",
        Keyword::Template => "template",
        Keyword::With => "with",
    }
}

type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        let line = self.tokens[self.furthest.get()].line;
        Err(ParseError {
            name: self.name.to_string(),
            line,
            message: message.into(),
        })
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.tokens.len() {
            self.i += 1;
        }
        t
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn peek(&self) -> &Token {
        let i = self.i.min(self.tokens.len() - 1);
        self.furthest.set(self.furthest.get().max(i));
        &self.tokens[i]
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.tok != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn unexpected<T>(&self, t: &Token, context: &str) -> PResult<T> {
        if let Tok::Error(message) = &t.tok {
            // The lexer's complaint, and where its action started if on another line.
            let extra = match self.action_line {
                Some(line) if line != t.line => {
                    let at = format!(" started at {}:{line}", self.name);
                    if message.ends_with(" action") {
                        at
                    } else {
                        format!(" in action{at}")
                    }
                }
                _ => String::new(),
            };
            return self.error(format!("{message}{extra}"));
        }
        self.error(format!("unexpected {} in {context}", describe(&t.tok)))
    }

    fn expect_right(&mut self, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn parse_root(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof {
                return Ok(list);
            }
            if self.peek().tok == Tok::LeftDelim {
                let start = self.i;
                self.next();
                if self.next_non_space().tok == Tok::Keyword(Keyword::Define) {
                    self.parse_definition()?;
                    continue;
                }
                self.i = start;
            }
            match self.text_or_action()? {
                Item::Node(Some(n)) => list.push(n),
                Item::Node(None) => {}
                Item::Stop(Stop::End) => return self.error("unexpected {{end}}"),
                Item::Stop(Stop::Else(_)) => return self.error("unexpected {{else}}"),
            }
        }
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let t = self.next_non_space();
        let name = self.template_name(&t, "define clause")?;
        self.expect_right("define clause")?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        if !matches!(stop, Stop::End) {
            return self.error("unexpected {{else}} in define clause");
        }
        self.add_tree(name, list)
    }

    /// Go's `Tree.add`: an empty body does not replace a non-empty one, and two
    /// non-empty ones of one name in one text are an error.
    fn add_tree(&mut self, name: String, list: Vec<Node>) -> PResult<()> {
        if let Some(old) = self.trees.trees.get(&name)
            && !is_empty(&old.root)
        {
            if is_empty(&list) {
                return Ok(());
            }
            return self.error(format!(
                "template: multiple definition of template {name:?}"
            ));
        }
        let tree = Tree {
            root: list,
            parse_name: self.name.to_string(),
            text: self.text.clone(),
        };
        self.trees.trees.insert(name, tree);
        Ok(())
    }

    fn template_name(&self, t: &Token, context: &str) -> PResult<String> {
        match &t.tok {
            Tok::Str(s) => unquote(s)
                .ok_or(())
                .or_else(|_| self.error(format!("invalid string {s}"))),
            Tok::RawStr(s) => Ok(s.clone()),
            _ => self.unexpected(t, context),
        }
    }

    /// A list of nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Stop)> {
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof {
                return self.error("unexpected EOF");
            }
            match self.text_or_action()? {
                Item::Node(Some(n)) => list.push(n),
                Item::Node(None) => {}
                Item::Stop(stop) => return Ok((list, stop)),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Some(Node::Text(s)))),
            Tok::LeftDelim => {
                self.action_line = Some(t.line);
                let item = self.action();
                self.action_line = None;
                item
            }
            Tok::Comment => Ok(Item::Node(None)),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        let node = match t.tok {
            Tok::Keyword(Keyword::Block) => self.block(t.pos)?,
            Tok::Keyword(Keyword::Break) | Tok::Keyword(Keyword::Continue) => {
                let is_break = t.tok == Tok::Keyword(Keyword::Break);
                let word = if is_break { "break" } else { "continue" };
                if self.range_depth == 0 {
                    return self.error(format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                self.expect_right(&format!("{{{{{word}}}}}"))?;
                if is_break {
                    Node::Break(t.pos)
                } else {
                    Node::Continue(t.pos)
                }
            }
            Tok::Keyword(Keyword::Else) => {
                let p = self.peek_non_space();
                if let Tok::Keyword(k @ (Keyword::If | Keyword::With)) = p.tok {
                    return Ok(Item::Stop(Stop::Else(Some(k))));
                }
                self.expect_right("else")?;
                return Ok(Item::Stop(Stop::Else(None)));
            }
            Tok::Keyword(Keyword::End) => {
                self.expect_right("end")?;
                return Ok(Item::Stop(Stop::End));
            }
            Tok::Keyword(Keyword::If) => Node::If(self.control(true, "if")?),
            Tok::Keyword(Keyword::Range) => Node::Range(self.control(false, "range")?),
            Tok::Keyword(Keyword::With) => Node::With(self.control(true, "with")?),
            Tok::Keyword(Keyword::Template) => {
                let nt = self.next_non_space();
                let name = self.template_name(&nt, "template clause")?;
                let name_pos = nt.pos;
                let pipe = if self.next_non_space().tok != Tok::RightDelim {
                    self.backup();
                    Some(self.pipeline("template clause", Tok::RightDelim)?)
                } else {
                    None
                };
                Node::Template {
                    name,
                    pipe,
                    pos: name_pos,
                }
            }
            Tok::Keyword(Keyword::Define) => return self.error("unexpected <define> in command"),
            _ => {
                self.backup();
                Node::Action(self.pipeline("command", Tok::RightDelim)?)
            }
        };
        Ok(Item::Node(Some(node)))
    }

    /// `{{block "name" pipeline}} body {{end}}`: defines `name` and calls it.
    fn block(&mut self, pos: usize) -> PResult<Node> {
        let t = self.next_non_space();
        let name = self.template_name(&t, "block clause")?;
        let pipe = self.pipeline("block clause", Tok::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        if !matches!(stop, Stop::End) {
            return self.error("unexpected {{else}} in block clause");
        }
        self.add_tree(name.clone(), list)?;
        Ok(Node::Template {
            name,
            pipe: Some(pipe),
            pos,
        })
    }

    fn control(&mut self, allow_else_chain: bool, context: &str) -> PResult<Branch> {
        let vars = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, stop) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match stop {
            Stop::End => None,
            Stop::Else(Some(k)) if allow_else_chain && k == keyword_of(context) => {
                // `{{else if p}}` is `{{else}}{{if p}}...{{end}}{{end}}`: the inner
                // control takes the final `{{end}}`.
                let t = self.next_non_space();
                let inner = self.control(true, context)?;
                Some(vec![match context {
                    "if" => Node::If(inner),
                    _ => {
                        let _ = t;
                        Node::With(inner)
                    }
                }])
            }
            Stop::Else(Some(k)) => {
                return self.error(format!(
                    "unexpected <{}> after {{{{else}}}}",
                    keyword_name(k)
                ));
            }
            Stop::Else(None) => {
                let (else_list, stop) = self.item_list()?;
                if !matches!(stop, Stop::End) {
                    return self.error("expected end; found {{else}}");
                }
                Some(else_list)
            }
        };
        self.vars.truncate(vars);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, `$i, $e :=` (range).
        'decls: loop {
            let v = self.peek_non_space();
            let Tok::Variable(name) = v.tok.clone() else {
                break;
            };
            let start = self.i;
            self.next_non_space();
            let next = self.peek_non_space();
            match next.tok {
                Tok::Assign | Tok::Declare => {
                    // Assigning an undeclared variable fails when it runs, as in Go.
                    pipe.is_assign = next.tok == Tok::Assign;
                    self.next_non_space();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    break 'decls;
                }
                Tok::Punct(',') => {
                    self.next_non_space();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().tok {
                            Tok::Variable(_) => continue 'decls,
                            _ => return self.error("range can only initialize variables"),
                        }
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                _ => {
                    self.i = start;
                    break 'decls;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            if t.tok == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::RawStr(_)
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0].kind,
                ArgKind::Bool(_)
                    | ArgKind::Dot
                    | ArgKind::Nil
                    | ArgKind::Number(_)
                    | ArgKind::Str(..)
            ) {
                return self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.error("empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        // Go gives a chain the position of its first field.
        let chain_pos = self.peek().pos;
        while let Tok::Field(f) = &self.peek().tok {
            fields.push(f[1..].to_string());
            self.next();
        }
        if fields.is_empty() {
            return Ok(Some(term));
        }
        let pos = chain_pos;
        let kind = match term.kind {
            ArgKind::Field(mut names) => {
                names.extend(fields);
                ArgKind::Field(names)
            }
            ArgKind::Variable(mut names) => {
                names.extend(fields);
                ArgKind::Variable(names)
            }
            ArgKind::Bool(_)
            | ArgKind::Str(..)
            | ArgKind::Number(_)
            | ArgKind::Nil
            | ArgKind::Dot => {
                return self.error(format!("unexpected . after term {:?}", term.to_string()));
            }
            _ => ArgKind::Chain(Box::new(term), fields),
        };
        Ok(Some(Arg { pos, kind }))
    }

    fn use_var(&self, name: &str) -> PResult<()> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            self.error(format!("undefined variable {name:?}"))
        }
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Ident(name) => {
                if !BUILTINS.contains(&name.as_str()) && !(self.is_func)(&name) {
                    return self.error(format!("function {name:?} not defined"));
                }
                ArgKind::Ident(name)
            }
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Variable(name) => {
                self.use_var(&name)?;
                ArgKind::Variable(vec![name])
            }
            Tok::Field(f) => ArgKind::Field(vec![f[1..].to_string()]),
            Tok::Bool(b) => ArgKind::Bool(b),
            Tok::Char(text) | Tok::Number(text) => match number(&text) {
                Ok(n) => ArgKind::Number(n),
                Err(e) => return self.error(e),
            },
            Tok::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                ArgKind::Pipe(Box::new(pipe))
            }
            Tok::Str(quoted) => match unquote(&quoted) {
                Some(s) => ArgKind::Str(s, quoted),
                None => return self.error(format!("invalid syntax: {quoted}")),
            },
            Tok::RawStr(s) => ArgKind::Str(s.clone(), format!("`{s}`")),
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos, kind }))
    }
}

enum Item {
    Node(Option<Node>),
    Stop(Stop),
}

fn keyword_of(context: &str) -> Keyword {
    if context == "if" {
        Keyword::If
    } else {
        Keyword::With
    }
}

/// A number constant as Go's `newNumber` reads it: every type it fits.
pub fn number(text: &str) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        int: None,
        float: None,
        is_char: false,
        is_complex: false,
    };
    if let Some(body) = text.strip_prefix('\'') {
        let c = unquote_char(body.strip_suffix('\'').unwrap_or(body))
            .ok_or_else(|| format!("malformed character constant: {text}"))?;
        n.is_char = true;
        n.int = Some(i64::from(u32::from(c)));
        n.float = Some(f64::from(u32::from(c)));
        return Ok(n);
    }
    if text.ends_with('i') {
        n.is_complex = true;
        return Ok(n);
    }
    n.int = go_int(text);
    if let Some(i) = n.int {
        n.float = Some(i as f64);
        return Ok(n);
    }
    match go_float(text) {
        Some(f) => {
            let looks_int = !text.contains(['.', 'e', 'E', 'p', 'P'])
                || (text.starts_with("0x") || text.starts_with("0X")) && !text.contains(['p', 'P']);
            if looks_int {
                return Err(format!("integer overflow: {text:?}"));
            }
            n.float = Some(f);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                n.int = Some(f as i64);
            }
            Ok(n)
        }
        None => Err(format!("illegal number syntax: {text:?}")),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let digits = digits.replace('_', "");
    let v = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal forms.
fn go_float(text: &str) -> Option<f64> {
    let clean = text.replace('_', "");
    if clean.contains(['x', 'X']) {
        return None;
    }
    clean.parse::<f64>().ok()
}

/// Go's `strconv.Unquote` of a double-quoted literal.
pub fn unquote(quoted: &str) -> Option<String> {
    let body = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(escape(&mut chars, '"')?);
    }
    Some(out)
}

fn unquote_char(body: &str) -> Option<char> {
    let mut chars = body.chars().peekable();
    let c = match chars.next()? {
        '\\' => escape(&mut chars, '\'')?,
        c => c,
    };
    chars.next().is_none().then_some(c)
}

fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char) -> Option<char> {
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
        let s: String = (0..n).filter_map(|_| chars.next()).collect();
        if s.len() != n {
            return None;
        }
        u32::from_str_radix(&s, 16).ok()
    };
    Some(match chars.next()? {
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        '\\' => '\\',
        c if c == quote => c,
        'x' => char::from_u32(hex(chars, 2)?)?,
        'u' => char::from_u32(hex(chars, 4)?)?,
        'U' => char::from_u32(hex(chars, 8)?)?,
        c @ '0'..='7' => {
            let s: String = std::iter::once(c)
                .chain((0..2).filter_map(|_| chars.next()))
                .collect();
            let v = u32::from_str_radix(&s, 8).ok()?;
            if v > 255 {
                return None;
            }
            char::from_u32(v)?
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Trees, String> {
        parse("t", text, &|f| f == "humanize").map_err(|e| e.to_string())
    }

    #[test]
    fn go_parse_errors() {
        assert_eq!(
            p("{{ if }}x{{ end }}").unwrap_err(),
            "template: t:1: missing value for if"
        );
        assert_eq!(
            p("a\n{{ nosuch 1 }}").unwrap_err(),
            "template: t:2: function \"nosuch\" not defined"
        );
        assert_eq!(
            p("{{ $x }}").unwrap_err(),
            "template: t:1: undefined variable \"$x\""
        );
        assert_eq!(
            p("{{ with 1 }}").unwrap_err(),
            "template: t:1: unexpected EOF"
        );
        assert_eq!(
            p("{{ end }}").unwrap_err(),
            "template: t:1: unexpected {{end}}"
        );
        assert_eq!(
            p("{{ 1 | 2 }}").unwrap_err(),
            "template: t:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            p("{{ break }}").unwrap_err(),
            "template: t:1: {{break}} outside {{range}}"
        );
        assert_eq!(
            p("{{ ( }}").unwrap_err(),
            "template: t:1: unclosed left paren"
        );
    }

    #[test]
    fn scopes_and_definitions() {
        assert!(
            p("{{ with $x := 1 }}{{ $x }}{{ end }}{{ $x }}").is_err(),
            "$x ends with its with"
        );
        assert!(p("{{ $x := 1 }}{{ if 1 }}{{ $x = 2 }}{{ end }}{{ $x }}").is_ok());
        let t =
            p("{{ define \"a\" }}A{{ end }}{{ template \"a\" . }}{{ block \"b\" 1 }}B{{ end }}")
                .unwrap();
        assert_eq!(t.trees.keys().collect::<Vec<_>>(), ["a", "b", "t"]);
        assert!(p("{{ range $i, $e := . }}{{ $i }}{{ break }}{{ end }}").is_ok());
        assert!(p("{{ if 1 }}a{{ else if 2 }}b{{ else }}c{{ end }}").is_ok());
    }

    #[test]
    fn numbers_have_every_type_they_fit() {
        let n = number("1e3").unwrap();
        assert_eq!((n.int, n.float), (Some(1000), Some(1000.0)));
        assert_eq!(number("0x1F").unwrap().int, Some(31));
        assert_eq!(number("1_000").unwrap().int, Some(1000));
        assert_eq!(number("1.5").unwrap().int, None);
        assert_eq!(number("'a'").unwrap().int, Some(97));
        assert!(number("99999999999999999999").is_err());
        assert_eq!(unquote(r#""a\tb\u00e9\"""#).unwrap(), "a\tbé\"");
    }
}
