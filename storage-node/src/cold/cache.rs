//! [`ColdDays`]: which days of which tier are cold, and [`ObjectCache`]: their objects
//! fetched into a directory of bounded size, least recently used evicted first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use lru::LruCache;
use sha2::{Digest, Sha256};
use tracing::debug;

use super::{ColdEntry, ColdObject, ColdStorage};
use crate::error::{Error, Result};
use crate::tier::Tier;

/// The cold days of every tier, and the cache their reads go through.
#[derive(Debug)]
pub struct ColdDays {
    entries: RwLock<BTreeMap<(Tier, i64), ColdEntry>>,
    /// Days whose local postings are gone (no tier holds local chunks of them): their
    /// postings are read from the latest object. Others read only local postings.
    postings: RwLock<BTreeSet<i64>>,
    /// Whether any day is cold: reads of a data directory without cold days skip every
    /// lookup.
    any: AtomicBool,
    cache: Option<ObjectCache>,
}

impl ColdDays {
    pub fn new(
        entries: BTreeMap<(Tier, i64), ColdEntry>,
        postings: BTreeSet<i64>,
        cache: Option<ObjectCache>,
    ) -> Self {
        ColdDays {
            any: AtomicBool::new(!entries.is_empty()),
            entries: RwLock::new(entries),
            postings: RwLock::new(postings),
            cache,
        }
    }

    /// Records that `day`'s postings are only in its objects now.
    pub fn postings_moved(&self, day: i64) {
        self.postings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(day);
    }

    /// Forgets the days before `day` whose postings were cold.
    pub fn forget_postings_before(&self, day: i64) {
        self.postings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|d| *d >= day);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<(Tier, i64), ColdEntry>> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<(Tier, i64), ColdEntry>> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any day of any tier is cold.
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    pub fn entry(&self, tier: Tier, day: i64) -> Option<ColdEntry> {
        if !self.any() {
            return None;
        }
        self.read().get(&(tier, day)).cloned()
    }

    /// Every cold `(tier, day)` and its entry.
    pub fn entries(&self) -> Vec<((Tier, i64), ColdEntry)> {
        self.read().iter().map(|(k, e)| (*k, e.clone())).collect()
    }

    /// The days cold in some tier.
    pub fn days(&self) -> BTreeSet<i64> {
        self.read().keys().map(|(_, d)| *d).collect()
    }

    /// The oldest cold day of `tier`.
    pub fn first_day(&self, tier: Tier) -> Option<i64> {
        self.read()
            .range((tier, i64::MIN)..=(tier, i64::MAX))
            .next()
            .map(|((_, d), _)| *d)
    }

    pub fn insert(&self, tier: Tier, day: i64, entry: ColdEntry) {
        self.write().insert((tier, day), entry);
        self.any.store(true, Ordering::Release);
    }

    /// Forgets the cold days of `tier` before `day`; returns them.
    pub fn remove_before(&self, tier: Tier, day: i64) -> Vec<(i64, ColdEntry)> {
        let mut entries = self.write();
        let keys: Vec<(Tier, i64)> = entries
            .range((tier, i64::MIN)..(tier, day))
            .map(|(k, _)| *k)
            .collect();
        let gone: Vec<(i64, ColdEntry)> = keys
            .into_iter()
            .filter_map(|k| entries.remove(&k).map(|e| (k.1, e)))
            .collect();
        self.any.store(!entries.is_empty(), Ordering::Release);
        if let Some(cache) = &self.cache {
            for (_, e) in &gone {
                cache.forget(&e.object);
            }
        }
        gone
    }

    /// Bytes of objects in the cache directory.
    pub fn cache_bytes(&self) -> u64 {
        self.cache.as_ref().map_or(0, ObjectCache::bytes)
    }

    /// The object of `tier`'s `day` when the day is cold: from the cache, or fetched.
    pub fn object(&self, tier: Tier, day: i64) -> Result<Option<Arc<ColdObject>>> {
        let Some(entry) = self.entry(tier, day) else {
            return Ok(None);
        };
        self.load(tier, day, &entry).map(Some)
    }

    /// The object holding the postings of `day` when they left the local index: the
    /// latest export, whose postings include every series an earlier one has.
    pub fn postings_object(&self, day: i64) -> Result<Option<Arc<ColdObject>>> {
        if !self.any()
            || !self
                .postings
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&day)
        {
            return Ok(None);
        }
        let latest = self
            .read()
            .iter()
            .filter(|((_, d), _)| *d == day)
            .max_by_key(|(_, e)| e.seq)
            .map(|((t, _), e)| (*t, e.clone()));
        match latest {
            None => Ok(None),
            Some((tier, entry)) => self.load(tier, day, &entry).map(Some),
        }
    }

    fn load(&self, tier: Tier, day: i64, entry: &ColdEntry) -> Result<Arc<ColdObject>> {
        let err = |reason: String| Error::Cold {
            tier: tier.name(),
            day,
            object: entry.object.clone(),
            reason,
        };
        match &self.cache {
            None => Err(err(
                "the day is in object storage but no cold storage is configured".into(),
            )),
            Some(cache) => cache.get(entry).map_err(err),
        }
    }
}

/// Cold objects fetched into `dir`, at most `disk_bytes` of them, and the most recently
/// read of them in memory, at most `memory_bytes` (one object over a bound is still kept
/// while it is the only one). Least recently used first out of each.
#[derive(Debug)]
pub struct ObjectCache {
    storage: Arc<dyn ColdStorage>,
    dir: PathBuf,
    disk_bytes: u64,
    memory_bytes: u64,
    state: Mutex<CacheState>,
}

#[derive(Debug)]
struct CacheState {
    /// Objects in `dir` and their sizes.
    disk: LruCache<String, u64>,
    on_disk: u64,
    /// Objects read into memory.
    memory: LruCache<String, Arc<ColdObject>>,
    in_memory: u64,
}

impl ObjectCache {
    /// A cache in `dir` (emptied: objects of an earlier run are fetched again).
    pub fn new(
        storage: Arc<dyn ColdStorage>,
        dir: &Path,
        disk_bytes: u64,
        memory_bytes: u64,
    ) -> Result<Self> {
        let io = |e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        };
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io)?;
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        Ok(ObjectCache {
            storage,
            dir: dir.to_path_buf(),
            disk_bytes,
            memory_bytes,
            state: Mutex::new(CacheState {
                disk: LruCache::unbounded(),
                on_disk: 0,
                memory: LruCache::unbounded(),
                in_memory: 0,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn file(&self, object: &str) -> PathBuf {
        self.dir.join(object.replace('/', "_"))
    }

    /// The object of `entry`: from memory, else from the cache directory, else fetched
    /// (and checked against the entry's size and SHA-256).
    fn get(&self, entry: &ColdEntry) -> std::result::Result<Arc<ColdObject>, String> {
        let name = &entry.object;
        let cached = {
            let mut st = self.state();
            if let Some(o) = st.memory.get(name) {
                return Ok(o.clone());
            }
            st.disk.get(name).is_some()
        };
        let path = self.file(name);
        let bytes = if cached {
            std::fs::read(&path).map_err(|e| format!("reading the cached copy: {e}"))?
        } else {
            let part = path.with_extension("part");
            let fetched = self
                .storage
                .fetch(name, &part)
                .and_then(|_| std::fs::read(&part).map_err(|e| format!("reading it: {e}")))
                .and_then(|bytes| check(entry, bytes));
            let bytes = fetched.inspect_err(|_| {
                let _ = std::fs::remove_file(&part);
            })?;
            std::fs::rename(&part, &path).map_err(|e| format!("caching it: {e}"))?;
            debug!(object = %name, bytes = bytes.len(), "cold object fetched");
            bytes
        };
        let size = bytes.len() as u64;
        let object = Arc::new(ColdObject::parse(Arc::new(bytes)).ok_or("not a cold object")?);
        let mut st = self.state();
        if !cached && st.disk.put(name.clone(), size).is_none() {
            st.on_disk += size;
        }
        if st.memory.put(name.clone(), object.clone()).is_none() {
            st.in_memory += size;
        }
        while st.in_memory > self.memory_bytes && st.memory.len() > 1 {
            let Some((_, o)) = st.memory.pop_lru() else {
                break;
            };
            st.in_memory -= o.size();
        }
        while st.on_disk > self.disk_bytes && st.disk.len() > 1 {
            let Some((evicted, size)) = st.disk.pop_lru() else {
                break;
            };
            st.on_disk -= size;
            let _ = std::fs::remove_file(self.file(&evicted));
        }
        Ok(object)
    }

    /// Drops `object` from the cache (its day expired).
    fn forget(&self, object: &str) {
        let mut st = self.state();
        if let Some(o) = st.memory.pop(object) {
            st.in_memory -= o.size();
        }
        if let Some(size) = st.disk.pop(object) {
            st.on_disk -= size;
            let _ = std::fs::remove_file(self.file(object));
        }
    }

    /// Bytes of the objects in the cache directory.
    pub fn bytes(&self) -> u64 {
        self.state().on_disk
    }
}

/// `bytes` when their size and SHA-256 are `entry`'s.
fn check(entry: &ColdEntry, bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    if bytes.len() as u64 != entry.bytes {
        return Err(format!(
            "fetched {} bytes, the manifest says {}",
            bytes.len(),
            entry.bytes
        ));
    }
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if digest != entry.sha256 {
        return Err("its SHA-256 does not match the manifest's".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cold::{ColdEntry, ObjectWriter};

    /// Objects as files in a directory; counts fetches.
    #[derive(Debug)]
    struct Dir(PathBuf, std::sync::atomic::AtomicUsize);

    impl ColdStorage for Dir {
        fn fetch(&self, name: &str, dest: &Path) -> std::result::Result<u64, String> {
            self.1.fetch_add(1, Ordering::SeqCst);
            std::fs::copy(self.0.join(name), dest).map_err(|e| e.to_string())
        }
        fn upload_checked(&self, _: &Path, _: &ColdEntry) -> std::result::Result<(), String> {
            unreachable!()
        }
        fn delete(&self, _: &str) -> std::result::Result<(), String> {
            unreachable!()
        }
    }

    /// An object of `n` one-kilobyte chunks, written to the bucket; its entry.
    fn object(bucket: &Path, name: &str, n: u8) -> ColdEntry {
        let mut w = ObjectWriter::new(Vec::new()).unwrap();
        for i in 0..n {
            w.chunk(&[i], &[i; 1000]).unwrap();
        }
        let (bytes, size) = w.finish().unwrap();
        std::fs::write(bucket.join(name), &bytes).unwrap();
        ColdEntry {
            object: name.into(),
            bytes: size,
            sha256: Sha256::digest(&bytes).into(),
            seq: 1,
        }
    }

    #[test]
    fn the_cache_stays_within_its_bounds_evicting_the_least_recently_used() {
        let bucket = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Dir(bucket.path().into(), Default::default()));
        // Room for two objects of ~3 KB on disk and one in memory.
        let cache = ObjectCache::new(storage.clone(), dir.path(), 7_000, 4_000).unwrap();
        let [a, b, c] = ["a", "b", "c"].map(|n| object(bucket.path(), n, 3));
        let fetches = || storage.1.load(Ordering::SeqCst);
        for e in [&a, &b] {
            cache.get(e).unwrap();
        }
        assert_eq!(fetches(), 2);
        cache.get(&a).unwrap(); // a is now the most recently used
        assert_eq!(fetches(), 2, "a read from the cache");
        cache.get(&c).unwrap(); // evicts b, the least recently used
        assert!(cache.bytes() <= 7_000, "{}", cache.bytes());
        let files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            files.contains(&"a".into()) && files.contains(&"c".into()),
            "{files:?}"
        );
        assert!(!files.contains(&"b".into()), "{files:?}");
        cache.get(&a).unwrap();
        assert_eq!(
            fetches(),
            3,
            "a was on disk, not in memory: read, not fetched"
        );
        cache.get(&b).unwrap();
        assert_eq!(fetches(), 4, "b was evicted: fetched again");
    }

    #[test]
    fn an_object_that_does_not_match_its_entry_is_refused() {
        let bucket = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Dir(bucket.path().into(), Default::default()));
        let cache = ObjectCache::new(storage, dir.path(), 1 << 20, 1 << 20).unwrap();
        let mut e = object(bucket.path(), "x", 2);
        e.bytes += 1;
        assert!(cache.get(&e).unwrap_err().contains("manifest says"));
        e.bytes -= 1;
        e.sha256[0] ^= 1;
        assert!(cache.get(&e).unwrap_err().contains("SHA-256"));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing cached"
        );
    }
}
