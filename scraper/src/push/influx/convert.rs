//! Line-protocol points to storage series: one series per field, named
//! `<measurement>_<field>` (sanitised to a valid metric name), the tags as labels,
//! timestamps converted from the request's [`Precision`] to milliseconds. Booleans are
//! 1/0, integers and unsigned integers become floats; string fields are skipped (and
//! counted). Bad lines are rejected alone with their line and column. Pure.

use std::collections::HashMap;

use telltale_storage_api::{Label, METRIC_NAME, Sample, TimeSeries};

use super::parse::{Point, parse_lines};
use crate::error::{Error, Result};
use crate::push::names;
use crate::push::outcome::PushOutcome;

/// The unit of the timestamps of a write (`precision` parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
}

impl Precision {
    /// Parses InfluxDB's spellings (`ns`/`n`, `us`/`u`/`µ`, `ms`, `s`, `m`, `h`); an
    /// absent or empty parameter is nanoseconds.
    pub fn parse(s: Option<&str>) -> Result<Precision> {
        Ok(match s.unwrap_or("") {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            other => {
                return Err(Error::InvalidParameter {
                    name: "precision",
                    message: format!("{other:?} is not one of ns, us, ms, s, m, h"),
                });
            }
        })
    }

    /// `ts` in this unit as milliseconds (rounded down); `None` on overflow.
    pub fn to_millis(self, ts: i64) -> Option<i64> {
        match self {
            Precision::Nanoseconds => Some(ts.div_euclid(1_000_000)),
            Precision::Microseconds => Some(ts.div_euclid(1_000)),
            Precision::Milliseconds => Some(ts),
            Precision::Seconds => ts.checked_mul(1_000),
            Precision::Minutes => ts.checked_mul(60_000),
            Precision::Hours => ts.checked_mul(3_600_000),
        }
    }
}

/// The series of a line-protocol body and the account of its samples.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    pub series: Vec<TimeSeries>,
    pub outcome: PushOutcome,
    /// The first line that could not be parsed, for the error of a body without any good
    /// line.
    pub first_line_error: Option<(usize, String)>,
}

/// Parses and converts `body`; points without a timestamp get `now_ms`.
pub fn convert(body: &[u8], precision: Precision, now_ms: i64) -> Converted {
    let mut out = Converted::default();
    let mut index: HashMap<Vec<Label>, usize> = HashMap::new();
    for (line, parsed) in parse_lines(body) {
        let point = match parsed {
            Ok(p) => p,
            Err(e) => {
                out.first_line_error
                    .get_or_insert_with(|| (e.line, format!("column {}: {}", e.column, e.message)));
                out.outcome.reject("parse", 1, || e.to_string());
                continue;
            }
        };
        let timestamp_ms = match point.timestamp {
            None => now_ms,
            Some(ts) => {
                match precision.to_millis(ts) {
                    Some(ms) => ms,
                    None => {
                        let n = point.fields.len() as u64;
                        out.outcome.reject("invalid_timestamp", n, || {
                        format!("line {line}: timestamp {ts} out of range for precision {precision:?}")
                    });
                        continue;
                    }
                }
            }
        };
        let tags = match tag_labels(&point) {
            Ok(t) => t,
            Err(message) => {
                let n = point.fields.len() as u64;
                out.outcome
                    .reject("invalid_series", n, || format!("line {line}: {message}"));
                continue;
            }
        };
        for (field, value) in &point.fields {
            let Some(v) = value.as_f64() else {
                out.outcome.skip("string_field");
                continue;
            };
            let raw = format!("{}_{}", point.measurement, field);
            let Some(name) = names::metric_name(&raw) else {
                out.outcome.reject("invalid_series", 1, || {
                    format!("line {line}: {raw:?} makes no valid metric name")
                });
                continue;
            };
            let mut labels = Vec::with_capacity(tags.len() + 1);
            labels.push(Label::new(METRIC_NAME, name));
            labels.extend(tags.iter().cloned());
            labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            let sample = Sample {
                timestamp_ms,
                value: v,
            };
            out.outcome.accepted += 1;
            match index.get(&labels) {
                Some(&i) => out.series[i].samples.push(sample),
                None => {
                    index.insert(labels.clone(), out.series.len());
                    out.series.push(TimeSeries {
                        labels,
                        samples: vec![sample],
                        exemplars: Vec::new(),
                        histograms: Vec::new(),
                    });
                }
            }
        }
    }
    for s in &mut out.series {
        s.samples.sort_by_key(|s| s.timestamp_ms);
    }
    out
}

fn tag_labels(point: &Point) -> std::result::Result<Vec<Label>, String> {
    let mut labels: Vec<Label> = Vec::with_capacity(point.tags.len());
    for (key, value) in &point.tags {
        let name = names::label_name(key).ok_or_else(|| format!("invalid tag key {key:?}"))?;
        if labels.iter().any(|l| l.name == name) {
            return Err(format!("tag {name:?} given twice"));
        }
        labels.push(Label::new(name, value.clone()));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn names_of(c: &Converted) -> Vec<String> {
        c.series
            .iter()
            .map(|s| s.label(METRIC_NAME).unwrap().to_string())
            .collect()
    }

    #[test]
    fn fields_become_series_with_tags_as_labels() {
        let body =
            b"cpu,host=a,cpu-id=0 usage.idle=1.5,on=t,n=3i,u=4u,msg=\"x\" 1700000000123456789\n";
        let c = convert(body, Precision::Nanoseconds, 0);
        assert_eq!(
            names_of(&c),
            vec!["cpu_usage_idle", "cpu_on", "cpu_n", "cpu_u"]
        );
        let s = &c.series[0];
        assert_eq!(s.label("host"), Some("a"));
        assert_eq!(s.label("cpu_id"), Some("0"));
        assert_eq!(
            s.samples,
            vec![Sample {
                timestamp_ms: 1_700_000_000_123,
                value: 1.5
            }]
        );
        assert_eq!(c.series[1].samples[0].value, 1.0);
        assert_eq!(c.series[3].samples[0].value, 4.0);
        assert_eq!(c.outcome.accepted, 4);
        assert_eq!(c.outcome.skipped.get("string_field"), Some(&1));
        assert_eq!(c.outcome.rejected_total(), 0);
    }

    #[test]
    fn precisions() {
        for (p, ts, ms) in [
            ("ns", 1_500_000_000i64, 1_500i64),
            ("us", 1_500_000, 1_500),
            ("ms", 1_500, 1_500),
            ("s", 2, 2_000),
            ("m", 1, 60_000),
            ("h", 1, 3_600_000),
            ("ns", -1, -1),
        ] {
            let precision = Precision::parse(Some(p)).unwrap();
            let c = convert(format!("m v=1 {ts}").as_bytes(), precision, 0);
            assert_eq!(c.series[0].samples[0].timestamp_ms, ms, "{p} {ts}");
        }
        assert!(Precision::parse(Some("d")).is_err());
        let c = convert(b"m v=1", Precision::Seconds, 42);
        assert_eq!(c.series[0].samples[0].timestamp_ms, 42);
        let c = convert(
            format!("m v=1 {}", i64::MAX).as_bytes(),
            Precision::Seconds,
            0,
        );
        assert_eq!(c.outcome.rejected.get("invalid_timestamp"), Some(&1));
    }

    #[test]
    fn bad_lines_are_rejected_alone_and_samples_grouped() {
        let body = b"m v=1 1000000\nbroken\nm v=2 2000000\nm,a=1,a=2 v=1\nm v=0 500000\n";
        let c = convert(body, Precision::Nanoseconds, 0);
        assert_eq!(c.series.len(), 1);
        let ts: Vec<i64> = c.series[0].samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(ts, vec![0, 1, 2], "grouped and sorted");
        assert_eq!(c.outcome.accepted, 3);
        assert_eq!(c.outcome.rejected.get("parse"), Some(&1));
        assert_eq!(c.outcome.rejected.get("invalid_series"), Some(&1));
        assert_eq!(
            c.first_line_error,
            Some((2, "column 7: expected a space before the fields".into()))
        );
        assert!(
            c.outcome
                .first_error
                .unwrap()
                .starts_with("line 2 column 7")
        );
    }

    proptest! {
        #[test]
        fn convert_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), p in 0usize..6) {
            let precision = [Precision::Nanoseconds, Precision::Microseconds, Precision::Milliseconds,
                Precision::Seconds, Precision::Minutes, Precision::Hours][p];
            let c = convert(&bytes, precision, 0);
            let samples: u64 = c.series.iter().map(|s| s.samples.len() as u64).sum();
            prop_assert_eq!(samples, c.outcome.accepted);
        }
    }
}
