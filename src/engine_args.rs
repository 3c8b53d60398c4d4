//! [`EngineArgs`]: how a storage replica (standalone or a storage node) keeps data —
//! retention per tier, the rollup tiers, the cold tier in object storage, the
//! out-of-order window and flushes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use telltale_crds::PromDuration;
use telltale_crds::rollup_tiers::{
    Resolution, RollupTier, check_rollup_tiers, default_rollup_tiers, parse_rollup_tiers,
};
use telltale_storage::engine::cold::ColdOptions;
use telltale_storage::{EngineOptions, Retention, Tier};

#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// How long raw samples are kept (`0`: forever).
    #[arg(long = "retention-raw", default_value = "7d", value_parser = PromDuration::parse)]
    pub retention_raw: PromDuration,
    /// The rollup tiers kept and each one's retention, finest first, from 1m, 5m, 1h
    /// and 1d: e.g. `1m:30d,1h:365d,1d:3y` (default `1m:30d,1h:365d`). A tier added
    /// later is computed from the data already held; one taken out drops its data.
    #[arg(long = "rollup-tiers", value_parser = parse_tiers, conflicts_with_all = ["retention_1m", "retention_1h"])]
    pub rollup_tiers: Option<RollupTiers>,
    /// How long 1-minute rollups are kept (`0`: forever); deprecated for
    /// `--rollup-tiers`.
    #[arg(long = "retention-1m", value_parser = PromDuration::parse)]
    pub retention_1m: Option<PromDuration>,
    /// How long 1-hour rollups are kept (`0`: forever); deprecated for
    /// `--rollup-tiers`.
    #[arg(long = "retention-1h", value_parser = PromDuration::parse)]
    pub retention_1h: Option<PromDuration>,
    /// Samples this much older than the newest one are still taken in memory; older
    /// ones are backfill, written straight to their day (both are kept).
    #[arg(long, default_value = "1h", value_parser = PromDuration::parse)]
    pub out_of_order_window: PromDuration,
    /// How often the in-memory head is flushed to compressed chunks.
    #[arg(long, default_value = "30m", value_parser = PromDuration::parse)]
    pub flush_interval: PromDuration,
    /// Exemplars kept per replica, in one ring over all series (the oldest overwritten
    /// first; `0`: none), as Prometheus's flag of the same name.
    #[arg(long = "storage.exemplars.exemplars-limit", default_value_t = 100_000)]
    pub exemplars_limit: usize,
    /// Object storage for the cold tier: `s3://bucket/prefix` (credentials, region and
    /// endpoint from the `AWS_*` environment, `AWS_ENDPOINT_URL` for S3-compatible
    /// servers) or `file:///path`. Days older than `--cold-after` move there.
    #[arg(long = "cold-storage.url")]
    pub cold_url: Option<String>,
    /// Per tier, how old a day must be to move to the cold tier, e.g. `raw:3d,1m:14d,
    /// 1h:60d` (tiers not listed stay local).
    #[arg(long = "cold-after", value_parser = parse_cold_after, default_value = "raw:3d,1m:14d,5m:30d,1h:60d,1d:60d")]
    pub cold_after: ColdAfter,
    /// Disk the cold tier's read cache may take (`B`, `KB`, `MB`, `GB`, `TB`: powers of
    /// 1024, as Prometheus's `--storage.tsdb.retention.size`).
    #[arg(long = "cold-storage.cache-size", default_value = "10GB", value_parser = parse_bytes)]
    pub cold_cache_size: u64,
    /// Memory the cold tier's read cache may take.
    #[arg(long = "cold-storage.memory-size", default_value = "256MB", value_parser = parse_bytes)]
    pub cold_memory_size: u64,
    /// How often the shard's leader looks for days due to move.
    #[arg(long = "cold-storage.move-interval", default_value = "5m", value_parser = PromDuration::parse)]
    pub cold_move_interval: PromDuration,
}

/// `--rollup-tiers`, read by the one parser of its syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupTiers(pub Vec<RollupTier>);

fn parse_tiers(s: &str) -> Result<RollupTiers, String> {
    parse_rollup_tiers(s).map(RollupTiers)
}

/// The storage tier of a rollup resolution (both spelled `1m`, `5m`, `1h`, `1d`).
fn tier_of(r: Resolution) -> Tier {
    Tier::from_name(r.as_str()).expect("every rollup resolution is a storage tier")
}

/// `--cold-after`: per tier, the age past which its days move.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdAfter(pub Vec<(Tier, Duration)>);

fn parse_cold_after(s: &str) -> Result<ColdAfter, String> {
    let mut out: Vec<(Tier, Duration)> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (tier, after) = part
            .split_once(':')
            .ok_or_else(|| format!("{part:?} is not TIER:AGE (e.g. raw:3d)"))?;
        let tier = Tier::from_name(tier)
            .ok_or_else(|| format!("tier {tier:?} is not one of raw, 1m, 5m, 1h, 1d"))?;
        if out.iter().any(|(t, _)| *t == tier) {
            return Err(format!("tier {} is listed twice", tier.name()));
        }
        let after = PromDuration::parse(after)?.as_duration();
        if after.is_zero() {
            return Err(format!("{part:?}: the age must be above 0"));
        }
        out.push((tier, after));
    }
    Ok(ColdAfter(out))
}

/// `512MB`, `10GB`, `1TB`, or plain bytes; units are powers of 1024.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 512MB"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KB" | "KiB" => 10,
        "MB" | "MiB" => 20,
        "GB" | "GiB" => 30,
        "TB" | "TiB" => 40,
        "PB" | "PiB" => 50,
        other => {
            return Err(format!(
                "{s:?}: unit {other:?} is not B, KB, MB, GB, TB or PB"
            ));
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

impl EngineArgs {
    /// Raw retention and the rollup tiers: `--rollup-tiers`, else the default tiers with
    /// `--retention-1m` and `--retention-1h` (`0`: forever) as their retention.
    pub fn retention(&self) -> anyhow::Result<Retention> {
        let keep = |d: &PromDuration| {
            let d = d.as_duration();
            (!d.is_zero()).then_some(d)
        };
        let raw = keep(&self.retention_raw);
        let rollups: Vec<(Tier, Option<Duration>)> = match &self.rollup_tiers {
            Some(RollupTiers(tiers)) => {
                check_rollup_tiers(tiers, raw.map(PromDuration)).map_err(|e| {
                    anyhow::anyhow!("--rollup-tiers: tier {}: {}", e.index + 1, e.message)
                })?;
                tiers
                    .iter()
                    .map(|t| (tier_of(t.resolution), keep(&t.retention)))
                    .collect()
            }
            None => default_rollup_tiers()
                .into_iter()
                .map(|t| {
                    let flag = match t.resolution {
                        Resolution::OneMinute => self.retention_1m,
                        _ => self.retention_1h,
                    };
                    (tier_of(t.resolution), keep(&flag.unwrap_or(t.retention)))
                })
                .collect(),
        };
        Retention::new(raw, rollups).map_err(|e| anyhow::anyhow!("--rollup-tiers: {e}"))
    }

    /// The engine's options for the replica of `shard` whose data is in `data_dir`.
    pub fn options(&self, data_dir: &Path, shard: u32) -> anyhow::Result<EngineOptions> {
        let retention = self.retention()?;
        let cold = match &self.cold_url {
            None => None,
            Some(url) => {
                let bucket = telltale_replica::cold::ColdBucket::open(url, shard)
                    .map_err(|e| anyhow::anyhow!(e))
                    .with_context(|| format!("--cold-storage.url {url}"))?;
                Some(ColdOptions {
                    storage: Arc::new(bucket),
                    after: self
                        .cold_after
                        .0
                        .iter()
                        .filter(|(t, _)| retention.keeps(*t))
                        .copied()
                        .collect(),
                    cache_dir: data_dir.join("cold-cache"),
                    cache_disk_bytes: self.cold_cache_size,
                    cache_memory_bytes: self.cold_memory_size,
                    move_every: self.cold_move_interval.as_duration(),
                })
            }
        };
        Ok(EngineOptions {
            retention,
            out_of_order_window: self.out_of_order_window.as_duration(),
            flush_interval: self.flush_interval.as_duration(),
            exemplars_limit: self.exemplars_limit,
            cold,
            ..EngineOptions::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_ages_per_tier() {
        let c = parse_cold_after("raw:3d, 1h:60d").unwrap();
        assert_eq!(
            c.0,
            [
                (Tier::Raw, Duration::from_secs(3 * 86_400)),
                (Tier::Hour, Duration::from_secs(60 * 86_400))
            ]
        );
        assert!(parse_cold_after("2m:3d").unwrap_err().contains("\"2m\""));
        assert!(
            parse_cold_after("raw:3d,raw:4d")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_cold_after("raw").unwrap_err().contains("TIER:AGE"));
        assert!(parse_cold_after("raw:0s").is_err());
    }

    fn args(flags: &[&str]) -> Result<EngineArgs, clap::Error> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            engine: EngineArgs,
        }
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("telltale").chain(flags.iter().copied()))
            .map(|c| c.engine)
    }

    #[test]
    fn rollup_tiers_from_the_flag_or_the_deprecated_retentions() {
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        let r = args(&["--rollup-tiers", "5m:90d,1d:3y"])
            .unwrap()
            .retention()
            .unwrap();
        assert_eq!(
            r.rollups(),
            [(Tier::FiveMinutes, days(90)), (Tier::Day, days(3 * 365))]
        );
        assert_eq!(r.raw, days(7));
        let r = args(&[]).unwrap().retention().unwrap();
        assert_eq!(r, Retention::default());
        let r = args(&["--retention-1m", "10d", "--retention-1h", "0"])
            .unwrap()
            .retention()
            .unwrap();
        assert_eq!(r.rollups(), [(Tier::Minute, days(10)), (Tier::Hour, None)]);
        // Both ways at once, a tier shorter than raw, bad syntax: refused, the flag named.
        assert!(args(&["--rollup-tiers", "1m:30d", "--retention-1h", "9d"]).is_err());
        let e = args(&["--retention-raw", "60d", "--rollup-tiers", "1m:30d"])
            .unwrap()
            .retention()
            .unwrap_err()
            .to_string();
        assert!(e.contains("--rollup-tiers") && e.contains("raw"), "{e}");
        let e = args(&["--rollup-tiers", "1h:1y,1m:30d"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("finest first"), "{e}");
    }

    #[test]
    fn sizes_in_powers_of_1024() {
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("10GB"), Ok(10 << 30));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("10 furlongs").is_err());
        assert!(parse_bytes("GB").is_err());
        assert!(parse_bytes("99999999PB").is_err());
    }
}
