//! Label sets as Prometheus prints them (`labels.Labels.String()`): `{a="b", c="d"}`,
//! and a series as `name{a="b"}`; values quoted as Go's `%q` quotes them.

use std::fmt;

use crate::names::METRIC_NAME_LABEL;

/// Go's `%q` of a string (`strconv.Quote`): double quotes, Go's escapes, printable
/// Unicode kept as it is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => escape_char(c, &mut out),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a rune: single quotes.
pub fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    match c {
        '\'' => out.push_str("\\'"),
        '\\' => out.push_str("\\\\"),
        _ => escape_char(c, &mut out),
    }
    out.push('\'');
    out
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c => out.push(c),
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

/// A series as Prometheus names it: `name{a="b"}`, the metric name taken out of the
/// braces (`name` alone when it has no other labels; `{a="b"}` when it has no name).
pub fn render_series<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut name = "";
    let mut rest = Vec::new();
    for (n, v) in labels {
        if n == METRIC_NAME_LABEL {
            name = v;
        } else {
            rest.push((n, v));
        }
    }
    if rest.is_empty() && !name.is_empty() {
        return name.to_string();
    }
    let mut out = name.to_string();
    let _ = write_labels(&mut out, rest);
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
    }

    #[test]
    fn renders_label_sets() {
        assert_eq!(render_labels([]), "{}");
        assert_eq!(
            render_labels([("__name__", "up"), ("a", "x\"y")]),
            r#"{__name__="up", a="x\"y"}"#
        );
        assert_eq!(render_series([("__name__", "up")]), "up");
        assert_eq!(
            render_series([("__name__", "up"), ("job", "j")]),
            r#"up{job="j"}"#
        );
        assert_eq!(render_series([("job", "j")]), r#"{job="j"}"#);
        assert_eq!(render_series([]), "{}");
    }
}
