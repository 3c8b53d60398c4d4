//! A data directory backed up and restored byte for byte, through the local-filesystem
//! backend and through a real S3 API server (moto, started by the test on a free port):
//! nested files, an empty one, one large enough to go up in parts; a backup without its
//! index is not one; a file changed in the store after the backup fails the restore,
//! naming the file, and leaves no directory behind; a restore refuses a directory with
//! data in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[path = "common/moto.rs"]
mod moto;

use telltale_backup::manifest::{BackupIndex, FORMAT};
use telltale_backup::{Error, Location, read_index, restore_shard, upload_dir, write_index};

/// A directory like a snapshot's: nested files, an empty one, one of 20 MiB.
fn sample_dir(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert(PathBuf::from("CURRENT"), b"MANIFEST-000004\n".to_vec());
    files.insert(PathBuf::from("empty.log"), Vec::new());
    files.insert(
        PathBuf::from("sm/000009.sst"),
        (0..5000u32).flat_map(|i| i.to_le_bytes()).collect(),
    );
    let big: Vec<u8> = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    files.insert(PathBuf::from("sm/deep/000010.sst"), big);
    for (rel, bytes) in &files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    files
}

fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

async fn round_trip(location: &Location, work: &Path) {
    let source = work.join("snapshot");
    let files = sample_dir(&source);
    // Not a backup until its index is written.
    upload_dir(&source, location, 0).await.unwrap();
    let err = read_index(location).await.unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
    let index = BackupIndex {
        format: FORMAT,
        created_ms: 1,
        source: "test".into(),
        shards: vec![0],
        version: "test".into(),
    };
    write_index(location, &index).await.unwrap();
    assert_eq!(read_index(location).await.unwrap(), index);

    let restored = work.join("restored");
    let manifest = restore_shard(location, 0, &restored).await.unwrap();
    assert_eq!(manifest.files.len(), files.len());
    assert_eq!(read_tree(&restored), files, "restored byte for byte");
    // A directory with data in it is refused.
    let err = restore_shard(location, 0, &restored).await.unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");

    // A file changed after the backup: the restore fails and names it.
    let object = location.object("shard-0/sm/000009.sst");
    location
        .store
        .put(
            &object,
            object_store::PutPayload::from(b"tampered".to_vec()),
        )
        .await
        .unwrap();
    let again = work.join("again");
    let err = restore_shard(location, 0, &again).await.unwrap_err();
    assert!(err.to_string().contains("sm/000009.sst"), "{err}");
    assert!(!again.exists(), "no half directory is left");
    assert!(!work.join("again.restoring").exists());
}

#[tokio::test]
async fn a_directory_round_trips_through_local_files() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("bucket");
    let location = Location::parse(&format!("file://{}", store.display())).unwrap();
    round_trip(&location, work.path()).await;
}

#[tokio::test]
async fn a_directory_round_trips_through_s3() {
    let moto = moto::Moto::start().await;
    moto.create_bucket("backups").await;
    let location = Location::parse_with("s3://backups/cluster-a/2026-12-05", moto.env()).unwrap();
    let work = tempfile::tempdir().unwrap();
    round_trip(&location, work.path()).await;
    // The objects are where the URL says.
    let listed = reqwest::get(format!(
        "{}/backups?prefix=cluster-a/2026-12-05/shard-0/",
        moto.endpoint
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        listed.contains("cluster-a/2026-12-05/shard-0/manifest.json"),
        "{listed}"
    );
}
