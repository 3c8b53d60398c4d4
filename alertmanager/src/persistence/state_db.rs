//! [`RocksStateStore`]: the alertmanager's persisted state in one RocksDB database — each
//! document ([`crate::persistence::store`] lists them) one key, written with a synced write, so a
//! save that returned survives a crash of the process or the machine, and a crash
//! during a save leaves the previous document.
//!
//! Opening a database in a directory that still holds the documents of the former
//! [`FileStateStore`] (`rules.json`, `nflog.json`, `silences.json`) imports them once: each
//! is copied into the database unless the database already has it, then renamed to
//! `<name>.imported`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use rocksdb::{DB, Options, WriteOptions};

use crate::error::{Error, Result};
use crate::persistence::store::{FileStateStore, NFLOG_DOC, RULES_DOC, SILENCES_DOC, StateStore};

/// Name of the database directory inside the state directory.
pub const DB_DIR: &str = "state.rocksdb";

/// Documents as keys of one RocksDB database.
pub struct RocksStateStore {
    /// `None` once closed.
    db: RwLock<Option<DB>>,
    path: PathBuf,
}

impl std::fmt::Debug for RocksStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStateStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RocksStateStore {
    /// Opens (creating) the database `dir/state.rocksdb`, importing the documents of a
    /// [`FileStateStore`] found in `dir`.
    pub fn open(dir: &Path) -> Result<RocksStateStore> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let path = dir.join(DB_DIR);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        // A handful of small documents: little memory, no background compression work.
        opts.set_max_background_jobs(1);
        opts.set_write_buffer_size(1 << 20);
        let db = DB::open(&opts, &path).map_err(|e| db_error(&path, &e))?;
        let store = RocksStateStore {
            db: RwLock::new(Some(db)),
            path,
        };
        store.import(dir)?;
        Ok(store)
    }

    /// Copies the documents of a former [`FileStateStore`] in `dir` that the database does
    /// not have yet, then renames their files so this happens once.
    fn import(&self, dir: &Path) -> Result<()> {
        let files = FileStateStore::open(dir)?;
        for name in [RULES_DOC, NFLOG_DOC, SILENCES_DOC] {
            let Some(data) = files.load(name)? else {
                continue;
            };
            if self.load(name)?.is_none() {
                self.save(name, &data)?;
                tracing::info!(
                    document = name,
                    bytes = data.len(),
                    "imported alertmanager state from its file"
                );
            }
            let from = dir.join(name);
            let to = dir.join(format!("{name}.imported"));
            fs::rename(&from, &to).map_err(|e| io_error(&from, e))?;
        }
        Ok(())
    }
}

fn db_error(path: &Path, e: &rocksdb::Error) -> Error {
    Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl RocksStateStore {
    fn closed(&self, name: &str) -> Error {
        Error::Store {
            path: self.path.join(name).display().to_string(),
            message: "the state database is closed".into(),
        }
    }
}

impl StateStore for RocksStateStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let db = self.db.read().expect("state db lock");
        let db = db.as_ref().ok_or_else(|| self.closed(name))?;
        db.get(name.as_bytes())
            .map_err(|e| db_error(&self.path.join(name), &e))
    }

    fn save(&self, name: &str, data: &[u8]) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        let db = self.db.read().expect("state db lock");
        let db = db.as_ref().ok_or_else(|| self.closed(name))?;
        db.put_opt(name.as_bytes(), data, &opts)
            .map_err(|e| db_error(&self.path.join(name), &e))
    }

    fn close(&self) {
        if let Some(db) = self.db.write().expect("state db lock").take() {
            drop(db);
            tracing::debug!(path = %self.path.display(), "state database closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::store::{load_json, save_json};

    #[test]
    fn saves_replace_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = RocksStateStore::open(dir.path()).unwrap();
            assert_eq!(store.load(RULES_DOC).unwrap(), None);
            save_json(&store, RULES_DOC, &vec![1, 2, 3]).unwrap();
            save_json(&store, RULES_DOC, &vec![4]).unwrap();
            store.close();
            assert_eq!(store.load(RULES_DOC).unwrap_err().metric_label(), "store");
            // Closed: the database can be opened again while this value lives.
            let again = RocksStateStore::open(dir.path()).unwrap();
            assert_eq!(load_json::<Vec<i32>>(&again, RULES_DOC), Some(vec![4]));
        }
        let reopened = RocksStateStore::open(dir.path()).unwrap();
        assert_eq!(load_json::<Vec<i32>>(&reopened, RULES_DOC), Some(vec![4]));
    }

    #[test]
    fn file_documents_are_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStateStore::open(dir.path()).unwrap();
        files.save(NFLOG_DOC, b"{\"entries\":{}}").unwrap();
        files.save(SILENCES_DOC, b"[1]").unwrap();
        {
            let store = RocksStateStore::open(dir.path()).unwrap();
            assert_eq!(
                store.load(NFLOG_DOC).unwrap().as_deref(),
                Some(&b"{\"entries\":{}}"[..])
            );
            assert_eq!(
                store.load(SILENCES_DOC).unwrap().as_deref(),
                Some(&b"[1]"[..])
            );
            assert_eq!(store.load(RULES_DOC).unwrap(), None);
            store.save(SILENCES_DOC, b"[2]").unwrap();
        }
        assert!(!dir.path().join(SILENCES_DOC).exists());
        assert!(dir.path().join("silences.json.imported").exists());
        // A file that reappears (say, an old version ran again) does not overwrite newer
        // state in the database.
        files.save(SILENCES_DOC, b"[1]").unwrap();
        let store = RocksStateStore::open(dir.path()).unwrap();
        assert_eq!(
            store.load(SILENCES_DOC).unwrap().as_deref(),
            Some(&b"[2]"[..])
        );
    }
}
