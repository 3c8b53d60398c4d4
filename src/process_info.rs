//! `/api/v1/status/flags` and `/api/v1/status/runtimeinfo`, served by every component in
//! Prometheus's shapes: the flags of the command line as given or defaulted (by long
//! name, without dashes), and the process's start time, working directory, async tasks,
//! worker threads and raw retention. The command line is recorded once at start
//! ([`record`]); configuration is read at start only, so it is also the last
//! (successful) configuration time.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::json;
use telltale_model::format_rfc3339_nanos;

static FLAGS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
static START: OnceLock<SystemTime> = OnceLock::new();

/// Records the flags of the subcommand `matches` chose (and the global ones).
pub fn record(command: &clap::Command, matches: &clap::ArgMatches) {
    let _ = START.set(SystemTime::now());
    let mut flags = BTreeMap::new();
    let mut add = |cmd: &clap::Command, m: &clap::ArgMatches| {
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let id = arg.get_id().as_str();
            let value = match m.try_get_raw(id) {
                Ok(Some(values)) => values
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(","),
                _ => String::new(),
            };
            flags.insert(long.to_string(), value);
        }
    };
    add(command, matches);
    let (mut cmd, mut m) = (command, matches);
    while let Some((name, sub)) = m.subcommand() {
        let Some(sub_cmd) = cmd.find_subcommand(name) else {
            break;
        };
        add(sub_cmd, sub);
        (cmd, m) = (sub_cmd, sub);
    }
    let _ = FLAGS.set(flags);
}

async fn flags() -> Json<serde_json::Value> {
    Json(json!({"status": "success", "data": FLAGS.get().cloned().unwrap_or_default()}))
}

async fn runtime_info() -> Json<serde_json::Value> {
    let start = START.get().copied().unwrap_or_else(SystemTime::now);
    let metrics = tokio::runtime::Handle::current().metrics();
    let retention = FLAGS
        .get()
        .and_then(|f| f.get("retention-raw"))
        .cloned()
        .unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    Json(json!({"status": "success", "data": {
        "startTime": format_rfc3339_nanos(start),
        "CWD": cwd,
        "reloadConfigSuccess": true,
        "lastConfigTime": format_rfc3339_nanos(start),
        "corruptionCount": 0,
        "goroutineCount": metrics.num_alive_tasks(),
        "GOMAXPROCS": metrics.num_workers(),
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention,
    }}))
}

/// The two routes.
pub fn router() -> Router {
    Router::new()
        .route("/api/v1/status/flags", get(flags))
        .route("/api/v1/status/runtimeinfo", get(runtime_info))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    #[test]
    fn flags_of_the_chosen_subcommand_with_defaults() {
        let command = crate::cli::Cli::command();
        let matches = command
            .clone()
            .try_get_matches_from([
                "telltale",
                "standalone",
                "--listen",
                "127.0.0.1:9191",
                "-f",
                "a.yaml",
                "-f",
                "b.yaml",
            ])
            .unwrap();
        crate::cli::Cli::from_arg_matches(&matches).unwrap();
        record(&command, &matches);
        let flags = FLAGS.get().unwrap();
        assert_eq!(flags["listen"], "127.0.0.1:9191");
        assert!(flags["data-dir"].ends_with("data"), "{flags:?}");
        assert!(flags.contains_key("log-level"), "{flags:?}");
        assert!(flags.values().any(|v| v == "a.yaml,b.yaml"), "{flags:?}");
        assert!(!flags["retention-raw"].is_empty(), "{flags:?}");
    }
}
