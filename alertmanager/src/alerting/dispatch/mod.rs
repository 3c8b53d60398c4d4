//! From alerts to notifications, Alertmanager's way.
//!
//! ```text
//!  alerts (rules, POST /api/v2/alerts) --put--> Dispatcher
//!     Aggregator: route tree -> aggregation group per (route, group labels)
//!     timer task: group_wait, then every group_interval -> FlushJob
//!     flush: drop silenced (Silences) and inhibited (Inhibitor) alerts
//!            -> per integration: NotificationLog decides (new / resolved / repeat)
//!            -> notify::retry::deliver -> record in the log (persisted)
//! ```

/// Aggregation groups and their timing (pure).
pub mod aggregator;
/// The notification log and its deduplication decision (pure).
pub mod dedup;
/// The runtime: the timer task, muting, delivery and persistence.
pub mod dispatcher;

pub use aggregator::{Aggregator, FlushJob};
pub use dedup::{NotificationLog, Plan};
pub use dispatcher::{AlertView, Dispatcher, DispatcherOptions, GroupView};
