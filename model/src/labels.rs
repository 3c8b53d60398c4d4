//! Label sets as Prometheus prints them (`labels.Labels.String()`): `{a="b", c="d"}`,
//! values quoted as Go's `%q` quotes them.

use std::fmt;

/// Go's `%q` of a string (`strconv.Quote`): double quotes, Go's escapes, printable
/// Unicode kept as it is.
pub fn go_quote(s: &str) -> String {
    quote(s, false)
}

/// Go's `%+q` of a string (`strconv.QuoteToASCII`): as [`go_quote`], non-ASCII escaped.
pub fn go_quote_ascii(s: &str) -> String {
    quote(s, true)
}

/// Go's `%q` of a rune (`strconv.QuoteRune`): single quotes.
pub fn go_quote_rune(c: char) -> String {
    quote_rune(c, false)
}

/// Go's `%+q` of a rune (`strconv.QuoteRuneToASCII`).
pub fn go_quote_rune_ascii(c: char) -> String {
    quote_rune(c, true)
}

fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

/// Whether Go's `strconv.IsPrint` holds (approximated by Unicode general categories).
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E000}'..='\u{F8FF}'))
}

fn push_escaped(out: &mut String, c: char, quote: char, ascii: bool) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x80 && is_print(c) => out.push(c),
        c if !ascii && is_print(c) => out.push(c),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Writes `{a="b", c="d"}` (`{}` for no labels).
pub fn write_labels<'a, W: fmt::Write + ?Sized>(
    out: &mut W,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> fmt::Result {
    out.write_char('{')?;
    for (i, (name, value)) in labels.into_iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        out.write_str(name)?;
        out.write_char('=')?;
        out.write_str(&go_quote(value))?;
    }
    out.write_char('}')
}

/// `{a="b", c="d"}`.
pub fn render_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    let _ = write_labels(&mut out, labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny\t\x07\x01\x7f"), r#""x\ny\t\a\x01\x7f""#);
        assert_eq!(go_quote("é✓"), "\"é✓\"");
        assert_eq!(go_quote_rune('\''), r"'\''");
        assert_eq!(go_quote_rune('"'), "'\"'");
        assert_eq!(go_quote("a\u{200b}"), r#""a\u200b""#);
        assert_eq!(go_quote_ascii("é😀"), r#""\u00e9\U0001f600""#);
        assert_eq!(go_quote_rune_ascii('é'), r"'\u00e9'");
    }

    #[test]
    fn renders_label_sets() {
        assert_eq!(render_labels([]), "{}");
        assert_eq!(
            render_labels([("__name__", "up"), ("a", "x\"y")]),
            r#"{__name__="up", a="x\"y"}"#
        );
    }
}
