//! Numbers and times rendered exactly as Prometheus and Alertmanager (Go) render them, so
//! that annotations, API answers and webhook bodies read the same as theirs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
pub fn rfc3339(ms: i64) -> String {
    let time = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    };
    rfc3339_system(time)
}

fn rfc3339_system(time: SystemTime) -> String {
    // humantime writes "YYYY-MM-DDTHH:MM:SS.mmmZ"; Go trims the zeros of the fraction.
    let s = humantime::format_rfc3339_millis(time).to_string();
    let body = s.trim_end_matches('Z');
    match body.split_once('.') {
        Some((secs, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{frac}Z")
            }
        }
        None => s,
    }
}

/// RFC 3339 with milliseconds, as Go's `strfmt.DateTime` writes API times
/// (`2024-05-01T12:00:00.250Z`).
pub fn rfc3339_millis(ms: i64) -> String {
    let time = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        return "0001-01-01T00:00:00.000Z".to_string();
    };
    humantime::format_rfc3339_millis(time).to_string()
}

/// Parses an RFC 3339 time (`Z` or a `±hh:mm` offset, any fraction) into milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    // RFC 3339 is ASCII: anything else (`"aé12345"`) is refused before any slicing.
    if !s.is_ascii() || s.len() < 20 {
        return None;
    }
    let (body, offset_ms) = if let Some(b) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        (b, 0)
    } else {
        let cut = s.len().checked_sub(6)?;
        let (b, off) = s.split_at(cut);
        let sign = match off.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':')?;
        let two_digits = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return None;
        }
        let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        let minutes = h * 60 + m;
        (b, sign * minutes * 60_000)
    };
    if body.starts_with("0001-01-01") {
        return Some(i64::MIN);
    }
    let t = humantime::parse_rfc3339_weak(body).ok()?;
    let ms = t.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(ms - offset_ms)
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
