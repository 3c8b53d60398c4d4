//! Moving days to the cold tier (see [`crate::cold`]): which days are due, their export
//! as an object, and the log record that moves them, applied by every replica.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::info;

use super::Engine;
use crate::admin_record::AdminRecord;
use crate::cold::{ColdEntry, ColdStorage, ObjectWriter, object_name};
use crate::error::{Error, Result};
use crate::store::keys::{self, DAY_MS, day_of};
use crate::tier::Tier;

/// The cold tier of an engine: where objects are read from, when days move, and the
/// read cache.
#[derive(Debug, Clone)]
pub struct ColdOptions {
    pub storage: Arc<dyn ColdStorage>,
    /// How old (from the newest sample) a day of each tier must be to move; tiers not
    /// listed stay local.
    pub after: Vec<(Tier, Duration)>,
    /// The directory objects are fetched into (emptied at open).
    pub cache_dir: std::path::PathBuf,
    /// Bytes of objects the cache directory keeps at most.
    pub cache_disk_bytes: u64,
    /// Bytes of objects kept in memory at most.
    pub cache_memory_bytes: u64,
    /// How often the leader looks for days due to move.
    pub move_every: Duration,
}

/// At most this many days are reported due at once.
const DUE_PER_PASS: usize = 16;

impl Engine {
    /// The days due to move to the cold tier, oldest first: older than their tier's
    /// `after`, still local, not about to expire, and settled — rolled up into the
    /// next coarser tier kept (and, for a rollup tier, computed itself) with no window
    /// of the day waiting to be computed again.
    pub fn cold_due(&self) -> Result<Vec<(Tier, i64)>> {
        let (Some(cold), Some(newest)) = (&self.opts.cold, self.newest()) else {
            return Ok(Vec::new());
        };
        let retention = &self.opts.retention;
        let mut due = Vec::new();
        for &(tier, after) in &cold.after {
            if !retention.keeps(tier) {
                continue;
            }
            let before = day_of(newest.saturating_sub(after.as_millis() as i64));
            // Days that expire within a day are left to retention.
            let expires = retention.of(tier).map_or(i64::MIN, |r| {
                day_of(newest.saturating_sub(r.as_millis() as i64)) + 1
            });
            let mut settled = retention
                .next(tier)
                .map_or(i64::MAX, |next| self.until(next).unwrap_or(i64::MIN));
            if tier != Tier::Raw {
                settled = settled.min(self.until(tier).unwrap_or(i64::MIN));
            }
            let dirty: Vec<i64> = match tier {
                Tier::Raw => Vec::new(),
                _ => self.store.dirty(tier)?,
            };
            let Some(first) = self.store.first_local_day(tier)? else {
                continue;
            };
            for day in self.store.indexed_days(first.max(expires), before - 1)? {
                let end = (day + 1).saturating_mul(DAY_MS);
                if end > settled {
                    break;
                }
                if dirty.iter().any(|w| day_of(*w) == day)
                    || self.store.cold().entry(tier, day).is_some()
                    || !self.store.has_local_day(tier, day)?
                {
                    continue;
                }
                due.push((tier, day));
                if due.len() >= DUE_PER_PASS {
                    return Ok(due);
                }
            }
        }
        Ok(due)
    }

    /// Writes `tier`'s `day` to `out` as a cold object: the day's postings and the
    /// tier's local chunks of it. Returns its entry (name, size, SHA-256, and the log
    /// position it holds everything up to).
    pub fn export_cold(&self, tier: Tier, day: i64, out: &mut dyn Write) -> Result<ColdEntry> {
        let seq = self.writer().applied_seq;
        let io = |source| Error::Io {
            path: format!("cold object of {} day {day}", tier.name()).into(),
            source,
        };
        let mut w = ObjectWriter::new(Hashing {
            out,
            sha: Sha256::new(),
        })
        .map_err(io)?;
        for key in self.store.day_postings(day)? {
            w.posting(&key).map_err(io)?;
        }
        self.store
            .for_each_local_chunk(tier, day, &mut |k, v| w.chunk(k, v).map_err(io))?;
        let (hashing, bytes) = w.finish().map_err(io)?;
        Ok(ColdEntry {
            object: object_name(tier, day, seq),
            bytes,
            sha256: hashing.sha.finalize().into(),
            seq,
        })
    }

    /// The log record that moves `tier`'s `day` to the object of `entry`, once it is
    /// uploaded and checked.
    pub fn prepare_cold_moved(tier: Tier, day: i64, entry: ColdEntry) -> Vec<u8> {
        AdminRecord::ColdMoved { tier, day, entry }.encode()
    }

    /// Applies a move: records the day as cold and removes the local chunks the object
    /// holds — raw chunks written up to the export (later ones, late samples, stay and
    /// are read beside the object), a rollup tier's chunks unless late samples landed
    /// in the day since this engine opened (its windows may have been computed again
    /// after the export) — and the day's local postings once no tier holds local
    /// chunks of it.
    pub(super) fn apply_cold_moved(&self, tier: Tier, day: i64, entry: ColdEntry) -> Result<()> {
        let changed_late = self
            .changed_days
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&day);
        let mut batch = self.store.batch();
        let (mut removed, mut kept) = (0usize, 0usize);
        self.store.for_each_local_chunk(tier, day, &mut |key, _| {
            let (_, _, _, seq) = keys::decode_chunk_key(key).ok_or_else(|| Error::Corrupt {
                what: "chunk key",
                detail: format!("{key:?}"),
            })?;
            let held = match tier {
                Tier::Raw => seq <= entry.seq,
                _ => !changed_late,
            };
            if held {
                batch.delete_chunk_key(tier, key);
                removed += 1;
            } else {
                kept += 1;
            }
            Ok(())
        })?;
        let elsewhere = Tier::ALL
            .into_iter()
            .filter(|t| *t != tier)
            .map(|t| self.store.has_local_day(t, day))
            .collect::<Result<Vec<bool>>>()?
            .contains(&true);
        let postings_go = kept == 0 && !elsewhere;
        if postings_go {
            batch.delete_local_postings(day);
        }
        batch.put_cold(tier, day, &entry);
        self.store.write(batch, true)?;
        self.store.cold().insert(tier, day, entry.clone());
        if postings_go {
            self.store.cold().postings_moved(day);
        }
        // The space comes back at the next maintenance step, outside the writer's lock.
        self.cold_compactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((tier, day));
        info!(
            tier = tier.name(),
            day,
            object = %entry.object,
            removed,
            kept,
            "day moved to the cold tier"
        );
        Ok(())
    }

    /// Compacts the days moved since the last call, so the disk space comes back.
    pub fn compact_moved(&self) {
        let days = std::mem::take(
            &mut *self
                .cold_compactions
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (tier, day) in days {
            self.store.compact_day(tier, day);
        }
    }

    /// The days in the cold tier, per tier, oldest first.
    pub fn cold_days(&self) -> Vec<(Tier, i64)> {
        self.store
            .cold()
            .entries()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// The objects of cold days that retention dropped since the last call, for the
    /// leader to delete from object storage.
    pub fn take_expired_cold(&self) -> Vec<String> {
        std::mem::take(&mut *self.expired_cold.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(super) fn expire_cold(&self, gone: Vec<ColdEntry>) {
        if !gone.is_empty() {
            self.expired_cold
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(gone.into_iter().map(|e| e.object));
        }
    }
}

/// A writer that hashes what passes through it.
struct Hashing<'a> {
    out: &'a mut dyn Write,
    sha: Sha256,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
