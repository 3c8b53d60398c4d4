//! `telltale test rules`: promtool's rule unit-test files, run as promtool 2.42 runs them.
//!
//! ```text
//!  test file --(rule_files, evaluation_interval, group_eval_order, tests[])-->
//!   per test group: a fresh store <- input_series (expanding notation, every `interval`)
//!     for ts = 0, evaluation_interval, ... up to the largest eval_time:
//!        every group in order, every rule in order: query at ts, state machine,
//!        recorded series / ALERTS written back (the next rule sees them)
//!        alert_rule_test at eval_time in [ts, ts+interval): firing alerts vs exp_alerts
//!     promql_expr_test: instant query at eval_time vs exp_samples
//!  output and exit code as promtool's (`SUCCESS` / `FAILED:` with exp and got)
//! ```
//!
//! The store and the query engine come from the caller ([`Store`]): the binary gives the
//! real engine over an in-memory reader.

pub mod file;
pub mod run;
pub mod series;

pub use run::{Store, StoreFactory, run_files, test_file};
