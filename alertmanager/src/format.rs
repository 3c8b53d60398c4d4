//! Numbers and times rendered exactly as Prometheus and Alertmanager (Go) render them, so
//! that annotations, API answers and webhook bodies read the same as theirs.

use crate::template::gofloat::format_float;

/// What Go prints for a time that was never set (`time.Time{}`), as Alertmanager does for
/// an alert's `endsAt` while it fires.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `%v` of a float64 (`fmt.Sprint(v)`): shortest digits, scientific notation when the
/// decimal exponent is below -4 or at least 6 (`1e+06`).
pub fn go_float(v: f64) -> String {
    format_float(v, 'g', None)
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`, as Prometheus's API renders an alert's value
/// (`1e+00`, `4.25e+01`).
pub fn go_float_e(v: f64) -> String {
    format_float(v, 'e', None)
}

/// Go's `fmt.Sprintf("%.4g", v)`: four significant digits, trailing zeros dropped.
pub fn go_float_4g(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// RFC 3339 in UTC as Go's JSON encoding of `time.Time` writes it: fractional seconds only
/// when non-zero, trailing zeros dropped (`2024-05-01T12:00:00.25Z`).
pub use telltale_model::format_rfc3339 as rfc3339;

/// RFC 3339 with milliseconds, as Go's `strfmt.DateTime` writes API times
/// (`2024-05-01T12:00:00.250Z`); a negative time (unset) as Go's zero time.
pub fn rfc3339_millis(ms: i64) -> String {
    if ms < 0 {
        return "0001-01-01T00:00:00.000Z".to_string();
    }
    telltale_model::format_rfc3339_millis(ms)
}

/// Parses an RFC 3339 time (`Z` or a `±hh:mm` offset, any fraction) into milliseconds;
/// surrounding blanks are ignored and Go's zero time (`0001-01-01…`) is `i64::MIN`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.starts_with("0001-01-01") {
        return telltale_model::parse_rfc3339(s).map(|_| i64::MIN);
    }
    telltale_model::parse_rfc3339(s)
}

/// [`rfc3339`] for an optional time, [`ZERO_TIME`] when unset.
pub fn rfc3339_or_zero(ms: Option<i64>) -> String {
    ms.map_or_else(|| ZERO_TIME.to_string(), rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_v() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.5), "-2.5");
        assert_eq!(go_float(f64::NAN), "NaN");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn floats_print_like_go_e() {
        assert_eq!(go_float_e(1.0), "1e+00");
        assert_eq!(go_float_e(42.5), "4.25e+01");
        assert_eq!(go_float_e(0.001), "1e-03");
        assert_eq!(go_float_e(-3.0), "-3e+00");
        assert_eq!(go_float_e(0.0), "0e+00");
    }

    #[test]
    fn floats_print_like_go_4g() {
        assert_eq!(go_float_4g(1.5), "1.5");
        assert_eq!(go_float_4g(1234.56), "1235");
        assert_eq!(go_float_4g(999.96), "1000");
        assert_eq!(go_float_4g(12346.0), "1.235e+04");
        assert_eq!(go_float_4g(0.012344), "0.01234");
        assert_eq!(go_float_4g(0.00001234), "1.234e-05");
        assert_eq!(go_float_4g(-42.0), "-42");
        assert_eq!(go_float_4g(0.0), "0");
    }

    #[test]
    fn api_times_round_trip() {
        assert_eq!(
            rfc3339_millis(1_700_000_000_250),
            "2023-11-14T22:13:20.250Z"
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.250Z"),
            Some(1_700_000_000_250)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00"),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T21:13:20-01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(i64::MIN));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("aé12345"), None);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20é"), None);
        assert_eq!(parse_rfc3339("99999-11-14T22:13:20Z"), None);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20+99:99"), None);
    }

    #[test]
    fn times_print_like_go_json() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_250), "2023-11-14T22:13:20.25Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_or_zero(None), ZERO_TIME);
    }
}
