//! Prometheus's template functions and how alerting rules expand their labels and
//! annotations (Prometheus 2.42's `template/template.go` and `rules/alerting.go`): the
//! text gets `$labels`, `$externalLabels`, `$externalURL` and `$value` prepended as
//! variable definitions, is parsed as `__alert_<name>` with `missingkey=zero`, and an
//! error becomes `<error expanding template: ...>`. `query` runs through a
//! [`TemplateQuerier`] at the rule's evaluation time.
//!
//! Beyond 2.42's alert functions, `toDuration` (Prometheus 2.45 and later) and `tmpl`
//! (Prometheus's console templates) are defined too; promtool 2.42 rejects both in
//! rule files.

use std::collections::BTreeMap;

use regex::Regex;

use crate::format::query_escape;
use crate::labels::LabelSet;
use crate::template::exec::{Functions, MissingKey};
use crate::template::funcs::{Param, Signature};
use crate::template::gofloat::format_float;
use crate::template::gotime;
use crate::template::value::{ListKind, MapKind, StructKind, Value};
use crate::template::{ParseError, Templates};

/// One sample of a `query` result.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    pub labels: LabelSet,
    pub value: f64,
}

/// Runs the PromQL of a template's `query` (synchronously: templates expand off the async
/// worker threads).
pub trait TemplateQuerier: Sync {
    fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QuerySample>, String>;
}

/// The variable definitions Prometheus prepends to every alert template (on the same
/// line, so positions in errors count them as Prometheus's do).
pub const ALERT_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Prometheus's functions for one expansion.
pub struct PromFunctions<'a> {
    pub querier: Option<&'a dyn TemplateQuerier>,
    /// The evaluation time `query` and `now` use.
    pub time_ms: i64,
    pub external_url: &'a str,
}

impl PromFunctions<'static> {
    /// The functions as parsing sees them (for checks without an evaluation).
    pub fn for_parsing() -> PromFunctions<'static> {
        PromFunctions {
            querier: None,
            time_ms: 0,
            external_url: "",
        }
    }
}

/// The data of an alert template: `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`.
pub fn alert_data(
    labels: &LabelSet,
    external_labels: &LabelSet,
    external_url: &str,
    value: f64,
) -> Value {
    Value::structure(
        StructKind::AlertData,
        vec![
            ("Labels", Value::string_map(MapKind::Strings, labels)),
            (
                "ExternalLabels",
                Value::string_map(MapKind::Strings, external_labels),
            ),
            ("ExternalURL", Value::str(external_url)),
            ("Value", Value::Float(value)),
        ],
    )
}

/// One alerting rule's label or annotation template, parsed once.
#[derive(Clone, Debug)]
pub struct AlertTemplate {
    name: String,
    parsed: Result<Templates, ParseError>,
    /// The text itself when it has no action (it expands to itself).
    plain: Option<String>,
}

impl AlertTemplate {
    /// Parses `text` as Prometheus does for the rule `alert`.
    pub fn new(alert: &str, text: &str) -> AlertTemplate {
        let name = format!("__alert_{alert}");
        let mut set = Templates::new();
        let full = format!("{ALERT_DEFS}{text}");
        let parsed = set
            .parse(&name, &full, &PromFunctions::for_parsing())
            .map(|()| set);
        let plain = (!text.contains("{{")).then(|| text.to_string());
        AlertTemplate {
            name,
            parsed,
            plain,
        }
    }

    /// The parse error, as promtool reports it.
    pub fn parse_error(&self) -> Option<&ParseError> {
        self.parsed.as_ref().err()
    }

    /// What `check rules` reports: Go's parse error (as promtool does), or a call that
    /// cannot succeed whatever the data.
    pub fn check(&self) -> Result<(), String> {
        match &self.parsed {
            Err(e) => Err(e.to_string()),
            Ok(set) => set.check(&PromFunctions::for_parsing()),
        }
    }

    /// Expands the template, or says why it could not (Prometheus's error text).
    pub fn try_expand(&self, data: &Value, funcs: &PromFunctions<'_>) -> Result<String, String> {
        if let Some(text) = &self.plain {
            return Ok(text.clone());
        }
        let set = match &self.parsed {
            Ok(set) => set,
            Err(e) => return Err(format!("error parsing template {}: {e}", self.name)),
        };
        set.execute(&self.name, data, funcs, MissingKey::Zero)
            .map_err(|e| format!("error executing template {}: {e}", self.name))
    }

    /// Expands the template; an error becomes `<error expanding template: ...>`.
    pub fn expand(&self, data: &Value, funcs: &PromFunctions<'_>) -> String {
        self.try_expand(data, funcs)
            .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
    }
}

/// Go's `strconv.ParseFloat` error text.
fn parse_float(s: &str) -> Result<f64, String> {
    let t = s.replace('_', "");
    let lower = t.to_ascii_lowercase();
    let trimmed = lower.trim_start_matches(['+', '-']);
    let ok_word = matches!(trimmed, "inf" | "infinity" | "nan");
    if !ok_word && trimmed.chars().any(|c| c.is_ascii_alphabetic() && c != 'e') || s.is_empty() {
        return Err(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"));
    }
    t.parse::<f64>()
        .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
}

/// Prometheus's `convertToFloat`.
fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_float(s),
        Value::Duration { nanos, .. } => Ok(*nanos as f64 / 1e9),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

/// `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// `humanize1024`: binary prefixes.
pub fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// `humanizeDuration` of seconds: `1d 2h 3m 4s`, `1.5s`, `250ms`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let d = v as i64;
        let (seconds, minutes, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Seconds as a time truncated to milliseconds (`model.TimeFromUnixNano`), in nanoseconds.
fn float_to_time(v: f64) -> Result<i64, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".into());
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', None)
        ));
    }
    let ms = (ns as i64) / 1_000_000;
    Ok(ms * 1_000_000)
}

/// Go's `strings.Title`: the first letter of each word upper-cased.
pub fn title(s: &str) -> String {
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.push_str(&one_char_case(c, true));
        } else {
            out.push(c);
        }
        prev_sep = is_sep(c);
    }
    out
}

/// Go's per-character `unicode.ToUpper` / `ToLower` (one character in, one out).
fn one_char_case(c: char, upper: bool) -> String {
    let mapped: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    match mapped.as_slice() {
        [one] => one.to_string(),
        _ => c.to_string(),
    }
}

/// Go's `strings.ToUpper` / `ToLower`.
pub fn change_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| one_char_case(c, upper)).collect()
}

/// Go's `net.SplitHostPort`.
fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if port.contains(':') {
            return None;
        }
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || host.contains('[') || host.contains(']') {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Prometheus's duration syntax (`1h30m`, `5m`, `2d`) in seconds.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    telltale_model::parse_duration(s)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .map_err(|e| e.to_string())
}

/// Compiles a Go (RE2) regular expression.
pub fn go_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| {
        format!(
            "error parsing regexp: {}",
            e.to_string().lines().last().unwrap_or("invalid")
        )
    })
}

/// Go's `Regexp.ReplaceAllString`: `$1`, `${name}` expand; `$$` is a dollar.
pub fn re_replace_all(pattern: &str, repl: &str, text: &str) -> Result<String, String> {
    let re = go_regex(pattern).map_err(|e| format!("regexp: Compile({pattern:?}): {e}"))?;
    Ok(re.replace_all(text, repl).into_owned())
}

fn sample_of(v: &Value) -> Option<(&BTreeMap<String, Value>, f64)> {
    let Value::Struct(s) = v else { return None };
    let labels = match s.field("Labels")? {
        Value::Map(m) => &m.entries,
        _ => return None,
    };
    let value = match s.field("Value")? {
        Value::Float(f) => *f,
        _ => return None,
    };
    Some((labels, value))
}

fn sample_value(labels: &LabelSet, value: f64) -> Value {
    Value::structure(
        StructKind::Sample,
        vec![
            ("Labels", Value::string_map(MapKind::Strings, labels)),
            ("Value", Value::Float(value)),
        ],
    )
}

impl Functions for PromFunctions<'_> {
    fn signature(&self, name: &str) -> Option<Signature> {
        use Param::*;
        Some(match name {
            "query" => Signature::fixed(&[Str]),
            "first" => Signature::fixed(&[QueryResult]),
            "label" => Signature::fixed(&[Str, Sample]),
            "value" | "strvalue" => Signature::fixed(&[Sample]),
            "args" => Signature::variadic(&[], Any),
            "reReplaceAll" => Signature::fixed(&[Str, Str, Str]),
            "safeHtml" | "title" | "toUpper" | "toLower" | "graphLink" | "tableLink"
            | "stripPort" | "stripDomain" | "parseDuration" => Signature::fixed(&[Str]),
            "match" => Signature::fixed(&[Str, Str]),
            "sortByLabel" => Signature::fixed(&[Str, QueryResult]),
            "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
            | "humanizeTimestamp" | "toTime" | "toDuration" => Signature::fixed(&[Any]),
            "pathPrefix" | "externalURL" | "now" => Signature::fixed(&[]),
            "tmpl" => Signature::fixed(&[Str, Any]),
            _ => return None,
        })
    }

    fn call(
        &self,
        name: &str,
        args: Vec<Value>,
        tmpl: &mut dyn FnMut(&str, Value) -> Result<String, String>,
    ) -> Result<Value, String> {
        let s = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or_default();
        let num = |i: usize| {
            args.get(i)
                .map_or(Err("missing argument".to_string()), to_float)
        };
        Ok(match name {
            "query" => {
                let Some(q) = self.querier else {
                    return Err("no query engine to run queries".into());
                };
                let result = q.query(s(0), self.time_ms)?;
                Value::list(
                    ListKind::QueryResult,
                    result
                        .iter()
                        .map(|r| sample_value(&r.labels, r.value))
                        .collect(),
                )
            }
            "first" => match &args[0] {
                Value::List(l) if !l.items.is_empty() => l.items[0].clone(),
                _ => return Err("first() called on vector with no elements".into()),
            },
            "label" => {
                let (labels, _) = sample_of(&args[1]).ok_or("not a sample")?;
                labels.get(s(0)).cloned().unwrap_or_else(|| Value::str(""))
            }
            "value" => Value::Float(sample_of(&args[0]).ok_or("not a sample")?.1),
            "strvalue" => {
                let (labels, _) = sample_of(&args[0]).ok_or("not a sample")?;
                labels
                    .get("__value__")
                    .cloned()
                    .unwrap_or_else(|| Value::str(""))
            }
            "args" => Value::map(
                MapKind::Any,
                args.iter()
                    .enumerate()
                    .map(|(i, a)| (format!("arg{i}"), a.clone()))
                    .collect(),
            ),
            "reReplaceAll" => Value::str(re_replace_all(s(0), s(1), s(2))?),
            "safeHtml" => Value::str(s(0)),
            "match" => Value::Bool(go_regex(s(0))?.is_match(s(1))),
            "title" => Value::str(title(s(0))),
            "toUpper" => Value::str(change_case(s(0), true)),
            "toLower" => Value::str(change_case(s(0), false)),
            "graphLink" => Value::str(format!("/graph?g0.expr={}&g0.tab=0", query_escape(s(0)))),
            "tableLink" => Value::str(format!("/graph?g0.expr={}&g0.tab=1", query_escape(s(0)))),
            "sortByLabel" => {
                let Value::List(l) = &args[1] else {
                    return Ok(args[1].clone());
                };
                let key = s(0).to_string();
                let mut items = l.items.clone();
                items.sort_by(|a, b| {
                    let la = sample_of(a)
                        .and_then(|(m, _)| m.get(&key).and_then(Value::as_str).map(String::from))
                        .unwrap_or_default();
                    let lb = sample_of(b)
                        .and_then(|(m, _)| m.get(&key).and_then(Value::as_str).map(String::from))
                        .unwrap_or_default();
                    la.cmp(&lb)
                });
                Value::list(ListKind::QueryResult, items)
            }
            "stripPort" => {
                Value::str(split_host_port(s(0)).map_or_else(|| s(0).to_string(), |(h, _)| h))
            }
            "stripDomain" => {
                let hp = s(0);
                let (host, port) =
                    split_host_port(hp).unwrap_or_else(|| (hp.to_string(), String::new()));
                if host.parse::<std::net::IpAddr>().is_ok() {
                    Value::str(hp)
                } else {
                    let short = host.split('.').next().unwrap_or_default();
                    Value::str(if port.is_empty() {
                        short.to_string()
                    } else {
                        join_host_port(short, &port)
                    })
                }
            }
            "humanize" => Value::str(humanize(num(0)?)),
            "humanize1024" => Value::str(humanize_1024(num(0)?)),
            "humanizeDuration" => Value::str(humanize_duration(num(0)?)),
            "humanizePercentage" => Value::str(format!("{}%", g4(num(0)? * 100.0))),
            "humanizeTimestamp" => {
                let v = num(0)?;
                if !v.is_finite() {
                    Value::str(g4(v))
                } else {
                    Value::str(gotime::time_string(float_to_time(v)?))
                }
            }
            "toTime" => Value::Time {
                nanos: float_to_time(num(0)?)?,
                ptr: true,
            },
            "toDuration" => {
                let v = num(0)? * 1e9;
                Value::Duration {
                    nanos: if v.is_nan() { i64::MIN } else { v as i64 },
                    ptr: true,
                }
            }
            "now" => Value::Float(self.time_ms as f64 / 1000.0),
            "pathPrefix" => Value::str(url_path(self.external_url)),
            "externalURL" => Value::str(self.external_url),
            "parseDuration" => Value::Float(parse_duration(s(0))?),
            "tmpl" => Value::str(tmpl(s(0), args[1].clone())?),
            _ => return Err(format!("function {name:?} not defined")),
        })
    }
}

/// The path of a URL (`http://h:9090/prom/` -> `/prom/`).
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => rest[i..]
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl TemplateQuerier for Fixed {
        fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<QuerySample>, String> {
            if expr == "bad(" {
                return Err("parse error".into());
            }
            Ok(vec![
                QuerySample {
                    labels: [
                        ("instance".to_string(), "b:9100".to_string()),
                        ("job".to_string(), expr.to_string()),
                    ]
                    .into(),
                    value: time_ms as f64 / 1000.0,
                },
                QuerySample {
                    labels: [("instance".to_string(), "a:9100".to_string())].into(),
                    value: 2.0,
                },
            ])
        }
    }

    fn expand(text: &str, value: f64) -> String {
        let labels: LabelSet = [
            (
                "instance".to_string(),
                "node-1.example.com:9100".to_string(),
            ),
            ("job".to_string(), "node".to_string()),
            ("cluster".to_string(), "eu1".to_string()),
        ]
        .into();
        let ext: LabelSet = [("region".to_string(), "west".to_string())].into();
        let data = alert_data(&labels, &ext, "http://prom.example:9090/prom", value);
        let funcs = PromFunctions {
            querier: Some(&Fixed),
            time_ms: 1_700_000_000_000,
            external_url: "http://prom.example:9090/prom",
        };
        AlertTemplate::new("Test", text).expand(&data, &funcs)
    }

    #[test]
    fn mixin_annotations() {
        assert_eq!(
            expand(
                "{{ with $labels.cluster -}} on Cluster {{ . }} {{- end }}",
                1.0
            ),
            "on Cluster eu1"
        );
        assert_eq!(
            expand("{{ with $labels.missing -}} on {{ . }} {{- end }}x", 1.0),
            "x"
        );
        assert_eq!(
            expand(r#"{{ printf "%.2f" $value }}%"#, f64::INFINITY),
            "+Inf%"
        );
        assert_eq!(
            expand(r#"{{ printf "%.2f" $value }}"#, f64::NEG_INFINITY),
            "-Inf"
        );
        assert_eq!(expand(r#"{{ printf "%0.0f" $value }}"#, 99.5), "100");
        assert_eq!(
            expand(
                r#"{{ printf "up{job=%q}" $labels.job | query | first | value }}"#,
                0.0
            ),
            "1.7e+09"
        );
        assert_eq!(
            expand(
                r#"{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }}={{ .Value }};{{ end }}"#,
                0.0
            ),
            "a:9100=2;b:9100=1.7e+09;"
        );
        assert_eq!(
            expand("{{ $value | humanizePercentage }}", 0.12345),
            "12.35%"
        );
        assert_eq!(
            expand(
                "{{ $labels.instance | stripPort }} {{ $labels.instance | stripDomain }}",
                0.0
            ),
            "node-1.example.com node-1:9100"
        );
        assert_eq!(
            expand(
                "{{ $externalLabels.region }} {{ $externalURL }} {{ pathPrefix }}",
                0.0
            ),
            "west http://prom.example:9090/prom /prom"
        );
        assert_eq!(
            expand("{{ 1700000000.123456 | humanizeTimestamp }}", 0.0),
            "2023-11-14 22:13:20.123 +0000 UTC"
        );
        assert_eq!(
            expand("{{ (1700000000 | toTime).Format \"2006-01-02\" }}", 0.0),
            "2023-11-14"
        );
        assert_eq!(
            expand(
                "{{ 90 | toDuration }} {{ \"1h30m\" | parseDuration }} {{ now }}",
                0.0
            ),
            "1m30s 5400 1.7e+09"
        );
        assert_eq!(
            expand(
                "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }} {{ match \"^node\" $labels.job }}",
                0.0
            ),
            "node-1.example.com true"
        );
        assert_eq!(
            expand(
                "{{ title \"hello world-x\" }} {{ toUpper \"ab\" }} {{ .Labels.job }}",
                0.0
            ),
            "Hello World-X AB node"
        );
        assert_eq!(
            expand(
                "{{ define \"x\" }}[{{ . }}]{{ end }}{{ tmpl \"x\" 5 }}{{ template \"x\" 6 }}",
                0.0
            ),
            "[5][6]"
        );
        assert_eq!(
            expand(
                "{{ $a := args 1 \"b\" }}{{ $a.arg0 }}{{ $a.arg1 }}{{ $a.arg2 }}",
                0.0
            ),
            "1b<no value>"
        );
    }

    #[test]
    fn errors_read_as_prometheus() {
        assert_eq!(
            expand("{{ \"x\" | humanize }}", 0.0),
            "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:121: executing \"__alert_Test\" at <humanize>: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax>"
        );
        assert_eq!(
            expand("{{ query \"bad(\" }}", 0.0),
            "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <query \"bad(\">: error calling query: parse error>"
        );
        assert!(expand("{{ nosuch }}", 0.0).starts_with("<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: function \"nosuch\" not defined"));
        assert_eq!(
            expand("{{ if gt $value 1 }}x{{ end }}", 2.0),
            "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:118: executing \"__alert_Test\" at <gt $value 1>: error calling gt: incompatible types for comparison>"
        );
    }

    #[test]
    fn humanizers_match_prometheus() {
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(-5.5e9), "-5.5G");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(f64::INFINITY), "+Inf");
        assert_eq!(humanize_1024(2048.0), "2ki");
        assert_eq!(humanize_duration(93_784.0), "1d 2h 3m 4s");
        assert_eq!(humanize_duration(61.0), "1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(parse_duration("1h30m").unwrap(), 5400.0);
        assert!(parse_duration("30m1h").is_err());
    }
}
