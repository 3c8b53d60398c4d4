//! Prometheus's duration notation (`model.Duration`): one or more `<integer><unit>`
//! terms, units `y w d h m s ms` each at most once and from the largest down, or `0`.
//! A year is 365 days, a week 7 days.

use std::time::Duration;

use crate::error::DurationError;

/// The units, largest first, in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The longest duration in milliseconds: what Go's `time.Duration` (int64 nanoseconds)
/// holds, as Prometheus checks.
const MAX_MS: u64 = i64::MAX as u64 / 1_000_000;

/// Parses `1h30m`, `5m`, `7d`, `250ms` or `0`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid {
        text: text.to_string(),
    };
    let b = text.as_bytes();
    let (mut i, mut last_unit, mut total_ms) = (0, None::<usize>, 0u64);
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(invalid());
        }
        let n: u64 = text[start..i]
            .parse()
            .map_err(|_| DurationError::OutOfRange)?;
        let unit_start = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        let Some(k) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_string(),
                text: text.to_string(),
            });
        };
        if last_unit.is_some_and(|l| k <= l) {
            return Err(invalid());
        }
        last_unit = Some(k);
        total_ms = n
            .checked_mul(UNITS[k].1)
            .and_then(|v| total_ms.checked_add(v))
            .filter(|&t| t <= MAX_MS)
            .ok_or(DurationError::OutOfRange)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Writes `d` with the largest units first (`1h30m`, `1w2d`, `250ms`; `0s` for zero).
/// Below a millisecond is dropped. [`parse_duration`] reads it back.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let size = u128::from(size);
        if ms >= size {
            out.push_str(&(ms / size).to_string());
            out.push_str(unit);
            ms %= size;
        }
    }
    out
}

/// The Prometheus HTTP API's duration parameters (`step`, `timeout`, `lookback_delta`):
/// float seconds (`15`, `0.5`) or the duration notation, in milliseconds. Negative float
/// seconds are returned as they are, for the caller to judge.
pub fn parse_duration_or_seconds(s: &str) -> Result<i64, DurationError> {
    if let Ok(secs) = s.parse::<f64>() {
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms >= i64::MAX as f64 / 1e6 || ms <= i64::MIN as f64 / 1e6 {
            return Err(DurationError::OutOfRange);
        }
        return Ok(ms.round() as i64);
    }
    Ok(parse_duration(s)?.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ms(text: &str) -> u128 {
        parse_duration(text).unwrap().as_millis()
    }

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(ms("30s"), 30_000);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("1500ms"), 1_500);
        assert_eq!(ms("1m30ms"), 60_030);
        assert_eq!(ms("7d"), 7 * 86_400_000);
        assert_eq!(ms("1w"), 7 * 86_400_000);
        assert_eq!(ms("5y"), 5 * 365 * 86_400_000);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("0s"), 0);
    }

    #[test]
    fn errors_read_as_prometheus_writes_them() {
        let err = |s: &str| parse_duration(s).unwrap_err().to_string();
        assert_eq!(err(""), "empty duration string");
        assert_eq!(err("5m1h"), "not a valid duration string: \"5m1h\"");
        assert_eq!(err("5m1m"), "not a valid duration string: \"5m1m\"");
        assert_eq!(err("5y1hs"), "unknown unit \"hs\" in duration \"5y1hs\"");
        assert_eq!(err("300y"), "duration out of range");
        for bad in ["s", "10", "10x", "1s1s", "-5s", "1.5s", " 5s", "5s "] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats_largest_unit_first() {
        for s in ["30s", "1h30m", "1d2h", "250ms", "1w", "1y1w1d1h1m1s1ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn api_durations_take_float_seconds() {
        assert_eq!(parse_duration_or_seconds("15"), Ok(15_000));
        assert_eq!(parse_duration_or_seconds("0.5"), Ok(500));
        assert_eq!(parse_duration_or_seconds("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_or_seconds("-1"), Ok(-1_000));
        assert_eq!(
            parse_duration_or_seconds("1e300"),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            parse_duration_or_seconds("Inf"),
            Err(DurationError::OutOfRange)
        );
        assert!(parse_duration_or_seconds("x").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in 0..=MAX_MS) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn never_panics(s in "[0-9a-z]{0,12}") {
            let _ = parse_duration(&s);
        }
    }
}
