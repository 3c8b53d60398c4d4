//! [`Sessions`]: the last batch applied per writer, so a retried batch (a writer re-sending
//! after a timeout, a leader change, a queue replay) is applied once.
//!
//! Kept in memory with the writer state and persisted only with each flush (and so in
//! every snapshot), never per write: the decisions depend only on the sequence numbers of
//! the writes that built the table, so replaying the same log after a crash rebuilds the
//! same table and takes the same decisions.

use std::collections::BTreeMap;

use telltale_storage_api::BatchId;

use crate::chunk::bits::{put_uvarint, read_uvarint};

/// How many writers are remembered; the least recently active go first.
pub const MAX_SESSIONS: usize = 4096;

/// A writer not seen for this many writes is forgotten.
pub const SESSION_MEMORY: u64 = 10_000_000;

/// Writer id -> (last applied batch number, sequence number it was applied at).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sessions(BTreeMap<u64, (u64, u64)>);

impl Sessions {
    /// Whether `batch` was applied before (a retry of an acknowledged batch). Anonymous
    /// writers (id 0) are never de-duplicated.
    pub fn is_duplicate(&self, batch: BatchId) -> bool {
        batch.writer != 0
            && self
                .0
                .get(&batch.writer)
                .is_some_and(|(seq, _)| batch.seq <= *seq)
    }

    /// Records `batch` as applied at write `at`, forgetting writers idle for too long and
    /// the least recently active beyond [`MAX_SESSIONS`].
    pub fn record(&mut self, batch: BatchId, at: u64) {
        if batch.writer == 0 {
            return;
        }
        self.0.insert(batch.writer, (batch.seq, at));
        self.0
            .retain(|_, (_, last)| at.saturating_sub(*last) <= SESSION_MEMORY);
        while self.0.len() > MAX_SESSIONS {
            let oldest = self
                .0
                .iter()
                .min_by_key(|(id, (_, last))| (*last, **id))
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.0.remove(&id),
                None => break,
            };
        }
    }

    /// Adds writers known from elsewhere (a data directory where the Raft state machine
    /// kept them), keeping what is already known.
    pub fn import(&mut self, writers: impl IntoIterator<Item = (u64, (u64, u64))>) {
        for (writer, state) in writers {
            self.0.entry(writer).or_insert(state);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `uvarint(n) { uvarint(writer) uvarint(batch) uvarint(at) }`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.0.len() * 16);
        put_uvarint(&mut out, self.0.len() as u64);
        for (writer, (batch, at)) in &self.0 {
            put_uvarint(&mut out, *writer);
            put_uvarint(&mut out, *batch);
            put_uvarint(&mut out, *at);
        }
        out
    }

    /// Decodes what [`Sessions::encode`] wrote; `None` when the bytes are not that.
    pub fn decode(mut bytes: &[u8]) -> Option<Self> {
        let mut next = || -> Option<u64> {
            let (v, used) = read_uvarint(bytes)?;
            bytes = &bytes[used..];
            Some(v)
        };
        let n = next()?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let writer = next()?;
            let batch = next()?;
            let at = next()?;
            map.insert(writer, (batch, at));
        }
        bytes.is_empty().then_some(Sessions(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(writer: u64, seq: u64) -> BatchId {
        BatchId { writer, seq }
    }

    #[test]
    fn retried_batches_are_duplicates_and_anonymous_never() {
        let mut s = Sessions::default();
        assert!(!s.is_duplicate(b(1, 1)));
        s.record(b(1, 5), 10);
        assert!(s.is_duplicate(b(1, 5)));
        assert!(s.is_duplicate(b(1, 4)));
        assert!(!s.is_duplicate(b(1, 6)));
        assert!(!s.is_duplicate(b(2, 1)));
        s.record(b(0, 1), 11);
        assert!(!s.is_duplicate(b(0, 1)));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn idle_and_excess_writers_are_forgotten_deterministically() {
        let mut s = Sessions::default();
        s.record(b(1, 1), 1);
        s.record(b(2, 1), 2 + SESSION_MEMORY);
        assert!(!s.is_duplicate(b(1, 1)), "idle writer kept");
        let mut s = Sessions::default();
        for w in 1..=(MAX_SESSIONS as u64 + 2) {
            s.record(b(w, 1), w);
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(!s.is_duplicate(b(1, 1)) && !s.is_duplicate(b(2, 1)));
        assert!(s.is_duplicate(b(3, 1)));
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let mut s = Sessions::default();
        s.record(b(7, 9), 42);
        s.record(b(u64::MAX, u64::MAX), u64::MAX - 1);
        assert_eq!(Sessions::decode(&s.encode()), Some(s));
        assert_eq!(Sessions::decode(&[]), None);
        assert_eq!(Sessions::decode(&[2, 1, 1]), None);
        assert_eq!(
            Sessions::decode(&Sessions::default().encode()),
            Some(Sessions::default())
        );
    }
}
