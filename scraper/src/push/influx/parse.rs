//! The InfluxDB line protocol parser. Pure; never panics on any input.
//!
//! ```text
//! measurement[,tag=value...] field=value[,field=value...] [timestamp]
//! ```
//!
//! Escapes as InfluxDB reads them: in the measurement `\,` and `\ `; in tag keys, tag
//! values and field keys `\,`, `\=` and `\ `; in string field values `\"` and `\\`. A
//! backslash before any other character is kept. Field values are floats (`1`, `-1.5e3`),
//! integers (`1i`), unsigned integers (`1u`), booleans (`t`, `T`, `true`, `True`, `TRUE`,
//! `f`...) or strings (`"..."`). Blank lines and lines starting with `#` are skipped.

/// One field value.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

impl FieldValue {
    /// The sample value, `None` for strings.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Float(v) => Some(*v),
            FieldValue::Integer(v) => Some(*v as f64),
            FieldValue::Unsigned(v) => Some(*v as f64),
            FieldValue::Boolean(b) => Some(if *b { 1.0 } else { 0.0 }),
            FieldValue::String(_) => None,
        }
    }
}

/// One parsed line.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub measurement: String,
    /// Tags in the order written.
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, FieldValue)>,
    /// In the request's precision; `None` means "now".
    pub timestamp: Option<i64>,
}

/// Why a line is not valid, with its 1-based line and byte column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Every line of `body`: its number (1-based) and its point or error. Blank and comment
/// lines are left out.
pub fn parse_lines(body: &[u8]) -> impl Iterator<Item = (usize, Result<Point, LineError>)> + '_ {
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| {
            let line_no = i + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let text = match std::str::from_utf8(raw) {
                Ok(t) => t,
                Err(e) => {
                    return Some((
                        line_no,
                        Err(LineError {
                            line: line_no,
                            column: e.valid_up_to() + 1,
                            message: "invalid UTF-8".into(),
                        }),
                    ));
                }
            };
            let start = text.len() - text.trim_start().len();
            let trimmed = &text[start..];
            if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
                return None;
            }
            let parsed = parse_line(trimmed).map_err(|(col, message)| LineError {
                line: line_no,
                column: start + col + 1,
                message,
            });
            Some((line_no, parsed))
        })
}

type ParseResult<T> = Result<T, (usize, String)>;

/// Parses one non-blank line (no leading whitespace). Errors carry a 0-based column.
pub fn parse_line(line: &str) -> ParseResult<Point> {
    let b = line.as_bytes();
    let mut pos = 0;
    let (measurement, end) = scan(b, pos, b",  ", b", ");
    if measurement.is_empty() {
        return Err((pos, "missing measurement".into()));
    }
    pos = end;
    let mut tags = Vec::new();
    while b.get(pos) == Some(&b',') {
        pos += 1;
        let (key, end) = scan(b, pos, b",= ", b",= ");
        if key.is_empty() {
            return Err((pos, "missing tag key".into()));
        }
        if b.get(end) != Some(&b'=') {
            return Err((end, format!("missing '=' after tag key {key:?}")));
        }
        let (value, end2) = scan(b, end + 1, b",= ", b",= ");
        if value.is_empty() {
            return Err((end + 1, format!("missing value of tag {key:?}")));
        }
        tags.push((key, value));
        pos = end2;
    }
    if b.get(pos) != Some(&b' ') {
        return Err((pos, "expected a space before the fields".into()));
    }
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let mut fields = Vec::new();
    loop {
        let (key, end) = scan(b, pos, b",= ", b",= ");
        if key.is_empty() {
            return Err((pos, "missing field key".into()));
        }
        if b.get(end) != Some(&b'=') {
            return Err((end, format!("missing '=' after field key {key:?}")));
        }
        let (value, end2) = field_value(b, end + 1)?;
        fields.push((key, value));
        pos = end2;
        if b.get(pos) == Some(&b',') {
            pos += 1;
            continue;
        }
        break;
    }
    let mut timestamp = None;
    if pos < b.len() {
        if b[pos] != b' ' {
            return Err((pos, "expected a space or a comma after a field".into()));
        }
        while matches!(b.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        let start = pos;
        while pos < b.len() && !matches!(b[pos], b' ' | b'\t') {
            pos += 1;
        }
        let token = &line[start..pos];
        if !token.is_empty() {
            timestamp = Some(
                token
                    .parse::<i64>()
                    .map_err(|_| (start, format!("invalid timestamp {token:?}")))?,
            );
        }
        let rest = &line[pos..];
        if !rest.trim().is_empty() {
            let at = pos + rest.len() - rest.trim_start().len();
            return Err((at, "unexpected text after the timestamp".into()));
        }
    }
    Ok(Point {
        measurement,
        tags,
        fields,
        timestamp,
    })
}

/// Reads a token from `pos` up to the first unescaped byte in `stops`; `\x` for `x` in
/// `escapable` yields `x`, any other backslash is kept. Returns the token and where it
/// ended (at the stop byte or the end).
fn scan(b: &[u8], mut pos: usize, stops: &[u8], escapable: &[u8]) -> (String, usize) {
    let mut out = Vec::new();
    while pos < b.len() {
        let c = b[pos];
        if c == b'\\'
            && let Some(&next) = b.get(pos + 1)
            && escapable.contains(&next)
        {
            out.push(next);
            pos += 2;
            continue;
        }
        if stops.contains(&c) {
            break;
        }
        out.push(c);
        pos += 1;
    }
    // Only ASCII bytes were removed from valid UTF-8: still valid.
    (String::from_utf8_lossy(&out).into_owned(), pos)
}

fn field_value(b: &[u8], start: usize) -> ParseResult<(FieldValue, usize)> {
    if b.get(start) == Some(&b'"') {
        let mut out = Vec::new();
        let mut pos = start + 1;
        loop {
            match b.get(pos) {
                None => return Err((start, "unterminated string field value".into())),
                Some(b'"') => break,
                Some(b'\\') if matches!(b.get(pos + 1), Some(b'"' | b'\\')) => {
                    out.push(b[pos + 1]);
                    pos += 2;
                }
                Some(&c) => {
                    out.push(c);
                    pos += 1;
                }
            }
        }
        return Ok((
            FieldValue::String(String::from_utf8_lossy(&out).into_owned()),
            pos + 1,
        ));
    }
    let mut pos = start;
    while pos < b.len() && !matches!(b[pos], b',' | b' ') {
        pos += 1;
    }
    let token = std::str::from_utf8(&b[start..pos]).unwrap_or("");
    let bad = || (start, format!("invalid field value {token:?}"));
    let value = match token {
        "" => return Err((start, "missing field value".into())),
        "t" | "T" | "true" | "True" | "TRUE" => FieldValue::Boolean(true),
        "f" | "F" | "false" | "False" | "FALSE" => FieldValue::Boolean(false),
        _ => {
            if let Some(int) = token.strip_suffix('i') {
                FieldValue::Integer(int.parse().map_err(|_| bad())?)
            } else if let Some(uint) = token.strip_suffix('u') {
                FieldValue::Unsigned(uint.parse().map_err(|_| bad())?)
            } else if is_float_literal(token) {
                let v: f64 = token.parse().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(bad());
                }
                FieldValue::Float(v)
            } else {
                return Err(bad());
            }
        }
    };
    Ok((value, pos))
}

/// Digits, sign, point and exponent only (no `inf`, `nan`).
fn is_float_literal(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
        && s.bytes().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn one(line: &str) -> Point {
        parse_line(line).unwrap_or_else(|e| panic!("{line}: {e:?}"))
    }

    fn tags(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn full_line() {
        let p = one(
            "cpu,host=a,region=eu usage_idle=12.5,cores=4i,ok=t,n=7u,msg=\"hi\" 1700000000000000000",
        );
        assert_eq!(p.measurement, "cpu");
        assert_eq!(p.tags, tags(&[("host", "a"), ("region", "eu")]));
        assert_eq!(
            p.fields,
            vec![
                ("usage_idle".into(), FieldValue::Float(12.5)),
                ("cores".into(), FieldValue::Integer(4)),
                ("ok".into(), FieldValue::Boolean(true)),
                ("n".into(), FieldValue::Unsigned(7)),
                ("msg".into(), FieldValue::String("hi".into())),
            ]
        );
        assert_eq!(p.timestamp, Some(1_700_000_000_000_000_000));
    }

    #[test]
    fn no_tags_no_timestamp_and_trailing_space() {
        let p = one("mem free=1");
        assert!(p.tags.is_empty());
        assert_eq!(p.timestamp, None);
        assert_eq!(one("mem free=1 ").timestamp, None);
        assert_eq!(one("mem  free=-1.5e3   -5").timestamp, Some(-5));
        assert_eq!(
            one("mem  free=-1.5e3").fields[0].1,
            FieldValue::Float(-1500.0)
        );
    }

    #[test]
    fn escapes() {
        let p = one(r#"my\ meas\,ure,t\ k\=1=v\,a\ l\=x f\ k\,=1,s="a \"q\" \\ \n" 1"#);
        assert_eq!(p.measurement, "my meas,ure");
        assert_eq!(p.tags, tags(&[("t k=1", "v,a l=x")]));
        assert_eq!(p.fields[0].0, "f k,");
        assert_eq!(p.fields[1].1, FieldValue::String(r#"a "q" \ \n"#.into()));
        // A backslash before another character is kept; `=` needs no escape in a measurement.
        assert_eq!(one(r"a\b=c f=1").measurement, r"a\b=c");
    }

    #[test]
    fn booleans_all_spellings() {
        for (s, v) in [
            ("t", true),
            ("TRUE", true),
            ("True", true),
            ("F", false),
            ("false", false),
        ] {
            assert_eq!(one(&format!("m f={s}")).fields[0].1, FieldValue::Boolean(v));
        }
    }

    #[test]
    fn errors_name_the_column() {
        for (line, col, wanted) in [
            ("", 0, "missing measurement"),
            ("m", 1, "expected a space"),
            ("m,t f=1", 3, "missing '=' after tag key"),
            ("m,t= f=1", 4, "missing value of tag"),
            ("m f", 3, "missing '=' after field key"),
            ("m f=", 4, "missing field value"),
            ("m f=abc", 4, "invalid field value"),
            ("m f=1x", 4, "invalid field value"),
            ("m f=nan", 4, "invalid field value"),
            ("m f=99999999999999999999i", 4, "invalid field value"),
            ("m f=-1u", 4, "invalid field value"),
            ("m f=\"open", 4, "unterminated"),
            ("m f=1 12x", 6, "invalid timestamp"),
            ("m f=1 1 2", 8, "unexpected text"),
            ("m f=1,", 6, "missing field key"),
            ("m f=1\"", 4, "invalid field value"),
        ] {
            let (c, msg) = parse_line(line).unwrap_err();
            assert!(msg.contains(wanted), "{line:?}: {msg} lacks {wanted}");
            assert_eq!(c, col, "{line:?}: {msg}");
        }
    }

    #[test]
    fn lines_blank_comments_crlf_and_numbers() {
        let body = b"# comment\n\ncpu v=1 10\r\n  bad line\nmem v=2\n";
        let got: Vec<_> = parse_lines(body).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, 3);
        assert_eq!(got[0].1.as_ref().unwrap().timestamp, Some(10));
        let e = got[1].1.as_ref().unwrap_err();
        assert_eq!((e.line, e.column), (4, 11));
        assert_eq!(
            e.to_string(),
            "line 4 column 11: missing '=' after field key \"line\""
        );
        assert!(got[2].1.is_ok());
        let e = parse_lines(b"m v=1\n\xff v=1")
            .nth(1)
            .unwrap()
            .1
            .unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "invalid UTF-8"));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            for (_, r) in parse_lines(&bytes) {
                let _ = r;
            }
        }

        #[test]
        fn never_panics_on_line_like_text(s in "[a-z ,=\\\\\"0-9.eiu\\-tT\n]{0,80}") {
            for (_, r) in parse_lines(s.as_bytes()) {
                if let Err(e) = r {
                    prop_assert!(e.line >= 1 && e.column >= 1);
                }
            }
        }
    }
}
