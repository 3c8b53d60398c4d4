//! [`Tier`]: the three resolutions data is kept at, and [`Retention`], how long each
//! keeps it.

use std::time::Duration;

use telltale_storage_api::Resolution;

/// One resolution of stored data. Each tier has its own column family, partitioned by
/// day, so that its retention drops whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Samples as written.
    Raw,
    /// One rollup point per series per minute.
    Minute,
    /// One rollup point per series per hour.
    Hour,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    /// Width of a rollup bucket (raw: 0).
    pub fn width_ms(self) -> i64 {
        match self {
            Tier::Raw => 0,
            Tier::Minute => 60_000,
            Tier::Hour => 3_600_000,
        }
    }

    /// The stable byte that names the tier in keys.
    pub fn id(self) -> u8 {
        match self {
            Tier::Raw => 0,
            Tier::Minute => 1,
            Tier::Hour => 2,
        }
    }

    pub fn from_id(id: u8) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.id() == id)
    }

    /// Short name for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }

    pub fn resolution(self) -> Resolution {
        match self {
            Tier::Raw => Resolution::Raw,
            Tier::Minute => Resolution::OneMinute,
            Tier::Hour => Resolution::OneHour,
        }
    }

    pub fn from_resolution(r: Resolution) -> Tier {
        match r {
            Resolution::Raw => Tier::Raw,
            Resolution::OneMinute => Tier::Minute,
            Resolution::OneHour => Tier::Hour,
        }
    }
}

/// How long each tier keeps data; `None` keeps it forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw: Option<Duration>,
    pub minute: Option<Duration>,
    pub hour: Option<Duration>,
}

const DAY: u64 = 86_400;

impl Default for Retention {
    /// Raw 7 days, 1-minute rollups 30 days, 1-hour rollups 365 days.
    fn default() -> Self {
        Retention {
            raw: Some(Duration::from_secs(7 * DAY)),
            minute: Some(Duration::from_secs(30 * DAY)),
            hour: Some(Duration::from_secs(365 * DAY)),
        }
    }
}

impl Retention {
    pub fn of(&self, tier: Tier) -> Option<Duration> {
        match tier {
            Tier::Raw => self.raw,
            Tier::Minute => self.minute,
            Tier::Hour => self.hour,
        }
    }

    /// The longest retention of any tier: how long the index must be kept.
    pub fn longest(&self) -> Option<Duration> {
        Tier::ALL
            .into_iter()
            .map(|t| self.of(t))
            .try_fold(Duration::ZERO, |acc, r| r.map(|r| acc.max(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_is_unlimited_when_any_tier_is() {
        let mut r = Retention::default();
        assert_eq!(r.longest(), Some(Duration::from_secs(365 * DAY)));
        r.minute = None;
        assert_eq!(r.longest(), None);
    }

    #[test]
    fn ids_round_trip() {
        for t in Tier::ALL {
            assert_eq!(Tier::from_id(t.id()), Some(t));
            assert_eq!(Tier::from_resolution(t.resolution()), t);
        }
    }
}
