//! The lexer: Go's `text/template/parse` lexer — text between `{{ }}` actions, `{{-`
//! and `-}}` trimming the whitespace beside them, `{{/* comments */}}`, and inside
//! actions the words of pipelines.

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Comment,
    /// A function name or keyword-less identifier.
    Ident(String),
    /// `.Name` (the dot included in the text).
    Field(String),
    /// `$` or `$name`.
    Variable(String),
    Dot,
    Str(String),
    RawStr(String),
    Char(String),
    Number(String),
    Bool(bool),
    Nil,
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    /// Any other printable ASCII character in an action (Go's `itemChar`), e.g. the `,`
    /// of `range $i, $x := ...`; the parser calls it unexpected anywhere else.
    Punct(char),
    Space,
    Keyword(Keyword),
    Eof,
    /// What is wrong with the input from here on (Go's `itemError`): the lexer stops,
    /// and the parser reports it when it gets there, after any earlier error.
    Error(String),
}

/// Go's template keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// A token and where it starts (byte offset) and on which line (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
    pub line: usize,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";
const SPACE_CHARS: &[char] = &[' ', '\t', '\r', '\n'];

/// Splits `input` into tokens; when the input is malformed, the last token is a
/// [`Tok::Error`] saying what is wrong at that line (as Go's lexer, which stops there).
pub fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        pos: 0,
        line: 1,
        out: Vec::new(),
        paren_depth: 0,
    };
    if let Err((line, message)) = l.run() {
        let pos = l.pos;
        l.out.push(Token {
            tok: Tok::Error(message),
            pos,
            line,
        });
    }
    l.out
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    line: usize,
    out: Vec<Token>,
    paren_depth: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn emit(&mut self, tok: Tok, start: usize, line: usize) {
        self.out.push(Token {
            tok,
            pos: start,
            line,
        });
    }

    fn advance(&mut self, n: usize) {
        let s = &self.input[self.pos..self.pos + n];
        self.line += s.matches('\n').count();
        self.pos += n;
    }

    fn run(&mut self) -> Result<(), (usize, String)> {
        loop {
            // Text up to the next action.
            let rest = self.rest();
            let Some(at) = rest.find(LEFT) else {
                if !rest.is_empty() {
                    let (start, line) = (self.pos, self.line);
                    self.advance(rest.len());
                    self.emit(Tok::Text(rest.to_string()), start, line);
                }
                let (pos, line) = (self.pos, self.line);
                self.emit(Tok::Eof, pos, line);
                return Ok(());
            };
            let after = &rest[at + LEFT.len()..];
            let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
            let mut text = &rest[..at];
            if trim_left {
                text = text.trim_end_matches(SPACE_CHARS);
            }
            if !text.is_empty() {
                let (start, line) = (self.pos, self.line);
                self.emit(Tok::Text(text.to_string()), start, line);
            }
            self.advance(at);
            self.lex_action(trim_left)?;
        }
    }

    /// At `{{`: the action up to and including `}}`.
    fn lex_action(&mut self, trim_left: bool) -> Result<(), (usize, String)> {
        let (start, line) = (self.pos, self.line);
        self.advance(LEFT.len());
        if trim_left {
            self.advance(2);
        }
        // A comment must start right after the delimiter.
        if self.rest().starts_with("/*") {
            return self.lex_comment(start, line);
        }
        self.emit(Tok::LeftDelim, start, line);
        self.paren_depth = 0;
        loop {
            if let Some(trim) = self.at_right_delim() {
                if self.paren_depth > 0 {
                    return Err((self.line, "unclosed left paren".into()));
                }
                let (p, l) = (self.pos, self.line);
                self.advance((if trim { 2 } else { 0 }) + RIGHT.len());
                self.emit(Tok::RightDelim, p, l);
                if trim {
                    let skip =
                        self.rest().len() - self.rest().trim_start_matches(SPACE_CHARS).len();
                    self.advance(skip);
                }
                return Ok(());
            }
            self.lex_inside()?;
        }
    }

    /// Whether `}}` (or ` -}}`) is next; `Some(true)` for the trimming form.
    fn at_right_delim(&self) -> Option<bool> {
        let rest = self.rest();
        let mut chars = rest.chars();
        if let (Some(c), Some('-')) = (chars.next(), chars.next())
            && is_space(c)
            && rest[1 + 1..].starts_with(RIGHT)
        {
            return Some(true);
        }
        rest.starts_with(RIGHT).then_some(false)
    }

    fn lex_comment(&mut self, start: usize, line: usize) -> Result<(), (usize, String)> {
        let rest = self.rest();
        let Some(end) = rest.find("*/") else {
            return Err((self.line, "unclosed comment".into()));
        };
        self.advance(end + 2);
        let trim = match self.at_right_delim() {
            Some(t) => t,
            None => return Err((self.line, "comment ends before closing delimiter".into())),
        };
        self.advance((if trim { 2 } else { 0 }) + RIGHT.len());
        self.emit(Tok::Comment, start, line);
        if trim {
            let skip = self.rest().len() - self.rest().trim_start_matches(SPACE_CHARS).len();
            self.advance(skip);
        }
        Ok(())
    }

    fn lex_inside(&mut self) -> Result<(), (usize, String)> {
        let rest = self.rest();
        let (start, line) = (self.pos, self.line);
        let Some(c) = rest.chars().next() else {
            return Err((self.line, "unclosed action".into()));
        };
        match c {
            '\r' | '\n' | ' ' | '\t' => {
                // Spaces up to (not into) a trimming right delimiter.
                let mut n = 0;
                for ch in rest.chars() {
                    if !is_space(ch) {
                        break;
                    }
                    if rest[n..].starts_with(" -}}")
                        || rest[n..].starts_with("\t-}}")
                        || rest[n..].starts_with("\n-}}")
                        || rest[n..].starts_with("\r-}}")
                    {
                        break;
                    }
                    n += ch.len_utf8();
                }
                if n == 0 {
                    // The space belongs to the trim marker.
                    return Ok(());
                }
                self.advance(n);
                self.emit(Tok::Space, start, line);
            }
            '=' => {
                self.advance(1);
                self.emit(Tok::Assign, start, line);
            }
            ':' => {
                if !rest.starts_with(":=") {
                    return Err((self.line, "expected :=".into()));
                }
                self.advance(2);
                self.emit(Tok::Declare, start, line);
            }
            '|' => {
                self.advance(1);
                self.emit(Tok::Pipe, start, line);
            }
            '"' => {
                let n = quoted_len(rest, '"')
                    .ok_or((self.line, "unterminated quoted string".to_string()))?;
                self.advance(n);
                self.emit(Tok::Str(rest[..n].to_string()), start, line);
            }
            '`' => {
                let end = rest[1..]
                    .find('`')
                    .ok_or((self.line, "unterminated raw quoted string".to_string()))?;
                let n = end + 2;
                self.advance(n);
                self.emit(Tok::RawStr(rest[1..n - 1].to_string()), start, line);
            }
            '\'' => {
                let n = quoted_len(rest, '\'')
                    .ok_or((self.line, "unterminated character constant".to_string()))?;
                self.advance(n);
                self.emit(Tok::Char(rest[..n].to_string()), start, line);
            }
            '$' => {
                let n = 1 + rest[1..]
                    .find(|c: char| !is_alnum(c))
                    .unwrap_or(rest.len() - 1);
                self.advance(n);
                self.expect_terminator()?;
                self.emit(Tok::Variable(rest[..n].to_string()), start, line);
            }
            '(' => {
                self.paren_depth += 1;
                self.advance(1);
                self.emit(Tok::LeftParen, start, line);
            }
            ')' => {
                // Go emits the paren before it finds it unbalanced.
                self.advance(1);
                self.emit(Tok::RightParen, start, line);
                if self.paren_depth == 0 {
                    return Err((self.line, format!("unexpected right paren {}", go_rune(c))));
                }
                self.paren_depth -= 1;
            }
            '.' => {
                let next = rest[1..].chars().next();
                if next.is_some_and(|d| d.is_ascii_digit()) {
                    return self.lex_number();
                }
                let n = 1 + rest[1..]
                    .find(|c: char| !is_alnum(c))
                    .unwrap_or(rest.len() - 1);
                self.advance(n);
                if n > 1 {
                    self.expect_terminator()?;
                }
                if n == 1 {
                    self.emit(Tok::Dot, start, line);
                } else {
                    self.emit(Tok::Field(rest[..n].to_string()), start, line);
                }
            }
            '+' | '-' | '0'..='9' => return self.lex_number(),
            c if is_alnum(c) => {
                let n = rest.find(|c: char| !is_alnum(c)).unwrap_or(rest.len());
                let word = &rest[..n];
                self.advance(n);
                let tok = match word {
                    "block" => Tok::Keyword(Keyword::Block),
                    "break" => Tok::Keyword(Keyword::Break),
                    "continue" => Tok::Keyword(Keyword::Continue),
                    "define" => Tok::Keyword(Keyword::Define),
                    "else" => Tok::Keyword(Keyword::Else),
                    "end" => Tok::Keyword(Keyword::End),
                    "if" => Tok::Keyword(Keyword::If),
                    "range" => Tok::Keyword(Keyword::Range),
                    "template" => Tok::Keyword(Keyword::Template),
                    "with" => Tok::Keyword(Keyword::With),
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    _ => Tok::Ident(word.to_string()),
                };
                self.expect_terminator()?;
                self.emit(tok, start, line);
            }
            c if c.is_ascii_graphic() => {
                self.advance(1);
                self.emit(Tok::Punct(c), start, line);
            }
            c => {
                return Err((
                    self.line,
                    format!("unrecognized character in action: {}", go_rune(c)),
                ));
            }
        }
        Ok(())
    }

    /// After a word, `$variable` or `.Field`: what may follow it (Go's `atTerminator`).
    fn expect_terminator(&self) -> Result<(), (usize, String)> {
        let rest = self.rest();
        match rest.chars().next() {
            None => Ok(()),
            Some(c)
                if is_space(c)
                    || matches!(c, '.' | ',' | '|' | ':' | ')' | '(')
                    || rest.starts_with(RIGHT) =>
            {
                Ok(())
            }
            Some(c) => Err((self.line, format!("bad character {}", go_rune(c)))),
        }
    }

    /// A number as Go's scanner reads it: sign, base prefix, digits with `_`, fraction,
    /// exponent, `i`.
    fn lex_number(&mut self) -> Result<(), (usize, String)> {
        let rest = self.rest();
        let (start, line) = (self.pos, self.line);
        let b = rest.as_bytes();
        let mut i = 0;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        let mut exp = b"eE".as_slice();
        if b.len() > i + 1 && b[i] == b'0' {
            match b[i + 1] {
                b'x' | b'X' => {
                    i += 2;
                    digits = b"0123456789abcdefABCDEF_";
                    exp = b"pP";
                }
                b'o' | b'O' => {
                    i += 2;
                    digits = b"01234567_";
                    exp = b"";
                }
                b'b' | b'B' => {
                    i += 2;
                    digits = b"01_";
                    exp = b"";
                }
                _ => {}
            }
        }
        let run = |i: &mut usize, set: &[u8]| {
            while *i < b.len() && set.contains(&b[*i]) {
                *i += 1;
            }
        };
        run(&mut i, digits);
        if i < b.len() && b[i] == b'.' {
            i += 1;
            run(&mut i, digits);
        }
        if !exp.is_empty() && i < b.len() && exp.contains(&b[i]) {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            run(&mut i, b"0123456789_");
        }
        if i < b.len() && b[i] == b'i' {
            i += 1;
        }
        let next = rest[i..].chars().next();
        if next.is_some_and(is_alnum) || i == 0 || (i == 1 && !b[0].is_ascii_digit()) {
            let end = rest[i..]
                .find(|c: char| !is_alnum(c) && c != '.')
                .map_or(rest.len(), |e| e + i);
            return Err((
                self.line,
                format!("bad number syntax: {:?}", &rest[..end.max(1)]),
            ));
        }
        self.advance(i);
        self.emit(Tok::Number(rest[..i].to_string()), start, line);
        Ok(())
    }
}

/// Go's `%#U` of a character: `U+002F '/'`.
fn go_rune(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

/// The length of the quoted literal at the start of `s` (quotes included), honoring
/// backslash escapes; `None` when it does not close on its line.
fn quoted_len(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            '\n' => return None,
            '\\' if !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i + 1),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn trims_around_markers() {
        assert_eq!(
            toks("a  {{- 3 -}}  b"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Number("3".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
        // Without a space the minus belongs to the number.
        assert_eq!(toks("{{-3}}")[1], Tok::Number("-3".into()));
    }

    #[test]
    fn words_of_a_pipeline() {
        assert_eq!(
            toks("{{ $x := .A.b | printf \"%d\" 'c' `r` }}"),
            vec![
                Tok::LeftDelim,
                Tok::Space,
                Tok::Variable("$x".into()),
                Tok::Space,
                Tok::Declare,
                Tok::Space,
                Tok::Field(".A".into()),
                Tok::Field(".b".into()),
                Tok::Space,
                Tok::Pipe,
                Tok::Space,
                Tok::Ident("printf".into()),
                Tok::Space,
                Tok::Str("\"%d\"".into()),
                Tok::Space,
                Tok::Char("'c'".into()),
                Tok::Space,
                Tok::RawStr("r".into()),
                Tok::Space,
                Tok::RightDelim,
                Tok::Eof
            ]
        );
    }

    /// The lexer's complaint (line, message), if it stopped on one.
    fn lex_err(s: &str) -> Option<(usize, String)> {
        match lex(s).pop()? {
            Token {
                tok: Tok::Error(m),
                line,
                ..
            } => Some((line, m)),
            _ => None,
        }
    }

    #[test]
    fn comments_and_errors() {
        assert_eq!(
            toks("a {{- /* x */ -}} b"),
            vec![
                Tok::Text("a".into()),
                Tok::Comment,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
        // A comment must start the action: otherwise `/` is just a character.
        assert_eq!(toks("{{ /* x */ }}")[2], Tok::Punct('/'));
        assert_eq!(
            lex_err("{{/* x */ 1}}").unwrap().1,
            "comment ends before closing delimiter"
        );
        assert_eq!(
            lex_err("x\n{{ \"a }}"),
            Some((2, "unterminated quoted string".into()))
        );
        assert!(
            lex_err("{{ 3x }}")
                .unwrap()
                .1
                .starts_with("bad number syntax")
        );
        assert!(lex_err("{{ ( }}").is_some());
        assert_eq!(lex_err("{{ 1 }}"), None);
    }

    #[test]
    fn errors_come_where_go_finds_them() {
        // Tokens before the error reach the parser first (its error may come earlier).
        let t = toks("{{ f }} {{ $x }");
        assert_eq!(t[t.len() - 2], Tok::Punct('}'));
        assert_eq!(t[t.len() - 1], Tok::Error("unclosed action".into()));
        // `)` is emitted before it is found unbalanced.
        let t = toks("{{ ) }}");
        assert_eq!(
            &t[2..],
            [
                Tok::RightParen,
                Tok::Error("unexpected right paren U+0029 ')'".into())
            ]
        );
        // What may follow a word, a variable or a field.
        for s in ["{{ x= }}", "{{ $x=1 }}", "{{ .a=1 }}"] {
            assert_eq!(lex_err(s).unwrap().1, "bad character U+003D '='", "{s}");
        }
        assert_eq!(lex_err("{{ é }}"), None, "a letter starts an identifier");
        assert_eq!(
            lex_err("{{ \u{a0} }}").unwrap().1,
            "unrecognized character in action: U+00A0 '\u{a0}'"
        );
    }
}
