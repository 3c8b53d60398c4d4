//! [`ManagerOptions`]: how a [`crate::RuleManager`] runs — links, persistence, where
//! recorded series go, secrets and retries.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use telltale_storage_api::SampleWriter;

use crate::alerting::notify::retry::RetryPolicy;
use crate::alerting::route::DEFAULT_REPEAT_INTERVAL;
use crate::alerting::secrets::{FileSecrets, SecretResolver};
use crate::alerting::silence::SilenceLimits;
use crate::labels::LabelSet;
use crate::persistence::store::StateStore;
use crate::rules::external::ExternalAlertmanagers;
use crate::rules::validate::{ExprCheck, promql_only};

/// Settings of a [`crate::RuleManager`].
#[derive(Clone)]
pub struct ManagerOptions {
    /// Base of alerts' `generatorURL` and the notifications' `externalURL`.
    pub external_url: String,
    /// The root route's repeat interval when the route sets none (default 4h).
    pub repeat_interval: Duration,
    /// Where alert state, the notification log and silences persist (a
    /// [`crate::RocksStateStore`] in `state.rocksdb` inside it; documents of the former
    /// file store found there are imported once); `None` keeps them in memory only.
    pub state_dir: Option<PathBuf>,
    /// A store to use instead of one in `state_dir`.
    pub state_store: Option<Arc<dyn StateStore>>,
    /// Where recording rules, `ALERTS` and `ALERTS_FOR_STATE` are written; `None`
    /// evaluates recording rules without storing their results.
    pub writer: Option<Arc<dyn SampleWriter>>,
    /// Resolves receivers' credentials (default: files only).
    pub secrets: Arc<dyn SecretResolver>,
    /// Retries of each notification.
    pub retry: RetryPolicy,
    /// `$externalLabels` in templates.
    pub external_labels: LabelSet,
    /// What the query engine says about a rule's expression before it is applied
    /// (default: PromQL syntax only).
    pub expr_check: ExprCheck,
    /// Alertmanagers outside the process that get the alerts too (prometheus.yml's
    /// `alerting.alertmanagers`).
    pub external: Option<Arc<ExternalAlertmanagers>>,
    /// Alertmanager's `--silences.max-silences` and `--silences.max-silence-size-bytes`.
    pub silence_limits: SilenceLimits,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            external_url: String::new(),
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            state_dir: None,
            state_store: None,
            writer: None,
            secrets: Arc::new(FileSecrets),
            retry: RetryPolicy::default(),
            external_labels: LabelSet::new(),
            expr_check: promql_only,
            external: None,
            silence_limits: SilenceLimits::default(),
        }
    }
}

impl fmt::Debug for ManagerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagerOptions")
            .field("external_url", &self.external_url)
            .field("repeat_interval", &self.repeat_interval)
            .field("state_dir", &self.state_dir)
            .field("state_store", &self.state_store.is_some())
            .field("writer", &self.writer.is_some())
            .field("retry", &self.retry)
            .field("external_labels", &self.external_labels)
            .finish_non_exhaustive()
    }
}
