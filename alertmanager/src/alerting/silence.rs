//! [`Silences`]: Alertmanager silences — matchers that mute the alerts they match between
//! `startsAt` and `endsAt` — with Alertmanager's rules for creating, updating and expiring
//! them. Pure state: the caller passes the time and persists [`Silences::snapshot`].

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use crate::alerting::matcher::{MatchType, Matcher, Matchers};
use crate::error::{Error, Result};
use crate::labels::LabelSet;

/// How long expired silences are kept (Alertmanager's default retention, 120h).
pub const EXPIRED_RETENTION_MS: i64 = 120 * 3_600_000;

/// A silence matcher as the v2 API writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    /// The label matcher this stands for.
    pub fn to_matcher(&self) -> Result<Matcher> {
        let kind = match (self.is_regex, self.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regex,
            (true, false) => MatchType::NotRegex,
        };
        Matcher::new(self.name.clone(), kind, self.value.clone())
    }
}

/// One silence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub updated_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

/// Where a silence is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    pub fn state(&self, now_ms: i64) -> SilenceState {
        if self.ends_at_ms <= now_ms {
            SilenceState::Expired
        } else if self.starts_at_ms > now_ms {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    fn compile(&self) -> Result<Matchers> {
        let m = self
            .matchers
            .iter()
            .map(SilenceMatcher::to_matcher)
            .collect::<Result<Vec<_>>>()
            .map_err(|e| Error::InvalidSilence {
                message: e.to_string(),
            })?;
        Ok(Matchers(m))
    }
}

/// Every silence, by id.
#[derive(Clone, Debug, Default)]
pub struct Silences {
    silences: BTreeMap<String, Silence>,
    compiled: BTreeMap<String, Matchers>,
    limits: SilenceLimits,
}

/// Alertmanager's `--silences.max-silences` and `--silences.max-silence-size-bytes`; 0:
/// no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SilenceLimits {
    /// Silences not yet expired (active and pending); expiring one is always allowed.
    pub max_silences: usize,
    /// Bytes of one silence as stored (its JSON document).
    pub max_silence_size_bytes: usize,
}

impl Silences {
    pub fn new() -> Self {
        Self::default()
    }

    /// The limits new and changed silences are held to from now on (the silences
    /// already stored stay).
    pub fn set_limits(&mut self, limits: SilenceLimits) {
        self.limits = limits;
    }

    /// The silences of a snapshot; ones whose matchers no longer compile are dropped.
    pub fn from_snapshot(list: Vec<Silence>) -> Silences {
        let mut s = Silences::new();
        for silence in list {
            match silence.compile() {
                Ok(m) => {
                    s.compiled.insert(silence.id.clone(), m);
                    s.silences.insert(silence.id.clone(), silence);
                }
                Err(e) => tracing::warn!(id = %silence.id, error = %e, "dropping stored silence"),
            }
        }
        s
    }

    /// Every silence, for persisting.
    pub fn snapshot(&self) -> Vec<Silence> {
        self.silences.values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values()
    }

    /// Creates a silence (empty `id`) or updates one, as Alertmanager does: a pending
    /// silence, or an active one keeping its start and matchers, is changed in place;
    /// otherwise the old one is expired and a new one is created. Returns the id.
    pub fn set(&mut self, mut silence: Silence, now_ms: i64) -> Result<String> {
        let invalid = |m: &str| Error::InvalidSilence {
            message: m.to_string(),
        };
        if silence.matchers.is_empty() {
            return Err(invalid("at least one matcher is required"));
        }
        let compiled = silence.compile()?;
        if compiled.0.iter().all(|m| m.matches_value("")) {
            return Err(invalid(
                "at least one matcher must not match the empty string",
            ));
        }
        if silence.ends_at_ms <= silence.starts_at_ms {
            return Err(invalid("endsAt must be after startsAt"));
        }
        if silence.ends_at_ms <= now_ms {
            return Err(invalid("endsAt must be in the future"));
        }
        silence.updated_at_ms = now_ms;
        let max_size = self.limits.max_silence_size_bytes;
        if max_size > 0 {
            let size = serde_json::to_vec(&silence).map_or(0, |v| v.len());
            if size > max_size {
                return Err(Error::SilenceLimit {
                    message: format!(
                        "silence exceeded maximum size: {size} bytes (limit: {max_size} bytes)"
                    ),
                });
            }
        }
        if !silence.id.is_empty() {
            let old = self
                .silences
                .get(&silence.id)
                .ok_or_else(|| Error::SilenceNotFound {
                    id: silence.id.clone(),
                })?
                .clone();
            let in_place = match old.state(now_ms) {
                SilenceState::Pending => true,
                SilenceState::Active => {
                    old.starts_at_ms == silence.starts_at_ms && old.matchers == silence.matchers
                }
                SilenceState::Expired => false,
            };
            if in_place {
                if silence.starts_at_ms < now_ms && old.state(now_ms) == SilenceState::Pending {
                    silence.starts_at_ms = now_ms;
                }
                self.compiled.insert(silence.id.clone(), compiled);
                self.silences.insert(silence.id.clone(), silence.clone());
                return Ok(silence.id);
            }
            // The replacement needs room; the old one's place counts as free.
            self.check_room(now_ms, Some(&old.id))?;
            if old.state(now_ms) != SilenceState::Expired {
                self.expire(&old.id, now_ms)?;
            }
        }
        self.check_room(now_ms, None)?;
        silence.id = new_id();
        silence.starts_at_ms = silence.starts_at_ms.max(now_ms);
        self.compiled.insert(silence.id.clone(), compiled);
        self.silences.insert(silence.id.clone(), silence.clone());
        Ok(silence.id)
    }

    /// Fails when a new silence would exceed `max_silences` (silences not expired at
    /// `now_ms`, not counting `freed`, which is about to be expired).
    fn check_room(&self, now_ms: i64, freed: Option<&str>) -> Result<()> {
        let max = self.limits.max_silences;
        if max == 0 {
            return Ok(());
        }
        let live = self
            .silences
            .values()
            .filter(|s| s.state(now_ms) != SilenceState::Expired && Some(s.id.as_str()) != freed)
            .count();
        if live >= max {
            return Err(Error::SilenceLimit {
                message: format!("exceeded maximum number of silences: {live} (limit: {max})"),
            });
        }
        Ok(())
    }

    /// Ends a silence now (a pending one never starts).
    pub fn expire(&mut self, id: &str, now_ms: i64) -> Result<()> {
        let s = self
            .silences
            .get_mut(id)
            .ok_or_else(|| Error::SilenceNotFound { id: id.to_string() })?;
        match s.state(now_ms) {
            SilenceState::Expired => {
                return Err(Error::InvalidSilence {
                    message: format!("silence {id} is already expired"),
                });
            }
            SilenceState::Pending => s.starts_at_ms = now_ms,
            SilenceState::Active => {}
        }
        s.ends_at_ms = now_ms;
        s.updated_at_ms = now_ms;
        Ok(())
    }

    /// Ids of the active silences that mute an alert with `labels`.
    pub fn silenced_by(&self, labels: &LabelSet, now_ms: i64) -> Vec<String> {
        self.silences
            .values()
            .filter(|s| s.state(now_ms) == SilenceState::Active)
            .filter(|s| self.compiled.get(&s.id).is_some_and(|m| m.matches(labels)))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Forgets silences expired longer than [`EXPIRED_RETENTION_MS`]; true if any was.
    pub fn gc(&mut self, now_ms: i64) -> bool {
        let before = self.silences.len();
        self.silences
            .retain(|_, s| now_ms - s.ends_at_ms < EXPIRED_RETENTION_MS);
        let silences = &self.silences;
        self.compiled.retain(|id, _| silences.contains_key(id));
        before != self.silences.len()
    }
}

/// A random version-4 UUID in its text form.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const H: i64 = 3_600_000;

    fn matcher(name: &str, value: &str) -> SilenceMatcher {
        SilenceMatcher {
            name: name.into(),
            value: value.into(),
            is_regex: false,
            is_equal: true,
        }
    }

    fn silence(matchers: Vec<SilenceMatcher>, start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers,
            starts_at_ms: start,
            ends_at_ms: end,
            updated_at_ms: 0,
            created_by: "me".into(),
            comment: "maintenance".into(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn active_silence_mutes_matching_alerts_until_expired() {
        let mut s = Silences::new();
        let id = s
            .set(
                silence(vec![matcher("alertname", "Down")], NOW, NOW + H),
                NOW,
            )
            .unwrap();
        assert_eq!(id.len(), 36);
        let down = labels(&[("alertname", "Down"), ("i", "a")]);
        assert_eq!(s.silenced_by(&down, NOW + 1), vec![id.clone()]);
        assert!(
            s.silenced_by(&labels(&[("alertname", "Up")]), NOW + 1)
                .is_empty()
        );
        s.expire(&id, NOW + 2).unwrap();
        assert!(s.silenced_by(&down, NOW + 3).is_empty());
        assert_eq!(s.get(&id).unwrap().state(NOW + 3), SilenceState::Expired);
        assert!(s.expire(&id, NOW + 4).is_err(), "expiring twice");
        assert!(!s.gc(NOW + 5));
        assert!(s.gc(NOW + 2 + EXPIRED_RETENTION_MS));
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn pending_silences_do_not_mute_yet() {
        let mut s = Silences::new();
        s.set(silence(vec![matcher("a", "1")], NOW + H, NOW + 2 * H), NOW)
            .unwrap();
        assert!(s.silenced_by(&labels(&[("a", "1")]), NOW).is_empty());
        assert_eq!(s.silenced_by(&labels(&[("a", "1")]), NOW + H).len(), 1);
    }

    #[test]
    fn invalid_silences_are_refused() {
        let mut s = Silences::new();
        assert!(s.set(silence(vec![], NOW, NOW + H), NOW).is_err());
        assert!(
            s.set(silence(vec![matcher("a", "")], NOW, NOW + H), NOW)
                .is_err()
        );
        assert!(
            s.set(silence(vec![matcher("a", "1")], NOW, NOW - 1), NOW)
                .is_err()
        );
        let mut regex = matcher("a", "(");
        regex.is_regex = true;
        assert!(s.set(silence(vec![regex], NOW, NOW + H), NOW).is_err());
        let mut unknown = silence(vec![matcher("a", "1")], NOW, NOW + H);
        unknown.id = "nope".into();
        assert_eq!(
            s.set(unknown, NOW).unwrap_err(),
            Error::SilenceNotFound { id: "nope".into() }
        );
    }

    #[test]
    fn updates_in_place_or_replace() {
        let mut s = Silences::new();
        let id = s
            .set(silence(vec![matcher("a", "1")], NOW, NOW + H), NOW)
            .unwrap();
        let mut longer = s.get(&id).unwrap().clone();
        longer.ends_at_ms = NOW + 2 * H;
        assert_eq!(
            s.set(longer, NOW + 10).unwrap(),
            id,
            "same matchers: in place"
        );
        let mut other = s.get(&id).unwrap().clone();
        other.matchers = vec![matcher("a", "2")];
        let new_id = s.set(other, NOW + 20).unwrap();
        assert_ne!(new_id, id);
        assert_eq!(s.get(&id).unwrap().state(NOW + 20), SilenceState::Expired);
        let restored = Silences::from_snapshot(s.snapshot());
        assert_eq!(
            restored.silenced_by(&labels(&[("a", "2")]), NOW + 30),
            vec![new_id]
        );
    }

    #[test]
    fn limits_refuse_one_silence_too_many_and_one_too_large() {
        let mut s = Silences::new();
        s.set_limits(SilenceLimits {
            max_silences: 2,
            max_silence_size_bytes: 400,
        });
        let a = s
            .set(silence(vec![matcher("a", "1")], NOW, NOW + H), NOW)
            .unwrap();
        s.set(silence(vec![matcher("b", "1")], NOW + H, NOW + 2 * H), NOW)
            .unwrap();
        let e = s
            .set(silence(vec![matcher("c", "1")], NOW, NOW + H), NOW)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "exceeded maximum number of silences: 2 (limit: 2)"
        );
        // Changing the matchers of an active one replaces it: its place is free.
        let mut changed = s.get(&a).unwrap().clone();
        changed.matchers = vec![matcher("a", "2")];
        let replaced = s.set(changed, NOW).unwrap();
        assert_ne!(replaced, a);
        // Expiring one makes room.
        s.expire(&replaced, NOW + 1).unwrap();
        s.set(silence(vec![matcher("c", "1")], NOW + 1, NOW + H), NOW + 1)
            .unwrap();
        let mut big = silence(vec![matcher("d", "1")], NOW, NOW + H);
        big.comment = "x".repeat(500);
        let mut roomy = Silences::new();
        roomy.set_limits(SilenceLimits {
            max_silences: 0,
            max_silence_size_bytes: 400,
        });
        let e = roomy.set(big, NOW).unwrap_err().to_string();
        assert!(
            e.starts_with("silence exceeded maximum size: ") && e.ends_with("(limit: 400 bytes)"),
            "{e}"
        );
    }
}
