//! Retention: each tier drops the whole day partitions that lie entirely before its
//! retention (measured back from the newest sample, as Prometheus measures it from its
//! newest block), and the index drops days past the longest retention of any tier.
//! Only range deletes: no sample is deleted one by one, and writes never wait. A rollup
//! tier no longer kept (taken out of `--rollup-tiers`) drops all its data, as lowering a
//! retention does.

use std::time::Duration;

use tracing::{info, warn};

use super::Engine;
use crate::error::Result;
use crate::store::keys::{self, DAY_MS, day_of};
use crate::tier::Tier;

impl Engine {
    /// Drops expired partitions of every tier and of the index.
    pub fn enforce_retention(&self) -> Result<()> {
        let Some(newest) = self.newest() else {
            return Ok(());
        };
        let mut st = self.maintaining();
        let cutoff = |r: Duration| day_of(newest.saturating_sub(r.as_millis() as i64));
        for tier in Tier::ALL {
            if !self.opts.retention.keeps(tier) {
                self.drop_tier(tier)?;
                continue;
            }
            if let Some(r) = self.opts.retention.of(tier) {
                let before = cutoff(r);
                if st
                    .dropped_before
                    .get(&Some(tier))
                    .is_some_and(|d| *d >= before)
                {
                    continue;
                }
                let first = self.store.first_day(tier)?;
                if first.is_some_and(|f| f < before) {
                    let gone = self.store.drop_days_before(tier, before)?;
                    self.expire_cold(gone);
                    self.late
                        .record(i64::MIN, before.saturating_mul(DAY_MS) - 1);
                    let dropped = before - first.unwrap_or(before);
                    self.metrics
                        .retention_dropped
                        .with_label_values(&[tier.name()])
                        .inc_by(dropped as u64);
                    info!(
                        tier = tier.name(),
                        before_day = before,
                        dropped,
                        "retention dropped day partitions"
                    );
                }
                st.dropped_before.insert(Some(tier), before);
            }
            if let Some(first) = self.store.first_day(tier)? {
                self.metrics
                    .oldest_day
                    .with_label_values(&[tier.name()])
                    .set(first.saturating_mul(86_400));
            }
        }
        if let Some(r) = self.opts.retention.longest() {
            let before = cutoff(r);
            if st.dropped_before.get(&None).is_none_or(|d| *d < before) {
                self.store.drop_index_days_before(before)?;
                st.dropped_before.insert(None, before);
            }
        }
        Ok(())
    }

    /// Drops every partition of `tier`, a rollup tier no longer kept, and forgets how
    /// far it was computed (so that keeping it again computes it from its source).
    fn drop_tier(&self, tier: Tier) -> Result<()> {
        if self.store.first_day(tier)?.is_none() && self.until(tier).is_none() {
            return Ok(());
        }
        warn!(
            tier = tier.name(),
            "dropping the data of a rollup tier that is no longer configured"
        );
        let gone = self.store.drop_days_before(tier, i64::MAX)?;
        self.expire_cold(gone);
        let mut batch = self.store.batch();
        if let Some(key) = keys::until_key(tier) {
            batch.delete_meta(key);
        }
        self.store.write(batch, true)?;
        self.set_until(tier, None);
        self.late.record(i64::MIN, i64::MAX);
        Ok(())
    }

    /// Refreshes the gauges that read disk state.
    pub fn update_disk_metrics(&self) {
        for tier in self.opts.retention.tiers() {
            self.metrics
                .disk_bytes
                .with_label_values(&[tier.name()])
                .set(self.store.disk_bytes(tier) as i64);
        }
        self.metrics.head_bytes.set(self.head().heap_bytes() as i64);
        let cold = self.store.cold();
        if cold.any() {
            let mut per_tier = std::collections::BTreeMap::<Tier, (i64, i64)>::new();
            for ((tier, _), entry) in cold.entries() {
                let t = per_tier.entry(tier).or_default();
                t.0 += 1;
                t.1 += entry.bytes as i64;
            }
            for tier in self.opts.retention.tiers() {
                let (days, bytes) = per_tier.get(&tier).copied().unwrap_or_default();
                self.metrics
                    .cold_days
                    .with_label_values(&[tier.name()])
                    .set(days);
                self.metrics
                    .cold_bytes
                    .with_label_values(&[tier.name()])
                    .set(bytes);
            }
        }
        self.metrics.cold_cache_bytes.set(cold.cache_bytes() as i64);
    }
}
