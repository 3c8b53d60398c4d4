//! [`Selector`]: compiled label matchers with Prometheus semantics, and the choice of
//! which postings to read to find candidate series ([`Plan`]).

use std::fmt;

use regex::Regex;
use telltale_model::is_valid_label_name;
use telltale_storage_api::{MatchOp, Matcher};

use crate::error::{Error, Result};
use crate::labels::LabelSet;

/// One compiled matcher. A series without the label is treated as having the empty
/// value, so a matcher that matches `""` also matches series that lack the label.
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    name: String,
    op: Op,
}

#[derive(Clone, Debug)]
enum Op {
    Equal(String),
    NotEqual(String),
    /// Fully anchored: the pattern must match the whole value.
    Regex(Regex),
    NotRegex(Regex),
}

impl LabelMatcher {
    /// Compiles a protobuf matcher. Regular expressions are anchored at both ends, as in
    /// Prometheus (`^(?:re)$`).
    pub fn from_proto(m: &Matcher) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidMatcher {
            matcher: render(&m.name, op_symbol(m.op), &m.value),
            reason,
        };
        if !is_valid_label_name(&m.name) {
            return Err(invalid(format!("label name {:?} is not valid", m.name)));
        }
        let compile = |re: &str| {
            Regex::new(&format!("^(?:{re})$"))
                .map_err(|e| invalid(format!("bad regular expression: {e}")))
        };
        let op = match MatchOp::try_from(m.op) {
            Ok(MatchOp::Equal) => Op::Equal(m.value.clone()),
            Ok(MatchOp::NotEqual) => Op::NotEqual(m.value.clone()),
            Ok(MatchOp::Regex) => Op::Regex(compile(&m.value)?),
            Ok(MatchOp::NotRegex) => Op::NotRegex(compile(&m.value)?),
            Err(_) => return Err(invalid(format!("unknown operator {}", m.op))),
        };
        Ok(LabelMatcher {
            name: m.name.clone(),
            op,
        })
    }

    /// The label this matcher looks at.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a label value (`""` for an absent label) satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match &self.op {
            Op::Equal(v) => value == v,
            Op::NotEqual(v) => value != v,
            Op::Regex(re) => re.is_match(value),
            Op::NotRegex(re) => !re.is_match(value),
        }
    }

    /// Whether the matcher holds for a series.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether a series lacking the label matches.
    pub fn matches_empty(&self) -> bool {
        self.matches_value("")
    }

    /// `Some(value)` for an equality matcher with a non-empty value: the one case that a
    /// single postings list answers exactly.
    fn equal_value(&self) -> Option<&str> {
        match &self.op {
            Op::Equal(v) if !v.is_empty() => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sym, value) = match &self.op {
            Op::Equal(v) => ("=", v.as_str()),
            Op::NotEqual(v) => ("!=", v.as_str()),
            // Strip the anchors added by `from_proto`.
            Op::Regex(re) => ("=~", unanchor(re.as_str())),
            Op::NotRegex(re) => ("!~", unanchor(re.as_str())),
        };
        f.write_str(&render(&self.name, sym, value))
    }
}

fn unanchor(re: &str) -> &str {
    re.strip_prefix("^(?:")
        .and_then(|r| r.strip_suffix(")$"))
        .unwrap_or(re)
}

fn op_symbol(op: i32) -> &'static str {
    match MatchOp::try_from(op) {
        Ok(MatchOp::Equal) => "=",
        Ok(MatchOp::NotEqual) => "!=",
        Ok(MatchOp::Regex) => "=~",
        Ok(MatchOp::NotRegex) => "!~",
        Err(_) => "?",
    }
}

fn render(name: &str, op: &str, value: &str) -> String {
    format!("{name}{op}{value:?}")
}

/// All matchers of one `{...}` selector; a series is selected when every one holds.
#[derive(Clone, Debug)]
pub struct Selector {
    matchers: Vec<LabelMatcher>,
    /// Index of the first matcher that rejects the empty value (one always exists).
    non_empty: usize,
}

/// Where to find the candidate series of a [`Selector`] before filtering them with it.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan<'a> {
    /// Intersect the postings of these `(name, value)` pairs.
    Intersect(Vec<(&'a str, &'a str)>),
    /// Scan every posting of label `name`, keeping the series whose value satisfies
    /// the matcher at `matcher` (an index into the selector).
    ScanName { name: &'a str, matcher: usize },
}

impl Selector {
    /// Compiles matchers. At least one must not match the empty string, otherwise the
    /// selector would select every series: [`Error::EmptySelector`].
    pub fn from_proto(matchers: &[Matcher]) -> Result<Self> {
        let matchers = matchers
            .iter()
            .map(LabelMatcher::from_proto)
            .collect::<Result<Vec<_>>>()?;
        let non_empty = matchers
            .iter()
            .position(|m| !m.matches_empty())
            .ok_or(Error::EmptySelector)?;
        Ok(Selector {
            matchers,
            non_empty,
        })
    }

    /// Whether every matcher holds for a series.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// The matchers, in request order.
    pub fn matchers(&self) -> &[LabelMatcher] {
        &self.matchers
    }

    /// Chooses the postings to read. Every selected series has the labels of the
    /// non-empty equality matchers, so when there are any their postings are intersected;
    /// otherwise a matcher that rejects the empty value still requires its label to be
    /// present, so the postings of that label name are scanned.
    pub fn plan(&self) -> Plan<'_> {
        let equal: Vec<(&str, &str)> = self
            .matchers
            .iter()
            .filter_map(|m| m.equal_value().map(|v| (m.name(), v)))
            .collect();
        if !equal.is_empty() {
            return Plan::Intersect(equal);
        }
        Plan::ScanName {
            name: self.matchers[self.non_empty].name(),
            matcher: self.non_empty,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use telltale_storage_api::Label;

    use super::*;

    fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value)
    }

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        LabelSet::from_labels(
            &pairs
                .iter()
                .map(|(n, v)| Label::new(*n, *v))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn regex_is_fully_anchored() {
        let re = LabelMatcher::from_proto(&m(MatchOp::Regex, "job", "no.e")).unwrap();
        assert!(re.matches_value("node"));
        assert!(!re.matches_value("node2"));
        assert!(!re.matches_value("xnode"));
        let alt = LabelMatcher::from_proto(&m(MatchOp::Regex, "job", "a|b")).unwrap();
        assert!(alt.matches_value("a") && alt.matches_value("b"));
        assert!(!alt.matches_value("ab"));
        assert_eq!(alt.to_string(), r#"job=~"a|b""#);
    }

    #[test]
    fn empty_matching_matchers_match_absent_labels() {
        let s = set(&[("__name__", "up"), ("job", "node")]);
        let absent_eq = LabelMatcher::from_proto(&m(MatchOp::Equal, "zone", "")).unwrap();
        assert!(absent_eq.matches(&s));
        let absent_re = LabelMatcher::from_proto(&m(MatchOp::Regex, "zone", "a|")).unwrap();
        assert!(absent_re.matches(&s));
        let present = LabelMatcher::from_proto(&m(MatchOp::NotEqual, "job", "")).unwrap();
        assert!(present.matches(&s));
        let not_re = LabelMatcher::from_proto(&m(MatchOp::NotRegex, "zone", ".+")).unwrap();
        assert!(not_re.matches(&s));
    }

    #[test]
    fn rejects_selectors_that_match_everything() {
        let err = Selector::from_proto(&[m(MatchOp::Regex, "job", ".*")]).unwrap_err();
        assert!(matches!(err, Error::EmptySelector));
        assert!(matches!(
            Selector::from_proto(&[]).unwrap_err(),
            Error::EmptySelector
        ));
        assert!(Selector::from_proto(&[m(MatchOp::Regex, "job", ".+")]).is_ok());
    }

    #[test]
    fn rejects_bad_matchers() {
        let err = Selector::from_proto(&[m(MatchOp::Regex, "job", "(")]).unwrap_err();
        assert!(err.to_string().contains("bad regular expression"), "{err}");
        assert!(err.to_string().contains(r#"job=~"(""#), "{err}");
        let err = Selector::from_proto(&[m(MatchOp::Equal, "a-b", "x")]).unwrap_err();
        assert!(err.to_string().contains("label name"), "{err}");
        let bogus = Matcher {
            op: 7,
            name: "job".into(),
            value: "x".into(),
        };
        let err = Selector::from_proto(&[bogus]).unwrap_err();
        assert!(err.to_string().contains("unknown operator 7"), "{err}");
        assert!(err.is_invalid_argument());
    }

    #[test]
    fn plan_prefers_equality_postings() {
        let sel = Selector::from_proto(&[
            m(MatchOp::Regex, "job", "n.*"),
            m(MatchOp::Equal, "__name__", "up"),
            m(MatchOp::Equal, "zone", ""),
            m(MatchOp::Equal, "env", "prod"),
        ])
        .unwrap();
        assert_eq!(
            sel.plan(),
            Plan::Intersect(vec![("__name__", "up"), ("env", "prod")])
        );
        let sel = Selector::from_proto(&[
            m(MatchOp::NotEqual, "zone", "a"),
            m(MatchOp::Regex, "job", "n.+"),
        ])
        .unwrap();
        assert_eq!(
            sel.plan(),
            Plan::ScanName {
                name: "job",
                matcher: 1
            }
        );
    }
}
