//! Go's `time.Time` and `time.Duration` as templates print them: `Time.String()`
//! (`2023-11-14 22:13:20.25 +0000 UTC`), `Time.Format` with Go's reference layout
//! (`2006-01-02T15:04:05Z07:00`), and `Duration.String()` (`1h2m3.5s`). Times are UTC,
//! as Prometheus and Alertmanager hand them to templates.

use std::fmt::Write;

use telltale_model::{civil_from_days, days_from_civil};

use crate::template::value::GO_ZERO_TIME_NANOS;

/// The parts of a UTC time.
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    weekday: usize,
    yday: u32,
}

fn parts(nanos: i64) -> Parts {
    if nanos == GO_ZERO_TIME_NANOS {
        return Parts {
            year: 1,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            weekday: 1,
            yday: 1,
        };
    }
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let jan1 = days_from_civil(year, 1, 1);
    Parts {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
        nanos: frac,
        // 1970-01-01 was a Thursday (4).
        weekday: (days + 4).rem_euclid(7) as usize,
        yday: (days - jan1 + 1) as u32,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `Time.String()` of a UTC time.
pub fn time_string(nanos: i64) -> String {
    format(nanos, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// A layout chunk (`Jan`, `2006`, ...) and what it writes.
type Chunk<'a> = (&'a str, &'a dyn Fn(&mut String));

/// Go's `Time.Format(layout)` of a UTC time.
pub fn format(nanos: i64, layout: &str) -> String {
    let p = parts(nanos);
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        // Longest chunks first, as Go's nextStdChunk.
        let chunks: &[Chunk] = &[
            ("January", &|o| o.push_str(MONTHS[p.month as usize - 1])),
            ("Jan", &|o| o.push_str(&MONTHS[p.month as usize - 1][..3])),
            ("Monday", &|o| o.push_str(DAYS[p.weekday])),
            ("Mon", &|o| o.push_str(&DAYS[p.weekday][..3])),
            ("MST", &|o| o.push_str("UTC")),
            ("2006", &|o| {
                let _ = write!(o, "{:04}", p.year);
            }),
            ("2", &|o| {
                let _ = write!(o, "{}", p.day);
            }),
            ("_2", &|o| {
                let _ = write!(o, "{:>2}", p.day);
            }),
            ("__2", &|o| {
                let _ = write!(o, "{:>3}", p.yday);
            }),
            ("002", &|o| {
                let _ = write!(o, "{:03}", p.yday);
            }),
            ("02", &|o| {
                let _ = write!(o, "{:02}", p.day);
            }),
            ("01", &|o| {
                let _ = write!(o, "{:02}", p.month);
            }),
            ("06", &|o| {
                let _ = write!(o, "{:02}", p.year.rem_euclid(100));
            }),
            ("15", &|o| {
                let _ = write!(o, "{:02}", p.hour);
            }),
            ("03", &|o| {
                let _ = write!(
                    o,
                    "{:02}",
                    if p.hour.is_multiple_of(12) {
                        12
                    } else {
                        p.hour % 12
                    }
                );
            }),
            ("04", &|o| {
                let _ = write!(o, "{:02}", p.minute);
            }),
            ("05", &|o| {
                let _ = write!(o, "{:02}", p.second);
            }),
            ("1", &|o| {
                let _ = write!(o, "{}", p.month);
            }),
            ("3", &|o| {
                let _ = write!(
                    o,
                    "{}",
                    if p.hour.is_multiple_of(12) {
                        12
                    } else {
                        p.hour % 12
                    }
                );
            }),
            ("4", &|o| {
                let _ = write!(o, "{}", p.minute);
            }),
            ("5", &|o| {
                let _ = write!(o, "{}", p.second);
            }),
            ("PM", &|o| {
                o.push_str(if p.hour >= 12 { "PM" } else { "AM" })
            }),
            ("pm", &|o| {
                o.push_str(if p.hour >= 12 { "pm" } else { "am" })
            }),
            ("Z07:00:00", &|o| o.push('Z')),
            ("Z07:00", &|o| o.push('Z')),
            ("Z0700", &|o| o.push('Z')),
            ("Z07", &|o| o.push('Z')),
            ("-07:00:00", &|o| o.push_str("+00:00:00")),
            ("-07:00", &|o| o.push_str("+00:00")),
            ("-0700", &|o| o.push_str("+0000")),
            ("-07", &|o| o.push_str("+00")),
        ];
        // Fractional seconds: `.000` / `,000` (fixed) and `.999` (trailing zeros cut).
        let b = rest.as_bytes();
        if (b[0] == b'.' || b[0] == b',') && b.len() > 1 && (b[1] == b'0' || b[1] == b'9') {
            let digit = b[1];
            let n = b[1..].iter().take_while(|c| **c == digit).count();
            let after = b.get(1 + n);
            // Go only treats it as a fraction when no digit follows.
            if !after.is_some_and(u8::is_ascii_digit) {
                let frac = format!("{:09}", p.nanos);
                let frac = &frac[..n.min(9)];
                if digit == b'0' {
                    out.push(b[0] as char);
                    out.push_str(frac);
                } else {
                    let trimmed = frac.trim_end_matches('0');
                    if !trimmed.is_empty() {
                        out.push(b[0] as char);
                        out.push_str(trimmed);
                    }
                }
                rest = &rest[1 + n..];
                continue;
            }
        }
        let mut best: Option<Chunk> = None;
        for (chunk, f) in chunks {
            if rest.starts_with(chunk) && best.is_none_or(|(b, _)| chunk.len() > b.len()) {
                // `Jan` must not match inside `January`'s prefix check: longest wins.
                best = Some((*chunk, *f));
            }
        }
        match best {
            Some((chunk, f)) => {
                f(&mut out);
                rest = &rest[chunk.len()..];
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(u, div));
    }
    let secs = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::from(sign);
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(
        out,
        "{}s",
        fraction(s * 1_000_000_000 + frac, 1_000_000_000)
    );
    out
}

/// `v / div` with the fraction's trailing zeros cut.
fn fraction(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let frac = format!("{rem:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_strings_as_go() {
        assert_eq!(
            time_string(1_700_000_000_250_000_000),
            "2023-11-14 22:13:20.25 +0000 UTC"
        );
        assert_eq!(time_string(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            time_string(GO_ZERO_TIME_NANOS),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(time_string(-1_000_000_000), "1969-12-31 23:59:59 +0000 UTC");
        let t = 1_700_000_000_123_000_000;
        assert_eq!(
            format(t, "2006-01-02T15:04:05Z07:00"),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            format(t, "Mon Jan _2 03:04:05.000 PM 2006"),
            "Tue Nov 14 10:13:20.123 PM 2023"
        );
        assert_eq!(
            format(t, "January 2, 06 -0700 MST"),
            "November 14, 23 +0000 UTC"
        );
    }

    #[test]
    fn durations_as_go() {
        assert_eq!(duration_string(0), "0s");
        assert_eq!(duration_string(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(duration_string(60_000_000_000), "1m0s");
        assert_eq!(duration_string(1_500_000), "1.5ms");
        assert_eq!(duration_string(-2_000), "-2µs");
        assert_eq!(duration_string(7), "7ns");
    }
}
