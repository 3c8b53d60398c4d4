//! File name patterns as Prometheus's `file_sd_configs` and `rule_files` use them: `*`
//! only in the last path component.

use std::path::{Path, PathBuf};

/// The files a pattern names: the path itself, or every file of its directory whose name
/// matches when the last component holds `*`. Sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains('*') {
        return vec![path.to_path_buf()];
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(|n| glob_match(name, n)))
        .map(|e| dir.join(e.file_name()))
        .collect();
    out.sort();
    out
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields at least one part");
    let Some(mut remaining) = name.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// Prometheus's `^[^*]*(\*[^/]*)?$`: no `*` before the last path component.
pub fn star_only_in_last_component(pattern: &str) -> bool {
    match pattern.find('*') {
        None => true,
        Some(i) => !pattern[i..].contains('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars() {
        assert!(glob_match("*.json", "a.json"));
        assert!(glob_match("t-*-*.yml", "t-1-2.yml"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("*.json", "a.yml"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn stars_only_in_the_file_name() {
        assert!(star_only_in_last_component("rules/*.yml"));
        assert!(star_only_in_last_component("/etc/rules.yml"));
        assert!(!star_only_in_last_component("a/*/b.yml"));
    }

    #[test]
    fn expands_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.yml", "a.yml", "c.json"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let got = expand(&dir.path().join("*.yml").display().to_string());
        let names: Vec<_> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.yml", "b.yml"]);
        assert!(expand("/nonexistent/*.yml").is_empty());
    }
}
