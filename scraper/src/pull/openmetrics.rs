//! The OpenMetrics 1.0 text format: [`parse`] turns a body served as
//! `application/openmetrics-text` into the same [`Exposition`] as the 0.0.4 parser.
//!
//! What differs from the 0.0.4 format, and how it is handled:
//!
//! ```text
//! # TYPE <family> counter|gauge|histogram|gaugehistogram|summary|info|stateset|unknown
//! # HELP <family> <text>           # UNIT <family> <unit>        # EOF   (required, last)
//! <name>[{labels}] <value> [<timestamp in SECONDS, may be fractional>] [# {exemplar} v [ts]]
//! ```
//!
//! - timestamps are seconds: they become milliseconds (rounded);
//! - a counter family `x` exposes `x_total` (and `x_created`); a sample named `x` under
//!   `# TYPE x counter` is an error. `_created` samples are kept as ordinary series, as
//!   Prometheus 2.x stores them;
//! - exemplars (`# {trace_id="abc"} 0.5 1600000000.123`) are kept beside the samples
//!   ([`Exposition::exemplars`]); how long their labels are is for storage to judge (it
//!   refuses more than 128 characters, the sample stays);
//! - no other comments, no blank lines, nothing after `# EOF`.

use crate::error::{Error, Result};
use crate::pull::text::{
    Cursor, Exposition, Metadata, MetricType, ParsedExemplar, ParsedSample, excerpt, is_blank,
    parse_labels, parse_value, unescape_help, unescape_label_value,
};

/// Parses an OpenMetrics exposition. The error names the 1-based line that is wrong.
pub fn parse(text: &str) -> Result<Exposition<'_>> {
    let mut out = Exposition::default();
    // Label names and raw values of the line being checked, reused line after line.
    let mut labels = Vec::new();
    let mut family: Option<(String, Option<MetricType>)> = None;
    let mut eof_line = None;
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    for (i, raw) in lines.into_iter().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let err = |message: String| Error::OpenMetrics {
            line: i + 1,
            message: format!("{message} (in {})", excerpt(line)),
        };
        if eof_line.is_some() {
            if line.is_empty() && i == last {
                continue;
            }
            return Err(err("unexpected content after \"# EOF\"".into()));
        }
        if line.is_empty() {
            if i == last {
                continue;
            }
            return Err(err("blank lines are not allowed".into()));
        }
        if line == "# EOF" {
            eof_line = Some(i + 1);
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            parse_descriptor(comment, &mut out.metadata, &mut family).map_err(err)?;
        } else if line.starts_with('#') {
            return Err(err(
                "a comment must be \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\"".into(),
            ));
        } else {
            let (name, sample, exemplar) = parse_sample(line, &mut labels).map_err(err)?;
            check_family(name, family.as_ref()).map_err(err)?;
            if let Some(mut exemplar) = exemplar {
                exemplar.sample = out.samples.len();
                out.exemplars.push(exemplar);
            }
            out.samples.push(sample);
        }
    }
    if eof_line.is_none() {
        return Err(Error::OpenMetrics {
            line: last + 1,
            message: "missing \"# EOF\" at the end of the exposition".into(),
        });
    }
    Ok(out)
}

fn parse_descriptor(
    comment: &str,
    metadata: &mut Vec<Metadata>,
    family: &mut Option<(String, Option<MetricType>)>,
) -> Result<(), String> {
    let mut cur = Cursor::new(comment);
    let keyword = cur.take_while(|b| b != b' ');
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Err(format!(
            "a comment must be \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\", not {keyword:?}"
        ));
    }
    if cur.skip_blanks() == 0 {
        return Err(format!("expected a metric name after {keyword}"));
    }
    let name = cur.metric_name()?;
    let had_blank = cur.skip_blanks() > 0;
    let rest = cur.rest();
    if !rest.is_empty() && !had_blank {
        return Err(format!("invalid metric name {:?}", format!("{name}{rest}")));
    }
    let index = match metadata.iter().position(|m| m.name == name) {
        Some(i) => i,
        None => {
            metadata.push(Metadata {
                name: name.to_string(),
                ..Metadata::default()
            });
            metadata.len() - 1
        }
    };
    let entry = &mut metadata[index];
    match keyword {
        "HELP" => entry.help = Some(unescape_help(rest)),
        "UNIT" => {
            if !rest.is_empty() && !name.ends_with(&format!("_{rest}")) {
                return Err(format!(
                    "unit {rest:?} must be a suffix of the metric name {name:?}"
                ));
            }
            entry.unit = Some(rest.to_string());
        }
        _ => {
            let kind = MetricType::parse_openmetrics(rest)
                .ok_or_else(|| format!("unknown metric type {rest:?} for {name}"))?;
            entry.kind = Some(kind);
        }
    }
    let kind = entry.kind;
    match family {
        Some((f, k)) if f == name => *k = kind,
        _ => *family = Some((name.to_string(), kind)),
    }
    Ok(())
}

/// The suffixes a sample of a family of `kind` may add to the family name.
fn allowed_suffixes(kind: MetricType) -> &'static [&'static str] {
    match kind {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Info => &["_info"],
        _ => &[""],
    }
}

/// A sample whose name is the current family's name plus a suffix must use a suffix the
/// family's type allows (`x_total` for counter `x`...).
fn check_family(name: &str, family: Option<&(String, Option<MetricType>)>) -> Result<(), String> {
    let Some((family, Some(kind))) = family else {
        return Ok(());
    };
    let Some(suffix) = name.strip_prefix(family.as_str()) else {
        return Ok(());
    };
    let allowed = allowed_suffixes(*kind);
    if allowed.contains(&suffix) {
        return Ok(());
    }
    if suffix.is_empty() || allowed.iter().any(|a| a.starts_with(suffix)) {
        return Err(format!(
            "sample {name:?} of {} family {family:?} must be named {}",
            kind.as_str(),
            allowed
                .iter()
                .map(|s| format!("{family}{s}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    Ok(())
}

/// A sample line, its metric name and its exemplar (`sample` left 0 for the caller).
fn parse_sample<'a>(
    line: &'a str,
    labels: &mut Vec<(&'a str, &'a str)>,
) -> Result<(&'a str, ParsedSample<'a>, Option<ParsedExemplar>), String> {
    let mut cur = Cursor::new(line);
    let name = cur.metric_name()?;
    if cur.peek() == Some(b'{') {
        cur.bump();
        parse_labels(&mut cur, labels)?;
    }
    let series = &line[..cur.pos()];
    if cur.skip_blanks() == 0 {
        return Err(format!("expected a blank before the value of {name}"));
    }
    let value_text = cur.take_while(|b| !is_blank(b));
    if value_text.is_empty() {
        return Err(format!("missing value for {name}"));
    }
    let value = parse_value(value_text).ok_or_else(|| format!("invalid value {value_text:?}"))?;
    cur.skip_blanks();
    let mut timestamp_ms = None;
    if !cur.at_end() && cur.peek() != Some(b'#') {
        let ts = cur.take_while(|b| !is_blank(b));
        timestamp_ms = Some(seconds_to_ms(ts)?);
        cur.skip_blanks();
    }
    let mut exemplar = None;
    if cur.peek() == Some(b'#') {
        exemplar = Some(parse_exemplar(&mut cur, labels)?);
    }
    if !cur.at_end() {
        return Err(format!("unexpected text {:?} after the sample", cur.rest()));
    }
    Ok((
        name,
        ParsedSample {
            series,
            value,
            timestamp_ms,
        },
        exemplar,
    ))
}

/// An OpenMetrics timestamp (seconds, maybe fractional) in milliseconds.
fn seconds_to_ms(ts: &str) -> Result<i64, String> {
    let secs: f64 = ts
        .parse()
        .map_err(|_| format!("invalid timestamp {ts:?} (expected seconds)"))?;
    let ms = (secs * 1000.0).round();
    if !ms.is_finite() || ms.abs() >= 9.2e18 {
        return Err(format!("timestamp {ts:?} out of range"));
    }
    Ok(ms as i64)
}

/// Reads ` # {labels} value [timestamp]`.
fn parse_exemplar<'a>(
    cur: &mut Cursor<'a>,
    labels: &mut Vec<(&'a str, &'a str)>,
) -> Result<ParsedExemplar, String> {
    cur.bump(); // '#'
    if cur.skip_blanks() == 0 || cur.peek() != Some(b'{') {
        return Err("an exemplar must be \"# {labels} value [timestamp]\"".into());
    }
    cur.bump();
    parse_labels(cur, labels)?;
    let labels = labels
        .iter()
        .map(|(n, v)| (n.to_string(), unescape_label_value(v)))
        .collect();
    cur.skip_blanks();
    let value = cur.take_while(|b| !is_blank(b));
    let value = parse_value(value).ok_or_else(|| format!("invalid exemplar value {value:?}"))?;
    cur.skip_blanks();
    let mut timestamp_ms = None;
    if !cur.at_end() {
        let ts = cur.take_while(|b| !is_blank(b));
        timestamp_ms = Some(seconds_to_ms(ts)?);
        cur.skip_blanks();
    }
    Ok(ParsedExemplar {
        sample: 0,
        labels,
        value,
        timestamp_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, String) {
        match parse(text).unwrap_err() {
            Error::OpenMetrics { line, message } => (line, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parses_families_units_and_eof() {
        let text = "# TYPE http_requests counter\n\
                    # HELP http_requests Requests served.\n\
                    # UNIT http_request_seconds seconds\n\
                    http_requests_total{code=\"200\"} 1027 1520879607.789\n\
                    http_requests_created{code=\"200\"} 1520870000\n\
                    # TYPE temp gauge\n\
                    temp 21.5\n\
                    # EOF\n";
        let e = parse(text).unwrap();
        assert_eq!(e.samples.len(), 3);
        assert_eq!(e.samples[0].series, "http_requests_total{code=\"200\"}");
        assert_eq!(e.samples[0].timestamp_ms, Some(1_520_879_607_789));
        assert_eq!(
            e.samples[1].name_and_labels().unwrap().0,
            "http_requests_created"
        );
        assert_eq!(e.samples[2].timestamp_ms, None);
        assert_eq!(e.metadata[0].kind, Some(MetricType::Counter));
        assert_eq!(e.metadata[0].help.as_deref(), Some("Requests served."));
        assert_eq!(e.metadata[1].unit.as_deref(), Some("seconds"));
        // No trailing newline is fine too.
        assert_eq!(parse("a 1\n# EOF").unwrap().samples.len(), 1);
    }

    #[test]
    fn exemplars_are_read_beside_their_samples() {
        let e = parse(
            "# TYPE foo histogram\n\
             foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\",span=\"a\\\"b\"} 0.067 1520879607.789\n\
             foo_bucket{le=\"+Inf\"} 17 # {} 2\n\
             foo_count 17\nfoo_sum 324789.3\n\
             # TYPE c counter\n\
             c_total 3 1600000000.5 # {trace_id=\"x\"} 1.5\n# EOF\n",
        )
        .unwrap();
        assert_eq!(
            e.exemplars,
            vec![
                ParsedExemplar {
                    sample: 0,
                    labels: vec![
                        ("trace_id".into(), "KOO5S4vxi0o".into()),
                        ("span".into(), "a\"b".into())
                    ],
                    value: 0.067,
                    timestamp_ms: Some(1_520_879_607_789),
                },
                ParsedExemplar {
                    sample: 1,
                    labels: vec![],
                    value: 2.0,
                    timestamp_ms: None,
                },
                ParsedExemplar {
                    sample: 4,
                    labels: vec![("trace_id".into(), "x".into())],
                    value: 1.5,
                    timestamp_ms: None,
                },
            ]
        );
        // Long labels are for storage to refuse: the scrape keeps its samples.
        let long = format!(
            "a_total 1 # {{trace_id=\"{}\"}} 1\n# EOF\n",
            "x".repeat(200)
        );
        let e = parse(&long).unwrap();
        assert_eq!((e.samples.len(), e.exemplars.len()), (1, 1));
        assert!(
            err("a 1 # {x=\"y\"} nope\n# EOF\n")
                .1
                .contains("exemplar value")
        );
    }

    #[test]
    fn exemplars_do_not_change_the_samples() {
        let e = parse(
            "# TYPE foo histogram\n\
             foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067 1520879607.789\n\
             foo_bucket{le=\"+Inf\"} 17 # {} 2\n\
             foo_count 17\nfoo_sum 324789.3\n# EOF\n",
        )
        .unwrap();
        assert_eq!(e.samples.len(), 4);
        assert_eq!(e.samples[0].value, 8.0);
        assert_eq!(e.samples[0].timestamp_ms, None);
        assert_eq!(e.samples[1].name_and_labels().unwrap().1[0].1, "+Inf");
        assert_eq!(e.samples[1].series, "foo_bucket{le=\"+Inf\"}");
    }

    #[test]
    fn rejects_what_openmetrics_forbids() {
        assert!(err("a 1\n").1.contains("missing \"# EOF\""));
        assert_eq!(err("a 1\n# EOF\nb 2\n").0, 3);
        assert!(err("a 1\n\nb 1\n# EOF\n").1.contains("blank lines"));
        assert!(
            err("# random comment\n# EOF\n")
                .1
                .contains("a comment must be")
        );
        assert!(err("# TYPE c counter\nc 1\n# EOF\n").1.contains("c_total"));
        assert!(
            err("# TYPE h histogram\nh_bucke 1\n# EOF\n")
                .1
                .contains("h_bucket")
        );
        assert!(
            err("# TYPE a wat\n# EOF\n")
                .1
                .contains("unknown metric type")
        );
        assert!(err("a 1 1.5.5\n# EOF\n").1.contains("invalid timestamp"));
        assert!(err("a 1 # x\n# EOF\n").1.contains("exemplar"));
        assert!(err("# UNIT a_bytes seconds\n# EOF\n").1.contains("suffix"));
        // A name that merely starts with the family's is another family.
        assert!(parse("# TYPE c counter\nc_total 1\ncx 2\n# EOF\n").is_ok());
    }
}
