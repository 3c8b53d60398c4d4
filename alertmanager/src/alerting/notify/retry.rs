//! [`deliver`]: one notification to one integration, with a timeout per attempt,
//! exponential backoff between attempts, and the delivery metrics.

use std::time::{Duration, Instant};

use crate::alerting::notify::{Notification, Notifier};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// How often and how patiently a notification is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per notification (at least one).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub first_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Delivers `n` through `notifier`: retries transport errors, timeouts, 5xx and 429;
/// counts `telltale_notifications_total{integration,result}` and observes the latency
/// (retries included).
pub async fn deliver(
    notifier: &dyn Notifier,
    n: &Notification,
    policy: &RetryPolicy,
    metrics: &Metrics,
) -> Result<()> {
    let integration = notifier.integration();
    let started = Instant::now();
    let mut attempt = 1;
    let result = loop {
        metrics
            .notification_requests
            .with_label_values(&[integration])
            .inc();
        let outcome = match tokio::time::timeout(notifier.timeout(), notifier.notify(n)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Transport {
                integration,
                message: format!("timed out after {:?}", notifier.timeout()),
            }),
        };
        if outcome.is_err() {
            metrics
                .notification_requests_failed
                .with_label_values(&[integration])
                .inc();
        }
        match outcome {
            Ok(()) => break Ok(()),
            Err(e) if attempt < policy.attempts.max(1) && e.is_retryable() => {
                tracing::debug!(integration, attempt, error = %e, "notification attempt failed, retrying");
                tokio::time::sleep(policy.backoff(attempt)).await;
                attempt += 1;
            }
            Err(e) => break Err(e),
        }
    };
    metrics
        .notification_latency
        .with_label_values(&[integration])
        .observe(started.elapsed().as_secs_f64());
    let label = if result.is_ok() { "success" } else { "failure" };
    metrics
        .notifications
        .with_label_values(&[integration, label])
        .inc();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Flaky {
        failures: AtomicU32,
        status: u16,
        calls: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Notifier for Flaky {
        fn integration(&self) -> &'static str {
            "webhook"
        }
        fn send_resolved(&self) -> bool {
            true
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
        async fn notify(&self, _: &Notification) -> Result<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(Error::Status {
                    integration: "webhook",
                    status: self.status,
                });
            }
            Ok(())
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    fn flaky(failures: u32, status: u16) -> Flaky {
        Flaky {
            failures: AtomicU32::new(failures),
            status,
            calls: AtomicU32::new(0),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(10), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn retries_server_errors_but_not_client_errors() {
        let metrics = Metrics::new(&prometheus::Registry::new());
        let n = crate::alerting::notify::text::tests::notification(vec![]);
        let f = flaky(2, 503);
        assert!(deliver(&f, &n, &policy(), &metrics).await.is_ok());
        assert_eq!(f.calls.load(Ordering::SeqCst), 3);
        let f = flaky(5, 503);
        assert!(deliver(&f, &n, &policy(), &metrics).await.is_err());
        assert_eq!(f.calls.load(Ordering::SeqCst), 3);
        let f = flaky(1, 400);
        assert!(deliver(&f, &n, &policy(), &metrics).await.is_err());
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            metrics
                .notifications
                .with_label_values(&["webhook", "failure"])
                .get(),
            2
        );
    }
}
