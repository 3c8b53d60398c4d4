//! CPU time from /proc: of this process (all threads, RocksDB's background threads
//! included), of the calling thread, and of waited-for children.

use std::time::Duration;

fn ticks_per_second() -> f64 {
    // Linux reports /proc times in USER_HZ, 100 on every mainstream architecture.
    100.0
}

fn stat_fields(path: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) may hold spaces: fields start after its ')'.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect()
}

fn secs(ticks: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / ticks_per_second())
}

/// User + system time of the whole process so far.
pub fn process() -> Duration {
    let f = stat_fields("/proc/self/stat");
    // After the ')': state is index 0, so utime (field 14) is index 11.
    secs(f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0))
}

/// User + system time of waited-for children so far.
pub fn children() -> Duration {
    let f = stat_fields("/proc/self/stat");
    secs(f.get(13).copied().unwrap_or(0) + f.get(14).copied().unwrap_or(0))
}

/// User + system time of the calling thread so far.
pub fn thread() -> Duration {
    let f = stat_fields("/proc/thread-self/stat");
    secs(f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0))
}

/// Resident set size of this process in bytes.
pub fn rss_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
