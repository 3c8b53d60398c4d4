//! Literal values: numbers as Go's `strconv` reads them, quoted strings, and matcher
//! regular expressions with Go's error wording.

use super::duration::parse_duration;
use super::lex::{Item, Kind};
use super::syntax::ParseError;

/// Go's `%f`.
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:.6}")
    }
}

/// A number literal's value (a duration literal counts its seconds).
pub(crate) fn number(item: &Item) -> Result<f64, ParseError> {
    if item.kind == Kind::Duration {
        return parse_duration(&item.val).map_err(|e| (item.pos, e));
    }
    parse_number(&item.val).ok_or_else(|| {
        (
            item.pos,
            format!(
                "error parsing number: strconv.ParseFloat: parsing {}: value out of range",
                super::lex::go_quote(&item.val)
            ),
        )
    })
}

/// A duration literal in a range or offset: a duration, or a number of seconds.
pub(crate) fn duration_literal(item: &Item) -> Result<f64, ParseError> {
    number(item)
}

/// Go's `strconv.ParseInt(s, 0, 64)`, else `ParseFloat`; None when out of range.
fn parse_number(s: &str) -> Option<f64> {
    let t = s.replace('_', "");
    let lower = t.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16)
            .map(|v| v as f64)
            .ok()
            .or(Some(f64::INFINITY));
    }
    if t.len() > 1
        && t.starts_with('0')
        && t.bytes().all(|b| b.is_ascii_digit())
        && let Ok(v) = i64::from_str_radix(&t[1..], 8)
    {
        return Some(v as f64);
    }
    let v: f64 = t.parse().ok()?;
    if v.is_infinite() && !lower.contains("inf") {
        return None;
    }
    Some(v)
}

/// The value of a quoted string token (the lexer has checked its escapes).
pub(crate) fn unquote(s: &str) -> String {
    let quote = s.chars().next().unwrap_or('"');
    let body = &s[quote.len_utf8()..s.len().saturating_sub(1).max(quote.len_utf8())];
    if quote == '`' {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        let digits = |n: usize, base: u32, chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut v = 0u32;
            for _ in 0..n {
                if let Some(d) = chars.peek().and_then(|c| c.to_digit(base)) {
                    v = v * base + d;
                    chars.next();
                }
            }
            v
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let v = e.to_digit(8).unwrap_or(0) * 64 + digits(2, 8, &mut chars);
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
            'x' => out.push(char::from_u32(digits(2, 16, &mut chars)).unwrap_or('\u{FFFD}')),
            'u' => out.push(char::from_u32(digits(4, 16, &mut chars)).unwrap_or('\u{FFFD}')),
            'U' => out.push(char::from_u32(digits(8, 16, &mut chars)).unwrap_or('\u{FFFD}')),
            other => out.push(other),
        }
    }
    out
}

/// Compiles a matcher's regular expression as Prometheus anchors it; the error in Go's
/// `regexp/syntax` words where they can be told apart.
pub(crate) fn compile_regex(value: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?s:{value})$")).map_err(|_| {
        let mut depth = 0i32;
        let mut escaped = false;
        let mut class: Option<usize> = None;
        for (i, c) in value.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '[' if class.is_none() => class = Some(i),
                ']' if class.is_some() => class = None,
                '(' if class.is_none() => depth += 1,
                ')' if class.is_none() => {
                    depth -= 1;
                    if depth < 0 {
                        return format!("error parsing regexp: unexpected ): `{value}`");
                    }
                }
                _ => {}
            }
        }
        if let Some(i) = class {
            return format!("error parsing regexp: missing closing ]: `{}`", &value[i..]);
        }
        if depth > 0 {
            return format!("error parsing regexp: missing closing ): `{value}`");
        }
        format!("error parsing regexp: invalid syntax: `{value}`")
    })
}
