//! Loopback ports for replicas whose address must outlive their process.
//!
//! A local group (`telltale dev-cluster`, the fault tests) gives each replica a
//! `127.0.0.1` port that its peers keep using across its restarts. A port from `bind(0)`
//! lies in the kernel's ephemeral range, where any outgoing connection on the machine may
//! take it as its local port while the replica is down; the restart then fails with
//! "Address already in use". Ports below that range are only ever taken by an explicit
//! bind, so [`stable_port`] hands those out.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::TcpListener;
use std::sync::{Mutex, PoisonError};

/// Lowest port handed out: clear of the well-known and most registered service ports.
const FLOOR: u16 = 10_000;
/// The kernel's ephemeral range, for when `/proc` cannot be read (Linux's default).
const DEFAULT_EPHEMERAL: (u16, u16) = (32_768, 60_999);
/// Candidates tried before giving up.
const ATTEMPTS: usize = 200;

/// Ports this process has handed out, never handed out twice.
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`).
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| parse_range(&s))
        .unwrap_or(DEFAULT_EPHEMERAL)
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    let lo = it.next()?.ok()?;
    let hi = it.next()?.ok()?;
    (lo <= hi).then_some((lo, hi))
}

/// A free `127.0.0.1` port outside the ephemeral range (below it, or above it when the
/// range starts too low), not handed out before by this process.
pub fn stable_port() -> io::Result<u16> {
    let (lo, hi) = ephemeral_range();
    let candidates: Vec<(u16, u16)> = [
        (FLOOR, lo.saturating_sub(1)),
        (hi.saturating_add(1), u16::MAX),
    ]
    .into_iter()
    .filter(|(a, b)| a < b && b - a >= 1_000)
    .collect();
    if candidates.is_empty() {
        return Err(io::Error::other(format!(
            "no loopback ports outside the ephemeral range {lo}-{hi}"
        )));
    }
    let seed = RandomState::new();
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    for attempt in 0..ATTEMPTS {
        let draw = seed.hash_one(attempt);
        let (a, b) = candidates[(draw as usize) % candidates.len()];
        let port = a + ((draw >> 16) % u64::from(b - a + 1)) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    Err(io::Error::other(format!(
        "no free loopback port outside the ephemeral range {lo}-{hi} after {ATTEMPTS} tries"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_lie_outside_the_ephemeral_range_and_are_never_repeated() {
        let (lo, hi) = ephemeral_range();
        let mut seen = HashSet::new();
        for _ in 0..50 {
            let port = stable_port().unwrap();
            assert!(
                port >= FLOOR && (port < lo || port > hi),
                "{port} in {lo}-{hi}"
            );
            assert!(seen.insert(port), "{port} handed out twice");
            TcpListener::bind(("127.0.0.1", port)).unwrap();
        }
    }

    #[test]
    fn the_range_file_is_parsed() {
        assert_eq!(parse_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_range("9000 8000"), None);
        assert_eq!(parse_range("x"), None);
    }
}
