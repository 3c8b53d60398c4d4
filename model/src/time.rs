//! Time: milliseconds since the Unix epoch (Prometheus's timestamps), RFC 3339 as Go
//! reads and writes it, and the proleptic Gregorian calendar underneath both.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    system_time_ms(SystemTime::now())
}

/// Milliseconds since the Unix epoch of `t` (negative before 1970).
pub fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`);
/// the inverse of [`civil_from_days`].
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses RFC 3339 (`2006-01-02T15:04:05.999999999Z07:00`) into milliseconds since the
/// epoch, as Go's `time.Parse(time.RFC3339, …)` accepts it: any number of fraction
/// digits (cut to milliseconds), `Z` or a `±hh:mm` offset, real calendar dates only.
/// Lower-case `t` and `z`, which RFC 3339 allows, are accepted too.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (year, month, day) = (i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        millis = frac[..digits]
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(3)
            .fold(0, |n, d| n * 10 + i64::from(d - b'0'));
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(secs * 1000 + millis)
}

/// How many fraction digits [`write_rfc3339`] writes.
#[derive(Clone, Copy)]
enum Fraction {
    /// As Go's `RFC3339Nano` and JSON encoding: none when zero, trailing zeros dropped.
    Trimmed,
    /// Always this many digits (3 or 9).
    Fixed(usize),
}

fn write_rfc3339(secs: i64, nanos: u32, fraction: Fraction) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    let digits = format!("{nanos:09}");
    match fraction {
        Fraction::Fixed(n) => {
            out.push('.');
            out.push_str(&digits[..n]);
        }
        Fraction::Trimmed if nanos != 0 => {
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        Fraction::Trimmed => {}
    }
    out.push('Z');
    out
}

/// RFC 3339 in UTC as Go's JSON encoding of a `time.Time` writes it: a fraction only
/// when non-zero, trailing zeros dropped (`2024-05-01T12:00:00.25Z`).
pub fn format_rfc3339(ms: i64) -> String {
    let nanos = ms.rem_euclid(1000) as u32 * 1_000_000;
    write_rfc3339(ms.div_euclid(1000), nanos, Fraction::Trimmed)
}

/// RFC 3339 in UTC with exactly three fraction digits (`2024-05-01T12:00:00.250Z`), as
/// Go's `strfmt.DateTime` writes API times.
pub fn format_rfc3339_millis(ms: i64) -> String {
    let nanos = ms.rem_euclid(1000) as u32 * 1_000_000;
    write_rfc3339(ms.div_euclid(1000), nanos, Fraction::Fixed(3))
}

/// RFC 3339 in UTC with exactly nine fraction digits (`2020-09-13T12:26:40.500000000Z`).
pub fn format_rfc3339_nanos(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (-(d.as_secs() as i64), d.subsec_nanos());
            if n == 0 {
                (s, 0)
            } else {
                (s - 1, 1_000_000_000 - n)
            }
        }
    };
    write_rfc3339(secs, nanos, Fraction::Fixed(9))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn calendar_round_trips_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
    }

    #[test]
    fn parses_rfc3339() {
        let p = parse_rfc3339;
        assert_eq!(p("2023-11-14T22:13:20.250Z"), Some(1_700_000_000_250));
        assert_eq!(p("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(p("2023-11-14t22:13:20z"), Some(1_700_000_000_000));
        assert_eq!(p("2023-11-14T23:13:20.5+01:00"), Some(1_700_000_000_500));
        assert_eq!(p("2023-11-14T21:13:20-01:00"), Some(1_700_000_000_000));
        assert_eq!(p("2023-11-14T22:13:20.123456789Z"), Some(1_700_000_000_123));
        assert_eq!(p("1969-12-31T23:59:59Z"), Some(-1000));
        for bad in [
            "yesterday",
            "aé12345",
            "2023-11-14T22:13:20é",
            "99999-11-14T22:13:20Z",
            "2023-11-14T22:13:20+99:99",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-02-30T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:60Z",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:13:20+0100",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_700_000_000_250), "2023-11-14T22:13:20.25Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_millis(1_700_000_000_250),
            "2023-11-14T22:13:20.250Z"
        );
        assert_eq!(
            format_rfc3339_nanos(UNIX_EPOCH + Duration::from_millis(1_600_000_000_500)),
            "2020-09-13T12:26:40.500000000Z"
        );
        assert_eq!(
            format_rfc3339_nanos(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59.500000000Z"
        );
    }

    #[test]
    fn system_times_in_ms() {
        assert_eq!(system_time_ms(UNIX_EPOCH + Duration::from_millis(5)), 5);
        assert_eq!(system_time_ms(UNIX_EPOCH - Duration::from_millis(5)), -5);
        assert!(now_ms() > 1_700_000_000_000);
    }

    /// 0001-01-01 to 9999-12-31, the years RFC 3339 writes in four digits.
    const MIN_MS: i64 = -62_135_596_800_000;
    const MAX_MS: i64 = 253_402_300_799_999;

    proptest! {
        #[test]
        fn rfc3339_round_trips(ms in MIN_MS..=MAX_MS) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms));
            prop_assert_eq!(parse_rfc3339(&format_rfc3339_millis(ms)), Some(ms));
        }

        #[test]
        fn calendar_round_trips(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn parse_never_panics(s in "[0-9T:.Zz+-]{0,32}") {
            let _ = parse_rfc3339(&s);
        }
    }
}
