//! The Prometheus text exposition format, version 0.0.4: [`parse`] turns a scraped body
//! into [`Exposition`] (samples plus `# HELP` / `# TYPE` metadata).
//!
//! Grammar, one item per line (`\n`, an optional `\r` before it is ignored):
//!
//! ```text
//! # HELP <metric> <docstring with \\ and \n escapes>
//! # TYPE <metric> counter|gauge|histogram|summary|untyped
//! # any other comment
//! <metric>[{<label>="<value with \\ \" \n escapes>",...}] <value> [<timestamp ms>]
//! ```
//!
//! Values are floats including `NaN`, `+Inf` and `-Inf`. Blank lines are skipped. Unknown
//! escapes in label values are kept verbatim, as Prometheus's own scrape parser does.

use crate::error::{Error, Result};

/// One sample line, borrowed from the exposition: nothing is copied per sample (the
/// scrape's series cache is keyed by [`ParsedSample::series`], as Prometheus's is).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParsedSample<'a> {
    /// The series as written: the metric name and its label set, escapes not undone
    /// (checked by the parser; [`series_labels`] reads it). Lines with the same text
    /// are the same series.
    pub series: &'a str,
    pub value: f64,
    /// The optional timestamp written after the value, ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl ParsedSample<'_> {
    /// The metric name (it becomes the `__name__` label) and the labels in the order
    /// written, unescaped.
    pub fn name_and_labels(&self) -> Result<(String, Vec<(String, String)>), String> {
        series_labels(self.series)
    }
}

/// The type a `# TYPE` line declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
    /// OpenMetrics only.
    GaugeHistogram,
    /// OpenMetrics only.
    Info,
    /// OpenMetrics only.
    StateSet,
    /// OpenMetrics' name for untyped.
    Unknown,
}

impl MetricType {
    /// The OpenMetrics type keywords.
    pub(crate) fn parse_openmetrics(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The text format 0.0.4 type keywords.
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Untyped,
            _ => return None,
        })
    }

    /// The keyword used in `# TYPE` lines.
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// What `# HELP` and `# TYPE` lines say about one metric family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub help: Option<String>,
    pub kind: Option<MetricType>,
    /// `# UNIT` (OpenMetrics only).
    pub unit: Option<String>,
}

/// A parsed exposition: samples in body order, metadata in order of first mention, the
/// exemplars of samples (OpenMetrics and protobuf only; empty for most scrapes) and the
/// native histograms (protobuf only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition<'a> {
    pub samples: Vec<ParsedSample<'a>>,
    pub metadata: Vec<Metadata>,
    pub exemplars: Vec<ParsedExemplar>,
    pub histograms: Vec<ParsedHistogram<'a>>,
}

/// One native histogram sample of an exposition (the protobuf format).
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedHistogram<'a> {
    /// The series, written as [`ParsedSample::series`] is (the metric name, no suffix).
    pub series: &'a str,
    pub histogram: telltale_storage_api::FloatHistogram,
    pub timestamp_ms: Option<i64>,
}

impl ParsedHistogram<'_> {
    /// The metric name and the labels, as [`ParsedSample::name_and_labels`].
    pub fn name_and_labels(&self) -> Result<(String, Vec<(String, String)>), String> {
        series_labels(self.series)
    }
}

/// The exemplar of one sample (`# {labels} value [timestamp]` after it, OpenMetrics).
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedExemplar {
    /// Index of its sample in [`Exposition::samples`].
    pub sample: usize,
    /// Label names and unescaped values, as exposed.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds; `None` when the exemplar has no timestamp (it takes its sample's).
    pub timestamp_ms: Option<i64>,
}

/// Parses a text exposition (format 0.0.4). The error names the 1-based line that is wrong.
pub fn parse(text: &str) -> Result<Exposition<'_>> {
    let mut out = Exposition::default();
    // At most one sample per line: the vector is sized once, not grown as it fills.
    out.samples
        .reserve(text.bytes().filter(|&b| b == b'\n').count() + 1);
    // Label names and raw values of the line being checked, reused line after line.
    let mut labels = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let err = |message: String| Error::Parse {
            line: i + 1,
            message: format!("{message} (in {})", excerpt(line)),
        };
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.trim_end_matches([' ', '\t']).is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            parse_comment(comment, &mut out.metadata).map_err(err)?;
        } else {
            out.samples
                .push(parse_sample(trimmed, &mut labels).map_err(err)?);
        }
    }
    Ok(out)
}

/// The line quoted for an error message, cut to a readable length.
pub(crate) fn excerpt(line: &str) -> String {
    const MAX: usize = 120;
    if line.len() <= MAX {
        return format!("{line:?}");
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &line[..end])
}

fn parse_comment(comment: &str, metadata: &mut Vec<Metadata>) -> Result<(), String> {
    let mut cur = Cursor::new(comment);
    if cur.skip_blanks() == 0 {
        return Ok(()); // "#HELP" or "#..." is a plain comment
    }
    let keyword = cur.take_while(|b| !is_blank(b));
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(());
    }
    if cur.skip_blanks() == 0 {
        return Err(format!("expected a metric name after {keyword}"));
    }
    let name = cur.metric_name()?;
    // A family's HELP and TYPE lines are usually next to each other: the last entry
    // first, so a page of many families is not searched once per line.
    let found = match metadata.last() {
        Some(last) if last.name == name => Some(metadata.len() - 1),
        _ => metadata.iter().position(|m| m.name == name),
    };
    let entry = match found {
        Some(i) => &mut metadata[i],
        None => {
            metadata.push(Metadata {
                name: name.to_string(),
                ..Metadata::default()
            });
            metadata.last_mut().expect("just pushed")
        }
    };
    let had_blank = cur.skip_blanks() > 0;
    let rest = cur.rest();
    if !rest.is_empty() && !had_blank {
        return Err(format!("invalid metric name {:?}", format!("{name}{rest}")));
    }
    if keyword == "HELP" {
        entry.help = Some(unescape_help(rest));
    } else {
        let word = rest.trim_end_matches([' ', '\t']);
        entry.kind = Some(
            MetricType::parse(word)
                .ok_or_else(|| format!("unknown metric type {word:?} for {name}"))?,
        );
    }
    Ok(())
}

/// Undoes the escapes of a `# HELP` docstring: `\\` and `\n` (others kept verbatim).
pub(crate) fn unescape_help(s: &str) -> String {
    unescape(s, false)
}

fn parse_sample<'a>(
    line: &'a str,
    labels: &mut Vec<(&'a str, &'a str)>,
) -> Result<ParsedSample<'a>, String> {
    let mut cur = Cursor::new(line);
    let name = cur.metric_name()?;
    let mut series_end = cur.pos;
    cur.skip_blanks();
    if cur.peek() == Some(b'{') {
        cur.bump();
        parse_labels(&mut cur, labels)?;
        series_end = cur.pos;
        if cur.skip_blanks() == 0 && !cur.at_end() {
            return Err("expected a blank between the label set and the value".into());
        }
    }
    let value_text = cur.take_while(|b| !is_blank(b));
    if value_text.is_empty() {
        return Err(format!("missing value for {name}"));
    }
    let value = parse_value(value_text).ok_or_else(|| format!("invalid value {value_text:?}"))?;
    cur.skip_blanks();
    let timestamp_ms = if cur.at_end() {
        None
    } else {
        let ts = cur.take_while(|b| !is_blank(b));
        let parsed = ts
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {ts:?} (expected integer milliseconds)"))?;
        cur.skip_blanks();
        if !cur.at_end() {
            return Err(format!(
                "unexpected text {:?} after the timestamp",
                cur.rest()
            ));
        }
        Some(parsed)
    };
    Ok(ParsedSample {
        series: &line[..series_end],
        value,
        timestamp_ms,
    })
}

/// The metric name and unescaped labels of a series as a parser accepted it
/// ([`ParsedSample::series`]: the name, maybe blanks, maybe a label set).
pub fn series_labels(series: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut cur = Cursor::new(series);
    let name = cur.metric_name()?.to_string();
    cur.skip_blanks();
    let mut raw = Vec::new();
    if cur.peek() == Some(b'{') {
        cur.bump();
        parse_labels(&mut cur, &mut raw)?;
    }
    let labels = raw
        .into_iter()
        .map(|(n, v)| (n.to_string(), unescape_label_value(v)))
        .collect();
    Ok((name, labels))
}

/// Checks `name="value",...}` (the `{` already consumed) and leaves the label names and
/// raw values (escapes not undone, [`unescape_label_value`]) in `labels`.
pub(crate) fn parse_labels<'a>(
    cur: &mut Cursor<'a>,
    labels: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), String> {
    labels.clear();
    loop {
        cur.skip_blanks();
        match cur.peek() {
            Some(b'}') => {
                cur.bump();
                return Ok(());
            }
            None => return Err("unterminated label set: missing '}'".into()),
            _ => {}
        }
        let name = cur.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            let bad = cur.take_while(|b| !matches!(b, b'=' | b',' | b'}'));
            return Err(format!("invalid label name {:?}", format!("{name}{bad}")));
        }
        cur.skip_blanks();
        if cur.peek() != Some(b'=') {
            return Err(format!("expected '=' after label name {name:?}"));
        }
        cur.bump();
        cur.skip_blanks();
        if cur.peek() != Some(b'"') {
            return Err(format!("expected '\"' to open the value of label {name:?}"));
        }
        cur.bump();
        let value = cur.label_value(name)?;
        if labels.iter().any(|(n, _)| *n == name) {
            return Err(format!("duplicate label name {name:?}"));
        }
        labels.push((name, value));
        cur.skip_blanks();
        match cur.peek() {
            Some(b',') => cur.bump(),
            Some(b'}') => {}
            Some(c) => {
                return Err(format!(
                    "expected ',' or '}}' after the value of label {name:?}, found {:?}",
                    c as char
                ));
            }
            None => return Err("unterminated label set: missing '}'".into()),
        }
    }
}

/// Parses a sample value as Go's `strconv.ParseFloat` does for exposition values.
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    // Rust's float parser accepts the same NaN / Inf spellings, case-insensitively.
    s.parse::<f64>().ok()
}

pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A byte cursor over one line. It only stops at ASCII bytes, so slices are valid UTF-8.
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    /// Skips blanks and returns how many were skipped.
    pub(crate) fn skip_blanks(&mut self) -> usize {
        self.take_while(is_blank).len()
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let bytes = self.s.as_bytes();
        while self.pos < bytes.len() && f(bytes[self.pos]) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    pub(crate) fn metric_name(&mut self) -> Result<&'a str, String> {
        let name = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            let bad = self.take_while(|b| !is_blank(b) && b != b'{');
            return Err(format!("invalid metric name {:?}", format!("{name}{bad}")));
        }
        Ok(name)
    }

    /// Reads a label value up to its closing quote (the opening one already consumed) and
    /// returns it raw, escapes not undone.
    pub(crate) fn label_value(&mut self, name: &str) -> Result<&'a str, String> {
        let bytes = self.s.as_bytes();
        let start = self.pos;
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b'"' => {
                    let v = &self.s[start..self.pos];
                    self.pos += 1;
                    return Ok(v);
                }
                // Whatever is escaped (unknown escapes are kept verbatim) is not a quote.
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        self.pos = bytes.len();
        Err(format!(
            "unterminated value of label {name:?}: missing '\"'"
        ))
    }
}

/// Undoes the escapes of a raw label value: `\\`, `\"` and `\n`; other escapes are kept
/// verbatim, as Prometheus's own scrape parser does.
pub(crate) fn unescape_label_value(raw: &str) -> String {
    unescape(raw, true)
}

/// Undoes `\\` and `\n` (and `\"` when `quote`); other escapes are kept verbatim.
fn unescape(raw: &str, quote: bool) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> ParsedSample<'_> {
        let mut e = parse(line).unwrap();
        assert_eq!(e.samples.len(), 1);
        e.samples.remove(0)
    }

    /// The labels of the one sample of `line`.
    fn labels(line: &str) -> Vec<(String, String)> {
        one(line).name_and_labels().unwrap().1
    }

    fn err(text: &str) -> (usize, String) {
        match parse(text).unwrap_err() {
            Error::Parse { line, message } => (line, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parses_plain_and_labelled_samples() {
        let s = one("http_requests_total 1027");
        assert_eq!(s.series, "http_requests_total");
        assert_eq!(
            s.name_and_labels().unwrap(),
            ("http_requests_total".to_string(), vec![])
        );
        assert_eq!(s.value, 1027.0);
        assert_eq!(s.timestamp_ms, None);

        let s = one(r#"http_requests_total{method="post",code="200"} 1027 1395066363000"#);
        assert_eq!(s.series, r#"http_requests_total{method="post",code="200"}"#);
        assert_eq!(
            s.name_and_labels().unwrap().1,
            vec![
                ("method".to_string(), "post".to_string()),
                ("code".to_string(), "200".to_string())
            ]
        );
        assert_eq!(s.timestamp_ms, Some(1395066363000));
    }

    #[test]
    fn parses_special_values_and_negative_timestamps() {
        assert!(one("a NaN").value.is_nan());
        assert_eq!(one("a +Inf").value, f64::INFINITY);
        assert_eq!(one("a -Inf").value, f64::NEG_INFINITY);
        assert_eq!(one("a 1.5e-3").value, 0.0015);
        assert_eq!(one("a -0.25 -5").timestamp_ms, Some(-5));
        assert_eq!(one("a\t7\t\t8  ").timestamp_ms, Some(8));
    }

    #[test]
    fn unescapes_label_values() {
        let l = labels(
            r#"msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9"#,
        );
        assert_eq!(l[0].1, r"C:\DIR\FILE.TXT");
        assert_eq!(l[1].1, "Cannot find file:\n\"FILE.TXT\"");
        // Unknown escapes are kept verbatim; UTF-8 passes through.
        assert_eq!(labels(r#"a{x="\q ü"} 1"#)[0].1, r"\q ü");
        // A quote or a brace inside a value does not end it.
        assert_eq!(labels(r#"a{x="\"}\\",y="2"} 1"#)[0].1, "\"}\\");
    }

    #[test]
    fn accepts_trailing_comma_empty_set_blanks_and_crlf() {
        assert_eq!(labels(r#"a{x="1",} 1"#).len(), 1);
        assert!(labels("a{} 1").is_empty());
        assert_eq!(labels(r#"a { x = "1" , y="2" } 1"#).len(), 2);
        assert_eq!(one(r#"a { x = "1" } 1"#).series, r#"a { x = "1" }"#);
        assert_eq!(one("a  1").series, "a");
        let e = parse("\n\n  a 1\r\n\t\nb 2\r\n").unwrap();
        assert_eq!(e.samples.len(), 2);
    }

    #[test]
    fn reads_help_and_type() {
        let text = "# HELP http_requests_total The total number of HTTP requests.\n\
                    # TYPE http_requests_total counter\n\
                    # HELP esc A \\\\ backslash\\nand newline\n\
                    # just a comment\n\
                    #HELP notmeta x\n\
                    # EOF\n\
                    http_requests_total 3\n";
        let e = parse(text).unwrap();
        assert_eq!(e.metadata.len(), 2);
        assert_eq!(e.metadata[0].name, "http_requests_total");
        assert_eq!(e.metadata[0].kind, Some(MetricType::Counter));
        assert_eq!(
            e.metadata[0].help.as_deref(),
            Some("The total number of HTTP requests.")
        );
        assert_eq!(
            e.metadata[1].help.as_deref(),
            Some("A \\ backslash\nand newline")
        );
        assert_eq!(e.samples.len(), 1);
    }

    /// HELP and TYPE of one family apart (another family's lines between) still make one
    /// entry, in the order the families first appear.
    #[test]
    fn help_and_type_apart_make_one_entry() {
        let e = parse("# HELP a x\n# HELP b y\n# TYPE a counter\n# TYPE b gauge\n# TYPE b gauge\n")
            .unwrap();
        let got: Vec<_> = e
            .metadata
            .iter()
            .map(|m| (m.name.as_str(), m.help.as_deref(), m.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", Some("x"), Some(MetricType::Counter)),
                ("b", Some("y"), Some(MetricType::Gauge)),
            ]
        );
    }

    #[test]
    fn errors_name_the_line_and_problem() {
        let (line, msg) = err("ok 1\n\nbad{a=\"1\" 2\n");
        assert_eq!(line, 3);
        assert!(msg.contains("expected ',' or '}'"), "{msg}");

        assert!(err("a{1x=\"1\"} 1").1.contains("invalid label name"));
        assert!(err("1a 1").1.contains("invalid metric name"));
        assert!(err("a{x=\"1} 1").1.contains("unterminated value"));
        assert!(err("a{x=1} 1").1.contains("expected '\"'"));
        assert!(err("a{x} 1").1.contains("expected '='"));
        assert!(err("a").1.contains("missing value"));
        assert!(err("a abc").1.contains("invalid value"));
        assert!(err("a 1 1.5").1.contains("invalid timestamp"));
        assert!(err("a 1 2 3").1.contains("after the timestamp"));
        assert!(err("a{x=\"1\",x=\"2\"} 1").1.contains("duplicate label"));
        assert!(err("a{x=\"1\"").1.contains("missing '}'"));
        assert!(err("a{x=\"1\"}1").1.contains("expected a blank"));
        assert!(err("# TYPE a countr").1.contains("unknown metric type"));
        assert!(err("# HELP").1.contains("expected a metric name"));
    }
}
