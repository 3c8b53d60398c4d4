//! [`Watcher`]: the web configuration in force, re-read when its files change.
//!
//! exporter-toolkit re-reads the file on every TLS handshake and request. Here each new
//! connection and each request asks for the current configuration, and at most once a
//! second that compares the configuration file and the certificate, key and CA files it
//! names with what they held when loaded; on a change the file is loaded again. A file
//! that fails to load (bad YAML, a key that does not match its certificate, a half-written
//! rotation...) keeps the last good configuration in force and logs the error once.
//! Switching between plain HTTP and TLS needs a restart (as in exporter-toolkit, which
//! chooses between them when it starts serving): such a change is refused and logged.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::load::WebConfigFile;

/// How often the files are compared at most.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The configuration in force for one server.
#[derive(Debug)]
pub struct Watcher {
    current: RwLock<Arc<WebConfigFile>>,
    check: Mutex<Check>,
    tls: bool,
}

#[derive(Debug)]
struct Check {
    last: Instant,
    /// The last reload error logged, so that a broken file is logged once, not each second.
    last_error: Option<String>,
}

impl Watcher {
    pub fn new(file: WebConfigFile) -> Watcher {
        Watcher {
            tls: file.tls_enabled(),
            current: RwLock::new(Arc::new(file)),
            check: Mutex::new(Check {
                last: Instant::now(),
                last_error: None,
            }),
        }
    }

    /// The configuration in force, after reloading it if its files changed (checked at
    /// most once per [`RECHECK_INTERVAL`]).
    pub fn current(&self) -> Arc<WebConfigFile> {
        self.reload_if_changed();
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn reload_if_changed(&self) {
        // One caller checks; the others go on with the configuration in force.
        let Ok(mut check) = self.check.try_lock() else {
            return;
        };
        if check.last.elapsed() < RECHECK_INTERVAL {
            return;
        }
        check.last = Instant::now();
        let current = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if current.unchanged_on_disk() {
            return;
        }
        let outcome = match WebConfigFile::load(current.path()) {
            Ok(new) if new.tls_enabled() != self.tls => Err(format!(
                "{}: switching between HTTP and HTTPS needs a restart",
                current.path().display()
            )),
            Ok(new) => Ok(new),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(new) => {
                tracing::info!(
                    file = %current.path().display(),
                    tls = new.tls_enabled(),
                    users = new.users().len(),
                    "web configuration reloaded"
                );
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
                check.last_error = None;
            }
            Err(e) => {
                if check.last_error.as_deref() != Some(e.as_str()) {
                    tracing::error!(
                        error = %e,
                        "cannot reload the web configuration; the last good one stays in force"
                    );
                    check.last_error = Some(e);
                }
            }
        }
    }
}
