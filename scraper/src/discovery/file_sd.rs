//! [`FileSdCache`]: static targets read from files, Prometheus's `file_sd_configs`: each
//! file a JSON (`.json`) or YAML (`.yml`, `.yaml`) list of `{targets: [...], labels:
//! {...}}`. Files are re-read only when their modification time or size changed; a file
//! that cannot be read or parsed keeps its last good groups.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::{info, warn};

use crate::error::{Error, Result};

/// The label naming the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

pub use telltale_crds::target_group::{TargetGroup, check_groups};

/// Parses a file's text; the extension picks JSON or YAML
/// ([`telltale_crds::target_group::parse_groups`]).
pub fn parse_groups(path: &Path, text: &str) -> Result<Vec<TargetGroup>> {
    telltale_crds::target_group::parse_groups(path, text).map_err(|message| Error::FileSd {
        path: path.display().to_string(),
        message,
    })
}

pub use telltale_crds::glob::{expand, glob_match};

#[derive(Clone, Debug)]
struct CachedFile {
    stamp: Option<(SystemTime, u64)>,
    groups: Vec<TargetGroup>,
}

/// The groups of every file named by the patterns last refreshed.
#[derive(Clone, Debug, Default)]
pub struct FileSdCache {
    files: BTreeMap<PathBuf, CachedFile>,
    patterns: BTreeMap<String, Vec<PathBuf>>,
}

impl FileSdCache {
    /// Re-reads the files of `patterns` that changed (and forgets files no pattern names
    /// any more). True when any file's groups changed.
    pub fn refresh<'a>(&mut self, patterns: impl IntoIterator<Item = &'a str>) -> bool {
        let mut changed = false;
        let mut wanted: BTreeSet<PathBuf> = BTreeSet::new();
        let mut expanded = BTreeMap::new();
        for pattern in patterns {
            let files = expand(pattern);
            wanted.extend(files.iter().cloned());
            expanded.insert(pattern.to_string(), files);
        }
        if expanded != self.patterns {
            changed = true;
            self.patterns = expanded;
        }
        let before = self.files.len();
        self.files.retain(|p, _| wanted.contains(p));
        changed |= self.files.len() != before;
        for path in wanted {
            changed |= self.refresh_file(&path);
        }
        changed
    }

    fn refresh_file(&mut self, path: &Path) -> bool {
        let stamp = std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        if let Some(cached) = self.files.get(path)
            && cached.stamp == stamp
        {
            return false;
        }
        let read = std::fs::read_to_string(path)
            .map_err(|e| Error::FileSd {
                path: path.display().to_string(),
                message: e.to_string(),
            })
            .and_then(|text| parse_groups(path, &text));
        let entry = self
            .files
            .entry(path.to_path_buf())
            .or_insert_with(|| CachedFile {
                stamp: None,
                groups: Vec::new(),
            });
        entry.stamp = stamp;
        match read {
            Ok(groups) => {
                if groups == entry.groups {
                    return false;
                }
                info!(path = %path.display(), groups = groups.len(), "file_sd targets loaded");
                entry.groups = groups;
                true
            }
            Err(e) => {
                warn!(error = %e, "file_sd file not loaded; keeping its last good targets");
                false
            }
        }
    }

    /// The groups of the files `pattern` named at the last refresh, each with its file.
    pub fn groups(&self, pattern: &str) -> Vec<(&Path, &TargetGroup)> {
        let Some(files) = self.patterns.get(pattern) else {
            return Vec::new();
        };
        files
            .iter()
            .filter_map(|p| self.files.get_key_value(p))
            .flat_map(|(p, f)| f.groups.iter().map(move |g| (p.as_path(), g)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml_lists() {
        let json =
            r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let g = parse_groups(Path::new("x.json"), json).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets, vec!["a:1", "b:2"]);
        assert_eq!(g[0].labels["env"], "prod");
        let yaml = "- targets: ['a:1']\n  labels: {__meta_x: y}\n";
        assert_eq!(
            parse_groups(Path::new("x.yml"), yaml).unwrap()[0].targets,
            vec!["a:1"]
        );
        assert!(parse_groups(Path::new("x.yaml"), "").unwrap().is_empty());
    }

    #[test]
    fn bad_files_name_the_problem() {
        let e = parse_groups(Path::new("t.json"), "[{\"targets\": 1}]").unwrap_err();
        assert!(e.to_string().starts_with("file_sd t.json: "), "{e}");
        let e = parse_groups(Path::new("t.txt"), "[]").unwrap_err();
        assert!(e.to_string().contains("unknown extension"), "{e}");
        let e = parse_groups(
            Path::new("t.yml"),
            "- targets: ['a:1']\n  labels: {bad-name: x}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a valid label name"), "{e}");
    }

    #[test]
    fn cache_rereads_only_changed_files_and_keeps_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, r#"[{"targets": ["a:1"]}]"#).unwrap();
        let pattern = dir.path().join("*.json").display().to_string();
        let mut cache = FileSdCache::default();
        assert!(cache.refresh([pattern.as_str()]));
        assert_eq!(cache.groups(&pattern).len(), 1);
        assert!(!cache.refresh([pattern.as_str()]), "unchanged");

        std::fs::write(
            dir.path().join("b.json"),
            r#"[{"targets": ["b:1"]}, {"targets": ["b:2"]}]"#,
        )
        .unwrap();
        assert!(cache.refresh([pattern.as_str()]), "new file");
        assert_eq!(cache.groups(&pattern).len(), 3);

        std::fs::write(&a, "not json at all").unwrap();
        assert!(
            !cache.refresh([pattern.as_str()]),
            "a broken file keeps its groups"
        );
        assert_eq!(cache.groups(&pattern).len(), 3);

        std::fs::remove_file(&a).unwrap();
        assert!(cache.refresh([pattern.as_str()]));
        let groups = cache.groups(&pattern);
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|(p, _)| p.ends_with("b.json")));
        assert!(cache.refresh(std::iter::empty()), "pattern gone");
        assert!(cache.groups(&pattern).is_empty());
    }
}
