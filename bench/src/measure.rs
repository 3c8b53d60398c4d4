//! What the kernel says about a process and a directory: CPU time and memory from
//! `/proc/PID/{stat,status}`, child processes by parent PID, and a directory's size the
//! way `du` counts it (each inode once, allocated blocks), plus a background sampler of
//! resident memory and directory size.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux unless built otherwise).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The fields of `/proc/PID/stat` after the command name (field 3, the state, first).
fn stat_fields(pid: u32) -> Result<Vec<String>> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(Error::io("cannot read", &path))?;
    let after = stat.rsplit_once(')').ok_or_else(|| Error::Proc {
        pid,
        file: "stat",
        detail: "no ')' after the command".into(),
    })?;
    Ok(after.1.split_whitespace().map(str::to_string).collect())
}

/// CPU seconds (user + system, all threads) the process has used so far.
pub fn cpu_seconds(pid: u32, ticks: f64) -> Result<f64> {
    let fields = stat_fields(pid)?;
    // utime and stime are fields 14 and 15 (1-based, man 5 proc); the slice starts at 3.
    let field = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| Error::Proc {
                pid,
                file: "stat",
                detail: format!("field {} missing or not a number", i + 3),
            })
    };
    Ok((field(11)? + field(12)?) / ticks)
}

/// CPU seconds the whole machine has been busy (every CPU; all but idle and iowait),
/// from the first line of `/proc/stat`.
pub fn machine_busy_seconds(ticks: f64) -> Result<f64> {
    let stat =
        std::fs::read_to_string("/proc/stat").map_err(Error::io("cannot read", "/proc/stat"))?;
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if fields.len() < 8 {
        return Err(Error::Proc {
            pid: 0,
            file: "../stat",
            detail: "no cpu line with 8 fields".into(),
        });
    }
    // user nice system idle iowait irq softirq steal
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
    Ok(busy / ticks)
}

/// Measures how busy the machine is apart from some processes (the servers under
/// test) and this one: other builds and tests make wall times and latencies noisy.
pub struct OtherLoad {
    machine: f64,
    ours: f64,
    at: std::time::Instant,
}

impl OtherLoad {
    fn ours(pids: &[u32], ticks: f64) -> f64 {
        pids.iter()
            .chain(std::iter::once(&std::process::id()))
            .filter_map(|p| cpu_seconds(*p, ticks).ok())
            .sum()
    }

    pub fn start(pids: &[u32], ticks: f64) -> Result<OtherLoad> {
        Ok(OtherLoad {
            machine: machine_busy_seconds(ticks)?,
            ours: Self::ours(pids, ticks),
            at: std::time::Instant::now(),
        })
    }

    /// The average number of cores other processes kept busy since the start.
    pub fn cores(&self, pids: &[u32], ticks: f64) -> Result<f64> {
        let machine = machine_busy_seconds(ticks)? - self.machine;
        let ours = Self::ours(pids, ticks) - self.ours;
        Ok(((machine - ours) / self.at.elapsed().as_secs_f64()).max(0.0))
    }
}

/// The parent PID of a process.
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid).ok()?.get(1)?.parse().ok()
}

/// When a process started (clock ticks after boot): with its PID, names it uniquely.
pub fn start_ticks(pid: u32) -> Option<u64> {
    // starttime is field 22 (1-based); the slice starts at field 3.
    stat_fields(pid).ok()?.get(19)?.parse().ok()
}

/// Every live process whose parent is `ppid`.
pub fn children_of(ppid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(ppid))
        .collect();
    out.sort_unstable();
    out
}

/// A process's arguments (`/proc/PID/cmdline`).
pub fn cmdline(pid: u32) -> Result<Vec<String>> {
    let path = format!("/proc/{pid}/cmdline");
    let raw = std::fs::read(&path).map_err(Error::io("cannot read", &path))?;
    Ok(raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect())
}

/// Resident memory now (`VmRSS`) and at its peak (`VmHWM`), in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss: u64,
    pub hwm: u64,
}

pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(Error::io("cannot read", &path))?;
    let kib = |key: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map(|k| k * 1024)
            .ok_or_else(|| Error::Proc {
                pid,
                file: "status",
                detail: format!("no {key}"),
            })
    };
    Ok(Memory {
        rss: kib("VmRSS:")?,
        hwm: kib("VmHWM:")?,
    })
}

/// A directory tree's size: allocated bytes (`du`) and apparent bytes (`du -b`), every
/// inode counted once (RocksDB checkpoints hard-link their files).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirSize {
    pub allocated: u64,
    pub apparent: u64,
}

impl DirSize {
    /// The larger of each figure.
    pub fn max(self, other: DirSize) -> DirSize {
        DirSize {
            allocated: self.allocated.max(other.allocated),
            apparent: self.apparent.max(other.apparent),
        }
    }
}

fn walk(path: &Path, seen: &mut HashSet<(u64, u64)>, size: &mut DirSize) {
    // Files come and go while a server writes: what vanishes is not counted.
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if seen.insert((meta.dev(), meta.ino())) {
        size.allocated += meta.blocks() * 512;
        size.apparent += meta.len();
    }
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for e in entries.flatten() {
            walk(&e.path(), seen, size);
        }
    }
}

/// The size of everything under `path`, the directory itself included.
pub fn dir_size(path: &Path) -> DirSize {
    let mut size = DirSize::default();
    walk(path, &mut HashSet::new(), &mut size);
    size
}

/// The size of each top-level entry of `path` (largest first); inodes shared between
/// entries count in the first one walked.
pub fn top_level_sizes(path: &Path) -> Vec<(String, DirSize)> {
    let mut seen = HashSet::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    let mut out: Vec<(String, DirSize)> = names
        .into_iter()
        .map(|p| {
            let mut size = DirSize::default();
            walk(&p, &mut seen, &mut size);
            let name = p.file_name().map_or_else(String::new, |n| {
                let n = n.to_string_lossy().into_owned();
                if p.is_dir() { n + "/" } else { n }
            });
            (name, size)
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.1.allocated));
    out
}

/// The largest values a [`Sampler`] saw.
#[derive(Clone, Debug, Default)]
pub struct Peaks {
    /// Largest `VmRSS` per sampled process, in the order given.
    pub rss: Vec<u64>,
    pub dir: Option<DirSize>,
}

/// Samples `VmRSS` of some processes (every 100 ms) and a directory's size (every
/// second) on a thread of its own until finished.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Peaks>,
}

impl Sampler {
    pub fn start(pids: Vec<u32>, dir: Option<PathBuf>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peaks = Peaks {
                rss: vec![0; pids.len()],
                dir: None,
            };
            let mut tick = 0u64;
            loop {
                for (i, pid) in pids.iter().enumerate() {
                    if let Ok(m) = memory(*pid) {
                        peaks.rss[i] = peaks.rss[i].max(m.rss);
                    }
                }
                if let Some(d) = &dir
                    && tick.is_multiple_of(10)
                {
                    let now = dir_size(d);
                    peaks.dir = Some(peaks.dir.map_or(now, |p| p.max(now)));
                }
                if flag.load(Ordering::Relaxed) {
                    return peaks;
                }
                tick += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler { stop, thread }
    }

    /// Stops sampling (after one last sample) and returns the peaks.
    pub fn finish(self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let ticks = clock_ticks();
        let before = cpu_seconds(me, ticks).unwrap();
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(me, ticks).unwrap() >= before);
        let m = memory(me).unwrap();
        assert!(m.rss > 0 && m.hwm >= m.rss);
        assert!(cmdline(me).unwrap()[0].contains("telltale_bench"));
    }

    #[test]
    fn counts_hard_links_once() {
        let dir = std::env::temp_dir().join(format!("tt-bench-du-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/f"), vec![1u8; 100_000]).unwrap();
        let one = dir_size(&dir);
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::hard_link(dir.join("a/f"), dir.join("b/f")).unwrap();
        let linked = dir_size(&dir);
        assert!(one.apparent >= 100_000 && one.allocated >= 100_000);
        // Only b/'s own directory entry is new.
        assert!(linked.apparent - one.apparent < 100_000);
        let top = top_level_sizes(&dir);
        assert_eq!(top[0].0, "a/");
        assert!(top[1].1.apparent < 100_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
