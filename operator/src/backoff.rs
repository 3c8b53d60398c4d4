//! The reconcilers' error policy: exponential backoff per object, reset on success.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// First retry after a failure.
pub const BASE: Duration = Duration::from_secs(1);
/// Retries are never further apart than this.
pub const MAX: Duration = Duration::from_secs(300);

/// The delay before retrying after `failures` consecutive failures (1, 2, 4, ... s, capped).
pub fn delay(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    (BASE * 2u32.pow(exp)).min(MAX)
}

/// Consecutive failures per object key.
#[derive(Default, Debug)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait before retrying.
    pub fn failed(&self, key: &str) -> Duration {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        delay(*n)
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        assert_eq!(delay(1), Duration::from_secs(1));
        assert_eq!(delay(2), Duration::from_secs(2));
        assert_eq!(delay(5), Duration::from_secs(16));
        assert_eq!(delay(30), MAX);
        assert_eq!(delay(u32::MAX), MAX);
    }

    #[test]
    fn success_resets() {
        let b = Backoff::default();
        assert_eq!(b.failed("a"), Duration::from_secs(1));
        assert_eq!(b.failed("a"), Duration::from_secs(2));
        assert_eq!(b.failed("b"), Duration::from_secs(1));
        b.succeeded("a");
        assert_eq!(b.failed("a"), Duration::from_secs(1));
    }
}
