//! [`PromDuration`]: a duration written as Prometheus writes it (`30s`, `1m30s`, `2h`, `7d`).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration in Prometheus's notation: one or more `<number><unit>` terms
/// with units `ms`, `s`, `m`, `h`, `d`, `w`, `y`, largest unit first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    pub fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }

    pub fn as_duration(&self) -> Duration {
        self.0
    }

    /// Parses `s` ([`telltale_model::parse_duration`]), naming what is wrong when it is
    /// not a duration.
    pub fn parse(s: &str) -> Result<Self, String> {
        telltale_model::parse_duration(s)
            .map(PromDuration)
            .map_err(|e| {
                format!(
                    "{e} (expected e.g. 30s, 5m, 1h30m: units ms, s, m, h, d, w, y, largest first)"
                )
            })
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&telltale_model::format_duration(self.0))
    }
}

impl std::str::FromStr for PromDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PromDuration::parse(s)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PromDuration {
    fn schema_name() -> Cow<'static, str> {
        "PromDuration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
            "description": "A duration such as 30s, 5m or 1h30m."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(
            PromDuration::parse("30s").unwrap().0,
            Duration::from_secs(30)
        );
        assert_eq!(
            PromDuration::parse("1h30m").unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(
            PromDuration::parse("1500ms").unwrap().0,
            Duration::from_millis(1500)
        );
        assert_eq!(
            PromDuration::parse("7d").unwrap().0,
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(PromDuration::parse("0").unwrap().0, Duration::ZERO);
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "s", "10", "10x", "1m1h", "1s1s", "-5s", "1.5s"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn displays_round_trip() {
        for s in ["30s", "1h30m", "1d2h", "250ms", "1w"] {
            let d = PromDuration::parse(s).unwrap();
            assert_eq!(d.to_string(), s);
            assert_eq!(PromDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
