//! Moving a data directory to a backup location and back, file by file, each checked
//! against the SHA-256 its manifest records.

use std::path::{Component, Path, PathBuf};

use futures::StreamExt;
use object_store::{PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::location::Location;
use crate::manifest::{BackupIndex, FORMAT, FileEntry, INDEX, MANIFEST, ShardManifest, shard_dir};

/// Files larger than this go up in parts (S3's multipart upload).
const PART_BYTES: usize = 16 << 20;

/// Uploads every file under `dir` as shard `shard` of the backup at `to`, then its
/// manifest; the shard's previous objects of the same names are replaced.
pub async fn upload_dir(dir: &Path, to: &Location, shard: u32) -> Result<ShardManifest> {
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    files.sort();
    let mut manifest = ShardManifest {
        format: FORMAT,
        shard,
        files: Vec::new(),
    };
    for rel in files {
        let name = rel_name(&rel);
        let object = to.object(&format!("{}/{name}", shard_dir(shard)));
        let (size, sha256) = upload_file(&dir.join(&rel), to, &object).await?;
        manifest.files.push(FileEntry {
            path: name,
            size,
            sha256,
        });
    }
    let body = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    let object = to.object(&format!("{}/{MANIFEST}", shard_dir(shard)));
    put(to, &object, body).await?;
    tracing::info!(to = %to.url, shard, files = manifest.files.len(), bytes = manifest.bytes(), "shard backed up");
    Ok(manifest)
}

/// Writes `backup.json`: the backup is complete from then on.
pub async fn write_index(to: &Location, index: &BackupIndex) -> Result<()> {
    let body = serde_json::to_vec_pretty(index).expect("an index serializes");
    put(to, &to.object(INDEX), body).await
}

/// The backup's `backup.json`; a backup without one did not finish.
pub async fn read_index(from: &Location) -> Result<BackupIndex> {
    let bytes = get_all(from, INDEX).await.map_err(|e| match e {
        Error::Store {
            source: object_store::Error::NotFound { .. },
            ..
        } => Error::Damaged {
            url: from.url.clone(),
            reason: format!("no {INDEX}: not a backup, or one that did not finish"),
        },
        e => e,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Damaged {
        url: from.url.clone(),
        reason: format!("{INDEX}: {e}"),
    })
}

/// Restores shard `shard` of the backup at `from` into `dest`, a new data directory
/// (absent or empty). Files are written beside it and moved into place only when every
/// one matches its manifest, so a failed restore leaves no half directory behind.
pub async fn restore_shard(from: &Location, shard: u32, dest: &Path) -> Result<ShardManifest> {
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest).map_err(|e| Error::io(dest, e))?;
        if entries.next().is_some() {
            return Err(Error::NotEmpty {
                path: dest.display().to_string(),
            });
        }
    }
    let damaged = |reason: String| Error::Damaged {
        url: from.url.clone(),
        reason,
    };
    let bytes = get_all(from, &format!("{}/{MANIFEST}", shard_dir(shard))).await?;
    let manifest: ShardManifest = serde_json::from_slice(&bytes)
        .map_err(|e| damaged(format!("shard {shard}'s manifest: {e}")))?;
    let staging = staging_dir(dest);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    let result = async {
        for file in &manifest.files {
            let rel = safe_relative(&file.path)
                .ok_or_else(|| damaged(format!("file path {:?} leaves the directory", file.path)))?;
            let object = from.object(&format!("{}/{}", shard_dir(shard), file.path));
            let (size, sha256) = download_file(from, &object, &staging.join(rel)).await?;
            if size != file.size || sha256 != file.sha256 {
                return Err(damaged(format!(
                    "{} of shard {shard} is {size} bytes with SHA-256 {sha256}; the manifest says {} bytes, {}",
                    file.path, file.size, file.sha256
                )));
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    if dest.exists() {
        std::fs::remove_dir(dest).map_err(|e| Error::io(dest, e))?;
    }
    std::fs::rename(&staging, dest).map_err(|e| Error::io(dest, e))?;
    tracing::info!(from = %from.url, shard, dest = %dest.display(), files = manifest.files.len(), "shard restored");
    Ok(manifest)
}

fn staging_dir(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".restoring");
    dest.with_file_name(name)
}

/// `path` as a relative path that stays inside its directory.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(p)
        .filter(|p| p.components().next().is_some())
}

fn rel_name(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            list_files(root, &path, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

async fn put(to: &Location, object: &object_store::path::Path, body: Vec<u8>) -> Result<()> {
    to.store
        .put(object, PutPayload::from(body))
        .await
        .map(|_| ())
        .map_err(|source| Error::Store {
            object: format!("{}/{object}", to.url),
            source,
        })
}

async fn get_all(from: &Location, name: &str) -> Result<bytes::Bytes> {
    let object = from.object(name);
    let store_err = |source| Error::Store {
        object: format!("{}/{name}", from.url),
        source,
    };
    from.store
        .get(&object)
        .await
        .map_err(store_err)?
        .bytes()
        .await
        .map_err(store_err)
}

/// Uploads one file (in parts when large), hashing what it sends.
async fn upload_file(
    path: &Path,
    to: &Location,
    object: &object_store::path::Path,
) -> Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(path, e))?;
    let len = file.metadata().await.map_err(|e| Error::io(path, e))?.len();
    let mut hasher = Sha256::new();
    let store_err = |source| Error::Store {
        object: format!("{}/{object}", to.url),
        source,
    };
    if len as usize <= PART_BYTES {
        let mut body = Vec::with_capacity(len as usize);
        file.read_to_end(&mut body)
            .await
            .map_err(|e| Error::io(path, e))?;
        hasher.update(&body);
        let size = body.len() as u64;
        put(to, object, body).await?;
        return Ok((size, hex(&hasher.finalize())));
    }
    let upload = to.store.put_multipart(object).await.map_err(store_err)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        writer.wait_for_capacity(4).await.map_err(store_err)?;
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(store_err)?;
    Ok((size, hex(&hasher.finalize())))
}

/// Downloads one object into `path`, hashing what it receives.
async fn download_file(
    from: &Location,
    object: &object_store::path::Path,
    path: &Path,
) -> Result<(u64, String)> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::io(parent, e))?;
    }
    let store_err = |source| Error::Store {
        object: format!("{}/{object}", from.url),
        source,
    };
    let mut stream = from
        .store
        .get(object)
        .await
        .map_err(store_err)?
        .into_stream();
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(store_err)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io(path, e))?;
    }
    file.sync_all().await.map_err(|e| Error::io(path, e))?;
    Ok((size, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside_the_directory() {
        assert_eq!(safe_relative("a/b.sst"), Some(PathBuf::from("a/b.sst")));
        for bad in ["../x", "/etc/passwd", "a/../../x", "", "."] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }
}
