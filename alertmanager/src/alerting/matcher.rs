//! [`Matcher`]: Alertmanager's label matchers (`name=value`, `name!=value`,
//! `name=~regex`, `name!~regex`), parsed from their text form as routes, inhibition rules,
//! silences and API filters write them.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::LabelSet;

/// How a matcher compares a label's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// One label matcher. A missing label matches as the empty value, as in Alertmanager.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub kind: MatchType,
    pub value: String,
    /// The anchored regex of a `=~`/`!~` matcher.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.kind, &self.value) == (&other.name, other.kind, &other.value)
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A matcher; a regex one fails when `value` is not a valid regex.
    pub fn new(name: impl Into<String>, kind: MatchType, value: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let value = value.into();
        let regex = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|e| Error::Matcher {
                    matcher: format!("{name}{}{value:?}", kind.as_str()),
                    message: e.to_string(),
                })?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name,
            kind,
            value,
            regex,
        })
    }

    /// `name="value"` equality.
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_string(),
            kind: MatchType::Equal,
            value: value.to_string(),
            regex: None,
        }
    }

    /// Whether `value` (empty when the label is missing) satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match self.kind {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchType::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Whether the label set satisfies the matcher.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

impl fmt::Display for Matcher {
    /// `name="value"` with the value quoted as Go's `%q` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.kind.as_str(), self.value)
    }
}

/// A conjunction of matchers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Parses every string (each may hold several comma-separated matchers, optionally in
    /// braces) and sorts the result as Alertmanager does.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Matchers> {
        let mut all = Vec::new();
        for t in texts {
            all.extend(parse_matchers(t.as_ref())?);
        }
        all.sort_by(|a, b| (&a.name, a.kind, &a.value).cmp(&(&b.name, b.kind, &b.value)));
        Ok(Matchers(all))
    }

    /// Whether every matcher matches (true for none).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Matchers {
    /// `{a="1",b=~"x|y"}`, as Alertmanager writes a route's matchers into group keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// Parses `a="1", b=~"x|y"` or `{a="1"}` or `a=1` into matchers.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>> {
    let err = |message: &str| Error::Matcher {
        matcher: text.to_string(),
        message: message.to_string(),
    };
    let mut s = text.trim();
    if let Some(inner) = s.strip_prefix('{') {
        s = inner
            .strip_suffix('}')
            .ok_or_else(|| err("missing closing \"}\""))?;
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let name: String = chars[start..i].iter().collect();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err("expected a label name"));
        }
        skip_ws(&mut i);
        let op: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let kind = if op.starts_with("=~") {
            i += 2;
            MatchType::Regex
        } else if op.starts_with("!=") {
            i += 2;
            MatchType::NotEqual
        } else if op.starts_with("!~") {
            i += 2;
            MatchType::NotRegex
        } else if op.starts_with('=') {
            i += 1;
            MatchType::Equal
        } else {
            return Err(err("expected one of =, !=, =~, !~ after the label name"));
        };
        skip_ws(&mut i);
        let mut value = String::new();
        if i < chars.len() && chars[i] == '"' {
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                let c = chars[i];
                i += 1;
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' if i < chars.len() => {
                        let e = chars[i];
                        i += 1;
                        match e {
                            'n' => value.push('\n'),
                            't' => value.push('\t'),
                            // Keep regex escapes such as `\.` as written.
                            '"' | '\\' => value.push(e),
                            other => {
                                value.push('\\');
                                value.push(other);
                            }
                        }
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(err("unterminated quoted value"));
            }
        } else {
            while i < chars.len() && chars[i] != ',' {
                value.push(chars[i]);
                i += 1;
            }
            value = value.trim_end().to_string();
        }
        out.push(Matcher::new(name, kind, value)?);
        skip_ws(&mut i);
        if i < chars.len() {
            if chars[i] != ',' {
                return Err(err("expected \",\" between matchers"));
            }
            i += 1;
        }
    }
    if out.is_empty() {
        return Err(err("no matcher"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_operator_and_quoting() {
        let m = parse_matchers(r#"{severity=~"critical|page", team!="db", env=prod,job!~node.*}"#)
            .unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].kind, MatchType::Regex);
        assert_eq!(m[0].value, "critical|page");
        assert_eq!(m[1].kind, MatchType::NotEqual);
        assert_eq!(m[2].value, "prod");
        assert_eq!(m[3].kind, MatchType::NotRegex);
        assert_eq!(m[3].to_string(), r#"job!~"node.*""#);
        let escaped = parse_matchers(r#"a="x\"y", b=~"1\.2""#).unwrap();
        assert_eq!(escaped[0].value, "x\"y");
        assert_eq!(escaped[1].value, r"1\.2");
        assert!(escaped[1].matches_value("1.2"));
        assert!(!escaped[1].matches_value("102"));
    }

    #[test]
    fn rejects_bad_matchers() {
        for bad in [
            "",
            "severity",
            "=x",
            "a=\"open",
            "a=~\"(\"",
            "{a=1",
            "a=\"1\" b=2",
        ] {
            assert!(parse_matchers(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_are_empty() {
        let l = labels(&[("severity", "critical-ish")]);
        let m = &parse_matchers(r#"severity=~"critical|page""#).unwrap()[0];
        assert!(!m.matches(&l));
        assert!(m.matches(&labels(&[("severity", "page")])));
        let absent = &parse_matchers(r#"team="""#).unwrap()[0];
        assert!(absent.matches(&l));
        let not = &parse_matchers("team!=db").unwrap()[0];
        assert!(not.matches(&l));
    }

    #[test]
    fn matchers_sort_and_print_like_alertmanager() {
        let m = Matchers::parse_all(&["team=db", r#"severity=~"a|b""#]).unwrap();
        assert_eq!(m.to_string(), r#"{severity=~"a|b",team="db"}"#);
        assert_eq!(Matchers::default().to_string(), "{}");
        assert!(Matchers::default().matches(&LabelSet::new()));
    }
}
