//! Request parameters: form decoding, Prometheus time and duration formats, `match[]`.

use promql_parser::parser::{self, Expr};
use telltale_model::{DurationError, parse_duration_or_seconds, parse_rfc3339};
use telltale_storage_api::MatcherSet;

use crate::error::{Error, Result};
use crate::eval::selector::{matcher_sets, to_storage_matcher};

/// Form parameters of a request: the body's first, then the URL query's (as Go's
/// `Request.FormValue` orders them).
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes an `application/x-www-form-urlencoded` body and a URL query string.
    pub fn parse(body: Option<&str>, query: Option<&str>) -> Self {
        let mut pairs = Vec::new();
        for s in [body, query].into_iter().flatten() {
            pairs.extend(decode_form(s));
        }
        Params { pairs }
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Splits `a=1&b=x%20y` into decoded pairs (`+` is a space).
pub fn decode_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn invalid(param: &str, message: impl std::fmt::Display) -> Error {
    Error::bad_data(format!("invalid parameter {param:?}: {message}"))
}

/// The latest time the API takes, in seconds: Prometheus's `maxTime` (about 292 million
/// years after 1970); the earliest is its negative.
const MAX_TIME_SECS: i64 = i64::MAX / 1000 - 62_135_596_801;
/// Prometheus's `minTime` and `maxTime` as it formats them: clients (Thanos, Grafana's
/// label browser) send them for "all time".
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// Parses a Prometheus API time: float Unix seconds or RFC3339, into milliseconds. Times
/// beyond Prometheus's `minTime`/`maxTime` are refused, so no later arithmetic on them
/// overflows.
pub fn parse_time(param: &str, s: &str) -> Result<i64> {
    let refused = || invalid(param, format!("cannot parse {s:?} to a valid timestamp"));
    match s {
        MIN_TIME_FORMATTED => return Ok(-MAX_TIME_SECS * 1000),
        MAX_TIME_FORMATTED => return Ok(MAX_TIME_SECS * 1000 + 999),
        _ => {}
    }
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        let whole = secs.trunc();
        if whole.abs() > MAX_TIME_SECS as f64 {
            return Err(refused());
        }
        let frac = ((secs - whole) * 1000.0).round();
        return Ok(whole as i64 * 1000 + frac as i64);
    }
    parse_rfc3339(s).ok_or_else(refused)
}

/// Parses a Prometheus API duration: float seconds or `1h30m`-style, into milliseconds.
pub fn parse_duration(param: &str, s: &str) -> Result<i64> {
    parse_duration_or_seconds(s).map_err(|e| match e {
        DurationError::OutOfRange if s.parse::<f64>().is_ok() => invalid(
            param,
            format!("cannot parse {s:?} to a valid duration. It overflows int64"),
        ),
        _ => invalid(param, format!("cannot parse {s:?} to a valid duration")),
    })
}

/// Parses `match[]` selectors into storage matcher sets (an `or` selector gives several).
pub fn parse_match_sets(values: &[&str]) -> Result<Vec<MatcherSet>> {
    let mut out = Vec::new();
    for v in values {
        let expr = parser::parse(v).map_err(|e| invalid("match[]", e))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(invalid(
                "match[]",
                format!("expected a vector selector, got {v:?}"),
            ));
        };
        for set in matcher_sets(&vs) {
            out.push(MatcherSet {
                matchers: set.iter().map(to_storage_matcher).collect(),
            });
        }
    }
    Ok(out)
}

/// An optional non-negative integer `limit` (0: none).
pub fn parse_limit(s: Option<&str>) -> Result<u64> {
    match s {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<u64>().map_err(|_| {
            invalid(
                "limit",
                format!("cannot parse {v:?} to a non-negative integer"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(
            parse_time("time", "1435781451.781").unwrap(),
            1_435_781_451_781
        );
        assert_eq!(parse_time("time", "1435781451").unwrap(), 1_435_781_451_000);
        assert_eq!(
            parse_time("time", "2015-07-01T20:10:51.781Z").unwrap(),
            1_435_781_451_781
        );
        assert_eq!(
            parse_time("time", "2015-07-01T22:10:51+02:00").unwrap(),
            1_435_781_451_000
        );
        assert_eq!(parse_time("time", "1970-01-01T00:00:00Z").unwrap(), 0);
        let err = parse_time("time", "yesterday").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid parameter "time": cannot parse "yesterday" to a valid timestamp"#
        );
        assert_eq!(err.error_type(), "bad_data");
    }

    #[test]
    fn extreme_times_are_refused_or_clamped_not_overflowed() {
        for huge in ["1e300", "-1e300", "9223372036854775807", "-9.3e15"] {
            let err = parse_time("time", huge).unwrap_err();
            assert!(err.to_string().contains("valid timestamp"), "{huge}: {err}");
        }
        let min = parse_time("start", "-292273086-05-16T16:47:06Z").unwrap();
        let max = parse_time("end", "292277025-08-18T07:12:54.999999999Z").unwrap();
        assert!(min < -9_000_000_000_000_000_000 && max > 9_000_000_000_000_000_000);
        assert_eq!(parse_time("end", "9223309901257974").unwrap(), max - 999);
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("step", "15").unwrap(), 15_000);
        assert_eq!(parse_duration("step", "0.5").unwrap(), 500);
        assert_eq!(parse_duration("step", "15s").unwrap(), 15_000);
        assert_eq!(parse_duration("step", "1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("step", "1d").unwrap(), 86_400_000);
        assert_eq!(parse_duration("step", "100ms").unwrap(), 100);
        assert!(parse_duration("step", "30m1h").is_err());
        assert!(parse_duration("step", "abc").is_err());
    }

    #[test]
    fn form_decoding_keeps_repeated_keys_and_body_first() {
        let p = Params::parse(
            Some("query=up%7Bjob%3D%22a%22%7D&match%5B%5D=a"),
            Some("query=x&match[]=b+c"),
        );
        assert_eq!(p.get("query"), Some(r#"up{job="a"}"#));
        assert_eq!(p.get_all("match[]"), vec!["a", "b c"]);
    }

    #[test]
    fn match_sets_require_selectors() {
        let sets = parse_match_sets(&[r#"up{job=~"a.*"}"#]).unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].matchers.len(), 2);
        assert!(parse_match_sets(&["sum(up)"]).is_err());
    }

    /// What a client can send in `time`, `start`, `end`, `step`, `match[]` and `limit`:
    /// numbers near the edges, RFC 3339-like text, selectors and noise.
    fn api_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            "[0-9]{1,25}(\\.[0-9]{0,12})?(e[+-]?[0-9]{1,4})?",
            "-?[0-9]{1,10}-[0-9]{1,3}-[0-9]{1,3}T[0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
            "[0-9]{1,20}(ms|s|m|h|d|w|y){1,3}",
            "[a-z_]{0,8}\\{[a-z_]{0,5}(=|!=|=~|!~)\"[^\"]{0,6}\"\\}",
            "\\PC{0,24}",
        ]
    }

    proptest::proptest! {
        /// No parameter text panics; a refusal is a 400 `bad_data` naming the parameter.
        #[test]
        fn any_parameter_text_is_parsed_or_refused_with_400(s in api_text()) {
            let refused = |e: Error| {
                assert_eq!(e.http_status(), 400, "{s:?}: {e}");
                assert_eq!(e.error_type(), "bad_data");
            };
            if let Err(e) = parse_time("time", &s) {
                refused(e);
            } else if let Ok(t) = parse_time("time", &s) {
                // Within Prometheus's range, so later arithmetic has room.
                assert!(t.unsigned_abs() <= (MAX_TIME_SECS * 1000 + 999) as u64, "{s:?}: {t}");
            }
            if let Err(e) = parse_duration("step", &s) {
                refused(e);
            }
            if let Err(e) = parse_match_sets(&[s.as_str()]) {
                refused(e);
            }
            if let Err(e) = parse_limit(Some(&s)) {
                refused(e);
            }
            let _ = decode_form(&s);
        }
    }
}
