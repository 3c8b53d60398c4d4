//! The date functions (`year`, `month`, `day_of_month`, `day_of_week`, `day_of_year`,
//! `days_in_month`, `hour`, `minute`): fields of a Unix time in UTC, computed with the
//! proleptic Gregorian calendar as Go's `time` package does.

/// A Unix time (whole seconds) broken into UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilTime {
    pub year: i64,
    /// 1..=12
    pub month: i64,
    /// 1..=31
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    /// 0 = Sunday .. 6 = Saturday
    pub weekday: i64,
    /// 1..=366
    pub yearday: i64,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in `month` (1..=12) of `year`.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl CivilTime {
    /// The UTC fields of `secs` seconds since the epoch.
    pub(crate) fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = telltale_model::civil_from_days(days);
        let (month, day) = (i64::from(month), i64::from(day));
        let cumulative: i64 = (1..month).map(|m| days_in_month(year, m)).sum();
        CivilTime {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7),
            yearday: cumulative + day,
        }
    }
}

/// True for the names of the date functions.
pub(crate) fn is_date_function(name: &str) -> bool {
    matches!(
        name,
        "year"
            | "month"
            | "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "days_in_month"
            | "hour"
            | "minute"
    )
}

/// The date function `name` of a Unix time in seconds (truncated towards zero, as Go's
/// `int64(v)` conversion; NaN and infinities yield NaN).
pub(crate) fn date_field(name: &str, unix_secs: f64) -> f64 {
    if !unix_secs.is_finite() {
        return f64::NAN;
    }
    let c = CivilTime::from_unix(unix_secs as i64);
    (match name {
        "year" => c.year,
        "month" => c.month,
        "day_of_month" => c.day,
        "day_of_week" => c.weekday,
        "day_of_year" => c.yearday,
        "days_in_month" => days_in_month(c.year, c.month),
        "hour" => c.hour,
        _ => c.minute,
    }) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_a_thursday_in_january() {
        let c = CivilTime::from_unix(0);
        assert_eq!(
            (c.year, c.month, c.day, c.weekday, c.yearday),
            (1970, 1, 1, 4, 1)
        );
    }

    #[test]
    fn leap_days_and_year_ends() {
        // 2024-02-29T13:45:00Z
        let c = CivilTime::from_unix(1_709_214_300);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (2024, 2, 29, 13, 45)
        );
        assert_eq!(c.yearday, 60);
        assert_eq!(c.weekday, 4);
        assert_eq!(date_field("days_in_month", 1_709_214_300.0), 29.0);
        // 2023-12-31T23:59:59Z is day 365 of a common year, a Sunday.
        let c = CivilTime::from_unix(1_704_067_199);
        assert_eq!((c.yearday, c.weekday, c.month), (365, 0, 12));
        // 2000-12-31 is day 366 of a leap year divisible by 400.
        assert_eq!(date_field("day_of_year", 978_220_800.0), 366.0);
        assert_eq!(date_field("days_in_month", 951_782_400.0), 29.0); // 2000-02-29
        assert_eq!(days_in_month(1900, 2), 28);
    }

    #[test]
    fn before_the_epoch_and_non_finite() {
        // 1969-12-31T23:00:00Z
        let c = CivilTime::from_unix(-3600);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.weekday),
            (1969, 12, 31, 23, 3)
        );
        assert!(date_field("year", f64::NAN).is_nan());
        assert!(date_field("hour", f64::INFINITY).is_nan());
        assert_eq!(date_field("minute", 90.9), 1.0);
    }
}
