//! [`Tier`]: the resolutions data can be kept at (raw samples, and rollups per 1 m,
//! 5 m, 1 h and 1 d), and [`Retention`]: which rollup tiers a data directory keeps and
//! how long each tier keeps its data.

use std::time::Duration;

use telltale_storage_api::Resolution;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One resolution of stored data. Each tier has its own column family, partitioned by
/// day, so that its retention drops whole days. Ordered by width: raw first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Samples as written.
    Raw,
    /// One rollup point per series per minute.
    Minute,
    /// One rollup point per series per five minutes.
    FiveMinutes,
    /// One rollup point per series per hour.
    Hour,
    /// One rollup point per series per day (UTC).
    Day,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 5] = [
        Tier::Raw,
        Tier::Minute,
        Tier::FiveMinutes,
        Tier::Hour,
        Tier::Day,
    ];

    /// Width of a rollup bucket (raw: 0).
    pub fn width_ms(self) -> i64 {
        self.resolution().width_ms()
    }

    /// The span of one rollup computation (a window): every series' points of the tier
    /// in it are computed together, once the window is settled. Windows divide days, so
    /// a window never spans two partitions.
    pub fn window_ms(self) -> i64 {
        match self {
            Tier::Raw => 0,
            Tier::Minute | Tier::FiveMinutes => HOUR_MS,
            Tier::Hour | Tier::Day => DAY_MS,
        }
    }

    /// The stable byte that names the tier in keys (1 m and 1 h kept theirs from when
    /// they were the only rollups).
    pub fn id(self) -> u8 {
        match self {
            Tier::Raw => 0,
            Tier::Minute => 1,
            Tier::Hour => 2,
            Tier::FiveMinutes => 3,
            Tier::Day => 4,
        }
    }

    pub fn from_id(id: u8) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.id() == id)
    }

    /// Short name for flags, logs and metric labels: `raw`, `1m`, `5m`, `1h`, `1d`.
    pub fn name(self) -> &'static str {
        self.resolution().short_name()
    }

    /// The tier named `name` (see [`Tier::name`]).
    pub fn from_name(name: &str) -> Option<Tier> {
        Resolution::from_short_name(name).map(Tier::from_resolution)
    }

    pub fn resolution(self) -> Resolution {
        match self {
            Tier::Raw => Resolution::Raw,
            Tier::Minute => Resolution::OneMinute,
            Tier::FiveMinutes => Resolution::FiveMinutes,
            Tier::Hour => Resolution::OneHour,
            Tier::Day => Resolution::OneDay,
        }
    }

    pub fn from_resolution(r: Resolution) -> Tier {
        match r {
            Resolution::Raw => Tier::Raw,
            Resolution::OneMinute => Tier::Minute,
            Resolution::FiveMinutes => Tier::FiveMinutes,
            Resolution::OneHour => Tier::Hour,
            Resolution::OneDay => Tier::Day,
        }
    }
}

/// Which rollup tiers are kept and how long each tier keeps data (`None`: forever).
/// Each rollup tier is computed from the next finer one kept (the finest from raw
/// samples). A tier not listed computes nothing, and data a data directory still holds
/// in it is dropped, as lowering a retention drops data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub raw: Option<Duration>,
    rollups: Vec<(Tier, Option<Duration>)>,
}

const DAY: u64 = 86_400;

impl Default for Retention {
    /// Raw 7 days, 1-minute rollups 30 days, 1-hour rollups 365 days.
    fn default() -> Self {
        Retention {
            raw: Some(Duration::from_secs(7 * DAY)),
            rollups: vec![
                (Tier::Minute, Some(Duration::from_secs(30 * DAY))),
                (Tier::Hour, Some(Duration::from_secs(365 * DAY))),
            ],
        }
    }
}

impl Retention {
    /// Raw retention and the rollup tiers kept, finest first, each at most once.
    pub fn new(
        raw: Option<Duration>,
        rollups: Vec<(Tier, Option<Duration>)>,
    ) -> Result<Self, String> {
        for pair in rollups.windows(2) {
            if pair[0].0 >= pair[1].0 {
                return Err(format!(
                    "rollup tiers must be listed finest first, each once: {} before {}",
                    pair[0].0.name(),
                    pair[1].0.name()
                ));
            }
        }
        if rollups.iter().any(|(t, _)| *t == Tier::Raw) {
            return Err("raw is not a rollup tier (its retention is --retention-raw)".into());
        }
        Ok(Retention { raw, rollups })
    }

    /// The default tiers (raw, 1m, 1h), every one kept forever.
    pub fn unlimited() -> Self {
        Retention {
            raw: None,
            rollups: vec![(Tier::Minute, None), (Tier::Hour, None)],
        }
    }

    /// The rollup tiers kept, finest first, with their retention.
    pub fn rollups(&self) -> &[(Tier, Option<Duration>)] {
        &self.rollups
    }

    /// Raw and the rollup tiers kept, finest first.
    pub fn tiers(&self) -> impl Iterator<Item = Tier> + '_ {
        std::iter::once(Tier::Raw).chain(self.rollups.iter().map(|(t, _)| *t))
    }

    /// Whether `tier` is kept.
    pub fn keeps(&self, tier: Tier) -> bool {
        tier == Tier::Raw || self.rollups.iter().any(|(t, _)| *t == tier)
    }

    /// How long `tier` keeps data (`None`: forever). A tier not kept keeps nothing.
    pub fn of(&self, tier: Tier) -> Option<Duration> {
        match tier {
            Tier::Raw => self.raw,
            _ => self
                .rollups
                .iter()
                .find(|(t, _)| *t == tier)
                .map_or(Some(Duration::ZERO), |(_, r)| *r),
        }
    }

    /// The tier rollup tier `tier` is computed from: the next finer one kept, or raw.
    pub fn source(&self, tier: Tier) -> Tier {
        self.tiers()
            .take_while(|t| *t < tier)
            .last()
            .unwrap_or(Tier::Raw)
    }

    /// The next coarser tier kept, computed from `tier`.
    pub fn next(&self, tier: Tier) -> Option<Tier> {
        self.tiers().find(|t| *t > tier)
    }

    /// The finest rollup tier kept (the one computed from raw samples).
    pub fn finest_rollup(&self) -> Option<Tier> {
        self.rollups.first().map(|(t, _)| *t)
    }

    /// The longest retention of any tier: how long the index must be kept.
    pub fn longest(&self) -> Option<Duration> {
        self.tiers()
            .map(|t| self.of(t))
            .try_fold(Duration::ZERO, |acc, r| r.map(|r| acc.max(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n * DAY))
    }

    #[test]
    fn longest_is_unlimited_when_any_tier_is() {
        let r = Retention::default();
        assert_eq!(r.longest(), days(365));
        let r = Retention::new(days(7), vec![(Tier::Minute, None), (Tier::Hour, days(1))]);
        assert_eq!(r.unwrap().longest(), None);
    }

    #[test]
    fn ids_and_names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(Tier::from_id(t.id()), Some(t));
            assert_eq!(Tier::from_resolution(t.resolution()), t);
            assert_eq!(Tier::from_name(t.name()), Some(t));
        }
        // Data directories written before 5 m and 1 d existed keep their ids.
        assert_eq!((Tier::Minute.id(), Tier::Hour.id()), (1, 2));
    }

    #[test]
    fn windows_hold_whole_buckets_and_divide_days() {
        for t in &Tier::ALL[1..] {
            assert_eq!(t.window_ms() % t.width_ms(), 0, "{t:?}");
            assert_eq!(DAY_MS % t.window_ms(), 0, "{t:?}");
        }
    }

    #[test]
    fn each_tier_is_computed_from_the_next_finer_one_kept() {
        let r = Retention::new(
            days(7),
            vec![(Tier::FiveMinutes, days(90)), (Tier::Day, days(1000))],
        )
        .unwrap();
        assert_eq!(r.source(Tier::FiveMinutes), Tier::Raw);
        assert_eq!(r.source(Tier::Day), Tier::FiveMinutes);
        assert_eq!(r.next(Tier::Raw), Some(Tier::FiveMinutes));
        assert_eq!(r.next(Tier::FiveMinutes), Some(Tier::Day));
        assert_eq!(r.next(Tier::Day), None);
        assert_eq!(r.finest_rollup(), Some(Tier::FiveMinutes));
        assert!(!r.keeps(Tier::Hour));
        assert_eq!(r.of(Tier::Hour), Some(Duration::ZERO));
        assert_eq!(
            r.tiers().collect::<Vec<_>>(),
            [Tier::Raw, Tier::FiveMinutes, Tier::Day]
        );
    }

    #[test]
    fn tiers_out_of_order_or_twice_are_refused() {
        let e = Retention::new(None, vec![(Tier::Hour, None), (Tier::Minute, None)]);
        assert!(e.unwrap_err().contains("1h before 1m"));
        assert!(Retention::new(None, vec![(Tier::Hour, None), (Tier::Hour, None)]).is_err());
        assert!(Retention::new(None, vec![(Tier::Raw, None)]).is_err());
        assert!(
            Retention::new(None, vec![])
                .unwrap()
                .finest_rollup()
                .is_none()
        );
    }
}
