//! Rollup tiers: at which resolutions a storage node keeps rollups and for how long, as
//! `spec.retention.rollups` lists them and as `telltale storage --rollup-tiers` takes
//! them (`1m:30d,1h:365d,1d:3y`). [`parse_rollup_tiers`] and [`format_rollup_tiers`] are
//! the one reader and writer of that syntax; [`check_rollup_tiers`] the one set of rules:
//!
//! - resolutions from [`Resolution::ALL`] (`1m`, `5m`, `1h`, `1d`), each at most once,
//!   finest first;
//! - every retention above zero, a coarser tier's at least as long as a finer one's, and
//!   the finest at least as long as raw samples are kept.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;

/// The resolution of a rollup tier: one point per this much time.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Resolution {
    #[serde(rename = "1m")]
    OneMinute,
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    OneHour,
    #[serde(rename = "1d")]
    OneDay,
}

impl Resolution {
    /// Every resolution, finest first.
    pub const ALL: [Resolution; 4] = [
        Resolution::OneMinute,
        Resolution::FiveMinutes,
        Resolution::OneHour,
        Resolution::OneDay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::OneMinute => "1m",
            Resolution::FiveMinutes => "5m",
            Resolution::OneHour => "1h",
            Resolution::OneDay => "1d",
        }
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Resolution::OneMinute => 60,
            Resolution::FiveMinutes => 300,
            Resolution::OneHour => 3_600,
            Resolution::OneDay => 86_400,
        })
    }

    /// `1m`, `5m`, `1h` or `1d`.
    pub fn parse(s: &str) -> Result<Resolution, String> {
        Resolution::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("resolution {s:?} is not one of 1m, 5m, 1h, 1d"))
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tier: rollups at `resolution`, kept for `retention`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollupTier {
    /// `1m`, `5m`, `1h` or `1d`.
    pub resolution: Resolution,
    /// How long its points are kept (a Prometheus duration such as `30d`, `2y`).
    #[schemars(length(max = 32))]
    pub retention: PromDuration,
}

impl RollupTier {
    pub fn new(resolution: Resolution, retention: PromDuration) -> Self {
        RollupTier {
            resolution,
            retention,
        }
    }
}

impl fmt::Display for RollupTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resolution, self.retention)
    }
}

/// The tiers when none are configured: `1m:30d,1h:365d`.
pub fn default_rollup_tiers() -> Vec<RollupTier> {
    vec![
        RollupTier::new(Resolution::OneMinute, PromDuration::from_secs(30 * 86_400)),
        RollupTier::new(Resolution::OneHour, PromDuration::from_secs(365 * 86_400)),
    ]
}

/// What is wrong with a list of tiers: which tier, which of its fields and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierError {
    /// The tier's position in the list (0 for an empty list).
    pub index: usize,
    /// `"resolution"` or `"retention"`.
    pub field: &'static str,
    pub message: String,
}

/// The rules every list of tiers follows (see the module). `raw`: the raw samples'
/// retention, which the finest tier must reach.
pub fn check_rollup_tiers(
    tiers: &[RollupTier],
    raw: Option<PromDuration>,
) -> Result<(), TierError> {
    let error = |index, field, message: String| TierError {
        index,
        field,
        message,
    };
    if tiers.is_empty() {
        return Err(error(0, "resolution", "at least one tier is needed".into()));
    }
    for (i, tier) in tiers.iter().enumerate() {
        if tier.retention.0.is_zero() {
            return Err(error(i, "retention", "must be greater than 0".into()));
        }
        match i.checked_sub(1).map(|p| tiers[p]) {
            Some(finer) if tier.resolution == finer.resolution => {
                return Err(error(
                    i,
                    "resolution",
                    format!("{} is listed twice", tier.resolution),
                ));
            }
            Some(finer) if tier.resolution < finer.resolution => {
                return Err(error(
                    i,
                    "resolution",
                    format!(
                        "{} comes after the coarser {}: list the finest first",
                        tier.resolution, finer.resolution
                    ),
                ));
            }
            Some(finer) if tier.retention < finer.retention => {
                return Err(error(
                    i,
                    "retention",
                    format!(
                        "{} is shorter than the {} tier's {}",
                        tier.retention, finer.resolution, finer.retention
                    ),
                ));
            }
            Some(_) => {}
            None => {
                if let Some(raw) = raw.filter(|raw| tier.retention < *raw) {
                    return Err(error(
                        i,
                        "retention",
                        format!("{} is shorter than raw {raw}", tier.retention),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `1m:30d,1h:365d,1d:3y` read and checked ([`check_rollup_tiers`], without the raw
/// retention, which the caller checks against the first tier).
pub fn parse_rollup_tiers(s: &str) -> Result<Vec<RollupTier>, String> {
    let tiers = s
        .split(',')
        .map(|item| {
            let item = item.trim();
            let (resolution, retention) = item
                .split_once(':')
                .ok_or_else(|| format!("{item:?} is not RESOLUTION:RETENTION (1m:30d)"))?;
            let retention = PromDuration::parse(retention.trim())
                .map_err(|e| format!("{item:?}: retention: {e}"))?;
            Ok(RollupTier::new(
                Resolution::parse(resolution.trim()).map_err(|e| format!("{item:?}: {e}"))?,
                retention,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    check_rollup_tiers(&tiers, None)
        .map_err(|e| format!("tier {} ({}): {}", e.index + 1, tiers[e.index], e.message))?;
    Ok(tiers)
}

/// The tiers as `--rollup-tiers` takes them.
pub fn format_rollup_tiers(tiers: &[RollupTier]) -> String {
    tiers
        .iter()
        .map(RollupTier::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(d: u64) -> PromDuration {
        PromDuration::from_secs(d * 86_400)
    }

    #[test]
    fn tiers_round_trip_through_their_syntax() {
        let tiers = parse_rollup_tiers("1m:30d,1h:365d,1d:3y").unwrap();
        assert_eq!(
            tiers,
            [
                RollupTier::new(Resolution::OneMinute, days(30)),
                RollupTier::new(Resolution::OneHour, days(365)),
                RollupTier::new(Resolution::OneDay, days(3 * 365)),
            ]
        );
        let text = format_rollup_tiers(&tiers);
        assert_eq!(text, "1m:4w2d,1h:1y,1d:3y");
        assert_eq!(parse_rollup_tiers(&text).unwrap(), tiers);
        assert_eq!(
            parse_rollup_tiers(" 5m : 90d ").unwrap(),
            [RollupTier::new(Resolution::FiveMinutes, days(90))]
        );
        assert_eq!(
            format_rollup_tiers(&default_rollup_tiers()),
            "1m:4w2d,1h:1y"
        );
    }

    #[test]
    fn bad_tiers_are_refused_with_the_tier_named() {
        let err = |s: &str| parse_rollup_tiers(s).unwrap_err();
        assert!(err("").contains("not RESOLUTION:RETENTION"), "{}", err(""));
        assert!(err("1m").contains("not RESOLUTION:RETENTION"));
        assert!(err("2m:30d").contains("not one of 1m, 5m, 1h, 1d"));
        assert!(err("1m:forever").contains("retention"));
        let e = err("1m:30d,1m:60d");
        assert!(
            e.starts_with("tier 2 (1m:8w4d)") && e.contains("twice"),
            "{e}"
        );
        let e = err("1h:365d,1m:30d");
        assert!(e.contains("finest first"), "{e}");
        let e = err("1m:30d,1h:7d");
        assert!(e.contains("shorter than the 1m tier's 4w2d"), "{e}");
        let e = err("1m:0");
        assert!(e.contains("greater than 0"), "{e}");
        // Equal retentions are allowed.
        parse_rollup_tiers("1m:30d,5m:30d").unwrap();
    }

    #[test]
    fn the_finest_tier_keeps_at_least_the_raw_samples() {
        let tiers = [RollupTier::new(Resolution::OneMinute, days(30))];
        check_rollup_tiers(&tiers, Some(days(30))).unwrap();
        let e = check_rollup_tiers(&tiers, Some(days(31))).unwrap_err();
        assert_eq!((e.index, e.field), (0, "retention"));
        let e = check_rollup_tiers(&[], None).unwrap_err();
        assert!(e.message.contains("at least one"), "{e:?}");
    }
}
