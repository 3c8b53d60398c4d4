//! A checkpoint directory packed file by file into one byte stream (`TTSNAP1\n`, then per
//! file: name length u32, name, size u64, bytes; all big-endian): what a snapshot transfer
//! streams ([`crate::transfer`]), and the snapshot file an earlier release's leader sends
//! in chunks. Only plain files and directories are packed; names are relative and may
//! not climb out of the target directory. The unpacker syncs every file and the
//! directories it creates.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

const MAGIC: &[u8; 8] = b"TTSNAP1\n";

fn files_under(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            files_under(root, &path, out)?;
        } else if kind.is_file() {
            out.push(
                path.strip_prefix(root)
                    .map_err(io::Error::other)?
                    .to_path_buf(),
            );
        }
    }
    Ok(())
}

/// Packs every file under `dir` into the file `out` (synced); returns the bytes written.
pub fn pack(dir: &Path, out: &Path) -> io::Result<u64> {
    let mut w = BufWriter::new(File::create(out)?);
    let total = pack_to(dir, &mut w)?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(total)
}

/// Packs every file under `dir` into `w`; returns the bytes written.
pub fn pack_to(dir: &Path, mut w: impl Write) -> io::Result<u64> {
    let mut names = Vec::new();
    files_under(dir, dir, &mut names)?;
    w.write_all(MAGIC)?;
    let mut total = MAGIC.len() as u64;
    for name in names {
        let text = name
            .to_str()
            .ok_or_else(|| io::Error::other(format!("non-UTF-8 file name {}", name.display())))?;
        let mut f = File::open(dir.join(&name))?;
        let size = f.metadata()?.len();
        w.write_all(&(text.len() as u32).to_be_bytes())?;
        w.write_all(text.as_bytes())?;
        w.write_all(&size.to_be_bytes())?;
        let copied = io::copy(&mut (&mut f).take(size), &mut w)?;
        if copied != size {
            return Err(io::Error::other(format!(
                "{} shrank while packing",
                name.display()
            )));
        }
        total += 4 + text.len() as u64 + 8 + size;
    }
    w.flush()?;
    Ok(total)
}

fn safe_name(name: &str) -> io::Result<PathBuf> {
    let path = PathBuf::from(name);
    if path.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unsafe file name {name:?} in snapshot"),
        ))
    }
}

/// Unpacks what [`pack`] wrote from `input` into `dir` (created; must not hold files of
/// the same names); every file is synced.
pub fn unpack(input: impl Read, dir: &Path) -> io::Result<usize> {
    let mut r = BufReader::new(input);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a snapshot file",
        ));
    }
    fs::create_dir_all(dir)?;
    let mut count = 0;
    loop {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let mut name = vec![0u8; u32::from_be_bytes(len) as usize];
        r.read_exact(&mut name)?;
        let name =
            String::from_utf8(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let rel = safe_name(&name)?;
        let mut size = [0u8; 8];
        r.read_exact(&mut size)?;
        let size = u64::from_be_bytes(size);
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut f = File::create(&path)?;
        let copied = io::copy(&mut (&mut r).take(size), &mut f)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("snapshot file {name} truncated"),
            ));
        }
        f.sync_all()?;
        count += 1;
    }
    File::open(dir)?.sync_all()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_files() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("CURRENT"), b"MANIFEST-1\n").unwrap();
        fs::create_dir(src.path().join("sub")).unwrap();
        fs::write(src.path().join("sub/000001.sst"), vec![7u8; 100_000]).unwrap();
        fs::write(src.path().join("empty"), b"").unwrap();
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("s.snap");
        let n = pack(src.path(), &file).unwrap();
        assert_eq!(n, fs::metadata(&file).unwrap().len());
        let dst = out.path().join("restored");
        assert_eq!(unpack(File::open(&file).unwrap(), &dst).unwrap(), 3);
        assert_eq!(fs::read(dst.join("CURRENT")).unwrap(), b"MANIFEST-1\n");
        assert_eq!(
            fs::read(dst.join("sub/000001.sst")).unwrap(),
            vec![7u8; 100_000]
        );
        assert!(fs::read(dst.join("empty")).unwrap().is_empty());
    }

    #[test]
    fn rejects_garbage_truncation_and_escaping_names() {
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(&b"nonsense"[..], &dir.path().join("a")).is_err());
        let mut evil = MAGIC.to_vec();
        let name = b"../x";
        evil.extend((name.len() as u32).to_be_bytes());
        evil.extend(name);
        evil.extend(1u64.to_be_bytes());
        evil.push(0);
        assert!(unpack(&evil[..], &dir.path().join("b")).is_err());
        let mut short = MAGIC.to_vec();
        short.extend(1u32.to_be_bytes());
        short.extend(b"f");
        short.extend(10u64.to_be_bytes());
        short.extend(b"abc");
        assert!(unpack(&short[..], &dir.path().join("c")).is_err());
    }
}
