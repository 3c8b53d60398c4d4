//! [`StateStore`]: where the alertmanager keeps what must survive a restart — rule alert
//! state, the notification log and silences — as named documents. [`FileStateStore`]
//! writes each document to a temporary file, fsyncs it, renames it over the old one and
//! fsyncs the directory, so a crash leaves either the old or the new document.
//!
//! Documents (JSON; `tests/state_format.rs` pins the format):
//! - `rules.json`: `{rule id: [alert]}`, the rule id being
//!   `file;group;alert|record;name;{rule labels};occurrence`, an alert
//!   `{labels, annotations, state: pending|firing|inactive, value, active_at_ms,
//!   fired_at_ms, resolved_at_ms, keep_firing_since_ms}`;
//! - `nflog.json`: `{entries: {"receiver/integration/index:group key": {firing:
//!   [fingerprint], resolved: [fingerprint], sent_at_ms}}}`;
//! - `silences.json`: `[{id, matchers: [{name, value, isRegex, isEqual}], starts_at_ms,
//!   ends_at_ms, updated_at_ms, created_by, comment}]`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The document of rule alert state.
pub const RULES_DOC: &str = "rules.json";
/// The document of the notification log.
pub const NFLOG_DOC: &str = "nflog.json";
/// The document of silences.
pub const SILENCES_DOC: &str = "silences.json";

/// Named documents that persist across restarts.
pub trait StateStore: Send + Sync {
    /// The document's bytes, `None` if it was never saved.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Replaces the document atomically and durably.
    fn save(&self, name: &str, data: &[u8]) -> Result<()>;
    /// Releases what the store holds (a database lock), so that another store can open
    /// the same place; later loads and saves may fail.
    fn close(&self) {}
}

/// Documents as files in one directory.
#[derive(Clone, Debug)]
pub struct FileStateStore {
    dir: PathBuf,
}

impl FileStateStore {
    /// Uses `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<FileStateStore> {
        fs::create_dir_all(dir).map_err(|e| store_error(dir, e))?;
        Ok(FileStateStore {
            dir: dir.to_path_buf(),
        })
    }
}

fn store_error(path: &Path, e: std::io::Error) -> Error {
    Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl StateStore for FileStateStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error(&path, e)),
        }
    }

    fn save(&self, name: &str, data: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| store_error(&path, e))
    }
}

/// Loads and decodes a JSON document; a missing document is `None`, an unreadable or
/// undecodable one is logged and treated as missing (the alertmanager starts empty
/// rather than not at all).
pub fn load_json<T: DeserializeOwned>(store: &dyn StateStore, name: &str) -> Option<T> {
    match store.load(name) {
        Ok(Some(data)) => match serde_json::from_slice(&data) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(document = name, error = %e, "stored state is not valid, ignoring it");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::error!(document = name, error = %e, "cannot read stored state");
            None
        }
    }
}

/// Encodes `value` as JSON and saves it.
pub fn save_json<T: Serialize>(store: &dyn StateStore, name: &str, value: &T) -> Result<()> {
    let data = serde_json::to_vec(value).map_err(|e| Error::Store {
        path: name.to_string(),
        message: e.to_string(),
    })?;
    store.save(name, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_replace_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStateStore::open(&dir.path().join("state")).unwrap();
        assert_eq!(store.load("a.json").unwrap(), None);
        save_json(&store, "a.json", &vec![1, 2, 3]).unwrap();
        save_json(&store, "a.json", &vec![4]).unwrap();
        let reopened = FileStateStore::open(&dir.path().join("state")).unwrap();
        assert_eq!(load_json::<Vec<i32>>(&reopened, "a.json"), Some(vec![4]));
        let names: Vec<_> = fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.json"], "no temporary file left behind");
    }

    #[test]
    fn corrupt_documents_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStateStore::open(dir.path()).unwrap();
        store.save("b.json", b"{not json").unwrap();
        assert_eq!(load_json::<Vec<i32>>(&store, "b.json"), None);
    }
}
