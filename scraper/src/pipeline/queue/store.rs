//! [`QueueStore`]: the segment files of the disk queue and the replay cursor — append
//! (fsync per record), read the oldest unreplayed record, commit it as replayed. Blocking
//! I/O, no async; [`crate::queue::DiskQueue`] drives it from blocking tasks.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::cursor::{self, Position};
use super::segment::{self, HEADER_LEN, RECORD_HEADER_LEN};
use crate::error::{Error, Result};

/// One segment file still holding unreplayed records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    seq: u64,
    /// Bytes of valid data (header included).
    size: u64,
    /// Records not replayed yet.
    remaining: u64,
}

/// The oldest unreplayed record.
#[derive(Debug)]
pub struct Record {
    pub payload: Vec<u8>,
    /// Where it starts.
    pub at: Position,
    /// Where the record after it starts.
    pub next: Position,
    /// Its framed length on disk.
    pub len: u64,
}

/// Why an append failed.
#[derive(Debug)]
pub enum AppendError {
    /// The queue holds `pending` bytes and the record needs `needed` more than `limit`
    /// allows.
    Full {
        pending: u64,
        needed: u64,
        limit: u64,
    },
    Io(Error),
}

/// What [`QueueStore::open`] found on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub records: u64,
    pub bytes: u64,
    /// Bytes cut from torn or corrupt segment tails.
    pub truncated_bytes: u64,
}

/// The files of one queue directory.
#[derive(Debug)]
pub struct QueueStore {
    dir: PathBuf,
    segment_bytes: u64,
    max_bytes: u64,
    segments: VecDeque<Segment>,
    /// Append handle of `segments.back()`, when it was created by this process.
    active: Option<File>,
    read: Position,
    pending_bytes: u64,
    pending_records: u64,
    next_seq: u64,
}

impl QueueStore {
    /// Opens (creating) the queue in `dir`: re-reads the segments, cuts torn tails,
    /// skips what the cursor says was replayed and deletes fully replayed segments.
    pub fn open(dir: &Path, segment_bytes: u64, max_bytes: u64) -> Result<(Self, Recovered)> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let cursor = cursor::load(dir).unwrap_or_default();
        let mut seqs: Vec<u64> = fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| segment::parse_name(&e.file_name().to_string_lossy()))
            .collect();
        seqs.sort_unstable();
        let mut store = QueueStore {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(HEADER_LEN + RECORD_HEADER_LEN),
            max_bytes,
            segments: VecDeque::new(),
            active: None,
            read: Position::default(),
            pending_bytes: 0,
            pending_records: 0,
            next_seq: seqs
                .last()
                .map_or(cursor.segment + 1, |s| s + 1)
                .max(cursor.segment + 1),
        };
        let mut recovered = Recovered::default();
        for seq in seqs {
            let path = segment::path(dir, seq);
            if seq < cursor.segment {
                remove(&path);
                continue;
            }
            let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
            let (records, end) = match segment::scan(&bytes) {
                Ok(r) => r,
                Err(message) => {
                    warn!(path = %path.display(), %message, "unreadable queue segment set aside");
                    let aside = path.with_extension("corrupt");
                    fs::rename(&path, &aside).map_err(|e| io(&path, e))?;
                    continue;
                }
            };
            if end < bytes.len() as u64 {
                warn!(
                    path = %path.display(),
                    valid = end,
                    size = bytes.len(),
                    "queue segment has a torn or corrupt tail; cutting it off"
                );
                recovered.truncated_bytes += bytes.len() as u64 - end;
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io(&path, e))?;
                f.set_len(end).map_err(|e| io(&path, e))?;
                f.sync_all().map_err(|e| io(&path, e))?;
            }
            let start = if seq == cursor.segment {
                cursor.offset.max(HEADER_LEN)
            } else {
                HEADER_LEN
            };
            let remaining = records.iter().filter(|(o, _)| *o >= start).count() as u64;
            if remaining == 0 {
                remove(&path);
                continue;
            }
            if store.segments.is_empty() {
                store.read = Position {
                    segment: seq,
                    offset: start,
                };
            }
            store.pending_bytes += end.saturating_sub(start);
            store.pending_records += remaining;
            store.segments.push_back(Segment {
                seq,
                size: end,
                remaining,
            });
        }
        recovered.records = store.pending_records;
        recovered.bytes = store.pending_bytes;
        if recovered.records > 0 {
            info!(
                dir = %dir.display(),
                batches = recovered.records,
                bytes = recovered.bytes,
                "disk queue holds batches from before the restart; replaying them"
            );
        }
        Ok((store, recovered))
    }

    pub fn pending_records(&self) -> u64 {
        self.pending_records
    }

    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }

    /// Appends `payload` as one record and makes it durable (fsync) before returning.
    pub fn append(&mut self, payload: &[u8]) -> std::result::Result<(), AppendError> {
        self.append_many(&[payload])
    }

    /// Appends `payloads` as records, in order, and makes them durable (one fsync per
    /// segment written) before returning. Refused as a whole when they do not fit; on an
    /// I/O error the records before the failing one stay queued.
    pub fn append_many(&mut self, payloads: &[&[u8]]) -> std::result::Result<(), AppendError> {
        let records: Vec<Vec<u8>> = payloads.iter().map(|p| segment::encode_record(p)).collect();
        let needed: u64 = records.iter().map(|r| r.len() as u64).sum();
        if self.pending_bytes + needed > self.max_bytes {
            return Err(AppendError::Full {
                pending: self.pending_bytes,
                needed,
                limit: self.max_bytes,
            });
        }
        for record in &records {
            self.write_record(record)?;
        }
        self.sync_active()
    }

    /// Writes one framed record to the active segment (rolling first, with the segment
    /// it leaves synced, when it would pass `segment_bytes`); not synced yet.
    fn write_record(&mut self, record: &[u8]) -> std::result::Result<(), AppendError> {
        let len = record.len() as u64;
        let roll = match (self.active.as_ref(), self.segments.back()) {
            (Some(_), Some(back)) => back.size > HEADER_LEN && back.size + len > self.segment_bytes,
            _ => true,
        };
        if roll {
            self.sync_active()?;
            self.roll().map_err(AppendError::Io)?;
        }
        let back = *self.segments.back().expect("roll leaves an active segment");
        let path = segment::path(&self.dir, back.seq);
        let file = self.active.as_mut().expect("roll leaves an active segment");
        if let Err(e) = file.write_all(record) {
            // Leave no partial record behind (best effort; the CRC catches it anyway).
            let _ = file.set_len(back.size);
            let _ = file.seek(SeekFrom::Start(back.size));
            return Err(AppendError::Io(io(&path, e)));
        }
        if self.pending_records == 0 {
            self.read = Position {
                segment: back.seq,
                offset: back.size,
            };
        }
        let back = self.segments.back_mut().expect("checked above");
        back.size += len;
        back.remaining += 1;
        self.pending_bytes += len;
        self.pending_records += 1;
        Ok(())
    }

    /// Makes what was written to the active segment durable.
    fn sync_active(&mut self) -> std::result::Result<(), AppendError> {
        let (Some(file), Some(back)) = (self.active.as_ref(), self.segments.back()) else {
            return Ok(());
        };
        file.sync_data()
            .map_err(|e| AppendError::Io(io(&segment::path(&self.dir, back.seq), e)))
    }

    fn roll(&mut self) -> Result<()> {
        let seq = self.next_seq;
        let path = segment::path(&self.dir, seq);
        let mut f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        f.write_all(&segment::header())
            .and_then(|()| f.sync_data())
            .map_err(|e| io(&path, e))?;
        cursor::sync_dir(&self.dir).map_err(|e| io(&self.dir, e))?;
        self.next_seq += 1;
        self.active = Some(f);
        self.segments.push_back(Segment {
            seq,
            size: HEADER_LEN,
            remaining: 0,
        });
        Ok(())
    }

    /// The oldest unreplayed record, `None` when everything was replayed. A record that
    /// no longer reads back (the disk changed under us) fails with
    /// [`Error::QueueCorrupt`]; [`QueueStore::skip_segment`] moves past it.
    pub fn peek(&mut self) -> Result<Option<Record>> {
        Ok(self.peek_many(1, u64::MAX)?.pop())
    }

    /// The oldest unreplayed records in order: at most `max_records`, and no more than
    /// `max_bytes` (at least one record). Fails only when the first one does not read
    /// back; a later bad record ends the list before it.
    pub fn peek_many(&mut self, max_records: usize, max_bytes: u64) -> Result<Vec<Record>> {
        let mut out: Vec<Record> = Vec::new();
        let mut pos = self.read;
        let mut bytes = 0u64;
        while out.len() < max_records.max(1) && (out.len() as u64) < self.pending_records {
            let Some((seg, at)) = self.locate(pos) else {
                break;
            };
            match self.read_record(seg, at) {
                Ok(r) => {
                    if !out.is_empty() && bytes + r.len > max_bytes {
                        break;
                    }
                    bytes += r.len;
                    pos = r.next;
                    out.push(r);
                }
                Err(e) if out.is_empty() => {
                    self.read = at;
                    return Err(e);
                }
                Err(_) => break,
            }
        }
        if let Some(first) = out.first() {
            self.read = first.at;
        }
        Ok(out)
    }

    /// The oldest unreplayed records in order while `take` accepts them: `take` sees each
    /// record read (the first is included whatever it answers) and the first it refuses
    /// ends the list. Also says whether records remain after the list. Fails only when
    /// the first record does not read back; a later bad record ends the list before it.
    pub fn peek_while(
        &mut self,
        mut take: impl FnMut(&[u8]) -> bool,
    ) -> Result<(Vec<Record>, bool)> {
        let mut out: Vec<Record> = Vec::new();
        let mut pos = self.read;
        while (out.len() as u64) < self.pending_records {
            let Some((seg, at)) = self.locate(pos) else {
                break;
            };
            match self.read_record(seg, at) {
                Ok(r) => {
                    if !take(&r.payload) && !out.is_empty() {
                        return Ok((out, true));
                    }
                    pos = r.next;
                    out.push(r);
                }
                Err(e) if out.is_empty() => {
                    self.read = at;
                    return Err(e);
                }
                Err(_) => return Ok((out, true)),
            }
        }
        let more = (out.len() as u64) < self.pending_records;
        Ok((out, more))
    }

    /// The position of the first record at or after `pos`, moving on to later segments.
    fn locate(&self, mut pos: Position) -> Option<(Segment, Position)> {
        loop {
            let Some(seg) = self.segments.iter().find(|s| s.seq == pos.segment).copied() else {
                let later = self.segments.iter().find(|s| s.seq > pos.segment)?;
                pos = Position {
                    segment: later.seq,
                    offset: HEADER_LEN,
                };
                continue;
            };
            if pos.offset < seg.size {
                return Some((
                    seg,
                    Position {
                        segment: seg.seq,
                        offset: pos.offset.max(HEADER_LEN),
                    },
                ));
            }
            let next = self.segments.iter().find(|s| s.seq > seg.seq)?;
            pos = Position {
                segment: next.seq,
                offset: HEADER_LEN,
            };
        }
    }

    fn read_record(&self, seg: Segment, at: Position) -> Result<Record> {
        let path = segment::path(&self.dir, seg.seq);
        let mut f = File::open(&path).map_err(|e| io(&path, e))?;
        f.seek(SeekFrom::Start(at.offset))
            .map_err(|e| io(&path, e))?;
        let mut header = [0u8; RECORD_HEADER_LEN as usize];
        f.read_exact(&mut header).map_err(|e| io(&path, e))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
        if at.offset + RECORD_HEADER_LEN + len > seg.size {
            return Err(corrupt(
                &path,
                at.offset,
                "record runs past the segment end",
            ));
        }
        let mut framed = header.to_vec();
        framed.resize((RECORD_HEADER_LEN + len) as usize, 0);
        f.read_exact(&mut framed[RECORD_HEADER_LEN as usize..])
            .map_err(|e| io(&path, e))?;
        let Some((payload, n)) = segment::decode_record(&framed) else {
            return Err(corrupt(&path, at.offset, "CRC mismatch"));
        };
        Ok(Record {
            payload: payload.to_vec(),
            at,
            next: Position {
                segment: seg.seq,
                offset: at.offset + n as u64,
            },
            len: n as u64,
        })
    }

    /// Marks the record [`QueueStore::peek`] returned as replayed.
    pub fn commit(&mut self, record: &Record) -> Result<()> {
        self.commit_many(std::slice::from_ref(record))
    }

    /// Marks records [`QueueStore::peek_many`] returned as replayed: persists the cursor
    /// once, then deletes segments nothing is left to replay from.
    pub fn commit_many(&mut self, records: &[Record]) -> Result<()> {
        // Records before the read position were committed already (dropped by
        // `evict_oldest` while their owner was sending them).
        let records = &records[records.partition_point(|r| r.at < self.read)..];
        let Some(last) = records.last() else {
            return Ok(());
        };
        let persisted = cursor::store(&self.dir, last.next);
        for r in records {
            if let Some(seg) = self.segments.iter_mut().find(|s| s.seq == r.at.segment) {
                seg.remaining = seg.remaining.saturating_sub(1);
            }
            self.pending_records = self.pending_records.saturating_sub(1);
            self.pending_bytes = self.pending_bytes.saturating_sub(r.len);
        }
        self.read = last.next;
        self.collect_garbage();
        persisted.map_err(|e| io(&self.dir, e))
    }

    /// Where the oldest unreplayed record starts (or the next one will).
    pub fn read_position(&self) -> Position {
        self.read
    }

    /// Drops the oldest unreplayed records, as replayed, until `needed` more bytes fit
    /// under the size bound (or nothing is left); returns them (their owner counts what
    /// it lost). A record that no longer reads back fails as [`QueueStore::peek`] does.
    pub fn evict_oldest(&mut self, needed: u64) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut freed = 0u64;
        while self.pending_bytes.saturating_sub(freed) + needed > self.max_bytes
            && (out.len() as u64) < self.pending_records
        {
            let want = (self.pending_bytes + needed - self.max_bytes).saturating_sub(freed);
            let start = out.last().map_or(self.read, |r: &Record| r.next);
            let batch = self.peek_from(start, want)?;
            if batch.is_empty() {
                break;
            }
            freed += batch.iter().map(|r| r.len).sum::<u64>();
            out.extend(batch);
        }
        self.commit_many(&out)?;
        Ok(out)
    }

    /// Records from `start` on until they hold at least `bytes` (or the queue ends).
    fn peek_from(&mut self, start: Position, bytes: u64) -> Result<Vec<Record>> {
        let mut out: Vec<Record> = Vec::new();
        let mut pos = start;
        let mut got = 0u64;
        while got < bytes {
            let Some((seg, at)) = self.locate(pos) else {
                break;
            };
            let r = self.read_record(seg, at)?;
            got += r.len;
            pos = r.next;
            out.push(r);
        }
        Ok(out)
    }

    /// Calls `f` with the payload of every unreplayed record, oldest first, reading one
    /// segment file at a time (for an owner that counts what its records hold at open).
    pub fn visit_pending(&self, mut f: impl FnMut(&[u8])) -> Result<()> {
        for seg in self.segments.iter().filter(|s| s.seq >= self.read.segment) {
            let path = segment::path(&self.dir, seg.seq);
            let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
            let (records, _) = segment::scan(&bytes[..(seg.size as usize).min(bytes.len())])
                .map_err(|m| corrupt(&path, 0, &m))?;
            let start = if seg.seq == self.read.segment {
                self.read.offset
            } else {
                HEADER_LEN
            };
            for (offset, len) in records.into_iter().filter(|(o, _)| *o >= start) {
                let framed = &bytes[offset as usize..(offset + len) as usize];
                if let Some((payload, _)) = segment::decode_record(framed) {
                    f(payload);
                }
            }
        }
        Ok(())
    }

    /// Gives up on the rest of the read segment (it no longer reads back); returns the
    /// records lost.
    pub fn skip_segment(&mut self) -> u64 {
        let Some(seg) = self
            .segments
            .iter_mut()
            .find(|s| s.seq == self.read.segment)
        else {
            return 0;
        };
        let lost = seg.remaining;
        let bytes = seg.size.saturating_sub(self.read.offset);
        seg.remaining = 0;
        self.read.offset = seg.size;
        self.pending_records = self.pending_records.saturating_sub(lost);
        self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
        let _ = cursor::store(&self.dir, self.read);
        self.collect_garbage();
        lost
    }

    /// Deletes fully replayed segments (the active one too once the queue is empty).
    fn collect_garbage(&mut self) {
        let active_seq = self
            .active
            .as_ref()
            .and(self.segments.back())
            .map(|s| s.seq);
        let empty = self.pending_records == 0;
        while let Some(front) = self.segments.front().copied() {
            let done = front.remaining == 0;
            let is_active = Some(front.seq) == active_seq;
            if !done || (is_active && !empty) {
                break;
            }
            if is_active {
                self.active = None;
            }
            remove(&segment::path(&self.dir, front.seq));
            self.segments.pop_front();
        }
    }
}

fn remove(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %path.display(), error = %e, "cannot delete replayed queue segment");
    }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::QueueIo {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path, offset: u64, message: &str) -> Error {
    Error::QueueCorrupt {
        path: path.display().to_string(),
        message: format!("record at offset {offset}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut QueueStore) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(r) = s.peek().unwrap() {
            out.push(r.payload.clone());
            s.commit(&r).unwrap();
        }
        out
    }

    fn segment_files(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                segment::parse_name(&e.as_ref().unwrap().file_name().to_string_lossy()).is_some()
            })
            .count()
    }

    #[test]
    fn appends_roll_segments_and_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, rec) = QueueStore::open(dir.path(), 64, 1 << 20).unwrap();
        assert_eq!(rec, Recovered::default());
        for i in 0..10u8 {
            s.append(&[i; 20]).unwrap();
        }
        assert_eq!(s.pending_records(), 10);
        assert!(segment_files(dir.path()) >= 5, "small segments roll");
        let got = drain(&mut s);
        assert_eq!(got, (0..10u8).map(|i| vec![i; 20]).collect::<Vec<_>>());
        assert_eq!((s.pending_records(), s.pending_bytes()), (0, 0));
        assert_eq!(
            segment_files(dir.path()),
            0,
            "replayed segments are deleted"
        );
        // Appending after a full drain works.
        s.append(b"again").unwrap();
        assert_eq!(drain(&mut s), vec![b"again".to_vec()]);
    }

    #[test]
    fn reopen_resumes_after_the_cursor_and_cuts_torn_tails() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, _) = QueueStore::open(dir.path(), 1 << 20, 1 << 20).unwrap();
            for p in [b"a", b"b", b"c"] {
                s.append(p).unwrap();
            }
            let r = s.peek().unwrap().unwrap();
            s.commit(&r).unwrap();
        }
        // A torn record at the end, as a crash mid-append leaves it.
        let seg = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "seg"))
            .unwrap();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&segment::encode_record(b"torn")[..6]).unwrap();
        drop(f);
        let (mut s, rec) = QueueStore::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        assert_eq!(rec.records, 2);
        assert_eq!(rec.truncated_bytes, 6);
        s.append(b"d").unwrap();
        assert_eq!(
            drain(&mut s),
            vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn peek_many_spans_segments_within_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = QueueStore::open(dir.path(), 64, 1 << 20).unwrap();
        for i in 0..10u8 {
            s.append(&[i; 20]).unwrap();
        }
        let first = s.peek_many(4, u64::MAX).unwrap();
        assert_eq!(first.len(), 4);
        assert_ne!(first[0].at.segment, first[3].at.segment, "spans segments");
        // Peeking again without a commit returns the same records.
        assert_eq!(s.peek_many(4, u64::MAX).unwrap()[0].payload, vec![0; 20]);
        s.commit_many(&first).unwrap();
        let by_bytes = s.peek_many(100, 60).unwrap();
        assert_eq!(by_bytes.len(), 2, "28-byte records, 60 bytes");
        assert_eq!(by_bytes[0].payload, vec![4; 20]);
        s.commit_many(&by_bytes).unwrap();
        let rest = s.peek_many(100, u64::MAX).unwrap();
        assert_eq!(rest.len(), 4);
        s.commit_many(&rest).unwrap();
        assert_eq!(s.pending_records(), 0);
        assert!(s.peek_many(100, u64::MAX).unwrap().is_empty());
    }

    #[test]
    fn the_size_bound_refuses_appends() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = QueueStore::open(dir.path(), 1 << 20, 40).unwrap();
        s.append(&[0; 20]).unwrap();
        match s.append(&[0; 20]) {
            Err(AppendError::Full {
                pending: 28,
                needed: 28,
                limit: 40,
            }) => {}
            other => panic!("{other:?}"),
        }
        let r = s.peek().unwrap().unwrap();
        s.commit(&r).unwrap();
        s.append(&[0; 20]).unwrap();
    }

    #[test]
    fn a_garbage_segment_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(segment::path(dir.path(), 1), b"garbage!garbage").unwrap();
        let (s, rec) = QueueStore::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        assert_eq!(rec.records, 0);
        assert_eq!(s.pending_records(), 0);
        assert!(dir.path().join("00000000000000000001.corrupt").exists());
    }

    #[test]
    fn append_many_is_all_or_nothing_and_rolls_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = QueueStore::open(dir.path(), 64, 100).unwrap();
        let (a, b, c) = ([1u8; 20], [2u8; 20], [3u8; 20]);
        s.append_many(&[&a, &b, &c]).unwrap();
        assert_eq!((s.pending_records(), s.pending_bytes()), (3, 84));
        assert!(segment_files(dir.path()) >= 2, "small segments roll");
        assert!(matches!(
            s.append_many(&[&a, &a]),
            Err(AppendError::Full { needed: 56, .. })
        ));
        assert_eq!(s.pending_records(), 3);
        drop(s);
        let (mut s, rec) = QueueStore::open(dir.path(), 64, 100).unwrap();
        assert_eq!(rec.records, 3);
        assert_eq!(drain(&mut s), [a.to_vec(), b.to_vec(), c.to_vec()]);
    }

    #[test]
    fn eviction_drops_the_oldest_and_a_late_commit_skips_them() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = QueueStore::open(dir.path(), 1 << 20, 100).unwrap();
        for i in 0..3u8 {
            s.append(&[i; 20]).unwrap();
        }
        // A sender holds the two oldest records while the queue fills up.
        let (in_flight, more) = s.peek_while(|_| true).unwrap();
        assert_eq!((in_flight.len(), more), (3, false));
        let evicted = s.evict_oldest(56).unwrap();
        assert_eq!(
            evicted.iter().map(|r| r.payload[0]).collect::<Vec<_>>(),
            [0, 1]
        );
        s.append_many(&[&[3; 20], &[4; 20]]).unwrap();
        assert_eq!(s.pending_records(), 3);
        // The sender's commit counts only the record eviction left.
        s.commit_many(&in_flight).unwrap();
        assert_eq!((s.pending_records(), s.pending_bytes()), (2, 56));
        let mut seen = Vec::new();
        s.visit_pending(|p| seen.push(p[0])).unwrap();
        assert_eq!(seen, [3, 4]);
        drop(s);
        let (mut s, _) = QueueStore::open(dir.path(), 1 << 20, 100).unwrap();
        assert_eq!(drain(&mut s), [vec![3; 20], vec![4; 20]]);
        assert!(s.evict_oldest(10).unwrap().is_empty(), "room enough");
    }

    #[test]
    fn peek_while_stops_at_the_first_refused_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = QueueStore::open(dir.path(), 64, 1 << 20).unwrap();
        for n in [3usize, 4, 5, 1] {
            s.append(&vec![n as u8; n]).unwrap();
        }
        let mut total = 0;
        let (got, more) = s
            .peek_while(|p| {
                total += p.len();
                total <= 7
            })
            .unwrap();
        assert_eq!((got.len(), more), (2, true));
        // The first record is taken whatever the answer.
        let (got, more) = s.peek_while(|_| false).unwrap();
        assert_eq!((got.len(), more), (1, true));
        s.commit_many(&got).unwrap();
        let (got, more) = s.peek_while(|_| true).unwrap();
        assert_eq!((got.len(), more), (3, false));
    }
}
